"""
CNN vs CKN, class by class
==========================

Fits the CKN (:class:`~sklearn_ckn.CKNTransformer` features and a linear SVM) and a
CNN (:class:`~sklearn_ckn.CNNClassifier`, a small residual network) on the bundled 8x8
digits with :func:`~sklearn_ckn.compare.run_comparison`, the function behind the
``python -m sklearn_ckn compare`` command, then compares their accuracy on each class
of the test set.
"""

# %%
# Fitting both models
# -------------------
# ``run_comparison`` splits the 1,797 digits (stratified 75% / 25%: 1,347 training and
# 450 test images), builds each model with :func:`~sklearn_ckn.make_model` and the
# parameters benchmarked on this data set (:data:`~sklearn_ckn.compare.DATASET_PARAMS`),
# fits it and scores it. Add ``"ckn_supervised"``, ``"kernel_svm"``, ``"naive_bayes"``
# or ``"knn"`` to ``models`` for the other baselines, and ``out="folder"`` to write the
# tables and figures to files.
from sklearn_ckn.compare import run_comparison

result = run_comparison("digits", models=["ckn", "cnn"], verbose=0, random_state=0)
result

# %%
# The accuracy table, one row per model (``fit_seconds`` and ``predict_seconds`` were
# measured on the machine that built this page):
result.table

# %%
# Per-class accuracy
# ------------------
# ``result.per_class`` has one row per class: its number of test images, each model's
# accuracy on them and the difference. :func:`~sklearn_ckn.compare.format_per_class_table`
# prints it as the command line does (``CLASS / CNN Acc / CKN Acc / Difference``).
from sklearn_ckn.compare import format_per_class_table

print(format_per_class_table(result.per_class, first="cnn", second="ckn"))

# %%
# The same table as a figure: one pair of bars per class.
import matplotlib.pyplot as plt
import numpy as np

table = result.per_class
positions = np.arange(len(table))
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(positions - 0.2, table["cnn"], width=0.4, label="CNN")
ax.bar(positions + 0.2, table["ckn"], width=0.4, label="CKN + linear SVM")
ax.set_xticks(positions, table["class"].astype(str))
ax.set_ylim(min(0.9, table[["cnn", "ckn"]].to_numpy().min() - 0.02), 1.005)
ax.set_xlabel("digit")
ax.set_ylabel("test accuracy")
ax.set_title("Per-class accuracy on 450 test digits")
ax.legend(loc="lower left")
fig.tight_layout()

# %%
# With 45 test images per class, one error moves a class's accuracy by about 2
# points: the differences above are a few images. The same comparison on MNIST,
# CIFAR-10, SVHN or Fruits-360 (``run_comparison("cifar10", data_home=...)``) needs the
# data set on disk; see the "Comparing CKN and CNN" page of the user guide.

# sphinx_gallery_thumbnail_number = 1
