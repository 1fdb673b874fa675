"""
CKN vs CNN on the 8x8 digits
============================

Reproduces the CKN-versus-CNN study on scikit-learn's bundled 8x8 digits: the five
models of :func:`sklearn_ckn.make_model` (CKN features + logistic regression, a CNN,
an RBF kernel SVM, Gaussian naive Bayes and k-NN) are fitted on the training part of
a stratified 75% / 25% split of the 1,797 digits (they have no official split:
1,347 training and 450 test images) and scored on the test part. The script prints

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
import argparse

from sklearn_ckn.compare import run_comparison
from sklearn_ckn.plotting import format_per_class_table


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="CKN vs CNN (and baselines) on scikit-learn's 8x8 digits."
    )
    parser.add_argument("--data-home", default=None,
                        help="unused: the digits are bundled with scikit-learn")
    parser.add_argument("--n-train", type=int, default=None,
                        help="random sample of the training images (default: all 1,347)")
    parser.add_argument("--n-test", type=int, default=None,
                        help="random sample of the test images (default: all)")
    parser.add_argument("--models", default="ckn,cnn,kernel_svm,naive_bayes,knn")
    parser.add_argument("--cv", type=int, default=None, help="K-fold CV accuracy too")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--out", default="compare_out/digits", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny models (smoke test)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)

    result = run_comparison(
        "digits",
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
