"""core's docstring helper (sklearn_ckn.core._docstrings.fill_doc): a line that holds
only ``{name}`` becomes the shared text, and none is left in core's docstrings."""

import importlib
import inspect
import pathlib
import re

import pytest

import sklearn_ckn.core
from sklearn_ckn.core._docstrings import fill_doc

CORE = pathlib.Path(sklearn_ckn.core.__file__).parent


def test_the_text_replaces_the_line_with_its_indentation():
    def f():
        """Summary.

        Examples
        --------
        {lines}
        >>> 3
        3
        """

    fill_doc(lines="""
        >>> 1
        1
        """)(f)
    assert inspect.cleandoc(f.__doc__) == "Summary.\n\nExamples\n--------\n>>> 1\n1\n>>> 3\n3"


def test_a_name_without_a_text_fails_at_import():
    def f():
        """{typo}"""

    with pytest.raises(KeyError, match="typo"):
        fill_doc(lines="text")(f)


def test_stripped_docstrings_are_left_alone():
    def f():
        pass

    assert fill_doc(lines="text")(f) is f and f.__doc__ is None


def test_no_placeholder_is_left_in_core_docstrings():
    placeholder = re.compile(r"^\s*\{\w+\}\s*$", re.MULTILINE)
    found = []
    for path in sorted(CORE.glob("[!_]*.py")) + [CORE / "_docstrings.py"]:
        module = importlib.import_module(f"sklearn_ckn.core.{path.stem}")
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            members = vars(obj).values() if inspect.isclass(obj) else []
            for member in [obj, *members]:
                member = getattr(member, "__func__", member)  # class and static methods
                if placeholder.search(getattr(member, "__doc__", None) or ""):
                    found.append(f"{module.__name__}.{name}")
    assert found == []
