"""scikit-learn's estimator checks for the package's estimators."""

from sklearn_ckn import CKNTransformer
from sklearn_ckn.svm._linear_svc import TorchLinearSVC

from .conftest import estimator_checks


# Small networks: the checks fit a few dozen 2-D rows of as few as 2 features, read as
# 1 x d images, hence 2x2 patches.
@estimator_checks(
    [
        CKNTransformer(
            n_filters=(4, 8), patch_sizes=2, n_patches=2000, random_state=0, device="cpu"
        ),
        TorchLinearSVC(device="cpu"),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
