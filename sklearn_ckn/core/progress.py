"""Progress reporting in core: injected by the caller, none by default.

core/ draws no progress bar itself (it is plain torch, without the package's tqdm
helpers). A loop that reports progress takes a ``progress`` callable with the
signature of ``sklearn_ckn._progress.progress``: ``progress(iterable=None, *,
verbose, total, desc, leave)`` returns ``iterable`` (or a bar advanced by hand) with
``update``, ``set_postfix``, ``set_description`` and ``close``. The front ends pass
the package's tqdm bars; the default, :func:`no_progress`, shows nothing.
"""

__all__ = ["no_progress"]


class _NoBar:
    """The bar of :func:`no_progress`: every method does nothing."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def no_progress(iterable=None, **options):
    """The default ``progress`` of the loops of core: no bar, whatever the options.

    Parameters
    ----------
    iterable : iterable or None, default=None
        Returned as it is; None for a bar advanced by hand.
    **options : dict
        Ignored (``total``, ``verbose``, ``desc``, ``leave``...).

    Returns
    -------
    bar : iterable or object
        ``iterable``, or an object whose ``update``, ``set_postfix``,
        ``set_description`` and ``close`` do nothing.

    Examples
    --------
    >>> from sklearn_ckn.core.progress import no_progress
    >>> bar = no_progress(total=3, desc="epoch 1")
    >>> bar.update(1), bar.close()
    (None, None)
    """
    return iterable if iterable is not None else _NoBar()
