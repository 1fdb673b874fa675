"""What the comparison's figures share: pyplot-free figures that Jupyter shows as PNG
images, the panel grid of a display, and the check of a ``{model: y_pred}`` dict.

A new figure is a :class:`matplotlib.figure.Figure` drawn on the Agg canvas without
pyplot: nothing is shown and no pyplot state is touched, so the helpers work on
machines without a display and in loops that make many figures; save it with
``fig.savefig(path)``. In Jupyter, a display or such a figure as a cell's last value
renders as a PNG image (``_repr_png_``), whatever the matplotlib backend; figures
drawn on your own (pyplot) axes are shown by your backend as usual.
"""

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._display import given_axes

__all__ = ["as_predictions", "new_figure", "panels"]


class NotebookFigure(Figure):
    """A pyplot-free :class:`~matplotlib.figure.Figure` that Jupyter shows as a PNG."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()

    def _repr_html_(self):
        # Returning None lets Jupyter fall back on _repr_png_ (matplotlib's own
        # _repr_html_ answers only for its web backends).
        return None


def new_figure(figsize, suptitle=None):
    """A new :class:`NotebookFigure` (constrained layout), titled ``suptitle``."""
    fig = NotebookFigure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


def panels(ax, n, what, *, ncols, panel_size, suptitle=None):
    """``(figure, axes)``: ``n`` panels, the user's ``ax`` or a new figure's grid.

    A new figure has ``ncols`` panels per row (fewer when ``n`` is smaller) of
    ``panel_size = (width, height)`` inches, and its unused panels are hidden; the
    user's ``ax`` must be ``n`` Axes (``what`` says for what, in the error).
    """
    if ax is not None:
        axes = list(given_axes(ax, n, what))
        return axes[0].figure, axes
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    width, height = panel_size
    fig = new_figure((width * ncols, height * nrows + (0.4 if suptitle else 0.3)), suptitle)
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for extra in grid[n:]:
        extra.set_axis_off()
    return fig, list(grid[:n])


def as_predictions(predictions):
    """``{str(name): ndarray}`` of a non-empty dict of predictions."""
    if not isinstance(predictions, dict) or not predictions:
        raise ValueError("predictions must be a non-empty dict {model name: y_pred}.")
    return {str(k): np.asarray(v) for k, v in predictions.items()}
