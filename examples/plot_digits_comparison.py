"""
The command line: CKN vs baselines on digits
============================================

The package's command line, ``python -m sklearn_ckn compare`` (also installed as
``sklearn-ckn compare``), runs the CKN-versus-CNN study on one data set: it fits the
models of :func:`~sklearn_ckn.make_model`, prints the accuracy table and the per-class
table ``CLASS / CNN Acc / CKN Acc / Difference``, and writes them, the confusion
matrices and the misclassified examples into ``--out``. On the bundled digits it needs
no file::

    python -m sklearn_ckn compare                        # all six models, digits
    python -m sklearn_ckn compare --dataset mnist --data-home DIR
    python -m sklearn_ckn compare --help

The other examples walk through the same steps with the Python API
(:func:`~sklearn_ckn.compare.run_comparison` and the estimators); this one runs the
command itself, from Python, on four of the models (the CNN and the supervised CKN
are in the "CNN vs CKN, class by class" and "Training a supervised CKN" examples).
"""

# %%
# Running the command
# -------------------
# ``sklearn_ckn.__main__.main`` takes the command line as a list of strings and
# returns its exit status (0: success; a wrong option is reported on one line, before
# anything is loaded or fitted).
import tempfile
from pathlib import Path

from sklearn_ckn.__main__ import main

out = Path(tempfile.mkdtemp()) / "digits"
status = main(["compare", "--dataset", "digits", "--models", "ckn,kernel_svm,naive_bayes,knn",
               "--out", str(out)])
print("exit status:", status)

# %%
# What it wrote
# -------------
# The tables (``results.csv``, ``per_class_accuracy.csv``, ``results.json`` with the
# command, versions and timings) and the figures:
print("\n".join(sorted(p.name for p in out.iterdir())))

# %%
# ``results.csv``, one row per model:
import pandas as pd

pd.read_csv(out / "results.csv")

# %%
# The confusion matrices of the four models, as the command saved them:
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(10, 3.2))
ax.imshow(plt.imread(out / "confusion_matrices.png"))
ax.set_axis_off()
fig.tight_layout()

# sphinx_gallery_thumbnail_number = 1
