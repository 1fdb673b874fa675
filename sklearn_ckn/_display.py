"""What every display of the package shares: Jupyter rendering, saving, axes and labels.

The displays of :mod:`sklearn_ckn.compare` (figures made without pyplot) and of
:mod:`sklearn_ckn.explain` (pyplot figures, so that ``plt.show()`` shows them) follow
scikit-learn's Display pattern; this module holds the behaviour they have in common.
"""

import io
import sys

import numpy as np


def class_name(label, target_names):
    """Display name of a label: ``target_names[label]`` for integer labels, else str."""
    if (target_names is not None and isinstance(label, (int, np.integer))
            and 0 <= int(label) < len(target_names)):
        return str(target_names[int(label)])
    return str(label)


def given_axes(ax, shape, what):
    """The user's ``ax`` as an array of Axes of ``shape`` (an int or ``(nrows, ncols)``).

    Raises a ``ValueError`` naming how many Axes ``what`` needs when the count or the
    types do not match.
    """
    from matplotlib.axes import Axes

    axes = np.asarray([ax] if isinstance(ax, Axes) else ax, dtype=object)
    n = int(np.prod(shape))
    if axes.size != n or not all(isinstance(a, Axes) for a in axes.ravel()):
        grid = f" ({shape[0]} x {shape[1]} panels)" if isinstance(shape, tuple) else ""
        raise ValueError(
            f"ax must be {n} matplotlib Axes for {what}{grid}, got {axes.size} object(s)."
        )
    return axes.reshape(shape)


class Display:
    """Jupyter and script behaviour of a display holding its figure in ``figure_``."""

    figure_ = None

    def _repr_png_(self):
        """The figure as PNG bytes: a display as a cell's last value shows its figure."""
        if self.figure_ is None:
            return None
        buffer = io.BytesIO()
        self.figure_.savefig(buffer, format="png", dpi=self.figure_.dpi)
        if "matplotlib.pyplot" in sys.modules:
            # A pyplot figure is released once shown here: the inline backend would
            # otherwise show it a second time (a figure pyplot does not know is left).
            sys.modules["matplotlib.pyplot"].close(self.figure_)
        return buffer.getvalue()

    def savefig(self, fname, **kwargs):
        """Save the figure: ``self.figure_.savefig(fname, **kwargs)``.

        Parameters
        ----------
        fname : str or path-like or file-like
            Where to save.
        **kwargs : dict
            Passed to :meth:`matplotlib.figure.Figure.savefig`.
        """
        if self.figure_ is None:
            raise ValueError("Nothing is plotted yet: call plot() first.")
        self.figure_.savefig(fname, **kwargs)
