"""Measuring where heat maps point: a synthetic task with distractors, and scores.

* :func:`make_localisation_task`: grey images whose class is decided by a small
  pattern at a known place, with look-alike patterns elsewhere that carry no label
  information; returns the informative region of every image.
* :func:`mass_in_region`: the share of each map's mass inside a region.
* :func:`pointing_game`: whether each map's maximum falls inside a region.
* :func:`deletion_insertion`: accuracy as the most salient pixels are removed from
  (deletion) or restored into (insertion) the images.
"""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.utils import check_random_state

from .._docstrings import fill_doc

__all__ = ["deletion_insertion", "make_localisation_task", "mass_in_region", "pointing_game"]


def _glyphs(size):
    """The patterns, ``(2, size, size)`` booleans: a cross ``x`` (class 0), a plus ``+`` (1)."""
    eye = np.eye(size, dtype=bool)
    cross = eye | eye[::-1]
    plus = np.zeros((size, size), dtype=bool)
    plus[size // 2, :] = True
    plus[:, size // 2] = True
    return np.stack([cross, plus])


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def make_localisation_task(n_samples=200, image_size=16, *, pattern_size=5, n_distractors=None,
                           noise=0.5, random_state=None):
    """Make images whose class is decided by a pattern at a known place, with distractors.

    Every image is uniform noise in ``[0, noise]`` with bright (1.0) odd-sized patterns:
    a cross ``x`` (class 0) or a plus ``+`` (class 1) drawn at the informative place,
    near the top-left corner (its corner at row and column 1 or 2, at random), and
    ``n_distractors`` more crosses and pluses, each chosen at random independently of
    the label, at random places that overlap neither the informative place nor each
    other. Only the pattern at the informative place decides the class: a model must
    look there, and a heat map that also lights up the distractors points at evidence
    the model cannot be using.

    Parameters
    ----------
    n_samples : int, default=200
        Number of images; labels alternate 0, 1, 0, ...
    image_size : int, default=16
        Side of the square images.
    pattern_size : int, default=5
        Side of the patterns (odd, at least 3).
    n_distractors : int or None, default=None
        Distractors per image; None: ``round(2 * (image_size / 16) ** 2)`` (2 at 16x16,
        8 at 32x32).
    noise : float, default=0.5
        Maximum of the background noise, in [0, 1).
    random_state : int, RandomState instance or None, default=None
        Seed of the noise, the places and the distractors.

    Returns
    -------
    X : ndarray of shape (n_samples, image_size, image_size), float32
        The images.
    y : ndarray of shape (n_samples,), int64
        The labels: 0 for a cross, 1 for a plus at the informative place.
    masks : ndarray of shape (n_samples, image_size, image_size), bool
        The informative region (the pattern's square) of each image.

    See Also
    --------
    sklearn_ckn.explain.pointing_game : Scores maps against its regions.
    sklearn_ckn.explain.deletion_insertion : Faithfulness of the maps.

    Examples
    --------
    >>> from sklearn_ckn.explain import make_localisation_task
    >>> X, y, masks = make_localisation_task(10, 16, random_state=0)
    >>> X.shape, y[:4].tolist(), int(masks[0].sum())
    ((10, 16, 16), [0, 1, 0, 1], 25)
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    size = _check_int(image_size, "image_size", 1)
    p = _check_int(pattern_size, "pattern_size", 3)
    if p % 2 == 0:
        raise ValueError(f"pattern_size must be odd, got {p}.")
    if size < p + 3:
        raise ValueError(f"image_size must be at least pattern_size + 3 = {p + 3}, got {size}.")
    if n_distractors is None:
        n_distractors = round(2 * (size / 16) ** 2)
    n_distractors = _check_int(n_distractors, "n_distractors", 0)
    if not 0 <= float(noise) < 1:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}.")
    rng = check_random_state(random_state)
    glyphs = _glyphs(p)
    X = (rng.random_sample((n_samples, size, size)) * float(noise)).astype(np.float32)
    y = np.arange(n_samples, dtype=np.int64) % 2
    masks = np.zeros((n_samples, size, size), dtype=bool)
    for i in range(n_samples):
        r, c = rng.randint(1, 3, size=2)
        masks[i, r:r + p, c:c + p] = True
        X[i, r:r + p, c:c + p][glyphs[y[i]]] = 1.0
        taken = np.zeros((size, size), dtype=bool)
        taken[max(r - 1, 0):r + p + 1, max(c - 1, 0):c + p + 1] = True  # a 1-pixel gap
        placed = 0
        for _ in range(200 * max(n_distractors, 1)):
            if placed == n_distractors:
                break
            r2, c2 = rng.randint(0, size - p + 1, size=2)
            if taken[r2:r2 + p, c2:c2 + p].any():
                continue
            X[i, r2:r2 + p, c2:c2 + p][glyphs[rng.randint(2)]] = 1.0
            taken[max(r2 - 1, 0):r2 + p + 1, max(c2 - 1, 0):c2 + p + 1] = True
            placed += 1
        if placed < n_distractors:
            raise ValueError(
                f"Could not place {n_distractors} distractors of {p}x{p} in {size}x{size} "
                "images; use fewer distractors or larger images."
            )
    return X, y, masks


# The two inputs of the region scores, as _check_maps takes them.
_maps_masks_doc = fill_doc(maps_masks="""\
    maps : array-like of shape (n, H, W)
        Heat maps, one per image (non-negative ones for the mass share).
    masks : array-like of shape (n, H, W), bool
        Each image's region (e.g. from :func:`make_localisation_task`).
    """)


def _check_maps(maps, masks):
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks, dtype=bool)
    if maps.ndim != 3 or masks.shape != maps.shape:
        raise ValueError(
            f"maps and masks must both have shape (n, H, W); got {maps.shape} and {masks.shape}."
        )
    return maps, masks


@_maps_masks_doc
def mass_in_region(maps, masks):
    """Share of each map's mass inside its region.

    Parameters
    ----------
    {maps_masks}

    Returns
    -------
    share : ndarray of shape (n,)
        ``sum(map * mask) / sum(map)``; NaN for an all-zero map. A uniform map scores
        ``mask.mean()``.

    See Also
    --------
    sklearn_ckn.explain.pointing_game : Whether the maps peak inside the object.
    sklearn_ckn.explain.make_localisation_task : Images with known object regions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn.explain import mass_in_region
    >>> maps, masks = np.ones((1, 4, 4)), np.zeros((1, 4, 4), bool)
    >>> masks[0, :2, :2] = True
    >>> mass_in_region(maps, masks).tolist()
    [0.25]
    """
    maps, masks = _check_maps(maps, masks)
    total = maps.sum(axis=(1, 2))
    inside = (maps * masks).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


@_maps_masks_doc
def pointing_game(maps, masks, tolerance=1):
    """Whether each map's maximum lies in its region (grown by ``tolerance`` pixels).

    Parameters
    ----------
    {maps_masks}
    tolerance : int, default=1
        The region is dilated by this many pixels (a square structuring element).
        Ties for the maximum count as a hit only if all of them are inside.

    Returns
    -------
    hits : ndarray of shape (n,), bool
        False for an all-zero or constant map.

    See Also
    --------
    sklearn_ckn.explain.mass_in_region : The maps' mass inside the object.
    sklearn_ckn.explain.make_localisation_task : Images with known object regions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn.explain import pointing_game
    >>> maps, masks = np.zeros((1, 5, 5)), np.zeros((1, 5, 5), bool)
    >>> maps[0, 0, 0], masks[0, 1:3, 1:3] = 1.0, True
    >>> pointing_game(maps, masks).tolist(), pointing_game(maps, masks, tolerance=0).tolist()
    ([True], [False])
    """
    maps, masks = _check_maps(maps, masks)
    tolerance = _check_int(tolerance, "tolerance", 0)
    if tolerance:
        structure = np.ones((1, 2 * tolerance + 1, 2 * tolerance + 1), dtype=bool)
        masks = ndimage.binary_dilation(masks, structure=structure)
    peak = maps.max(axis=(1, 2), keepdims=True)
    at_peak = maps == peak
    varying = maps.max(axis=(1, 2)) > maps.min(axis=(1, 2))
    return varying & ~(at_peak & ~masks).any(axis=(1, 2))


def deletion_insertion(estimator, X, y, maps, fractions=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
                       *, mode="deletion", baseline="blur", random_state=None):
    """Accuracy as the most salient pixels are removed from, or restored into, images.

    For each fraction ``f``, the ``f * H * W`` pixels with the highest map values of
    each image (ties broken at random) are replaced by the baseline image
    (``"deletion"``), or all other pixels are (``"insertion"``: the image starts as
    the baseline and its most salient pixels come back). A map that points at the
    evidence makes deletion accuracy fall fast and insertion accuracy rise fast; a
    random map (``maps`` of noise) is the reference.

    Parameters
    ----------
    estimator : classifier
        Fitted, with ``predict`` taking images like ``X``.
    X : ndarray of shape (n, H, W) or (n, H, W, C)
        Images (``uint8`` images stay ``uint8``).
    y : array-like of shape (n,)
        True labels.
    maps : array-like of shape (n, H, W)
        Saliency of every pixel (e.g. from :func:`grad_cam`).
    fractions : sequence of float in [0, 1], default=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
        Fractions of the pixels removed (deletion) or restored (insertion).
    mode : {"deletion", "insertion"}, default="deletion"
        Remove the most salient pixels, or restore them into the baseline.
    baseline : {"blur", "mean", "zero"}, default="blur"
        The replacement: the image blurred (Gaussian, sigma of a tenth of its side),
        its mean colour, or zeros.
    random_state : int, RandomState instance or None, default=None
        Breaks ties between equal map values.

    Returns
    -------
    accuracy : ndarray of shape (len(fractions),)
        The accuracy at each fraction.

    See Also
    --------
    sklearn_ckn.explain.pointing_game : Whether the maps peak inside the object.
    sklearn_ckn.explain.mass_in_region : The maps' mass inside the object.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn_ckn.explain import deletion_insertion
    >>> X, y = np.random.default_rng(0).random((6, 4, 4)), np.array([0, 1] * 3)
    >>> clf = DummyClassifier(strategy="constant", constant=1).fit(X.reshape(6, -1), y)
    >>> class Flat:
    ...     def predict(self, X):
    ...         return clf.predict(X.reshape(len(X), -1))
    >>> deletion_insertion(Flat(), X, y, X, fractions=(0.0, 0.5)).tolist()
    [0.5, 0.5]
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}.")
    if baseline not in ("blur", "mean", "zero"):
        raise ValueError(f"baseline must be 'blur', 'mean' or 'zero', got {baseline!r}.")
    X = np.asarray(X)
    y = np.asarray(y)
    maps = np.asarray(maps, dtype=np.float64)
    if X.ndim not in (3, 4) or maps.shape != X.shape[:3] or y.shape != X.shape[:1]:
        raise ValueError(
            f"X must be (n, H, W[, C]) with maps of shape (n, H, W) and y of shape (n,); got "
            f"{X.shape}, {maps.shape} and {y.shape}."
        )
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or not ((fractions >= 0) & (fractions <= 1)).all():
        raise ValueError(f"fractions must be a sequence of values in [0, 1], got {fractions!r}.")
    rng = check_random_state(random_state)
    images = X.astype(np.float32)
    img = images if images.ndim == 4 else images[..., None]
    n, h, w, _ = img.shape
    if baseline == "blur":
        sigma = max(h, w) / 10.0
        base = ndimage.gaussian_filter(img, sigma=(0, sigma, sigma, 0), mode="nearest")
    elif baseline == "mean":
        base = np.broadcast_to(img.mean(axis=(1, 2), keepdims=True), img.shape)
    else:
        base = np.zeros_like(img)
    # Rank of every pixel by saliency (0: most salient), ties broken at random.
    jitter = rng.random_sample(maps.shape)
    order = np.lexsort((jitter.reshape(n, -1), -maps.reshape(n, -1)), axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None, :].repeat(n, 0), axis=1)
    rank = rank.reshape(n, h, w, 1)
    accuracy = []
    for f in fractions:
        top = rank < round(f * h * w)
        keep_original = ~top if mode == "deletion" else top
        mixed = np.where(keep_original, img, base).astype(images.dtype)
        if images.ndim == 3:
            mixed = mixed[..., 0]
        if X.dtype == np.uint8:
            mixed = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        accuracy.append(float((np.asarray(estimator.predict(mixed)) == y).mean()))
    return np.asarray(accuracy)
