"""The fitted torch module of an estimator, and how it is pickled.

Every torch estimator of the package (:class:`CKNTransformer`, :class:`CKNClassifier`,
:class:`CNNClassifier`) keeps what it learned in one :class:`torch.nn.Module`,
``module_``, from pixels to features or class scores. :class:`TorchModuleMixin` pickles
it without torch objects:

* ``_module_config_``: builtins (dicts, lists, strings, numbers) describing the
  module's structure, set by ``fit``; the estimator's ``_build_module(config)`` turns
  it into an untrained module;
* ``_module_state_`` (in the pickled state only): the module's state dict as NumPy
  arrays on the CPU.

So a model fitted on a GPU loads on a CPU, and skops can store and load any fitted
estimator with only the estimator's own class trusted. Loading first builds the
module on torch's ``"meta"`` device (no memory) and checks that the arrays have the
names and shapes the configuration implies: a file cannot make loading allocate more
than the arrays it holds (a configuration naming 200,000 anchors beside arrays of 8 is
refused before anything is built).
"""

import numpy as np
import torch

__all__ = ["TorchModuleMixin", "load_module", "state_to_numpy"]


def state_to_numpy(module):
    """``module``'s state dict as CPU NumPy arrays (pickles without torch tensors).

    Parameters
    ----------
    module : torch.nn.Module
        Any module.

    Returns
    -------
    state : dict of str to ndarray
        Copies, on the CPU.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._torch_module import state_to_numpy
    >>> sorted(state_to_numpy(torch.nn.Linear(2, 1)))
    ['bias', 'weight']
    """
    return {k: v.detach().to("cpu").numpy().copy() for k, v in module.state_dict().items()}


def load_module(build, config, state):
    """Build a module from its configuration and load NumPy arrays into it, checked first.

    Parameters
    ----------
    build : callable
        ``build(config) -> nn.Module`` (untrained).
    config : object
        Its configuration.
    state : dict of str to array-like
        The state dict, as saved by :func:`state_to_numpy`.

    Returns
    -------
    module : torch.nn.Module
        On the CPU, with the saved state.

    Raises
    ------
    ValueError
        When the arrays do not have the names, shapes or a numeric dtype that the
        configuration implies (checked before the module is built).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._torch_module import load_module, state_to_numpy
    >>> build = lambda n: torch.nn.Linear(n, 1)
    >>> load_module(build, 3, state_to_numpy(build(3))).weight.shape
    torch.Size([1, 3])
    >>> load_module(build, 10**6, state_to_numpy(build(3)))
    Traceback (most recent call last):
    ...
    ValueError: The saved state does not match the saved configuration: 'weight' has shape (1, 3), the configuration implies (1, 1000000).
    """
    if not isinstance(state, dict):
        raise ValueError(f"The saved state must be a dict of arrays; got {type(state).__name__}.")
    with torch.device("meta"):
        expected = build(config).state_dict()
    problem = None
    if set(expected) != set(state):
        missing = sorted(set(expected) - set(state))[:5]
        extra = sorted(set(state) - set(expected))[:5]
        problem = f"missing arrays {missing}, unexpected arrays {extra}"
    else:
        for name, tensor in expected.items():
            value = state[name]
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
                problem = f"{name!r} is not a numeric array"
                break
            if tuple(value.shape) != tuple(tensor.shape):
                problem = (f"{name!r} has shape {tuple(value.shape)}, the configuration "
                           f"implies {tuple(tensor.shape)}")
                break
    if problem is not None:
        raise ValueError(f"The saved state does not match the saved configuration: {problem}.")
    module = build(config)
    # Writable copies: arrays loaded by skops or from a memmap may be read-only.
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return module


class TorchModuleMixin:
    """Pickling of ``module_`` as ``_module_config_`` and NumPy arrays (see the module docstring).

    A subclass implements ``_build_module(config)`` and may override
    ``_install_module(module)`` (default: ``module_ = module.eval()``), called with the
    rebuilt module on the CPU when unpickling.
    """

    def _build_module(self, config):  # pragma: no cover - abstract
        raise NotImplementedError

    def _install_module(self, module):
        self.module_ = module.eval()

    @property
    def network_(self):
        """The fitted module: ``network_`` is another name of ``module_``."""
        return self.module_

    def __getstate__(self):
        # A copy: BaseEstimator.__getstate__ may return the instance's own __dict__.
        state = dict(super().__getstate__())
        if isinstance(state.get("device"), torch.device):
            state["device"] = str(state["device"])
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state_"] = state_to_numpy(module)
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_module_state_", None)
        super().__setstate__(state)
        if saved is not None:
            self._install_module(load_module(self._build_module, self._module_config_, saved))
