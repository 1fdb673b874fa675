"""What a fitted torch estimator hands to :mod:`sklearn_ckn.explain`: one small protocol.

Every torch estimator of the package implements ``_explainable()``, which returns an
:class:`Explainable`: its fitted ``module_`` unchanged and how ``predict`` (or
``transform``) runs it: the device, a context for the threads and the precision, the
batch padding and memory layout. Grad-CAM, the filter plots and the pipeline adapter
read nothing else, so an explanation runs the very computation the estimator runs:
no module is rebuilt, copied or re-implemented for it.

``family`` says where the target layers are: ``"cnn"``, sub-modules of ``module``
(captured with forward hooks); ``"ckn"``, the embeddings of the CKN layers of a
:class:`~sklearn_ckn.core.network.CKNNetwork` (``module.ckn``).
"""

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ._threads import torch_threads

__all__ = ["Explainable", "inference_context", "precision_context"]


def precision_context(device, mixed_precision):
    """An estimator's own precision: bfloat16 autocast on ``device``, or autocast off.

    Autocast is set either way, so that the estimator's ``mixed_precision`` decides
    whatever context the caller runs it in.

    Parameters
    ----------
    device : torch.device
        Where the module runs.
    mixed_precision : bool
        The estimator's ``mixed_precision``.

    Returns
    -------
    context : torch.autocast
        Enter it around the forward passes.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._explainable import precision_context
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     with precision_context(torch.device("cpu"), False):
    ...         torch.is_autocast_enabled("cpu")
    False
    """
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(mixed_precision))


def inference_context(n_jobs, device, mixed_precision):
    """The threads and precision of an estimator's inference passes, as one context.

    Parameters
    ----------
    n_jobs : int or None
        The estimator's ``n_jobs`` (see :func:`sklearn_ckn._threads.torch_threads`).
    device : torch.device
        Where the module runs.
    mixed_precision : bool
        Whether the passes run under bfloat16 autocast.

    Returns
    -------
    context : contextlib.ExitStack
        Enter it around every forward (and backward) pass.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._explainable import inference_context
    >>> with inference_context(1, torch.device("cpu"), True):
    ...     torch.get_num_threads(), torch.is_autocast_enabled("cpu")
    (1, True)
    """
    stack = contextlib.ExitStack()
    stack.enter_context(torch_threads(n_jobs))
    stack.enter_context(precision_context(device, mixed_precision))
    return stack


@dataclass(frozen=True)
class Explainable:
    """A fitted estimator's module and how its inference runs it (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        The estimator's fitted module: images ``(b, C, H, W)`` on ``device`` to class
        scores ``(b, n_classes)`` (classifiers) or features (transformers).
    family : {"cnn", "ckn"}
        Where the target layers are.
    name : str
        A short name for titles (``"CNN"``, ``"CKN"``, ``"Supervised CKN"``).
    device : torch.device
        Where ``module`` runs.
    context : callable
        ``context()`` returns a context manager entered around every pass: the
        estimator's threads and precision.
    classes : ndarray or None
        Labels of the score columns (None for a transformer).
    memory_format : torch.memory_format
        Layout of the image batches.
    pad_multiple : int
        Batches are zero-padded to a multiple of it, as in ``predict``.
    forward_predicts : bool
        False when ``predict`` is not the argmax of ``module``'s scores (test-time
        augmentation).
    """

    module: torch.nn.Module
    family: str
    name: str
    device: torch.device
    context: Callable[[], contextlib.AbstractContextManager]
    classes: np.ndarray = None
    memory_format: torch.memory_format = torch.contiguous_format
    pad_multiple: int = 1
    forward_predicts: bool = True
