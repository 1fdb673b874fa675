"""
Grad-CAM of a CNN and a CKN
===========================

Where in the image does each model look? :func:`~sklearn_ckn.explain.plot_grad_cam`
draws class activation maps (LayerCAM by default; also HiResCAM and Grad-CAM) of
fitted :class:`~sklearn_ckn.CNNClassifier`, :class:`~sklearn_ckn.CKNClassifier` and
CKN pipelines (:class:`~sklearn_ckn.CKNTransformer` followed by scikit-learn
steps) side by side. This example fits a CNN, a CKN pipeline and a supervised CKN on
the bundled digits and explains their predictions on one test image per class.

The digits are only 8x8 pixels: to give the maps some resolution, every image is
enlarged to 16x16 (each pixel repeated 2x2) before anything is fitted.
"""

# %%
# The data
# --------
import numpy as np
from sklearn.model_selection import train_test_split

from sklearn_ckn.datasets import load_digits_images

digits = load_digits_images()
images = np.kron(digits.images, np.ones((1, 2, 2), dtype=np.uint8))  # (1797, 16, 16)
X_train, X_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.25, stratify=digits.target, random_state=0
)
X_train, y_train = X_train[:500], y_train[:500]
print(images.shape, images.dtype)

# %%
# Three models
# ------------
# A small residual CNN, a CKN pipeline (features, then a linear SVM) and a supervised
# CKN (the same kind of network with its anchors trained end to end), all small enough
# to fit in seconds on a CPU. A pipeline is explained through its linear classifier
# (any final step with ``coef_`` and ``intercept_``) and the scalers before it.
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier

cnn = CNNClassifier("resnet-small", architecture_params={"widths": (8, 16, 32)}, epochs=10,
                    random_state=0)
ckn = make_pipeline(
    CKNTransformer(n_filters=(16, 64), subsamplings=(2, 2), n_patches=20_000, random_state=0),
    LinearSVC(),
)
supervised = CKNClassifier(
    ckn=CKNTransformer(n_filters=(16, 64), subsamplings=(2, 2), n_patches=20_000),
    epochs=2, random_state=0,
)
models = {"CNN": cnn, "CKN": ckn, "Supervised CKN": supervised}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(f"{name}: test accuracy {model.score(X_test, y_test):.4f}")

# %%
# The maps
# --------
# One row per image: the original, titled with its class, then each model's map of
# the class it predicts (a red title marks a wrong prediction). Each model is
# explained at its default layer (the CNN's second stage, the CKN's last layer before
# pooling): ``layer=`` picks another one, ``method=`` another weighting of the
# gradients, ``target=`` another class than the prediction.
from sklearn_ckn.explain import plot_grad_cam

show = np.array([np.flatnonzero(y_test == digit)[0] for digit in range(5)])
display = plot_grad_cam(models, X_test[show], y_true=y_test[show],
                        title="LayerCAM of three models on test digits")
display.figure_.set_size_inches(8, 10)

# %%
# ``plot_grad_cam`` returns a :class:`~sklearn_ckn.explain.GradCAMDisplay`; the maps
# themselves, as arrays, come from :func:`~sklearn_ckn.explain.grad_cam`:
from sklearn_ckn.explain import grad_cam

maps = grad_cam(cnn, X_test[show])
print(maps.shape, float(maps.min()), float(maps.max()))

# sphinx_gallery_thumbnail_number = 1
