"""Progress bars that cost nothing when ``verbose`` is off."""

from tqdm.auto import tqdm

__all__ = ["progress"]


def progress(iterable=None, *, verbose=0, total=None, desc=None, leave=False):
    """Wrap ``iterable`` in a tqdm bar when ``verbose`` is truthy, else return it."""
    if not verbose:
        return iterable if iterable is not None else _NullBar()
    return tqdm(iterable, total=total, desc=desc, leave=leave, dynamic_ncols=True)


class _NullBar:
    """Stands in for a manually updated tqdm bar when verbose is off."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
