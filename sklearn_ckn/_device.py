"""Device selection and moving fitted state between devices."""

import os

import torch

__all__ = ["device_memory", "resolve_device", "to_cpu_state"]


def resolve_device(device):
    """Return a :class:`torch.device` for ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``"auto"`` picks CUDA when it is available. Asking for CUDA on a machine without it
    raises a ``ValueError`` rather than silently falling back.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here.")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}.")
    return dev


def to_cpu_state(module):
    """A state dict of ``module`` with every tensor on the CPU (for pickling)."""
    return {k: v.detach().to("cpu") for k, v in module.state_dict().items()}


def device_memory(device):
    """Bytes of memory of ``device``: a GPU's total memory, this machine's RAM for the CPU.

    Parameters
    ----------
    device : torch.device
        A resolved device.

    Returns
    -------
    n_bytes : int or None
        None when unknown.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._device import device_memory
    >>> device_memory(torch.device("cpu")) > 0
    True
    """
    if device.type == "cuda":
        try:
            return int(torch.cuda.get_device_properties(device).total_memory)
        except Exception:  # pragma: no cover - no CUDA here
            return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None
