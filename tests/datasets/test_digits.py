import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_ckn.datasets import load_digits_images


def test_shape_dtype_and_scaling():
    bunch = load_digits_images()
    ref = load_digits()
    assert bunch.images.shape == (1797, 8, 8) and bunch.images.dtype == np.uint8
    assert bunch.target.dtype == np.int64 and bunch.target_names == [str(d) for d in range(10)]
    np.testing.assert_array_equal(bunch.target, ref.target)
    counts = ref.images.astype(int)
    np.testing.assert_array_equal(bunch.images, (counts * 255 + 8) // 16)
    # 0 -> 0, 8 -> 128, 16 -> 255, and the mapping is monotonic
    assert set(zip(counts[counts % 8 == 0].tolist(), bunch.images[counts % 8 == 0].tolist())) == {
        (0, 0), (8, 128), (16, 255)
    }
    assert "0..16" in bunch.DESCR and "255" in bunch.DESCR


def test_n_class_return_X_y_and_n_samples():
    X, y = load_digits_images(n_class=3, return_X_y=True)
    assert X.dtype == np.uint8 and set(y.tolist()) == {0, 1, 2}
    X5, y5 = load_digits_images(return_X_y=True, n_samples=5, shuffle=True, random_state=0)
    assert X5.shape == (5, 8, 8) and y5.shape == (5,)
    for bad in (0, 11, 2.0, True):
        with pytest.raises(ValueError, match="n_class"):
            load_digits_images(n_class=bad)
