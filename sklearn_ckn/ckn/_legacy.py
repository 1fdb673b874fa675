"""Pickles of earlier versions of :class:`~sklearn_ckn.CKNTransformer`, in today's format."""

import numpy as np

from .._torch_module import state_to_numpy

__all__ = ["upgrade_pickled_state"]


def upgrade_pickled_state(state):
    """The pickled state of an earlier version of :class:`CKNTransformer`, in today's format.

    Earlier versions kept the kernel layers alone (``network_``, later
    ``_network_state``) and the output normalisation as NumPy attributes
    (``normalize_*_``), and had no ``power``.
    """
    state.setdefault("power", 1.0)  # fitted (and applied) without it
    saved = state.pop("_network_state", None)
    if saved is None and "network_" in state:  # pickled with the torch network
        net = state.pop("network_")
        saved = {"spec": net.config, "tensors": state_to_numpy(net)}
    if saved is None:
        return state
    shift = state.pop("normalize_shift_", None)
    scale = state.pop("normalize_scale_", None)
    rows = bool(state.pop("normalize_rows_", False))
    floor = state.pop("normalize_norm_floor_", None)
    n_features = int(state["n_features_out_"])
    output = {"n_features": n_features, "power": 1.0, "row_normalize": rows and shift is not None,
              "standardize": shift is not None}
    tensors = {f"ckn.{k}": v for k, v in saved["tensors"].items()}
    if output["row_normalize"]:
        tensors["output.row_normalize.floor"] = np.asarray(floor, dtype=np.float64)
    if shift is not None:
        tensors["output.standardize.shift"] = np.asarray(shift, dtype=np.float32)
        tensors["output.standardize.scale"] = np.asarray(scale, dtype=np.float32)
    state["_module_config_"] = {"ckn": saved["spec"], "output": output, "head": None}
    state["_module_state_"] = tensors
    return state
