"""The project's web addresses: the one place in the package that spells them.

They are placeholders: the repository has no remote and no published site yet, so
they point nowhere. ``[project.urls]`` of ``pyproject.toml`` (static metadata, which
cannot import them) names the same addresses, and ``tests/test_packaging.py`` checks
that the two agree: replace them in both places once the project is hosted.
"""

__all__ = ["DOCUMENTATION_URL", "REPOSITORY_URL"]

#: The source repository: home page, issues and changelog are under it.
REPOSITORY_URL = "https://github.com/sklearn-ckn/sklearn-ckn"

#: The documentation site (the estimators' HTML reprs link to its API reference).
DOCUMENTATION_URL = "https://sklearn-ckn.readthedocs.io"
