"""Loaders for the benchmark image data sets, in scikit-learn's style.

Every loader returns a :class:`~sklearn.utils.Bunch` with ``images``
((n, H, W) or (n, H, W, C) uint8, channels-last), ``target`` (int64),
``target_names`` (list of str) and ``DESCR``, or ``(images, target)`` with
``return_X_y=True``.

``data_home`` (default ``~/sklearn_ckn_data``, or the environment variable
``SKLEARN_CKN_DATA``) is the folder that *contains* the data set folders, exactly
as the official downloads unpack: ``mnist/``, ``cifar-10-batches-py/`` (or
``cifar-10-python.tar.gz``), ``svhn/`` and ``fruits-360/``. Missing MNIST,
CIFAR-10 and SVHN files are downloaded from their official addresses and
MD5-verified; MNIST and SVHN files and a CIFAR-10 archive already present are
checked against the same official MD5 digests (``verify_checksums=True``);
:func:`load_digits_images` needs no file at all.

:data:`DATASETS` is the one list of these data sets (loader, image shape, number
of classes, ...); :func:`load_dataset` loads any of them by name.
"""

from ._base import DownloadError, get_data_home
from ._cifar10 import load_cifar10
from ._digits import load_digits_images
from ._fruits360 import load_fruits360
from ._mnist import load_mnist
from ._registry import (
    DATASETS,
    DatasetInfo,
    available_datasets,
    get_dataset_info,
    load_dataset,
)
from ._svhn import load_svhn

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DownloadError",
    "available_datasets",
    "get_dataset_info",
    "load_dataset",
    "get_data_home",
    "load_cifar10",
    "load_digits_images",
    "load_fruits360",
    "load_mnist",
    "load_svhn",
]
