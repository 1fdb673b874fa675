"""
CKN vs CNN on the 8x8 digits
============================

Reproduces the CKN-versus-CNN study on scikit-learn's bundled 8x8 digits: the six
models of :func:`sklearn_ckn.make_model` (CKN features + a linear SVM, the supervised
CKN, a CNN, an RBF kernel SVM, Gaussian naive Bayes and k-NN) are fitted on the
training part of a stratified 75% / 25% split of the 1,797 digits (they have no
official split: 1,347 training and 450 test images) and scored on the test part. The
script prints

* the accuracy table (accuracy, balanced accuracy, fit and predict seconds, number
  of training images used),
* the per-class table ``CLASS / CNN Acc / CKN Acc / Difference``,

and writes them, the confusion matrices and a grid of misclassified test images per
model ("Pred: <name> / True: <name>") into ``--out``. It needs no file and no network
and runs in well under a minute on 2 CPU cores: it is what ``python -m sklearn_ckn
compare`` runs. ``--data-home`` is accepted (and unused) like in the other examples.

Run it::

    python examples/plot_digits_comparison.py

A smoke run on a few images and tiny models (seconds; meaningless accuracies)::

    python examples/plot_digits_comparison.py --n-train 200 --n-test 100 --quick
"""

# %%
# The script is the ``compare`` command of the package's command line: what
# ``python -m sklearn_ckn compare --dataset digits`` runs, with the same options
# (``--data-home``, ``--n-train``, ``--quick``, ``--out``, ...; see ``--help``). Every
# option is checked before anything is loaded or fitted. It fits and scores the models
# with :func:`~sklearn_ckn.compare.run_comparison`, prints the accuracy table and the
# per-class table CNN vs CKN, and writes the tables, the confusion matrices and the
# misclassified examples into ``--out`` (default ``compare_out/digits``).
import sys

from sklearn_ckn.__main__ import main

if __name__ == "__main__":
    status = main(["compare", "--dataset", "digits", *sys.argv[1:]])
    if status:
        sys.exit(status)
