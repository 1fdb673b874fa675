"""scikit-learn's estimator checks for the package's estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ckn import CKNTransformer
from sklearn_ckn.svm._linear_svc import TorchLinearSVC


# Small networks: the checks fit a few dozen 2-D rows of as few as 2 features, read as
# 1 x d images, hence 2x2 patches.
@parametrize_with_checks(
    [
        CKNTransformer(
            n_filters=(4, 8), patch_sizes=2, n_patches=2000, random_state=0, device="cpu"
        ),
        TorchLinearSVC(device="cpu"),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
