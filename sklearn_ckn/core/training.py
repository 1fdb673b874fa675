"""The one training loop of the package's torch classifiers, in plain PyTorch.

* :func:`augment_batch` (from :mod:`.augmentation`, importable here too): data
  augmentation on whole batches (random translations with zero padding, i.e. "random
  crops", and horizontal flips).
* :func:`one_cycle`: the learning-rate schedule: linear warm-up from
  ``learning_rate / 10`` to ``learning_rate`` during the first ``warmup`` fraction of
  the steps, then linear decay to 0 (the triangular one-cycle schedule of fast CIFAR
  training recipes).
* :func:`squared_hinge_loss`: the one-vs-rest squared hinge loss of LinearSVC (and of
  the supervised CKN of Mairal, 2016), beside torch's cross-entropy.
* :class:`Trainer`: holds the model, the optimizer (SGD with Nesterov momentum, or
  AdamW) and the random generator, and runs epochs with per-epoch history, an
  optional validation set, early stopping and two hooks: ``before_epoch`` (e.g. an
  exact solve of a linear head on the current features) and ``after_step`` (e.g.
  projecting CKN anchors back onto the sphere). Progress is reported through a
  ``progress`` callable that the caller injects (the estimators pass the package's
  tqdm bars); this module draws none itself.

The data is any object with ``len(data)``, ``data.device`` and ``data.get(index)``
returning a float ``(b, C, H, W)`` batch (``sklearn_ckn._batches.ImageBatches``).
Randomness (batch order, augmentation) comes only from the ``torch.Generator`` given
to :class:`Trainer`, on the CPU, so runs are repeatable for a given seed on a given
device; dropout and weight initialisation use torch's global generator, which the
caller seeds.
"""

import contextlib
import copy
import math
import time

import torch
from torch.nn import functional as F

from .augmentation import augment_batch
from .batching import PAD_MULTIPLE, pad_to_multiple, split_sizes
from .progress import no_progress

__all__ = [
    "LOSSES",
    "Trainer",
    "augment_batch",
    "make_optimizer",
    "one_cycle",
    "predict_logits",
    "squared_hinge_loss",
]


def one_cycle(step, total_steps, warmup=0.2, start=0.1):
    """Return the learning-rate factor of the triangular one-cycle schedule at ``step``.

    Linear from ``start`` to 1 over the first ``warmup * total_steps`` steps, then
    linear down to 0 at ``total_steps`` (never reached: the last step uses a small
    positive rate).

    Parameters
    ----------
    step : int
        Optimizer step, from 0.
    total_steps : int
        Steps of the whole schedule.
    warmup : float, default=0.2
        Fraction of the steps spent rising.
    start : float, default=0.1
        Factor at step 0.

    Returns
    -------
    factor : float
        Multiplies the peak learning rate.

    Examples
    --------
    >>> from sklearn_ckn.core.training import one_cycle
    >>> [round(one_cycle(s, 10), 2) for s in (0, 1, 2, 6, 9)]
    [0.1, 0.55, 1.0, 0.5, 0.12]
    """
    total_steps = max(int(total_steps), 1)
    peak = warmup * total_steps
    if step < peak:
        return start + (1.0 - start) * step / peak
    return max(0.0, (total_steps - step) / max(total_steps - peak, 1.0))


def squared_hinge_loss(scores, target):
    """Return the one-vs-rest squared hinge loss, summed over classes, averaged over samples.

    The mean over samples of ``sum_c max(0, 1 - y_c s_c)^2`` with ``y_c = +1`` for the
    true class, else -1 (LinearSVC's loss, and Mairal's for the supervised CKN).

    Parameters
    ----------
    scores : torch.Tensor of shape (b, k)
        Class scores.
    target : torch.Tensor of shape (b,)
        Class indices.

    Returns
    -------
    loss : torch.Tensor of shape ()
        The loss.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.training import squared_hinge_loss
    >>> squared_hinge_loss(torch.tensor([[1.0, -1.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    tensor(1.)
    """
    signs = 2.0 * F.one_hot(target, num_classes=scores.shape[1]).to(scores.dtype) - 1.0
    return torch.clamp(1.0 - signs * scores, min=0.0).pow(2).sum(dim=1).mean()


#: Training losses by name: ``fn(scores, target, label_smoothing)``.
LOSSES = {
    "cross_entropy": lambda s, t, smoothing=0.0: F.cross_entropy(s, t, label_smoothing=smoothing),
    "squared_hinge": lambda s, t, smoothing=0.0: squared_hinge_loss(s, t),
}


def make_optimizer(model, name, learning_rate, weight_decay, momentum=0.9, param_groups=None):
    """SGD (Nesterov), Adam or AdamW over the trainable parameters of ``model``.

    By default weight decay applies to the weights of convolutions and linear layers
    only, not to biases and batch-norm parameters (tensors with fewer than 2
    dimensions). ``param_groups`` (a list of ``{"params": [...], "weight_decay": w,
    "lr_scale": s}`` dicts) replaces that rule; ``lr_scale`` (default 1) multiplies
    the learning rate of its group.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters that require gradients are optimised.
    name : {"sgd", "adam", "adamw"}
        The optimizer.
    learning_rate : float
        Peak learning rate (``base_lr`` of each group).
    weight_decay : float
        Weight decay of the weights.
    momentum : float, default=0.9
        SGD momentum, or Adam's first beta.
    param_groups : list of dict, default=None
        Explicit parameter groups instead of the default rule.

    Returns
    -------
    optimizer : torch.optim.Optimizer
        Each group has ``base_lr`` set, which :class:`Trainer` scales.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.training import make_optimizer
    >>> opt = make_optimizer(torch.nn.Linear(4, 2), "sgd", 0.1, 5e-4)
    >>> [g["weight_decay"] for g in opt.param_groups]
    [0.0005, 0.0]
    """
    if param_groups is None:
        decay, no_decay = [], []
        for p in model.parameters():
            if p.requires_grad:
                (decay if p.ndim >= 2 else no_decay).append(p)
        param_groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
    groups = []
    for g in param_groups:
        params = [p for p in g["params"] if p.requires_grad]
        if params:
            groups.append(dict(g, params=params))
    if not groups:
        raise ValueError("The model has no trainable parameter.")
    if name == "sgd":
        opt = torch.optim.SGD(groups, lr=learning_rate, momentum=momentum, nesterov=momentum > 0)
    elif name == "adamw":
        opt = torch.optim.AdamW(groups, lr=learning_rate, betas=(momentum, 0.999))
    elif name == "adam":
        # Weight decay as an L2 term of the gradient: the objective the head solve has.
        opt = torch.optim.Adam(groups, lr=learning_rate, betas=(momentum, 0.999))
    else:
        raise ValueError(f"Unknown optimizer {name!r}; expected 'sgd', 'adam' or 'adamw'.")
    for g in opt.param_groups:
        g["base_lr"] = learning_rate * g.pop("lr_scale", 1.0)
        g["lr"] = g["base_lr"]
    return opt


def _autocast(device, enabled):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def predict_logits(model, data, *, batch_size=256, flip_tta=False, mixed_precision=False):
    """Return the logits of ``model`` (in eval mode) for every image of ``data``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(b, C, H, W)`` batches to ``(b, n_classes)`` logits.
    data : ImageBatches
        The images, with their device.
    batch_size : int, default=256
        Images per forward pass.
    flip_tta : bool, default=False
        Average the logits of each image and of its mirror image.
    mixed_precision : bool, default=False
        Whether to run the forward passes under bfloat16 autocast.

    Returns
    -------
    logits : torch.Tensor of shape (n, n_classes)
        The logits, as float32 on the CPU.
    """
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(data), batch_size):
                xb = data.get(slice(start, start + batch_size))
                # The batch's own layout (the estimator's), as explain/ pads it.
                layout = getattr(data, "memory_format", torch.contiguous_format)
                xb, n = pad_to_multiple(xb, PAD_MULTIPLE, memory_format=layout)
                with _autocast(data.device, mixed_precision):
                    logits = model(xb).float()
                    if flip_tta:
                        logits = 0.5 * (logits + model(xb.flip(3)).float())
                out.append(logits[:n].cpu())
    finally:
        model.train(was_training)
    if not out:
        return torch.empty(0, 0)
    return torch.cat(out)


class Trainer:
    """Runs training epochs of an image classifier.

    Parameters
    ----------
    model : nn.Module
        Maps ``(b, C, H, W)`` float batches to ``(b, n_classes)`` logits. Parameters
        with ``requires_grad=False`` are not optimised.
    optimizer : {"sgd", "adam", "adamw"}
        SGD with Nesterov momentum, Adam (L2 weight decay) or AdamW (decoupled weight
        decay), with ``betas=(momentum, 0.999)``.
    learning_rate : float
        Peak learning rate of the schedule.
    weight_decay : float
        L2 penalty (SGD) or decoupled weight decay (AdamW) of the weights.
    momentum : float
        SGD momentum, or AdamW's first beta.
    label_smoothing : float
        Label smoothing of the training cross-entropy.
    loss : {"cross_entropy", "squared_hinge"}
        Training (and validation) loss, see :data:`LOSSES`.
    param_groups : list of dict or None
        Optimizer parameter groups (see :func:`make_optimizer`); None: the default rule.
    before_epoch : callable or None
        Called as ``before_epoch(epoch_index, data, y)`` at the start of every epoch,
        before the model is put in training mode.
    after_step : callable or None
        Called without arguments after every optimizer step.
    batch_size : int
        Images per optimizer step.
    crop : (int, int)
        Maximal random shift of the augmentation, ``(0, 0)`` for none.
    flip : bool
        Random horizontal flips.
    generator : torch.Generator
        CPU generator for the batch order and the augmentation.
    frozen : sequence of nn.Module
        Sub-modules kept in eval mode during training (frozen batch norm).
    mixed_precision : bool
        Whether to run the forward pass under bfloat16 autocast.
    verbose : int
        Progress bar per epoch when > 0 (drawn by ``progress``).
    progress : callable or None
        Makes the bar of an epoch: ``progress(total=n_batches, verbose=verbose,
        leave=True, desc="epoch 3")`` returns an object with ``update(n)``,
        ``set_postfix(**values)`` and ``close()`` (e.g. ``sklearn_ckn._progress.progress``,
        tqdm bars). None: :func:`~.progress.no_progress`, no bar.

    See Also
    --------
    sklearn_ckn.CNNClassifier : Trained with it.
    sklearn_ckn.CKNClassifier : Trained with it.
    """

    def __init__(self, model, *, optimizer="sgd", learning_rate=0.05, weight_decay=5e-4,
                 momentum=0.9, label_smoothing=0.0, loss="cross_entropy", param_groups=None,
                 before_epoch=None, after_step=None, batch_size=128, crop=(0, 0), flip=False,
                 generator=None, frozen=(), mixed_precision=False, verbose=0, progress=None):
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; expected one of {sorted(LOSSES)}.")
        self.model = model
        self.learning_rate = float(learning_rate)
        self.optimizer = make_optimizer(model, optimizer, learning_rate, weight_decay, momentum,
                                        param_groups=param_groups)
        self.label_smoothing = label_smoothing
        self.loss = loss
        self.before_epoch = before_epoch
        self.after_step = after_step
        self.batch_size = int(batch_size)
        self.crop = tuple(crop)
        self.flip = bool(flip)
        self.generator = generator if generator is not None else torch.Generator()
        self.frozen = tuple(frozen)
        self.mixed_precision = mixed_precision
        self.verbose = verbose
        self.progress = no_progress if progress is None else progress

    def set_learning_rate(self, factor):
        """Set every group's learning rate to ``factor`` times its ``base_lr``.

        Parameters
        ----------
        factor : float
            The schedule's factor, e.g. from :func:`one_cycle`.
        """
        for g in self.optimizer.param_groups:
            g["lr"] = g["base_lr"] * factor

    def set_base_learning_rate(self, learning_rate):
        """Make ``learning_rate`` the peak rate, every group keeping its ratio to it.

        The optimizer's state (momentum, Adam's moments) is kept: a schedule of
        one's own, epoch by epoch, over calls of :meth:`run` with ``"constant"``.

        Parameters
        ----------
        learning_rate : float
            The new peak learning rate (``base_lr`` of a group of scale 1).
        """
        ratio = float(learning_rate) / self.learning_rate
        for g in self.optimizer.param_groups:
            g["base_lr"] *= ratio
        self.learning_rate = float(learning_rate)

    def _batches(self, n):
        """Index tensors of the batches of one epoch, in a random order."""
        perm = torch.randperm(n, generator=self.generator)
        return list(torch.split(perm, self._batches_count(n)))

    def _train_mode(self):
        self.model.train()
        for m in self.frozen:
            m.eval()

    def evaluate(self, data, y):
        """Return the mean loss (no label smoothing) and accuracy on ``data``.

        Parameters
        ----------
        data : ImageBatches
            The images.
        y : array-like of shape (n,)
            Their class indices.

        Returns
        -------
        loss : float
            Mean loss.
        accuracy : float
            Fraction of correct predictions.
        """
        logits = predict_logits(self.model, data, batch_size=max(self.batch_size, 256),
                                mixed_precision=self.mixed_precision)
        y = torch.as_tensor(y)
        loss = LOSSES[self.loss](logits, y).item()
        acc = (logits.argmax(1) == y).double().mean().item()
        return loss, acc

    def run(self, data, y, *, epochs, schedule="one-cycle", warmup=0.2, validation=None,
            early_stopping=False, n_iter_no_change=5, tol=1e-4, history=None,
            epoch_offset=0):
        """Train for ``epochs`` epochs (fewer with early stopping).

        Parameters
        ----------
        data : ImageBatches
            The training images.
        y : int64 tensor of shape (n,)
            Class indices.
        epochs : int
            Number of epochs.
        schedule : {"one-cycle", "constant"}
            Learning-rate schedule over the ``epochs`` of this call.
        warmup : float
            Warm-up fraction of the one-cycle schedule.
        validation : (ImageBatches, int64 tensor) or None
            Scored after each epoch (``valid_loss``, ``valid_accuracy``).
        early_stopping : bool
            Stop when the validation loss has not improved by ``tol`` for
            ``n_iter_no_change`` epochs, and restore the best weights.
        n_iter_no_change : int, default=5
            Patience of early stopping, in epochs.
        tol : float, default=1e-4
            Smallest validation-loss improvement that counts.
        history : list or None
            Per-epoch dicts are appended to it.
        epoch_offset : int
            Number of the first epoch minus one (for continued training).

        Returns
        -------
        n_epochs : int
            Number of epochs run.
        """
        if history is None:
            history = []
        device = data.device
        y = torch.as_tensor(y, dtype=torch.int64)
        y_dev = y.to(device)
        loss_fn = LOSSES[self.loss]
        if schedule not in ("one-cycle", "constant"):
            raise ValueError(f"Unknown schedule {schedule!r}; expected 'one-cycle' or 'constant'.")
        n_batches = len(self._batches_count(len(data)))
        total_steps = epochs * n_batches
        step = 0
        best_loss, best_state, bad_epochs = math.inf, None, 0
        if early_stopping and validation is None:
            raise ValueError("early_stopping needs a validation set.")
        n_run = 0
        for epoch in range(epochs):
            t0 = time.perf_counter()
            if self.before_epoch is not None:
                self.before_epoch(epoch, data, y)
            self._train_mode()
            chunks = self._batches(len(data))
            sum_loss = torch.zeros((), dtype=torch.float64, device=device)
            n_correct = torch.zeros((), dtype=torch.int64, device=device)
            n_seen = 0
            bar = self.progress(total=len(chunks), verbose=self.verbose, leave=True,
                                desc=f"epoch {epoch_offset + epoch + 1}")
            lr = 0.0
            for i, idx in enumerate(chunks):
                self.set_learning_rate(
                    one_cycle(step, total_steps, warmup=warmup)
                    if schedule == "one-cycle" else 1.0
                )
                lr = self.optimizer.param_groups[0]["lr"]
                xb = data.get(idx)
                yb = y_dev[idx.to(device)]
                if self.crop != (0, 0) or self.flip:
                    xb = augment_batch(xb, crop=self.crop, flip=self.flip,
                                       generator=self.generator)
                with _autocast(device, self.mixed_precision):
                    logits = self.model(xb)
                    loss = loss_fn(logits.float(), yb, self.label_smoothing)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                if self.after_step is not None:
                    self.after_step()
                step += 1
                with torch.no_grad():
                    sum_loss += loss.detach().double() * len(idx)
                    n_correct += (logits.argmax(1) == yb).sum()
                n_seen += len(idx)
                bar.update(1)
                if self.verbose and (i % 10 == 0 or i == len(chunks) - 1):
                    bar.set_postfix(loss=f"{sum_loss.item() / n_seen:.4f}",
                                    acc=f"{n_correct.item() / n_seen:.4f}", refresh=False)
            record = {
                "epoch": epoch_offset + epoch + 1,
                "train_loss": sum_loss.item() / max(n_seen, 1),
                "train_accuracy": n_correct.item() / max(n_seen, 1),
                "lr": lr,
            }
            if validation is not None:
                v_loss, v_acc = self.evaluate(*validation)
                record["valid_loss"] = v_loss
                record["valid_accuracy"] = v_acc
                bar.set_postfix(loss=f"{record['train_loss']:.4f}",
                                acc=f"{record['train_accuracy']:.4f}",
                                valid_acc=f"{v_acc:.4f}", refresh=False)
            bar.close()
            record["seconds"] = time.perf_counter() - t0
            history.append(record)
            n_run += 1
            if not math.isfinite(record["train_loss"]):
                raise ValueError(
                    f"The training loss diverged (epoch {record['epoch']}); try a smaller "
                    "learning_rate."
                )
            if early_stopping:
                if record["valid_loss"] < best_loss - tol:
                    best_loss, bad_epochs = record["valid_loss"], 0
                    best_state = copy.deepcopy(self.model.state_dict())
                else:
                    bad_epochs += 1
                    if bad_epochs >= n_iter_no_change:
                        break
        if early_stopping and best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        return n_run

    def _batches_count(self, n):
        """Batch sizes of an epoch over ``n`` samples (a batch of one sample breaks
        batch norm on 1x1 maps: it joins the previous batch)."""
        return split_sizes(n, self.batch_size)
