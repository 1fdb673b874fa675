"""The parts of the loaders' docstrings that are the same for every loader, written once.

Each loader is decorated with :data:`loader_doc`, which fills its docstring's lines
``{return_X_y}``, ``{sampling}``, ``{as_tuple}`` and ``{see_also}`` (see
:mod:`sklearn_ckn._docstrings`): the loaders share these parameters and return values,
so their documentation must not drift apart.
"""

from .._docstrings import fill_doc

__all__ = ["loader_doc"]

#: Parameters: what to return.
RETURN_X_Y = """\
return_X_y : bool, default=False
    If True, return ``(images, target)`` instead of a Bunch.
"""

#: Parameters: the samples kept (:func:`~sklearn_ckn.datasets._base.select_indices`).
SAMPLING = """\
n_samples : int, default=None
    Keep only the first ``n_samples`` images (after shuffling, if ``shuffle``);
    ``None`` keeps them all.
shuffle : bool, default=False
    Shuffle the images (with ``random_state``) before taking ``n_samples``.
random_state : int, RandomState instance or None, default=None
    Seed of the shuffle; unused when ``shuffle`` is False.
"""

#: Returns: the value with ``return_X_y=True``.
AS_TUPLE = """\
(images, target) : tuple
    If ``return_X_y`` is True.
"""

#: See Also of the loaders that read files.
SEE_ALSO = """\
sklearn_ckn.datasets.load_dataset : Any registered data set by name.
sklearn_ckn.datasets.get_data_home : The default folder of the files.
"""

loader_doc = fill_doc(return_X_y=RETURN_X_Y, sampling=SAMPLING, as_tuple=AS_TUPLE,
                      see_also=SEE_ALSO)
