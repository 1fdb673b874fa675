"""scikit-learn's bundled 8x8 digits, as uint8 images: needs no file and no network."""

import numbers

import numpy as np
from sklearn.datasets import load_digits

from ._base import sample_bunch
from ._docs import loader_doc

__all__ = ["load_digits_images"]

DESCR = """\
Optical recognition of handwritten digits (scikit-learn's bundled copy)
-----------------------------------------------------------------------
1,797 8x8 grey images of the digits 0-9 (about 180 per class), the test part of
the UCI "Optical Recognition of Handwritten Digits" data set, as shipped with
scikit-learn (sklearn.datasets.load_digits). Each pixel counts the set pixels of a
4x4 block of a 32x32 bitmap (0..16); here it is mapped to uint8 0..255 by
(v * 255 + 8) // 16, i.e. v * 255 / 16 rounded half up (0 -> 0, 8 -> 128, 16 -> 255).
No train/test split is defined.

E. Alpaydin and C. Kaynak. Optical Recognition of Handwritten Digits. UCI Machine
Learning Repository, 1998. https://doi.org/10.24432/C50P49
"""


@loader_doc
def load_digits_images(
    *, n_class=10, return_X_y=False, n_samples=None, shuffle=False, random_state=None
):
    """Load scikit-learn's bundled 8x8 digits as uint8 images (10 classes).

    The embedded default data set of the package: it needs no file and no network,
    which makes it the one to use in examples and quick tests. The pixel counts
    0..16 of :func:`sklearn.datasets.load_digits` are scaled to 0..255 with
    ``(v * 255 + 8) // 16`` (``v * 255 / 16`` rounded half up), so that the images
    follow the same uint8 convention as the other loaders.

    Parameters
    ----------
    n_class : int, default=10
        Number of classes to keep: the digits ``0 .. n_class - 1``.
    {return_X_y}
    {sampling}

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 8, 8) uint8 in 0..255, ``target`` (n,) int64 digits,
        ``target_names`` ``["0", ..., str(n_class - 1)]`` and ``DESCR``.
    {as_tuple}

    See Also
    --------
    sklearn.datasets.load_digits : The same digits as rows of 64 pixels.
    sklearn_ckn.datasets.load_dataset : Any registered data set by name.

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_digits_images
    >>> digits = load_digits_images()
    >>> digits.images.shape, digits.images.dtype, int(digits.images.max())
    ((1797, 8, 8), dtype('uint8'), 255)
    >>> X, y = load_digits_images(n_class=2, return_X_y=True)
    >>> X.shape, sorted(set(y.tolist()))
    ((360, 8, 8), [0, 1])
    """
    if (
        not isinstance(n_class, numbers.Integral)
        or isinstance(n_class, bool)
        or not 1 <= n_class <= 10
    ):
        raise ValueError(f"n_class must be an integer in 1..10, got {n_class!r}.")
    digits = load_digits(n_class=int(n_class))
    counts = digits.images.astype(np.int64)  # exact integers 0..16 stored as floats
    images = (counts * 255 + 8) // 16
    return sample_bunch(
        images, digits.target, [str(d) for d in range(n_class)], DESCR, n_samples=n_samples,
        shuffle=shuffle, random_state=random_state, return_X_y=return_X_y,
    )
