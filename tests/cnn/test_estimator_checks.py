"""scikit-learn's estimator checks on small, fast CNNClassifiers."""

from sklearn_ckn import CNNClassifier

from ..conftest import estimator_checks


# Small but real: the checks' data are 2-D float arrays with 1 to 10 columns, read as
# tiny images (1x1, 1x2, 1x3, 2x2, 1x10, ...), which both architectures cope with (no
# pooling of a side of 1 pixel, same-padded convolutions).
SMALL = dict(
    architecture="resnet-small",
    architecture_params={"widths": (8, 16)},
    epochs=20,
    batch_size=32,
    device="cpu",
    random_state=0,
)


@estimator_checks(
    [
        CNNClassifier(**SMALL),
        CNNClassifier(**dict(SMALL, architecture="lenet5", architecture_params=None)),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
