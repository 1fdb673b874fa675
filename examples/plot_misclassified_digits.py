"""
Misclassified digits
====================

Which test images does a CKN pipeline get wrong? This example fits
:class:`~sklearn_ckn.CKNTransformer` followed by a linear SVM on the bundled 8x8
digits, then shows its confusion matrix and the misclassified test images with
:func:`~sklearn_ckn.compare.plot_misclassified`.
"""

# %%
# A CKN pipeline
# --------------
# A deliberately small network (8 then 32 filters) fitted on 300 training images
# only, so that it makes enough mistakes to look at.
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sklearn_ckn import CKNTransformer
from sklearn_ckn.datasets import load_digits_images

digits = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=0
)
model = make_pipeline(
    CKNTransformer(n_filters=(8, 32), n_patches=20_000, random_state=0), LinearSVC()
)
model.fit(X_train[:300], y_train[:300])
y_pred = model.predict(X_test)
print(f"test accuracy: {(y_pred == y_test).mean():.4f} "
      f"({(y_pred != y_test).sum()} errors out of {len(y_test)})")

# %%
# The confusion matrix
# --------------------
# scikit-learn's :class:`~sklearn.metrics.ConfusionMatrixDisplay`: rows are the true
# digits, columns the predicted ones.
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

disp = ConfusionMatrixDisplay.from_predictions(y_test, y_pred, colorbar=False)
disp.ax_.set_title("CKN (8, 32) + LinearSVC, 300 training digits")
plt.show()

# %%
# The misclassified images
# ------------------------
# Each image is titled with the prediction and the truth ("Pred: 8 / True: 1");
# ``target_names`` maps integer labels to names (here the digits themselves). Without
# ``ax``, :func:`~sklearn_ckn.compare.plot_misclassified` returns a new figure of its
# own (shown as an image in a notebook, saved with ``fig.savefig``); here it draws on
# pyplot axes of a grid.
import numpy as np

from sklearn_ckn.compare import plot_misclassified

n_show = min(16, int(np.sum(y_pred != y_test)))
fig, axes = plt.subplots(2, 8, figsize=(9, 3.4))
for ax in axes.ravel()[n_show:]:
    ax.set_axis_off()
plot_misclassified(X_test, y_test, y_pred, target_names=digits.target_names,
                   n_examples=n_show, ax=axes.ravel()[:n_show])
fig.suptitle(f"CKN + LinearSVC: {int(np.sum(y_pred != y_test))} misclassified test digits")
fig.tight_layout()

# sphinx_gallery_thumbnail_number = 2
