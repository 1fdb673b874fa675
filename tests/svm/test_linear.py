import pytest
from sklearn.datasets import make_classification

from sklearn_ckn.svm._linear import LINEAR_CLASSIFIERS, make_linear_classifier


@pytest.mark.parametrize("name", sorted(LINEAR_CLASSIFIERS))
def test_every_linear_setup_learns_a_separable_task(name):
    X, y = make_classification(400, 30, n_informative=10, n_classes=3, class_sep=3.0, random_state=0)
    clf = make_linear_classifier(name, random_state=0).fit(X[:300], y[:300])
    assert clf.score(X[300:], y[300:]) > 0.85
    assert hasattr(clf, "coef_") or hasattr(clf[-1], "coef_")


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="expected one of.*logistic"):
        make_linear_classifier("nope")
