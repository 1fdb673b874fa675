"""The harness: cases and their registry, the runner, the results schema, shared data code."""

from .case import Case, Param, arg, find_cases, floats, ints, param_hash, register, registry
from .results import SCHEMA, iter_records
from .runner import Context, run_case

__all__ = ["Case", "Param", "arg", "ints", "floats", "register", "registry", "find_cases",
           "param_hash", "SCHEMA", "iter_records", "Context", "run_case"]
