"""Docstring text shared by several objects of :mod:`sklearn_ckn.core`, written once.

The package's one rule for shared docstring text (:mod:`sklearn_ckn._docstrings`
uses this :func:`fill_doc`; it lives in core, which imports nothing outside itself):
a docstring line that holds only ``{name}`` is replaced, when its
module is imported, by the text ``name`` given to :func:`fill_doc`, indented as that
line is. numpydoc, Sphinx and doctest read the finished ``__doc__``, so the rendered
documentation is the same as if the text were repeated.
"""

import re
import textwrap

__all__ = ["NETWORK_IMPORTS", "SIZE_PARAMETERS", "fill_doc"]

#: The first lines of the examples that build a network of CKN layers.
NETWORK_IMPORTS = """\
>>> import torch
>>> from sklearn_ckn.core.layers import CKNLayer
>>> from sklearn_ckn.core.sequential import CKNSequential
"""

#: The Parameters section of the methods that take an image size (``flops``...).
SIZE_PARAMETERS = """\
Parameters
----------
height, width : int
    Image size.
"""

# A docstring line that holds only ``{name}``: its indentation, the name.
_PLACEHOLDER = re.compile(r"^([ \t]*)\{([^\W\d]\w*)\}[ \t]*$", re.MULTILINE)


def fill_doc(**texts):
    """Decorator: every docstring line that is only ``{name}`` becomes ``texts[name]``
    (dedented, then indented as that line). A ``{name}`` line without a text raises
    a KeyError at import, so that a typo never reaches the documentation."""
    texts = {name: textwrap.dedent(text).strip("\n") for name, text in texts.items()}

    def fill(obj):
        if obj.__doc__ is not None:  # None: docstrings stripped (python -OO)
            obj.__doc__ = _PLACEHOLDER.sub(
                lambda match: textwrap.indent(texts[match[2]], match[1]), obj.__doc__
            )
        return obj

    return fill
