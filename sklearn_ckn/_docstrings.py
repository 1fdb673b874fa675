"""Docstring text shared by several public objects, written once.

A docstring line that holds only ``{name}`` is replaced, when its module is imported,
by the text ``name`` given to :func:`fill_doc`, indented as that line is. numpydoc,
Sphinx and doctest read the finished ``__doc__``, so the rendered documentation is the
same as if the text were repeated; the source says it once (the loaders' sampling
parameters, the estimators' image input, the Parameters section of a display and of
its ``plot_*`` shortcut...).
"""

import textwrap

__all__ = ["IMAGES", "fill_doc", "with_parameters"]

#: The parameter ``X`` of the estimators' methods that take images (``predict``...).
IMAGES = """\
X : array-like of shape (n, H, W), (n, H, W, C) or (n, H * W * C)
    Images.
"""


def fill_doc(**texts):
    """Decorator: every docstring line that is only ``{name}`` becomes ``texts[name]``
    (dedented, then indented as that line). A ``{name}`` line without a text raises
    a KeyError at import, so that a typo never reaches the documentation."""
    texts = {name: textwrap.dedent(text).strip("\n") + "\n" for name, text in texts.items()}

    def fill(obj):
        if obj.__doc__ is None:  # docstrings stripped (python -OO)
            return obj
        lines = obj.__doc__.splitlines(keepends=True)
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped[:1] == "{" and stripped[-1:] == "}" and stripped[1:-1].isidentifier():
                indent = line[: len(line) - len(line.lstrip())]
                lines[i] = textwrap.indent(texts[stripped[1:-1]], indent)
        obj.__doc__ = "".join(lines)
        return obj

    return fill


def with_parameters(text):
    """Decorator: the docstring's line ``{parameters}`` becomes a numpydoc Parameters
    section of ``text``, indented as that line is."""
    return fill_doc(parameters="Parameters\n----------\n" + textwrap.dedent(text))
