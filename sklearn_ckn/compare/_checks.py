"""Checks of the comparison's parameters, each raising :class:`ParameterError`.

Every check runs before any data are loaded or models fitted (see ``_config.py``).
A message names its parameter as ``{name}``: the Python API shows ``random_state``,
the command line its option, ``--random-state``.
"""

import difflib
import numbers
import os
import tempfile
from collections.abc import Mapping

__all__ = ["ParameterError"]

#: The files that mark a folder as a comparison's output (which ``overwrite`` replaces).
RESULT_FILES = {"results.json", "results.csv"}


class ParameterError(ValueError):
    """A parameter of :func:`~sklearn_ckn.compare.run_comparison` that cannot work.

    Raised before any data are loaded or models fitted. ``str(error)`` names the
    parameter as the Python API does (``random_state``, ``max_train['knn']``);
    :meth:`message_for` names it as the caller wants, e.g. the command line's
    ``--random-state``.

    Parameters
    ----------
    param : str
        The parameter of :func:`~sklearn_ckn.compare.run_comparison` at fault.
    message : str
        What is wrong. ``{name}`` in it stands for the parameter's name; a message
        without it is shown after the name (``"device: ..."`` on the command line).
    key : str, default=None
        The entry at fault of a dict parameter (the model of ``max_train`` or
        ``model_params``).
    mentions : dict of str to str, default=None
        Other parameters the message names, as ``{parameter}`` in it, with the
        Python API's text for each (``{"overwrite": "overwrite=True"}``); the
        command line names them its own way (:meth:`message_for`).

    See Also
    --------
    sklearn_ckn.compare.run_comparison : Raises it before loading anything.

    Examples
    --------
    >>> from sklearn_ckn.compare import ParameterError, run_comparison
    >>> try:
    ...     run_comparison("digits", random_state=-1)
    ... except ParameterError as exc:
    ...     print(exc)
    ...     print(exc.message_for("--random-state"))
    random_state must be an integer in [0, 2**32 - 1], got -1.
    --random-state must be an integer in [0, 2**32 - 1], got -1.
    """

    def __init__(self, param, message, *, key=None, mentions=None):
        self.param = param
        self.key = key
        self.message = message
        self.mentions = dict(mentions or {})
        super().__init__(self.message_for(param if key is None else f"{param}[{key!r}]"))

    def message_for(self, name, mentions=None):
        """Return the message with the parameter called ``name``.

        Parameters
        ----------
        name : str
            How to call the parameter (for a dict parameter, its entry too).
        mentions : dict of str to str, default=None
            How to call the other parameters the message names (``{"overwrite":
            "--overwrite"}``); those left out keep the Python API's text.

        Returns
        -------
        message : str
            The message naming the parameter ``name``.
        """
        message = self.message
        for other, text in {**self.mentions, **(mentions or {})}.items():
            message = message.replace("{" + other + "}", text)
        if "{name}" in message:
            return message.replace("{name}", name)
        return f"{name}: {message}"


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_choice(param, value, choices, what):
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(
            param, f"Unknown {{name}} {value!r}; available {what}: {', '.join(choices)}."
        )
    return value


def check_models(param, names, choices):
    """A non-empty list of distinct model names among ``choices`` (a list, or a
    comma-separated string)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    try:
        names = list(names)
    except TypeError:
        raise ParameterError(
            param, f"{{name}} must be a list of model names or a comma-separated string, "
                   f"got {names!r}."
        ) from None
    available = f"available models: {', '.join(choices)}."
    unknown = [str(n) for n in names if n not in choices]
    if unknown:
        raise ParameterError(param, f"{{name}} has unknown model(s) {', '.join(unknown)}; {available}")
    if not names and param == "models":
        raise ParameterError(param, f"{{name}} gives no model; {available}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ParameterError(param, f"{', '.join(repeated)} given more than once")
    return names


def check_per_model(param, value, choices, what):
    """A dict of ``{model: what}`` (``None``: empty), its keys among ``choices``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(
            param, f"{{name}} must be a dict of model name to {what}, got {value!r}."
        )
    check_models(param, list(value), choices)
    return dict(value)


def check_count(param, value, *, minimum=1, key=None, optional=True):
    """An integer of at least ``minimum``, or ``None`` when ``optional``."""
    if value is None and optional:
        return None
    if not _is_int(value) or value < minimum:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer of at least {minimum}"
        )
        expected = f"None or {expected}" if optional else expected
        raise ParameterError(param, f"{{name}} must be {expected}, got {value!r}.", key=key)
    return int(value)


def check_random_state(random_state):
    """An integer in [0, 2**32 - 1]."""
    if not _is_int(random_state) or not 0 <= random_state < 2**32:
        raise ParameterError(
            "random_state",
            f"{{name}} must be an integer in [0, 2**32 - 1], got {random_state!r}.",
        )
    return int(random_state)


def check_n_jobs(n_jobs):
    """``"auto"``, ``None``, -1 or a positive integer."""
    if n_jobs is None or (isinstance(n_jobs, str) and n_jobs == "auto"):
        return n_jobs
    if not _is_int(n_jobs) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(
            "n_jobs", f"{{name}} must be 'auto', None, -1 or a positive integer, got {n_jobs!r}."
        )
    return int(n_jobs)


def check_image_size(image_size, dataset, resizable):
    """``None``, ``0`` (keep the files' size), a positive integer or ``(height, width)``,
    for a data set whose loader resizes images (``resizable``)."""
    if image_size is None:
        return None
    size = (image_size, image_size) if _is_int(image_size) else image_size
    try:
        size = tuple(size)
    except TypeError:
        size = ()
    if not (len(size) == 2 and all(map(_is_int, size)) and (size == (0, 0) or min(size) > 0)):
        raise ParameterError(
            "image_size",
            "{name} must be 0 (keep the files' size), a positive integer or (height, "
            f"width), got {image_size!r}.",
        )
    if not resizable:
        raise ParameterError(
            "image_size", f"{{name}} applies to data sets whose images are resized "
                          f"(fruits360), not to {dataset!r}."
        )
    return image_size


def check_data_home(data_home):
    """``None`` or a folder (that may not exist yet: nothing is created)."""
    if data_home is not None and os.path.isfile(os.path.expanduser(os.fspath(data_home))):
        raise ParameterError(
            "data_home", f"data_home={os.fspath(data_home)!r} is a file, not a folder."
        )
    return data_home


def check_out_folder(out, overwrite=False):
    """``out`` if it is, or can be created as, a writable folder, and is empty or
    ``overwrite`` replaces a previous comparison's results in it.

    The folder (and its missing parents) is created, a probe file written into it
    and deleted, and the folders it created removed again: the check leaves nothing
    behind, and what ``os.access`` cannot tell (a broken link on the way, a
    read-only file system, a full disk) fails here, not after the models are fitted.
    A folder that holds anything but a comparison's results is never replaced.
    """
    path = os.path.abspath(os.fspath(out))
    what = f"out={os.fspath(out)!r}"
    if os.path.exists(path) and not os.path.isdir(path):
        raise ParameterError("out", f"{what} is a file, not a folder for the results.")
    if os.path.isdir(path) and os.listdir(path):
        if not overwrite:
            raise ParameterError(
                "out", f"{what} already exists and is not empty: pass {{overwrite}} to replace "
                       "it (once the new results are complete) or choose another folder.",
                mentions={"overwrite": "overwrite=True"},
            )
        if not RESULT_FILES & set(os.listdir(path)):
            raise ParameterError(
                "out", f"{what} holds no comparison results (no results.json or results.csv): "
                       "it is not replaced, even with {overwrite}; choose another folder.",
                mentions={"overwrite": "overwrite=True"},
            )
    missing, existing = [], path
    while not os.path.lexists(existing):
        missing.append(existing)
        existing = os.path.dirname(existing)
    if os.path.islink(existing) and not os.path.exists(existing):
        raise ParameterError(
            "out", f"{what} cannot be created: {existing!r} is a broken symbolic link."
        )
    if not os.path.isdir(existing):
        raise ParameterError(
            "out", f"{what} cannot be created: {existing!r} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(
            "out", f"{what} is not writable: no permission to write in {existing!r}."
        )
    created = []
    try:
        for folder in reversed(missing):
            os.mkdir(folder)
            created.append(folder)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".sklearn_ckn_probe_")
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ParameterError(
            "out", f"{what} cannot be written: {exc.strerror or exc}{where}."
        ) from None
    finally:
        for folder in reversed(created):
            try:
                os.rmdir(folder)
            except OSError:  # pragma: no cover - something else wrote into it meanwhile
                pass
    return out


def _spelling_hints(name, valid):
    """The names of ``valid`` that ``name`` probably means (at most 3).

    ``ckn:n_filters`` or ``ckn.n_filters`` for ``ckn__n_filters``; a step's parameter
    without its step (``n_filters``: ``ckn__n_filters``); else close spellings
    (difflib), of the parameter's own name first, then of the whole name.
    """
    spelled = name.replace(":", "__").replace(".", "__")
    if spelled in valid:
        return [spelled]
    last = spelled.rpartition("__")[2]
    by_last = {}
    for full in valid:
        by_last.setdefault(full.rpartition("__")[2], []).append(full)
    close = difflib.get_close_matches(last, list(by_last), n=2, cutoff=0.8)
    hints = [full for match in close for full in by_last[match]]
    return (hints or difflib.get_close_matches(spelled, valid, n=2, cutoff=0.75))[:3]


def check_param_names(param, key, names, model):
    """``names`` if each is a parameter of ``model`` (``get_params()``), else a
    :class:`ParameterError` that suggests the right spelling (``ckn__n_filters`` for
    ``n_filters`` or ``ckn:n_filters`` in a pipeline)."""
    valid = sorted(model.get_params())
    unknown = [name for name in names if name not in valid]
    if not unknown:
        return names
    message = f"unknown parameter {unknown[0]!r} of the {key} model"
    hints = _spelling_hints(str(unknown[0]), valid)
    message += f"; did you mean {' or '.join(map(repr, hints))}?" if hints else "."
    if hasattr(model, "steps"):
        steps = ", ".join(step for step, _ in model.steps)
        message += (f" The {key} model is a pipeline (steps {steps}): its parameters are "
                    "named <step>__<parameter>.")
    elif not hints:
        message += f" Its parameters: {', '.join(valid)}."
    raise ParameterError(param, message, key=key)


def validate_model_params(model):
    """Check the parameters of every step of ``model`` against their constraints now,
    not in ``fit`` (``_validate_params`` is what scikit-learn's ``fit`` runs first)."""
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    for step in steps:
        if hasattr(step, "steps"):
            validate_model_params(step)
        validate = getattr(step, "_validate_params", None)
        if validate is not None:
            validate()
