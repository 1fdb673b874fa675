"""The registered benchmark cases, one module per group; each module calls
:func:`benchmarks.harness.register` on import (``registry()`` imports them all)."""
