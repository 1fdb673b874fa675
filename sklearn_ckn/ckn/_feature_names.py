"""Feature names of a flattened CKN map: ``ckn_c{channel}_y{row}_x{column}``."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._compat import check_feature_names_in

__all__ = ["MapFeatureNamesMixin", "map_feature_names"]


def map_feature_names(output_shape):
    """Names ``ckn_c{channel}_y{row}_x{column}`` of a flattened ``(C, H, W)`` map.

    Parameters
    ----------
    output_shape : tuple of int
        ``(channels, height, width)``.

    Returns
    -------
    names : ndarray of str objects
        In (channel, row, column) order.

    Examples
    --------
    >>> from sklearn_ckn.ckn._feature_names import map_feature_names
    >>> map_feature_names((2, 1, 2)).tolist()
    ['ckn_c0_y0_x0', 'ckn_c0_y0_x1', 'ckn_c1_y0_x0', 'ckn_c1_y0_x1']
    """
    c, h, w = output_shape
    cc, yy, xx = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    names = [f"ckn_c{a}_y{b}_x{d}" for a, b, d in zip(cc.ravel(), yy.ravel(), xx.ravel())]
    return np.asarray(names, dtype=object)


class MapFeatureNamesMixin:
    """``get_feature_names_out`` of an estimator whose features are a flattened CKN map."""

    def get_feature_names_out(self, input_features=None):
        """Output feature names ``ckn_c{channel}_y{row}_x{column}``.

        Parameters
        ----------
        input_features : array-like of str or None
            Ignored (checked against the fitted input names if given).

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``ckn_c{channel}_y{row}_x{column}`` for each output feature, in the order
            of ``transform``'s columns.
        """
        check_is_fitted(self, "module_")
        check_feature_names_in(self, input_features, generate_names=False)
        return map_feature_names(self.output_shape_)
