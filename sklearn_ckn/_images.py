"""Image input conventions shared by every estimator of the package.

Estimators accept

* ``(n, H, W)`` grey images,
* ``(n, H, W, C)`` channels-last images,
* 2-D ``(n, H * W * C)`` arrays or DataFrames, rows being flattened channels-last
  images whose shape is given by ``image_shape`` (or, when it is ``None``, inferred:
  square grey images when ``H * W`` is a perfect square, else 1-pixel-high images),

with ``uint8`` (scaled to [0, 1]), integer, boolean or floating dtypes, in either
byte order (big-endian arrays such as ``>f4`` are converted to the native order, as
NumPy and scikit-learn accept them and torch does not), and torch tensors (detached
and copied to the CPU: the estimators do not back-propagate into their input).
Validation otherwise keeps the caller's dtype and memory (no float copy of a whole
data set): batches are converted to float tensors only when they are processed
(:func:`images_to_tensor`).
"""

import math
import numbers

import numpy as np
import torch
from sklearn.utils.validation import check_array, validate_data

__all__ = [
    "MAX_ABS_PIXEL",
    "check_no_bool_params",
    "check_classification_labels",
    "check_image_shape",
    "validate_images",
    "images_to_tensor",
    "to_float_nchw",
    "iter_batches",
]

#: Largest pixel magnitude accepted by :func:`validate_images`. The estimators compute
#: in float32 (largest value about 3.4e38), and squared patch norms, Gram matrices and
#: covariances sum many squared pixels: from about 1e19 they overflow to infinity
#: and the features become NaN. 1e12 keeps a margin of 1e12 on those sums while being
#: far above any real pixel scale (uint8, 16-bit, [0, 1], standardised or HDR values).
MAX_ABS_PIXEL = 1e12


def check_image_shape(image_shape):
    """Validate an ``image_shape`` parameter; return ``(H, W, C)`` or ``None``."""
    if image_shape is None:
        return None
    shape = tuple(image_shape)
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels) with "
            f"positive integers, got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def check_no_bool_params(estimator, exclude=("verbose", "random_state")):
    """Refuse ``True`` / ``False`` for numeric parameters of ``estimator``.

    ``bool`` is a subclass of ``int`` in Python, so scikit-learn's ``Interval``
    constraints accept ``epochs=True`` (one epoch) or ``batch_size=False`` and the
    mistake goes unnoticed. This raises a ``ValueError`` for every parameter whose
    constraints in ``_parameter_constraints`` do not include ``"boolean"``, and for
    booleans inside the tuples and lists of such parameters (``n_filters=(True, 8)``).

    Parameters
    ----------
    estimator : BaseEstimator
        An estimator with ``_parameter_constraints``.
    exclude : tuple of str, default=("verbose", "random_state")
        Parameters for which booleans keep their scikit-learn meaning.

    Raises
    ------
    ValueError
        Naming the parameter and the value.

    Examples
    --------
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn._images import check_no_bool_params
    >>> check_no_bool_params(CKNTransformer(batch_size=True))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a number, got the boolean True; ...
    """
    constraints = getattr(estimator, "_parameter_constraints", {})
    for name, allowed in constraints.items():
        if name in exclude or not isinstance(allowed, list) or "boolean" in allowed:
            continue
        value = getattr(estimator, name, None)
        items = [value]
        if isinstance(value, (tuple, list)):
            items = list(value)
        elif isinstance(value, np.ndarray) and value.dtype == bool:
            items = [True]
        if any(isinstance(v, (bool, np.bool_)) for v in items):
            what = "the boolean" if len(items) == 1 and items[0] is value else "booleans in"
            raise ValueError(
                f"{name} must be a number, got {what} {value!r}; booleans are not "
                "accepted where numbers are expected (True would silently mean 1)."
            )


def _as_array(X):
    """A torch tensor as a NumPy array (detached, on the CPU); anything else unchanged."""
    if isinstance(X, torch.Tensor):
        t = X.detach()
        if t.is_complex():
            raise ValueError(f"Images must be real-valued; got a tensor of dtype {t.dtype}.")
        if t.dtype == torch.bfloat16:  # no NumPy equivalent
            t = t.float()
        return t.cpu().resolve_conj().resolve_neg().numpy()
    return X


def _native(X):
    """``X`` in the machine's byte order (a copy only for a non-native array)."""
    dtype = getattr(X, "dtype", None)
    if isinstance(dtype, np.dtype) and not dtype.isnative:
        return X.astype(dtype.newbyteorder("="))
    return X


def _infer_shape_2d(n_features):
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (side, side, 1)
    return (1, n_features, 1)


def _check_numeric_dtype(X):
    if X.dtype.kind not in "biuf":
        raise ValueError(
            "Images must have a numeric dtype (uint8, integer, bool or float); got "
            f"dtype {X.dtype}."
        )


def _check_finite(X, batch=8192):
    """Raise a ValueError for NaN, infinity or pixels beyond +-MAX_ABS_PIXEL.

    Only dtypes that can hold such values are scanned (floats, 64-bit integers), in
    chunks and with reductions only, so that checking a large data set allocates no
    full-size temporary.
    """
    kind = X.dtype.kind
    if kind != "f" and not (kind in "iu" and X.dtype.itemsize >= 8):
        return  # bool and (u)int8..32 are always finite and within the limit
    lo = hi = None
    for start in range(0, X.shape[0], batch):
        chunk = X[start : start + batch]
        if chunk.size == 0:
            continue
        c_lo, c_hi = chunk.min(), chunk.max()  # NaN propagates through both
        if kind == "f" and not (np.isfinite(c_lo) and np.isfinite(c_hi)):
            raise ValueError(
                "Input images contain NaN or infinity; expected finite pixel values."
            )
        lo = c_lo if lo is None else min(lo, c_lo)
        hi = c_hi if hi is None else max(hi, c_hi)
    if lo is not None and max(-float(lo), float(hi)) > MAX_ABS_PIXEL:
        raise ValueError(
            f"Input images have pixel values in [{float(lo):.3g}, {float(hi):.3g}]; expected "
            f"values within [-{MAX_ABS_PIXEL:.0e}, {MAX_ABS_PIXEL:.0e}]: the computations "
            "run in float32 and sums of squared pixels would overflow. Rescale the images, "
            "e.g. X / np.abs(X).max()."
        )


def check_classification_labels(y):
    """Raise a clear ``ValueError`` when classification labels mix types.

    Labels such as ``[1, "a", 1, "a"]`` cannot be sorted (``1 < "a"`` is a
    ``TypeError``): scikit-learn then turns them into the strings ``"1"``, ``"a"`` or
    fails later, in ``score`` or a metric, with an obscure comparison error. Call this
    at the start of ``fit``, on the ``y`` the user passed.

    Parameters
    ----------
    y : array-like
        Labels as given to ``fit``.

    Returns
    -------
    y : array-like
        ``y`` itself, unchanged.

    Raises
    ------
    ValueError
        When ``y`` holds labels of different kinds (numbers, strings, ``None`` or
        other objects), naming two of them.

    Examples
    --------
    >>> from sklearn_ckn._images import check_classification_labels
    >>> check_classification_labels(["cat", "dog"])
    ['cat', 'dog']
    >>> check_classification_labels([1, "a"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y mixes labels of different types (int 1 and str 'a'); ...
    """
    dtype = getattr(y, "dtype", None)
    if dtype is not None and dtype != np.dtype(object):
        return y  # a typed numpy array or Series: one kind of label
    try:
        values = np.asarray(y, dtype=object).ravel()
    except (ValueError, TypeError):
        return y  # ragged or odd input: left to the estimator's own validation
    examples = {}
    for kind in set(map(type, values)):
        if issubclass(kind, (str, np.str_)):
            key = "str"
        elif issubclass(kind, bytes):
            key = "bytes"
        elif issubclass(kind, numbers.Number):
            key = "number"
        else:
            key = kind.__name__
        examples.setdefault(key, kind)
    if len(examples) > 1:
        first, second = sorted(examples)[:2]
        shown = []
        for key in (first, second):
            kind = examples[key]
            value = next(v for v in values if type(v) is kind)
            shown.append(f"{kind.__name__} {value!r}")
        raise ValueError(
            f"y mixes labels of different types ({shown[0]} and {shown[1]}); classification "
            "labels must be all numbers or all strings."
        )
    return y


def validate_images(estimator, X, *, reset, image_shape=None, min_size=None):
    """Check image input and keep the estimator's feature bookkeeping.

    Parameters
    ----------
    estimator : BaseEstimator
        Estimator whose ``n_features_in_``, ``feature_names_in_`` and
        ``image_shape_`` are set (``reset=True``) or checked (``reset=False``).
    X : array-like or DataFrame
        Images in one of the layouts of the module docstring.
    reset : bool
        True in ``fit``, False in ``transform``/``predict``.
    image_shape : tuple or None
        The estimator's ``image_shape`` parameter, for 2-D input.
    min_size : tuple of int or None
        ``(min_height, min_width)``; smaller images raise a ``ValueError``.

    Returns
    -------
    images : ndarray of shape (n, H, W, C)
        A view of the data where possible, in its original numeric dtype.
    """
    shape_param = check_image_shape(image_shape)
    X = _native(_as_array(X))
    ndim = getattr(X, "ndim", None)
    if ndim is None:
        X = np.asarray(X)
        ndim = X.ndim
    if ndim == 2 or hasattr(X, "columns"):
        X2 = validate_data(
            estimator,
            X,
            reset=reset,
            dtype="numeric",
            ensure_all_finite=False,
            accept_sparse=False,
            ensure_min_samples=1,
        )
        _check_numeric_dtype(X2)
        X2 = _native(X2)  # e.g. a DataFrame of big-endian columns
        n, d = X2.shape
        if shape_param is not None:
            if int(np.prod(shape_param)) != d:
                raise ValueError(
                    f"image_shape={shape_param} means {int(np.prod(shape_param))} "
                    f"features per row, but X has {d} features."
                )
            shape = shape_param
        elif not reset and hasattr(estimator, "image_shape_"):
            shape = estimator.image_shape_
        else:
            shape = _infer_shape_2d(d)
        images = X2.reshape((n,) + shape)
    elif ndim in (3, 4):
        images = check_array(
            X,
            dtype="numeric",
            allow_nd=True,
            ensure_all_finite=False,
            ensure_min_samples=1,
            ensure_min_features=1,
        )
        _check_numeric_dtype(images)
        images = _native(images)
        if images.ndim == 3:
            images = images[..., np.newaxis]
        if shape_param is not None and images.shape[1:] != shape_param:
            raise ValueError(
                f"image_shape={shape_param} does not match images of shape "
                f"{images.shape[1:]}."
            )
        n_features = int(np.prod(images.shape[1:]))
        if reset:
            estimator.n_features_in_ = n_features
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        elif hasattr(estimator, "image_shape_") and images.shape[1:] != estimator.image_shape_:
            raise ValueError(
                f"X has images of shape {images.shape[1:]} (H, W, C), but "
                f"{type(estimator).__name__} was fitted on images of shape "
                f"{estimator.image_shape_}."
            )
    else:
        hint = (
            " Reshape your data with X.reshape(1, -1) if it is a single flattened image."
            if ndim == 1
            else ""
        )
        raise ValueError(
            "Expected images as an array of shape (n, H, W), (n, H, W, C) or "
            f"(n, H*W*C) with image_shape; got an array with {ndim} dimension(s).{hint}"
        )
    _check_finite(images)
    if not reset and hasattr(estimator, "image_shape_") and images.shape[1:] != estimator.image_shape_:
        raise ValueError(
            f"X has images of shape {images.shape[1:]} (H, W, C), but "
            f"{type(estimator).__name__} was fitted on images of shape {estimator.image_shape_}."
        )
    if min_size is not None:
        h, w = images.shape[1:3]
        if h < min_size[0] or w < min_size[1]:
            raise ValueError(
                f"Images of size {h}x{w} ({h * w * images.shape[3]} feature(s)) are "
                f"smaller than the required {min_size[0]}x{min_size[1]}."
            )
    if reset:
        estimator.image_shape_ = tuple(int(s) for s in images.shape[1:])
    return images


def to_float_nchw(t, dtype=torch.float32, memory_format=torch.contiguous_format):
    """A ``(b, H, W, C)`` tensor as a ``(b, C, H, W)`` float tensor; ``uint8`` scaled to [0, 1].

    ``memory_format=torch.channels_last`` keeps the pixel-major layout of the input
    (no copy beyond the dtype conversion), which convolutions on the CPU prefer.
    """
    scale = t.dtype == torch.uint8
    t = t.to(dtype)
    if scale:
        t = t / 255.0
    return t.permute(0, 3, 1, 2).contiguous(memory_format=memory_format)


def images_to_tensor(images, device=None, dtype=torch.float32, memory_format=torch.contiguous_format):
    """Convert a batch of ``(b, H, W, C)`` images to a ``(b, C, H, W)`` float tensor.

    ``uint8`` images are scaled to [0, 1]; other dtypes are cast unchanged.
    """
    arr = _native(np.ascontiguousarray(images))
    if not arr.flags.writeable:  # e.g. a read-only memmap: torch needs its own copy
        arr = arr.copy()
    t = torch.from_numpy(arr)
    if device is not None:
        t = t.to(device, non_blocking=True)
    return to_float_nchw(t, dtype, memory_format)


def iter_batches(n, batch_size):
    """Yield ``slice`` objects covering ``range(n)`` in batches."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
