"""Fruits-360, read from its ``Training/`` and ``Test/`` folder trees of JPEGs."""

import numbers
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from ._base import (
    check_subset,
    corrupt,
    get_data_home,
    make_bunch,
    open_regular,
    select_indices,
)
from ._docs import loader_doc

__all__ = ["load_fruits360"]

FOLDER = "fruits-360"
SUBSET_FOLDERS = {"train": "Training", "test": "Test"}
EXTENSIONS = (".jpg", ".jpeg", ".png")
SOURCE = "https://www.kaggle.com/datasets/moltean/fruits (or https://github.com/fruits-360)"

DESCR = """\
Fruits-360
----------
100x100 RGB images (uint8, channels-last) of fruits and vegetables photographed
while rotating on a white background, one class per folder of Training/ and Test/
(the 2017 release has 33 classes and about 17,000 images; later releases have more
than 130 classes). Source: https://www.kaggle.com/datasets/moltean/fruits and
https://github.com/fruits-360.

H. Muresan and M. Oltean. Fruit recognition from images using deep learning.
Acta Universitatis Sapientiae, Informatica, 10(1):26-42, 2018.
"""


def _find_root(home):
    """``home/fruits-360`` or, failing that, ``home`` itself when it has the two trees."""
    root = os.path.join(home, FOLDER)
    if os.path.isdir(root):
        return root
    if all(os.path.isdir(os.path.join(home, f)) for f in SUBSET_FOLDERS.values()):
        return home
    raise FileNotFoundError(
        f"Fruits-360 not found: no folder {root!r}. It cannot be downloaded "
        f"automatically; get it from {SOURCE} and put its Training/ and Test/ folders "
        f"(100x100 JPEGs, one folder per class) in {root!r}."
    )


def _check_image_size(image_size):
    """``None`` or ``(height, width)`` from an int or a pair of positive ints."""
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size
    try:
        size = tuple(size)
    except TypeError:
        size = ()
    if len(size) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size
    ):
        raise ValueError(
            f"image_size must be None, a positive int or (height, width), got {image_size!r}."
        )
    return int(size[0]), int(size[1])


def _class_names(root):
    """Sorted union of the class folders of both trees, so that train and test
    targets use the same numbering."""
    names = set()
    for sub in SUBSET_FOLDERS.values():
        tree = os.path.join(root, sub)
        if os.path.isdir(tree):
            names.update(e.name for e in os.scandir(tree) if e.is_dir())
    return sorted(names)


#: Pillow modes of 8-bit images; others (16-bit "I;16", 32-bit "I" and "F") would be
#: clipped to 255 by ``convert("RGB")``.
EIGHT_BIT_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}


#: Formats decoded: Fruits-360 holds JPEGs (PNG for copies written again). Pillow is
#: not asked to guess among all its formats: an EPS file named .jpg would go to
#: Ghostscript.
IMAGE_FORMATS = ("JPEG", "PNG")
#: Largest image decoded, in pixels (16.8 million, 50 MB decoded; the data set's
#: images have 100 x 100): a larger declared size is refused before decoding, so that
#: a 17 KB PNG declaring 12,000 x 12,000 pixels does not cost 550 MB.
MAX_IMAGE_PIXELS = 4096 * 4096


def _read_image(path, size):
    """Decode one image file as (H, W, 3) uint8, refusing what Fruits-360 never holds.

    Every failure, Pillow's own included (``DecompressionBombError`` is no
    ``OSError``), is a ValueError naming the file."""
    with open_regular(path) as f:
        try:
            im = Image.open(f, formats=IMAGE_FORMATS)
        except UnidentifiedImageError:
            f.seek(0)
            raise corrupt(
                path, f"not a JPEG or PNG image (it starts with {f.read(8)!r}); Fruits-360 "
                "holds JPEG files and only JPEG and PNG files are read."
            ) from None
        except Exception as exc:  # Pillow raises various types on bad headers
            what = f"cannot decode the image ({type(exc).__name__}: {exc})."
            raise corrupt(path, what) from exc
        with im:
            width, height = im.size
            if width * height > MAX_IMAGE_PIXELS:
                raise corrupt(
                    path, f"the image declares {width} x {height} pixels, more than the "
                    f"{MAX_IMAGE_PIXELS} (MAX_IMAGE_PIXELS) decoded for Fruits-360 (whose "
                    "images have 100 x 100); it was not decoded."
                )
            if im.mode not in EIGHT_BIT_MODES:
                raise ValueError(
                    f"{path!r} is a {im.mode!r} image (more than 8 bits per channel); "
                    "expected 8-bit RGB or grey images: converting it would clip its "
                    "values to 255."
                )
            try:
                im = im.convert("RGB")
                if size is not None:  # PIL: (width, height)
                    im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
            except Exception as exc:  # truncated or corrupt data
                raise corrupt(
                    path, f"cannot decode the image ({type(exc).__name__}: {exc})."
                ) from exc


@loader_doc
def load_fruits360(
    data_home=None,
    *,
    subset="train",
    return_X_y=False,
    download_if_missing=True,
    classes=None,
    image_size=None,
    n_samples=None,
    shuffle=False,
    random_state=None,
):
    """Load Fruits-360 (100x100 RGB fruit images, one class per folder).

    Reads ``data_home/fruits-360/Training/<class>/*.jpg`` (or ``Test/``; ``.jpeg``
    and ``.png`` files too, decoded only if they are JPEG or PNG images). As for
    every loader, ``data_home`` is the folder *containing* ``fruits-360/``; as a
    convenience, when there is no ``fruits-360/`` in it but ``data_home`` itself
    has ``Training/`` and ``Test/`` folders, it is taken as the ``fruits-360``
    folder. Fruits-360 has no checksummed single-file download, so missing data
    always raise ``FileNotFoundError`` saying where to get it and where to put it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing ``fruits-360/`` (or that folder itself, see above); see
        :func:`get_data_home`.
    subset : {"train", "test"}, default="train"
        Images of ``Training/`` or ``Test/``.
    {return_X_y}
    download_if_missing : bool, default=True
        Accepted for a signature common to all loaders; nothing is ever downloaded.
    classes : list of str, default=None
        Class folder names to load, in the order that defines the targets
        (``target_names == list(classes)``). ``None`` loads every class of both
        trees, sorted by name, so train and test targets agree.
    image_size : int or (height, width), default=None
        Resize every image to this size with Pillow (bilinear, antialiased when
        shrinking); ``None`` keeps the files' size, which must then be the same
        for all images.
    n_samples : int, default=None
        Keep only the first ``n_samples`` images (after shuffling, if ``shuffle``);
        files are ordered by class, then by name. Only the kept files are decoded.
    shuffle : bool, default=False
        Shuffle the images (with ``random_state``) before taking ``n_samples``.
        Use it with ``n_samples`` to get a sample of every class.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle; unused when ``shuffle`` is False.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, H, W, 3) uint8 RGB channels-last, ``target`` (n,) int64
        indices into ``target_names`` (class folder names), ``filenames`` (n,)
        paths of the images and ``DESCR``.
    {as_tuple}

    Raises
    ------
    FileNotFoundError
        When the folders are missing.
    ValueError
        For unknown classes, bad arguments, images of different sizes with
        ``image_size=None``, and image files that are not regular files, not JPEG or
        PNG (whatever their name), declare more than ``MAX_IMAGE_PIXELS`` pixels
        (16.8 million; checked before decoding), have more than 8 bits per channel,
        or cannot be decoded; the message names the file.

    See Also
    --------
    {see_also}

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_fruits360
    >>> fruits = load_fruits360("../shared/datasets", subset="test",
    ...                         image_size=32)  # doctest: +SKIP
    >>> fruits.images.shape, fruits.target_names[:2]  # doctest: +SKIP
    ((896, 32, 32, 3), ['Apple Red 1', 'Carambula'])
    """
    check_subset(subset)
    size = _check_image_size(image_size)
    root = _find_root(get_data_home(data_home))
    tree = os.path.join(root, SUBSET_FOLDERS[subset])
    if not os.path.isdir(tree):
        raise FileNotFoundError(
            f"Fruits-360 folder {tree!r} not found; get the data from {SOURCE} and put "
            f"its {SUBSET_FOLDERS[subset]}/ folder in {root!r}."
        )
    available = _class_names(root)
    if classes is None:
        classes = available
    else:
        if isinstance(classes, str):
            raise ValueError(f"classes must be a list of class names, got the string {classes!r}.")
        classes = list(classes)
        unknown = [c for c in classes if c not in available]
        if unknown:
            raise ValueError(f"unknown classes {unknown}; available classes: {available}.")
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes has duplicates: {classes}.")
    filenames, target = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(tree, name)
        if not os.path.isdir(folder):
            continue  # a class may be absent from one tree
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(EXTENSIONS))
        filenames += [os.path.join(folder, f) for f in files]
        target += [label] * len(files)
    keep = np.arange(len(filenames))
    keep = keep[select_indices(len(keep), n_samples, shuffle, random_state)]
    filenames = np.array([filenames[i] for i in keep], dtype=object)
    target = np.array(target, dtype=np.int64)[keep]

    images = None
    for i, path in enumerate(filenames):
        image = _read_image(path, size)
        if images is None:  # allocate once, from the first image's size
            images = np.empty((len(filenames),) + image.shape, dtype=np.uint8)
        elif image.shape != images.shape[1:]:
            raise ValueError(
                f"{path!r} is {image.shape[:2]} but earlier images are {images.shape[1:3]}; "
                "pass image_size to resize them all."
            )
        images[i] = image
    if images is None:
        height, width = size if size is not None else (100, 100)
        images = np.empty((0, height, width, 3), dtype=np.uint8)
    return make_bunch(images, target, classes, DESCR, return_X_y, filenames=filenames)
