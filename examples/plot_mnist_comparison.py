"""
CKN vs CNN on MNIST
===================

Reproduces the CKN-versus-CNN study on MNIST: the six models of
:func:`sklearn_ckn.make_model` (CKN features + a linear SVM, the supervised CKN, a
CNN, an RBF kernel SVM, Gaussian naive Bayes and k-NN) are fitted on the 60,000
official training images and scored on the 10,000 test images. The script prints

* the accuracy table (accuracy, balanced accuracy, fit and predict seconds, and the
  number of training images each model used: the kernel SVM and k-NN are capped at
  20,000 images, see :data:`sklearn_ckn.compare.DEFAULT_MAX_TRAIN`),
* the per-class table ``CLASS / CNN Acc / CKN Acc / Difference``,

and writes them, the confusion matrices and a grid of misclassified test images per
model ("Pred: <name> / True: <name>") into ``--out``.

On a CPU the CNN on 60,000 images takes long: pass ``--device cuda`` or
``--n-train 10000``.

Run it with the data in ``--data-home`` (the folder that contains ``mnist/``)::

    python examples/plot_mnist_comparison.py --data-home ../shared/datasets

A smoke run on tiny data and tiny models (seconds; meaningless accuracies)::

    python examples/plot_mnist_comparison.py --data-home DIR --n-train 200 --n-test 100 --quick
"""

# %%
# The script is the ``compare`` command of the package's command line: what
# ``python -m sklearn_ckn compare --dataset mnist`` runs, with the same options
# (``--data-home``, ``--n-train``, ``--quick``, ``--out``, ...; see ``--help``). Every
# option is checked before anything is loaded or fitted. It fits and scores the models
# with :func:`~sklearn_ckn.compare.run_comparison`, prints the accuracy table and the
# per-class table CNN vs CKN, and writes the tables, the confusion matrices and the
# misclassified examples into ``--out`` (default ``compare_out/mnist``).
import sys

from sklearn_ckn.__main__ import main

if __name__ == "__main__":
    status = main(["compare", "--dataset", "mnist", *sys.argv[1:]])
    if status:
        sys.exit(status)
