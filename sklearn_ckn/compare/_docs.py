"""One parameter text for several docstrings (a display's ``from_predictions`` and its
``plot_*`` shortcut; :func:`run_comparison` and :class:`ComparisonOptions`)."""

import textwrap

__all__ = ["with_parameters"]


def with_parameters(text):
    """Decorator: the docstring's line ``{parameters}`` becomes a numpydoc Parameters
    section of ``text``, indented as that line is."""
    section = "Parameters\n----------\n" + textwrap.dedent(text)

    def fill(obj):
        lines = obj.__doc__.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.strip() == "{parameters}":
                indent = line[: len(line) - len(line.lstrip())]
                lines[i] = textwrap.indent(section, indent)
        obj.__doc__ = "".join(lines)
        return obj

    return fill
