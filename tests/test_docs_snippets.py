"""The Python snippets of the documentation run as written.

Every ```python block of ``docs/*.md`` and every ``.. code-block:: python`` of
``docs/*.rst`` is executed, in page order, in one namespace per page (a page defines
its data once, at the top: the bundled digits or a few synthetic images), in a
temporary working directory, without network. A snippet that needs what a test
cannot have (a downloaded data set, a GPU, a cluster) is marked just before its
block, with the reason:

* Markdown: ``<!-- snippet: skip (needs CIFAR-10 on disk) -->``
* reStructuredText: ``.. snippet: skip (needs CIFAR-10 on disk)`` (a comment)

Such blocks are not run; ``test_skipped_snippets_are_few`` keeps them few and
``test_markers_precede_snippets`` keeps the markers attached to a block. A block that
needs an optional package says so (``<!-- snippet: requires mlflow -->``): it runs
when the package is installed (``test_mlflow_round_trip`` runs the persistence page's
MLflow recipe, and is skipped without MLflow). Snippets that
print or plot do so into a non-interactive backend. The whole file runs in well under
a minute on 2 CPU cores.
"""

import importlib.util
import os
import re
import time
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # snippets that plot draw into files, not windows

DOCS = Path(__file__).resolve().parents[1] / "docs"
MD_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
MD_SKIP = re.compile(r"<!--\s*snippet:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*\Z")
MD_REQUIRES = re.compile(r"<!--\s*snippet:\s*requires\s+(?P<module>[\w.]+)\s*-->\s*\Z")
RST_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block:: python[ \t]*\n"
                       r"(?:(?P=indent)[ \t]+:[^\n]*\n)*"  # options
                       r"(?P<body>(?:[ \t]*\n|(?P=indent)[ \t]+[^\n]*\n)+)", re.M)
RST_SKIP = re.compile(r"\.\.\s+snippet:\s*skip\s*\((?P<reason>[^)]+)\)\s*\Z")
MAX_SKIPPED = 6  # keep the documentation runnable: raise this only with a reason


def snippets(path):
    """``(line, code, skip_reason)`` of every Python block of one page, in order (the
    reason of a block that requires a missing optional package says so)."""
    text = path.read_text(encoding="utf-8")
    out = []
    if path.suffix == ".md":
        for match in MD_BLOCK.finditer(text):
            before = text[:match.start()].rstrip()
            skip = MD_SKIP.search(before)
            reason = skip.group("reason") if skip else None
            requires = MD_REQUIRES.search(before)
            if requires and importlib.util.find_spec(requires.group("module")) is None:
                reason = f"requires {requires.group('module')}"
            out.append((text.count("\n", 0, match.start()) + 1, match.group(1), reason))
    else:
        for match in RST_BLOCK.finditer(text):
            body = match.group("body")
            lines = body.splitlines()
            indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()),
                         default=0)
            code = "\n".join(line[indent:] for line in lines).strip("\n") + "\n"
            before = text[:match.start()].rstrip()
            skip = RST_SKIP.search(before)
            out.append((text.count("\n", 0, match.start()) + 1, code,
                        skip.group("reason") if skip else None))
    return out


PAGES = sorted(p for p in [*DOCS.glob("*.md"), *DOCS.glob("*.rst")]
               if p.name not in {"api.rst", "sg_execution_times.rst"} and snippets(p))


def test_pages_are_found():
    names = {p.name for p in PAGES}
    assert {"ckn.md", "scaling_dask.md", "quick_start.rst"} <= names


def run_page(page, tmp_path, monkeypatch):
    """Run the page's snippets in order, in one namespace, in ``tmp_path``."""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    start = time.perf_counter()
    for line, code, skip in snippets(page):
        if skip:
            continue
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(
                f"the snippet at {page.name}:{line} failed: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            plt.close("all")
    return time.perf_counter() - start


@pytest.mark.usefixtures("hermetic")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_snippets_run(page, tmp_path, monkeypatch):
    seconds = run_page(page, tmp_path, monkeypatch)
    assert seconds < 60, f"{page.name}: {seconds:.0f} s; shrink its snippets' data"


def test_skipped_snippets_are_few():
    skipped = [(p.name, line, reason) for p in PAGES for line, _, reason in snippets(p)
               if reason and not reason.startswith("requires ")]
    assert len(skipped) <= MAX_SKIPPED, skipped
    for _, _, reason in skipped:
        assert reason.strip(), "say why a snippet is skipped"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_markers_precede_snippets(page):
    """A marker right before something other than a Python block is a typo."""
    text = page.read_text(encoding="utf-8")
    if page.suffix == ".md":
        markers = re.findall(r"<!--\s*snippet:", text)
        attached = re.findall(r"<!--\s*snippet:[^>]*-->\s*\n```python", text)
    else:
        markers = re.findall(r"^\.\.\s+snippet:", text, re.M)
        attached = re.findall(r"^\.\.\s+snippet:[^\n]*\n\s*\n\.\. code-block:: python",
                              text, re.M)
    assert len(markers) == len(attached)


@pytest.mark.usefixtures("hermetic")
def test_mlflow_round_trip(tmp_path, monkeypatch):
    """docs/persistence.md end to end with MLflow: the skops format with the package's
    classes as ``skops_trusted_types`` loads a model that predicts the same."""
    pytest.importorskip("mlflow")
    page = DOCS / "persistence.md"
    assert any("mlflow.sklearn.save_model" in code and not reason
               for _, code, reason in snippets(page))
    run_page(page, tmp_path, monkeypatch)
    mlmodel = (tmp_path / "mlflow_model" / "MLmodel").read_text()
    assert "serialization_format: skops" in mlmodel
    assert "sklearn_ckn.ckn._transformer.CKNTransformer" in mlmodel
