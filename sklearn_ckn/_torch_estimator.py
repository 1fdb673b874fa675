"""The base of the package's torch classifiers (:class:`CNNClassifier`, :class:`CKNClassifier`).

:class:`TorchImageClassifier` does everything that does not depend on the network:
image and label validation, label encoding, device, thread and heap handling, seeding, the
``fit`` / ``partial_fit`` / ``warm_start`` flow around the one training loop
(:class:`sklearn_ckn.core.training.Trainer`), the validation split for early
stopping, prediction, and pickling. A subclass supplies the network through hooks:

``_initialize_network(images, y_idx)``
    Build ``module_`` (and ``_module_config_``, see below) for a first fit; may use
    the training data (input statistics, unsupervised initialisation, ...).
``_build_module(config)``
    An untrained module from ``_module_config_`` (builtins only).
``_trainer_options()``
    Keyword arguments of the :class:`~sklearn_ckn.core.training.Trainer` beyond the
    common ones (loss, parameter groups, hooks, frozen modules, augmentation).
``_prediction_options()``
    Keyword arguments of :func:`~sklearn_ckn.core.training.predict_logits`.

Pickling keeps no torch object (:class:`sklearn_ckn._torch_module.TorchModuleMixin`):
the network travels as ``_module_config_`` (builtins) plus its state as NumPy
arrays, so a model fitted on a GPU loads on a CPU (an unpickled model lives on the
CPU) and skops can store it with only the estimator's class trusted. The optimizer
is not pickled: training continued after unpickling starts a new one.
"""

import contextlib
import threading
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ._batches import ImageBatches
from ._compat import (
    DOC_LINK_MODULE,
    DOC_LINK_TEMPLATE,
    Interval,
    StrOptions,
    check_partial_fit_first_call,
    doc_link_url_params,
    fit_context,
)
from ._device import resolve_device
from ._docstrings import IMAGES, with_parameters
from ._explainable import Explainable, inference_context
from ._heap import retained_heap
from ._images import check_classification_labels, check_no_bool_params, validate_images
from ._progress import progress
from ._threads import torch_threads
from ._torch_module import TorchModuleMixin
from .core.batching import PAD_MULTIPLE
from .core.training import Trainer, predict_logits

__all__ = ["TorchImageClassifier"]


def _network_is_finite(module):
    """Whether every floating-point parameter and buffer of ``module`` is finite."""
    with torch.no_grad():
        return all(
            bool(torch.isfinite(t).all())
            for t in list(module.parameters()) + list(module.buffers())
            if t.is_floating_point()
        )


#: torch's global generator is shared by the threads of the process: one seeded block
#: at a time (another thread's fork_rng restoring the state would change its draws).
_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def _seeded(seed, device):
    """Seed torch's global generators (weight init, dropout) without leaking the state."""
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with _RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _draws_at_random(module):
    """Whether a training forward pass of ``module`` draws from torch's global generator."""
    return any(isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0
               for m in module.modules())


class TorchImageClassifier(TorchModuleMixin, ClassifierMixin, BaseEstimator):
    """Base of the torch image classifiers (see the module docstring); not for direct use."""

    _doc_link_module = DOC_LINK_MODULE  # the HTML repr links to the API page
    _doc_link_template = DOC_LINK_TEMPLATE
    _doc_link_url_param_generator = doc_link_url_params

    #: Memory layout of the image batches the network gets.
    _memory_format = torch.channels_last

    #: ``family`` and ``name`` of the estimator's :class:`~sklearn_ckn._explainable.Explainable`.
    _explain_family = None
    _explain_name = None

    #: Constraints of the parameters every subclass has.
    _common_constraints = {
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"sgd", "adamw"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "augment": [StrOptions({"auto"}), "boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "image_shape": [tuple, list, None],
        "mixed_precision": ["boolean"],
        "device": [str, torch.device],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ hooks
    def _initialize_network(self, images, y_idx):  # pragma: no cover - abstract
        raise NotImplementedError

    def _trainer_options(self):
        return {}

    def _prediction_options(self):
        return {"mixed_precision": self.mixed_precision}

    # ------------------------------------------------------------------ helpers
    def _image_shape_param(self):
        """The ``image_shape`` parameter that reads 2-D rows as images."""
        return self.image_shape

    def _validate_X(self, X, reset):
        images = validate_images(self, X, reset=reset, image_shape=self._image_shape_param())
        if 0 in images.shape[1:3]:
            raise ValueError(
                f"{type(self).__name__} needs images of at least 1x1 pixels; got images of "
                f"size {images.shape[1]}x{images.shape[2]}."
            )
        return images

    def _validate_y(self, y):
        # Mixed int / str labels are refused before column_or_1d turns them into
        # strings (TorchLinearSVC refuses them too), with a clearer message than
        # scikit-learn's own.
        check_classification_labels(y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return y

    def _encode(self, y):
        """Class indices of labels ``y`` (all of them must be in ``classes_``)."""
        y = np.asarray(y)
        try:
            idx = np.searchsorted(self.classes_, y)
            idx = np.clip(idx, 0, len(self.classes_) - 1)
            with warnings.catch_warnings():
                # Older NumPy: one scalar (and a FutureWarning) for incomparable arrays.
                warnings.simplefilter("ignore", FutureWarning)
                bad = np.asarray(self.classes_[idx] != y, dtype=bool)
        except TypeError:
            bad = None
        if bad is None or bad.shape != y.shape:  # labels not comparable with classes_
            idx, bad = np.zeros(len(y), dtype=np.int64), np.ones(len(y), dtype=bool)
        if np.any(bad):
            unknown = np.unique(y[bad])
            raise ValueError(
                f"y contains labels {unknown.tolist()!r} that are not in classes_ "
                f"{self.classes_.tolist()!r}."
            )
        return torch.from_numpy(idx.astype(np.int64))

    def _augmentation(self):
        """``(crop, flip)`` of the training batches: shifts up to 1/8, flips for colour."""
        h, w, c = self.image_shape_
        colour = c >= 3
        augment = colour if self.augment == "auto" else bool(self.augment)
        if not augment:
            return (0, 0), False
        return (h // 8, w // 8), colour

    def _batches(self, images):
        return ImageBatches(images, self.device_, memory_format=self._memory_format)

    def _install_module(self, module):
        self.module_ = module.to(self.device_).eval()

    def _make_trainer(self, generator):
        crop, flip = self._augmentation()
        options = dict(crop=crop, flip=flip)
        options.update(self._trainer_options())
        return Trainer(
            self.module_, optimizer=self.optimizer, learning_rate=self.learning_rate,
            weight_decay=self.weight_decay, momentum=self.momentum,
            batch_size=self.batch_size, generator=generator,
            mixed_precision=self.mixed_precision, verbose=self.verbose, progress=progress, **options,
        )

    def _initialization_context(self):
        """The context ``_initialize_network`` runs in: torch's global generators seeded
        from this fit's seed (and held, see :func:`_seeded`), for initialisations that
        draw from them. Subclasses whose start draws nothing from them return a
        null context, so that fits in several threads do not wait for each other."""
        return _seeded(self._rng_seed_, self.device_)

    def _split_validation(self, images, y_idx, rng):
        n = images.shape[0]
        n_val = int(np.ceil(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 2:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} "
                f"leaves no validation or training data for {n} samples."
            )
        indices = np.arange(n)
        y_np = y_idx.numpy()
        seed = rng.randint(np.iinfo(np.int32).max)
        try:
            train, val = train_test_split(indices, test_size=n_val, stratify=y_np,
                                          random_state=seed)
        except ValueError:  # a class too small to stratify
            train, val = train_test_split(indices, test_size=n_val, random_state=seed)
        train.sort()
        val.sort()
        return train, val

    def _check_two_classes(self, classes, where):
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; {where} "
                f"only one class: {classes[0]!r}."
            )

    # ------------------------------------------------------------------ fitting
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, validation_data=None):
        """Build the network (see the class description) and train it on ``X``, ``y``.

        With ``warm_start=True`` and a fitted network, train it for ``epochs`` more
        epochs instead (a new optimizer and schedule; ``history_`` and ``n_iter_``
        keep growing).

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H * W * C)
            Training images.
        y : array-like of shape (n,)
            Labels (any type: integers, strings, ...).
        validation_data : tuple (X_val, y_val) or None, default=None
            Scored after each epoch (``valid_loss``, ``valid_accuracy`` in
            ``history_``); with ``early_stopping`` it replaces the held-out split.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        continuing = self.warm_start and hasattr(self, "module_")
        return self._fit(X, y, validation_data=validation_data, continuing=continuing,
                         epochs=self.epochs, schedule="one-cycle")

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch over ``X``, ``y`` at a constant learning rate.

        The first call builds the network from this ``X`` (as ``fit`` does); later
        calls continue training it, with the same optimizer (its momentum kept) at
        the current ``learning_rate``: setting it between calls gives a schedule of
        one's own, epoch by epoch, that a pickled estimator can resume (the
        optimizer's state is not pickled; it starts again after loading).
        ``early_stopping`` is ignored.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H * W * C)
            Training images.
        y : array-like of shape (n,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call.

        Returns
        -------
        self : object
            The classifier.
        """
        if classes is not None:
            check_classification_labels(classes)
        first = check_partial_fit_first_call(self, classes)
        if first:
            self._check_two_classes(self.classes_, "classes has")
        continuing = not first and hasattr(self, "module_")
        return self._fit(X, y, validation_data=None, continuing=continuing, epochs=1,
                         schedule="constant", partial=True)

    def _fit(self, X, y, **kwargs):
        check_no_bool_params(self)
        # One retained heap for the training and the check after it: the check's
        # forward pass reuses the pages of the last step.
        with retained_heap():
            try:
                self._train(X, y, **kwargs)
            except ValueError as exc:  # e.g. the training loop's non-finite loss
                self._check_diverged(None, cause=exc)
                raise
            self._check_diverged(X)
        return self

    def _check_diverged(self, X, cause=None, n_check=64):
        """Raise a clear ``ValueError`` (and un-fit) when training made the network diverge.

        Diverged: a parameter or buffer is not finite, or the network's scores of the
        first ``n_check`` training images are not (finite weights so large that the
        forward pass overflows, e.g. batch-norm statistics near float32's maximum);
        with ``X=None`` only the weights are checked.
        """
        module = self.__dict__.get("module_")
        if module is None:
            return
        finite = _network_is_finite(module)
        if finite and X is not None:
            images = self._validate_X(X, reset=False)[:n_check]
            with torch_threads(self.n_jobs):
                logits = predict_logits(module, self._batches(images),
                                        **self._prediction_options())
            finite = bool(torch.isfinite(logits).all())
        if finite:
            return
        for name in ("module_", "_trainer"):
            self.__dict__.pop(name, None)
        raise ValueError(
            f"{type(self).__name__} training diverged: the network's weights, batch-norm "
            f"statistics or class scores are no longer finite (NaN or infinity) with "
            f"learning_rate={self.learning_rate!r} (optimizer={self.optimizer!r}). Use a "
            f"smaller learning_rate (e.g. {self.learning_rate / 10:g}); the estimator is "
            "left unfitted."
        ) from cause

    def _train(self, X, y, *, validation_data, continuing, epochs, schedule, partial=False):
        images = self._validate_X(X, reset=not continuing)
        y = self._validate_y(y)
        check_consistent_length(images, y)
        if not continuing and not partial:
            self.classes_ = np.unique(y)
            self._check_two_classes(self.classes_, "the data contains")
        y_idx = self._encode(y)

        with torch_threads(self.n_jobs):
            if not continuing:
                self.device_ = resolve_device(self.device)
                rng = check_random_state(self.random_state)
                seed = int(rng.randint(np.iinfo(np.int32).max))
                self._rng_seed_ = seed
                self.history_ = []
                self.n_iter_ = 0
            else:
                rng = check_random_state(self._rng_seed_ + self.n_iter_)

            train_images, validation = images, None
            if not partial and self.early_stopping and validation_data is None:
                train_idx, val_idx = self._split_validation(images, y_idx, rng)
                train_images = images[train_idx]
                validation = (self._batches(images[val_idx]), y_idx[val_idx])
                y_idx = y_idx[train_idx]
            elif validation_data is not None:
                X_val, y_val = validation_data
                val_images = self._validate_X(X_val, reset=False)
                y_val = self._validate_y(y_val)
                check_consistent_length(val_images, y_val)
                validation = (self._batches(val_images), self._encode(y_val))

            if not continuing:
                with self._initialization_context():
                    self._initialize_network(train_images, y_idx)
                generator = torch.Generator().manual_seed(self._rng_seed_ + 1)
            else:
                generator = getattr(self, "_generator", None)
                if generator is None:
                    generator = torch.Generator().manual_seed(self._rng_seed_ + 1 + self.n_iter_)
            self._generator = generator

            trainer = getattr(self, "_trainer", None)
            if trainer is None or not partial or trainer.model is not self.module_:
                trainer = self._make_trainer(generator)
            else:  # partial_fit: the same optimizer, at today's learning_rate
                trainer.set_base_learning_rate(self.learning_rate)
            self._trainer = trainer
            data = self._batches(train_images)
            train_seed = int(torch.randint(2**62, (1,), generator=generator))
            # Seeded (and serialised across threads) only when training draws at
            # random itself: the batch order and augmentation use `generator`.
            seeded = (_seeded(train_seed, self.device_) if _draws_at_random(self.module_)
                      else contextlib.nullcontext())
            with seeded:
                n_run = trainer.run(
                    data, y_idx, epochs=epochs, schedule=schedule, validation=validation,
                    early_stopping=bool(self.early_stopping and not partial),
                    n_iter_no_change=self.n_iter_no_change, tol=self.tol,
                    history=self.history_, epoch_offset=self.n_iter_,
                )
        self.n_iter_ += n_run
        return self

    # --------------------------------------------------------------- prediction
    def _logits(self, X):
        check_is_fitted(self, "module_")
        images = self._validate_X(X, reset=False)
        with torch_threads(self.n_jobs):
            data = self._batches(images)
            logits = predict_logits(self.module_, data, batch_size=max(int(self.batch_size), 256),
                                    **self._prediction_options())
        logits = logits.double().numpy()
        bad = ~np.isfinite(logits).all(axis=1)
        if bad.any():
            if not _network_is_finite(self.module_):
                cause = ("the network's weights are not finite (training diverged: refit "
                         f"with a learning_rate smaller than {self.learning_rate!r})")
            else:
                cause = ("the network overflows float32 on them (pixel values far beyond "
                         "those of the training images?)")
            raise ValueError(
                f"{type(self).__name__} computed non-finite class scores for "
                f"{int(bad.sum())} of {len(bad)} images: {cause}."
            )
        return logits

    @with_parameters(IMAGES)
    def decision_function(self, X):
        """Class scores of the network (for two classes, the score difference).

        {parameters}

        Returns
        -------
        scores : ndarray of shape (n,) or (n, n_classes)
            For two classes, positive values favour ``classes_[1]``.
        """
        logits = self._logits(X)
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    @with_parameters(IMAGES)
    def predict_proba(self, X):
        """Class probabilities (softmax of the class scores).

        {parameters}

        Returns
        -------
        proba : ndarray of shape (n, n_classes)
            Columns in the order of ``classes_``.
        """
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p

    @with_parameters(IMAGES)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        {parameters}

        Returns
        -------
        log_proba : ndarray of shape (n, n_classes)
            Columns in the order of ``classes_``.
        """
        return np.log(self.predict_proba(X))

    @with_parameters(IMAGES)
    def predict(self, X):
        """Predicted labels (values of ``classes_``).

        {parameters}

        Returns
        -------
        y : ndarray of shape (n,)
            Labels.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def _explainable(self):
        """The fitted module and how ``predict`` runs it (for :mod:`sklearn_ckn.explain`)."""
        check_is_fitted(self, "module_")
        return Explainable(
            module=self.module_, family=self._explain_family, name=self._explain_name,
            device=self.device_, classes=np.asarray(self.classes_),
            context=lambda: inference_context(self.n_jobs, self.device_, self.mixed_precision),
            memory_format=self._memory_format, pad_multiple=PAD_MULTIPLE,
            forward_predicts=not self._prediction_options().get("flip_tta", False),
        )

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_trainer", None)
        state.pop("_generator", None)
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "device_" in state:
            # An unpickled model lives on the CPU (it may come from a GPU machine).
            state["device_"] = torch.device("cpu")
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        try:
            on_gpu = resolve_device(self.device).type == "cuda"
        except ValueError:
            on_gpu = False
        # cuDNN convolutions are not bit-reproducible; CPU training is.
        tags.non_deterministic = on_gpu
        return tags
