"""
Out-of-core features with Dask
==============================

CKN features are computed image by image, so they need never sit in memory whole.
This example shows the two ways the package offers, on the bundled digits standing in
for a data set larger than memory:

* :meth:`CKNTransformer.transform <sklearn_ckn.CKNTransformer.transform>` of a dask
  array is **lazy**: a dask array of features, computed chunk by chunk on any dask
  scheduler (threads, processes or a ``dask.distributed`` cluster);
* :func:`~sklearn_ckn.transform_to` writes the features **into an array you give**, a
  :class:`numpy.memmap` on disk here, one batch of images at a time;

then fits :class:`~sklearn_ckn.TorchLinearSVC` on the features streamed from that
file. It needs ``pip install "sklearn-ckn[dask]"``.
"""

# %%
# The images as a dask array
# --------------------------
# 200 images per chunk along the first axis; a real data set would come from
# ``da.from_zarr``, ``da.from_array(h5py_dataset)`` or ``da.from_npy_stack`` instead.
import dask.array as da
from sklearn.model_selection import train_test_split

from sklearn_ckn.datasets import load_digits_images

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
X_lazy = da.from_array(X_train, chunks=(200, 8, 8))
X_lazy

# %%
# Lazy features
# -------------
# The transformer is fitted on an in-memory sample (k-means needs patches, not all
# images); ``transform`` of the dask array returns at once. The features' chunks
# follow the images' chunks, with all the features of an image in one chunk.
from sklearn_ckn import CKNTransformer

ckn = CKNTransformer(n_filters=(16, 64), n_patches=20_000, random_state=0).fit(X_train[:500])
F_lazy = ckn.transform(X_lazy)
print(F_lazy.dtype, F_lazy.shape, F_lazy.chunks[0])

# %%
# Nothing has been computed yet: ``compute()`` (or ``F_lazy[:100].compute()``,
# ``F_lazy.to_zarr(...)``, ...) runs the transform of each chunk, here on dask's
# threaded scheduler. The result equals the in-memory transform.
import numpy as np

F_first = F_lazy[:200].compute(scheduler="threads")
print(np.allclose(F_first, ckn.transform(X_train[:200]), atol=1e-5))

# %%
# Features into a file
# --------------------
# ``transform_to`` fills a ``np.memmap`` (or a zarr array, or any array with slice
# assignment) batch by batch: memory holds one batch of images and features, not the
# ``n x n_features_out_`` matrix. ``X`` may be a NumPy array, a memmap, an h5py or
# zarr array, or a dask array (computed a few chunks at a time).
import tempfile
from pathlib import Path

from sklearn_ckn import transform_to

folder = tempfile.TemporaryDirectory()
path = Path(folder.name) / "features.f32"
F_file = np.memmap(path, dtype=np.float32, mode="w+",
                   shape=(len(X_train), ckn.n_features_out_))
transform_to(ckn, X_lazy, F_file)
print(f"{path.name}: {path.stat().st_size / 2**20:.1f} MiB, {F_file.shape}")

# %%
# A linear SVM streamed from the file
# -----------------------------------
# :class:`~sklearn_ckn.TorchLinearSVC` reads a ``np.memmap`` (or a zarr, h5py or dask
# array) by chunks of rows: every L-BFGS evaluation is one pass over the file, and
# its memory does not grow with the number of images.
from sklearn_ckn import TorchLinearSVC

features = np.memmap(path, dtype=np.float32, mode="r", shape=F_file.shape)
svm = TorchLinearSVC(C=0.1, chunk_size=256).fit(features, y_train)
print(f"test accuracy: {svm.score(ckn.transform(X_test), y_test):.4f}")

# %%
# What the file holds: the features of the first 40 training images (one row each;
# ``normalize="l2-standard"``, the default, standardised every column), sorted by
# class.
import matplotlib.pyplot as plt

order = np.argsort(y_train[:40], kind="stable")
fig, ax = plt.subplots(figsize=(8, 3))
ax.imshow(features[:40][order], aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3,
          interpolation="nearest")
ax.set_yticks(range(40), y_train[:40][order], fontsize=6)
ax.set_xlabel(f"feature (of {ckn.n_features_out_})")
ax.set_ylabel("image (its digit)")
ax.set_title("CKN features read back from the memmap")
fig.tight_layout()

del F_file, features  # close the memory maps before removing the folder
folder.cleanup()

# sphinx_gallery_thumbnail_number = 1
