"""
CKN vs CNN on SVHN
==================

Reproduces the CKN-versus-CNN study on SVHN: the five models of
:func:`sklearn_ckn.make_model` (CKN features + logistic regression, a CNN, an RBF
kernel SVM, Gaussian naive Bayes and k-NN) are fitted on the 73,257 official
training images (``train_32x32.mat``; the ``extra`` set is not used) and scored on
the 26,032 test images. The script prints

* the accuracy table (accuracy, balanced accuracy, fit and predict seconds, and the
  number of training images each model used: the kernel SVM and k-NN are capped at
  20,000 images, see :data:`sklearn_ckn.compare.DEFAULT_MAX_TRAIN`),
* the per-class table ``CLASS / CNN Acc / CKN Acc / Difference``,

and writes them, the confusion matrices and a grid of misclassified test images per
model ("Pred: <name> / True: <name>") into ``--out``.

Missing files (``train_32x32.mat``, about 180 MB, and ``test_32x32.mat``, about
65 MB) are downloaded into ``--data-home/svhn/`` from the official address.

Run it with the data in ``--data-home`` (the folder that contains ``svhn/``)::

    python examples/plot_svhn_comparison.py --data-home ~/sklearn_ckn_data

A smoke run on tiny data and tiny models (seconds; meaningless accuracies)::

    python examples/plot_svhn_comparison.py --data-home DIR --n-train 200 --n-test 100 --quick
"""

# %%
import argparse

from sklearn_ckn.compare import run_comparison
from sklearn_ckn.plotting import format_per_class_table


def main(argv=None):
    parser = argparse.ArgumentParser(description="CKN vs CNN (and baselines) on SVHN.")
    parser.add_argument("--data-home", default=None,
                        help="folder containing svhn/")
    parser.add_argument("--n-train", type=int, default=None,
                        help="random sample of the training images (default: all)")
    parser.add_argument("--n-test", type=int, default=None,
                        help="random sample of the test images (default: all)")
    parser.add_argument("--models", default="ckn,cnn,kernel_svm,naive_bayes,knn")
    parser.add_argument("--cv", type=int, default=None, help="K-fold CV accuracy too")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--out", default="compare_out/svhn", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny models (smoke test)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)

    result = run_comparison(
        "svhn",
        models=args.models,
        data_home=args.data_home,
        n_train=args.n_train,
        n_test=args.n_test,
        cv=args.cv,
        device=args.device,
        out=args.out,
        random_state=args.random_state,
        quick=args.quick,
        verbose=0,
    )

    # %%
    # The accuracy table and, when both ran, the per-class table CNN vs CKN.
    if args.verbose:
        print(result.table.to_string(index=False, float_format="%.4f"))
        if {"cnn", "ckn"} <= set(result.predictions):
            print()
            print(format_per_class_table(result.per_class, first="cnn", second="ckn"))
        print(f"\nFigures and tables in {args.out}:", ", ".join(sorted(result.files)))
    return result


if __name__ == "__main__":
    main()
