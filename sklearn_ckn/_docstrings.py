"""Docstring text shared by several public objects, written once.

A docstring line that holds only ``{name}`` is replaced, when its module is imported,
by the text ``name`` given to :func:`fill_doc`, indented as that line is. numpydoc,
Sphinx and doctest read the finished ``__doc__``, so the rendered documentation is the
same as if the text were repeated; the source says it once (the loaders' sampling
parameters, the estimators' image input, the Parameters section of a display and of
its ``plot_*`` shortcut...).
"""

import textwrap

# One rule for the whole package: core keeps it (core imports nothing outside itself).
from .core._docstrings import fill_doc

__all__ = ["IMAGES", "fill_doc", "with_parameters"]

#: The parameter ``X`` of the estimators' methods that take images (``predict``...).
IMAGES = """\
X : array-like of shape (n, H, W), (n, H, W, C) or (n, H * W * C)
    Images.
"""


def with_parameters(text):
    """Decorator: the docstring's line ``{parameters}`` becomes a numpydoc Parameters
    section of ``text``, indented as that line is."""
    return fill_doc(parameters="Parameters\n----------\n" + textwrap.dedent(text))
