"""The one list of the data sets the package knows: their loaders and properties.

The comparison, the command line, the benchmarks and the examples read it instead
of keeping their own lists: :data:`DATASETS` maps each name to a
:class:`DatasetInfo`, :func:`load_dataset` loads any of them by name.
"""

import inspect
import types
from dataclasses import dataclass
from typing import Callable, Optional

from ._cifar10 import load_cifar10
from ._digits import load_digits_images
from ._fruits360 import load_fruits360
from ._mnist import load_mnist
from ._svhn import load_svhn

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "available_datasets",
    "get_dataset_info",
    "load_dataset",
]


@dataclass(frozen=True)
class DatasetInfo:
    """What the package knows about one data set: its loader and its properties.

    Instances are the values of :data:`DATASETS`; they are immutable.

    Parameters
    ----------
    name : str
        Short name, as in :data:`DATASETS` and on the command line (``"mnist"``).
    loader : callable
        The loader, e.g. :func:`load_mnist`. Every loader but
        :func:`load_digits_images` is called as ``loader(data_home, subset=...,
        **kwargs)``; :func:`load_dataset` calls any of them by name.
    image_shape : tuple of int
        Shape of one image as the files hold it: ``(height, width)`` for grey
        images, ``(height, width, 3)`` for RGB ones.
    n_classes : int or None
        Number of classes; ``None`` when it depends on the copy of the data
        (Fruits-360: one class per folder, 33 in its 2017 release, more later).
    description : str
        One line, for ``--help`` and the documentation.
    downloadable : bool, default=True
        Whether the loader downloads missing files (``download_if_missing``).
    title : str, default=""
        Display name (``"MNIST"``); the name itself when empty.
    subsets : tuple of str, default=("train", "test")
        Values of the loader's ``subset``; empty when the data set has no official
        split (the bundled digits).
    folder : str or None, default=None
        What ``data_home`` must contain (``"mnist/"``); ``None`` when the data set
        needs no file.

    Attributes
    ----------
    loader_parameters : tuple of str
        Keyword arguments the loader accepts, in its signature's order.
    verifies_checksums : bool
        Whether the loader takes ``verify_checksums`` (it checks the official
        checksums of files already present); read from its signature.

    See Also
    --------
    get_dataset_info : The info of one data set, by name.
    load_dataset : Load a data set by name.

    Examples
    --------
    >>> from sklearn_ckn.datasets import get_dataset_info
    >>> info = get_dataset_info("digits")
    >>> info.image_shape, info.n_classes, info.subsets, info.downloadable
    ((8, 8), 10, (), False)
    >>> "n_class" in info.loader_parameters
    True
    """

    name: str
    loader: Callable
    image_shape: tuple
    n_classes: Optional[int]
    description: str
    downloadable: bool = True
    title: str = ""
    subsets: tuple = ("train", "test")
    folder: Optional[str] = None

    @property
    def loader_parameters(self):
        """Keyword arguments the loader accepts, in its signature's order."""
        return tuple(inspect.signature(self.loader).parameters)

    @property
    def verifies_checksums(self):
        """Whether the loader takes ``verify_checksums``."""
        return "verify_checksums" in self.loader_parameters

    @property
    def display_name(self):
        """:attr:`title`, or :attr:`name` when no title is set."""
        return self.title or self.name


_INFOS = (
    DatasetInfo(
        "digits", load_digits_images, (8, 8), 10, downloadable=False, subsets=(),
        description="scikit-learn's bundled 8x8 grey digits (1,797 images, no file needed)",
        title="scikit-learn's 8x8 digits",
    ),
    DatasetInfo(
        "mnist", load_mnist, (28, 28), 10, title="MNIST", folder="mnist/",
        description="MNIST handwritten digits, 28x28 grey (60,000 train / 10,000 test)",
    ),
    DatasetInfo(
        "svhn", load_svhn, (32, 32, 3), 10, title="SVHN", folder="svhn/",
        subsets=("train", "test", "extra"),
        description="SVHN house-number digits, 32x32 RGB (73,257 train / 26,032 test)",
    ),
    DatasetInfo(
        "cifar10", load_cifar10, (32, 32, 3), 10, title="CIFAR-10",
        folder="cifar-10-batches-py/ or cifar-10-python.tar.gz",
        description="CIFAR-10 objects, 32x32 RGB, 10 classes (50,000 train / 10,000 test)",
    ),
    DatasetInfo(  # one class per folder of the user's copy: n_classes unknown
        "fruits360", load_fruits360, (100, 100, 3), None, downloadable=False,
        title="Fruits-360", folder="fruits-360/",
        description="Fruits-360, 100x100 RGB fruit photos, one class per folder",
    ),
)

#: The data sets, by name, in a fixed order (read-only).
DATASETS = types.MappingProxyType({info.name: info for info in _INFOS})


def available_datasets():
    """Return the names of the data sets :func:`load_dataset` knows, in a fixed order.

    Returns
    -------
    names : list of str
        ``["digits", "mnist", "svhn", "cifar10", "fruits360"]``.

    See Also
    --------
    get_dataset_info : The properties of one data set.

    Examples
    --------
    >>> from sklearn_ckn.datasets import available_datasets
    >>> available_datasets()
    ['digits', 'mnist', 'svhn', 'cifar10', 'fruits360']
    """
    return list(DATASETS)


def get_dataset_info(name):
    """Return the :class:`DatasetInfo` of a data set: its loader and properties.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets`.

    Returns
    -------
    info : DatasetInfo
        Its loader and properties.

    Raises
    ------
    ValueError
        When ``name`` is not a known data set; the message lists the valid names.

    See Also
    --------
    sklearn_ckn.datasets.available_datasets : The registered names.
    sklearn_ckn.datasets.load_dataset : Load a data set by name.

    Examples
    --------
    >>> from sklearn_ckn.datasets import get_dataset_info
    >>> info = get_dataset_info("mnist")
    >>> info.loader.__name__, info.image_shape, info.verifies_checksums
    ('load_mnist', (28, 28), True)
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r}; available datasets: {available_datasets()}."
        )
    return DATASETS[name]


def load_dataset(
    name, *, data_home=None, download_if_missing=True, verify_checksums=True, **loader_kwargs
):
    """Load a data set by name, with its loader.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets`.
    data_home : str or path-like, default=None
        Folder containing the data set folders; see :func:`get_data_home`. Unused
        by ``"digits"``, which needs no file.
    download_if_missing : bool, default=True
        Passed to loaders that download (:attr:`DatasetInfo.downloadable`): if
        False, a missing file raises ``FileNotFoundError``. Unused by the others.
    verify_checksums : bool, default=True
        Passed to loaders that check the official checksums of the files already
        present (:attr:`DatasetInfo.verifies_checksums`); unused by the others.
    **loader_kwargs : dict
        Other keyword arguments of the loader, passed as they are: ``subset``,
        ``n_samples``, ``shuffle``, ``random_state``, ``return_X_y``, and
        ``classes`` / ``image_size`` (Fruits-360) or ``n_class`` (digits).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch` or tuple
        What the loader returns: a Bunch with ``images``, ``target``,
        ``target_names`` and ``DESCR``, or ``(images, target)`` with
        ``return_X_y=True``.

    Raises
    ------
    ValueError
        For an unknown data set, or a ``subset`` that it does not have.
    TypeError
        For a keyword argument that its loader does not take; the message lists
        the ones it takes.

    See Also
    --------
    available_datasets : The valid names.

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_dataset
    >>> X, y = load_dataset("digits", return_X_y=True, n_samples=100)
    >>> X.shape, X.dtype, y[:5].tolist()
    ((100, 8, 8), dtype('uint8'), [0, 1, 2, 3, 4])
    """
    info = get_dataset_info(name)
    params = info.loader_parameters
    if "subset" in loader_kwargs and not info.subsets:
        raise ValueError(
            f"the {info.display_name} data set has no subsets (no official train/test "
            f"split); do not pass subset (got {loader_kwargs['subset']!r})."
        )
    unknown = sorted(set(loader_kwargs) - set(params))
    if unknown:
        raise TypeError(
            f"{info.loader.__name__} (data set {name!r}) got unexpected keyword "
            f"argument(s) {unknown}; it takes {[p for p in params if p != 'data_home']}."
        )
    kwargs = dict(loader_kwargs)
    if info.downloadable:
        kwargs["download_if_missing"] = download_if_missing
    if info.verifies_checksums:
        kwargs["verify_checksums"] = verify_checksums
    if "data_home" in params:
        return info.loader(data_home, **kwargs)
    return info.loader(**kwargs)
