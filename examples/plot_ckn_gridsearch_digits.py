"""
Tuning a CKN pipeline with GridSearchCV
=======================================

:class:`~sklearn_ckn.CKNTransformer` is a scikit-learn transformer: a CKN followed by a
linear SVM is an ordinary :class:`~sklearn.pipeline.Pipeline`, whose parameters
(``ckn__n_filters``, ``svm__C``, ...) :class:`~sklearn.model_selection.GridSearchCV`
tunes like any other. This example tunes the width of the network and the SVM's
regularisation on scikit-learn's bundled 8x8 digits, plots the cross-validated scores
and scores the best pipeline on held-out digits.
"""

# %%
# The data
# --------
# :func:`~sklearn_ckn.datasets.load_digits_images` gives the 1,797 digits as
# ``uint8`` images of shape ``(8, 8)``; the transformer takes them as they are (rows
# of 64 pixels work too). A stratified split keeps a quarter aside for the final score;
# the search runs on 450 training images so that this page builds in seconds.
from sklearn.model_selection import train_test_split

from sklearn_ckn.datasets import load_digits_images

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
X_train, y_train = X_train[:450], y_train[:450]
print(f"{len(X_train)} training and {len(X_test)} test images of shape {X.shape[1:]}")

# %%
# The pipeline
# ------------
# CKN features (two layers, pooling by 2 then 2), then
# :class:`~sklearn.svm.LinearSVC`. The CKN is the costly step and does not depend on
# ``svm__C``: the pipeline's ``memory`` caches its fitted transform, so that each
# network is fitted once per fold whatever the number of ``C`` values.
# ``n_patches=10_000`` (k-means on 10,000 patches per layer instead of 100,000) keeps
# the fits short on this small data set.
import tempfile

from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sklearn_ckn import CKNTransformer

cache = tempfile.TemporaryDirectory()
pipe = Pipeline(
    [
        ("ckn", CKNTransformer(subsamplings=(2, 2), n_patches=10_000, random_state=0)),
        ("svm", LinearSVC()),
    ],
    memory=cache.name,
)
pipe

# %%
# The search
# ----------
# Two widths of the network and four values of ``C``, 3-fold cross-validation.
from sklearn.model_selection import GridSearchCV

param_grid = {
    "ckn__n_filters": [(8, 32), (32, 128)],
    "svm__C": [0.001, 0.01, 0.1, 1.0],
}
search = GridSearchCV(pipe, param_grid, cv=3)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy: {search.best_score_:.4f}")

# %%
# The scores
# ----------
# ``cv_results_`` as a :class:`pandas.DataFrame`, best first, then the mean accuracy
# (and its standard deviation over the folds) against ``C``, one line per network.
import matplotlib.pyplot as plt
import pandas as pd

results = pd.DataFrame(search.cv_results_)
columns = ["param_ckn__n_filters", "param_svm__C", "mean_test_score", "std_test_score",
           "mean_fit_time"]
print(results.sort_values("rank_test_score")[columns].head().to_string(index=False))

fig, ax = plt.subplots(figsize=(6, 4))
for n_filters in param_grid["ckn__n_filters"]:
    rows = results[results["param_ckn__n_filters"] == n_filters]
    ax.errorbar(rows["param_svm__C"].astype(float), rows["mean_test_score"],
                yerr=rows["std_test_score"], marker="o", capsize=3,
                label=f"n_filters={n_filters}")
ax.set_xscale("log")
ax.set_xlabel("LinearSVC C")
ax.set_ylabel("3-fold CV accuracy")
ax.set_title("CKN -> LinearSVC on 450 digits")
ax.legend()
fig.tight_layout()

# %%
# The best pipeline
# -----------------
# ``GridSearchCV`` refitted it on the whole training set; its accuracy on the held-out
# digits:
print(f"test accuracy: {search.score(X_test, y_test):.4f}")
cache.cleanup()

# sphinx_gallery_thumbnail_number = 1
