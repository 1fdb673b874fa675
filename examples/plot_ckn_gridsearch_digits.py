"""
Tuning a CKN pipeline with GridSearchCV
=======================================

:class:`~sklearn_ckn.CKNTransformer` is a scikit-learn transformer, so a CKN followed
by a linear SVM is an ordinary :class:`~sklearn.pipeline.Pipeline` whose parameters
(``ckn__n_filters``, ``svm__C``, ...) can be tuned by
:class:`~sklearn.model_selection.GridSearchCV` like any other. This notebook-style
script (``# %%`` cells: run it cell by cell in an editor, or as a script) tunes the
number of filters of the CKN and the regularisation of the SVM on the bundled 8x8
digits, then scores the best pipeline on held-out digits.

The CKN is the costly step and does not depend on ``svm__C``: the pipeline's
``memory`` caches its fitted transform, so each CKN configuration is fitted once per
fold whatever the number of ``C`` values.

Run it (about a minute on 2 CPU cores)::

    python examples/plot_ckn_gridsearch_digits.py

A smoke run (a few images, a tiny grid)::

    python examples/plot_ckn_gridsearch_digits.py --quick
"""

# %%
# Options (ignored when the cells run in a notebook kernel).
import argparse
import tempfile

parser = argparse.ArgumentParser(description="GridSearchCV over a CKN + LinearSVC pipeline.")
parser.add_argument("--quick", action="store_true", help="tiny data and grid (smoke test)")
parser.add_argument("--verbose", type=int, default=1)
args, _ = parser.parse_known_args()

# %%
# The data: 8x8 grey digits as uint8 images of shape (n, 8, 8); the transformer
# takes them directly. A stratified split keeps a quarter aside for the final score.
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_ckn.datasets import load_digits_images

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
if args.quick:
    X_train, y_train, X_test, y_test = X_train[:150], y_train[:150], X_test[:60], y_test[:60]
print(f"{len(X_train)} training and {len(X_test)} test images of shape {X.shape[1:]}")

# %%
# The pipeline: CKN features (two layers, pooling by 2 then 2), then a linear SVM.
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sklearn_ckn import CKNTransformer

cache = tempfile.TemporaryDirectory()
pipe = Pipeline(
    [
        ("ckn", CKNTransformer(subsamplings=(2, 2), random_state=0)),
        ("svm", LinearSVC(max_iter=5000)),
    ],
    memory=cache.name,
)

# %%
# The grid: the width of the network and the SVM's C, 3-fold cross-validation.
if args.quick:
    param_grid = {
        "ckn__n_filters": [(4, 8), (8, 16)],
        "ckn__n_patches": [1000],
        "ckn__kmeans_max_iter": [2],
        "svm__C": [0.1, 1.0],
    }
else:
    param_grid = {"ckn__n_filters": [(32, 128), (64, 256)], "svm__C": [0.1, 1.0, 10.0]}
search = GridSearchCV(pipe, param_grid, cv=3, verbose=args.verbose)
search.fit(X_train, y_train)

# %%
# The cross-validated accuracy of every combination, best first.
import pandas as pd

results = pd.DataFrame(search.cv_results_)
columns = ["param_ckn__n_filters", "param_svm__C", "mean_test_score", "std_test_score",
           "mean_fit_time"]
print(results.sort_values("rank_test_score")[columns].to_string(index=False))

# %%
# The best pipeline, refitted on the whole training set, on the held-out digits.
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy: {search.best_score_:.4f}")
print(f"test accuracy: {search.score(X_test, y_test):.4f}")
cache.cleanup()
