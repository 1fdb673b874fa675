"""Tests of the plain-torch training loop, augmentation and schedule."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_ckn.cnn._architectures import ResNetSmall
from sklearn_ckn._batches import ImageBatches
from sklearn_ckn.core.progress import no_progress
from sklearn_ckn.core.training import (
    Trainer,
    augment_batch,
    make_optimizer,
    one_cycle,
    predict_logits,
)


# --------------------------------------------------------------------- schedule
def test_one_cycle_shape():
    total = 100
    f = [one_cycle(s, total, warmup=0.2, start=0.1) for s in range(total)]
    assert f[0] == pytest.approx(0.1)
    assert max(f) == pytest.approx(1.0)
    assert int(np.argmax(f)) == 20
    assert all(a <= b for a, b in zip(f[:20], f[1:21]))  # warm-up rises
    assert all(a >= b for a, b in zip(f[20:], f[21:]))  # then decays
    assert 0 < f[-1] < 0.02
    assert one_cycle(0, 1) > 0  # a single step still learns


# ----------------------------------------------------------------- augmentation
def test_augment_identity_when_disabled():
    x = torch.rand(4, 3, 6, 6)
    torch.testing.assert_close(augment_batch(x, crop=(0, 0), flip=False), x)


def test_flip_only_mirrors_or_keeps():
    x = torch.rand(64, 2, 5, 7)
    g = torch.Generator().manual_seed(0)
    out = augment_batch(x, flip=True, generator=g)
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 0 < int(mirrored.sum()) < 64


def test_crop_is_a_zero_padded_shift():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 10) + 1.0  # strictly positive: padding zeros are visible
    g = torch.Generator().manual_seed(1)
    out = augment_batch(x, crop=(2, 3), generator=g)
    assert out.shape == x.shape
    # Reproduce the draws: dy then dx, each in [0, 2p].
    g = torch.Generator().manual_seed(1)
    dy = torch.randint(0, 5, (32,), generator=g)
    dx = torch.randint(0, 7, (32,), generator=g)
    padded = torch.nn.functional.pad(x, (3, 3, 2, 2))
    for i in range(32):
        expected = padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 10]
        torch.testing.assert_close(out[i], expected, rtol=0, atol=0)
    # Some shifts really happened, and they bring zeros in.
    assert (out == 0).any()


def test_augmentation_is_repeatable_and_batched():
    x = torch.rand(16, 3, 8, 8)
    a = augment_batch(x, crop=(1, 1), flip=True, generator=torch.Generator().manual_seed(5))
    b = augment_batch(x, crop=(1, 1), flip=True, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.is_contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------------- batches
def test_image_batches_uint8_scaling_and_layout():
    images = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    data = ImageBatches(images, "cpu")
    assert len(data) == 2
    batch = data.get(np.array([1, 0]))
    assert batch.shape == (2, 3, 3, 4)
    assert batch.dtype == torch.float32
    assert batch.is_contiguous(memory_format=torch.channels_last)
    expected = torch.from_numpy(images[[1, 0]].astype(np.float32) / 255).permute(0, 3, 1, 2)
    torch.testing.assert_close(batch, expected)
    torch.testing.assert_close(data.get(slice(0, 1)), expected[1:])


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_image_batches_preloaded_tensor_path(dtype):
    # The path used on CUDA (whole data set moved once), exercised on the CPU.
    images = (np.random.RandomState(0).rand(10, 5, 6, 3) * 255).astype(dtype)
    lazy, preloaded = ImageBatches(images, "cpu"), ImageBatches(images, "cpu", preload=True)
    assert preloaded._tensor is not None and lazy._numpy is not None
    idx = torch.tensor([7, 2, 2, 9])
    torch.testing.assert_close(preloaded.get(idx), lazy.get(idx))
    torch.testing.assert_close(preloaded.get(slice(3, 8)), lazy.get(slice(3, 8)))
    assert preloaded.get(idx).is_contiguous(memory_format=torch.channels_last)


def test_image_batches_read_only_input_does_not_warn():
    images = np.random.rand(5, 4, 4, 1)
    images.setflags(write=False)
    data = ImageBatches(images, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.get(slice(0, 5))
        data.get(np.array([3, 1]))


# -------------------------------------------------------------------- optimizer
def test_no_weight_decay_on_biases_and_batch_norm():
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,))
    opt = make_optimizer(net, "sgd", 0.1, 5e-4)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in net.named_parameters():
        assert (id(p) in decayed) == (p.ndim >= 2), name
    assert opt.param_groups[0]["nesterov"]


def test_frozen_parameters_are_not_optimised():
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,))
    for p in net.features.parameters():
        p.requires_grad_(False)
    opt = make_optimizer(net, "adamw", 1e-3, 0.01)
    params = {id(p) for g in opt.param_groups for p in g["params"]}
    assert params == {id(p) for p in net.head.parameters()}
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(net, "lbfgs", 1e-3, 0.0)


# ---------------------------------------------------------------------- trainer
def _trainer(net, **kwargs):
    kwargs = {"learning_rate": 0.05, "batch_size": 32,
              "generator": torch.Generator().manual_seed(0), **kwargs}
    return Trainer(net, **kwargs)


def test_trainer_learns_and_records_history(bars):
    torch.manual_seed(0)
    X, y = bars(256, channel_axis=True)
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(8, 16))
    net.to(memory_format=torch.channels_last)
    history = []
    n = _trainer(net, crop=(1, 1)).run(ImageBatches(X, "cpu"), torch.from_numpy(y), epochs=4,
                                       history=history)
    assert n == 4 and [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "lr", "seconds"}
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert not net.training  # left in eval mode
    X_test, y_test = bars(200, seed=1, channel_axis=True)
    logits = predict_logits(net, ImageBatches(X_test, "cpu"))
    assert (logits.argmax(1).numpy() == y_test).mean() > 0.95


def test_trainer_early_stopping_restores_best_weights(bars):
    torch.manual_seed(0)
    X, y = bars(128, channel_axis=True)
    X_val, y_val = bars(64, seed=2, channel_axis=True)
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,))
    trainer = _trainer(net)
    validation = (ImageBatches(X_val, "cpu"), torch.from_numpy(y_val))
    history = []
    # An absurd tolerance: no epoch counts as an improvement after the first one.
    n = trainer.run(ImageBatches(X, "cpu"), torch.from_numpy(y), epochs=20, history=history,
                    validation=validation, early_stopping=True, n_iter_no_change=2, tol=100.0)
    assert n == 3 and len(history) == 3
    assert {"valid_loss", "valid_accuracy"} <= set(history[0])
    # The weights of epoch 1 are back.
    loss, _ = trainer.evaluate(*validation)
    assert loss == pytest.approx(history[0]["valid_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="validation"):
        trainer.run(ImageBatches(X, "cpu"), torch.from_numpy(y), epochs=1, early_stopping=True)


def test_trainer_frozen_modules_stay_in_eval_mode(bars):
    X, y = bars(64, channel_axis=True)
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,))
    for p in net.features.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in net.features.state_dict().items()}
    _trainer(net, frozen=(net.features,)).run(ImageBatches(X, "cpu"), torch.from_numpy(y),
                                              epochs=2)
    for k, v in net.features.state_dict().items():
        assert torch.equal(v, before[k]), k  # includes BN running statistics


def test_trainer_is_repeatable(bars):
    X, y = bars(96, channel_axis=True)
    states = []
    for _ in range(2):
        torch.manual_seed(3)
        net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4, 8))
        _trainer(net, crop=(1, 1), flip=True).run(ImageBatches(X, "cpu"), torch.from_numpy(y),
                                                  epochs=2)
        states.append(net.state_dict())
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k


def test_last_batch_of_one_is_merged(bars):
    # 33 samples with batches of 32: a lone last sample would break batch norm on 1x1
    # maps; it is merged into the previous batch.
    X, y = bars(33, channel_axis=True)
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4, 4, 4))
    trainer = _trainer(net)
    assert [len(b) for b in trainer._batches(33)] == [33]
    assert trainer._batches_count(33) == [33]
    assert trainer._batches_count(70) == [32, 32, 6]
    trainer.run(ImageBatches(X, "cpu"), torch.from_numpy(y), epochs=1)


def test_predictions_do_not_depend_on_the_batch():
    torch.manual_seed(0)
    net = ResNetSmall(in_channels=3, n_classes=3, image_size=(8, 8), widths=(8, 16))
    net.to(memory_format=torch.channels_last).eval()
    data = ImageBatches(np.random.RandomState(0).rand(21, 8, 8, 3).astype(np.float32), "cpu")
    full = predict_logits(net, data, batch_size=256)
    for batch_size in (1, 3, 8, 10):
        # Float32 rounding only: some CPUs' convolution kernels (oneDNN with AVX-512 or
        # AMX) sum in a batch-size-dependent order.
        torch.testing.assert_close(predict_logits(net, data, batch_size=batch_size), full,
                                   rtol=1e-5, atol=1e-6)
    tta = predict_logits(net, data, flip_tta=True)
    assert tta.shape == full.shape and not torch.equal(tta, full)


# --------------------------------------------------------------------- progress
class _RecordingBar:
    def __init__(self, log, **options):
        self.log = log
        log.append(("open", options))

    def update(self, n=1):
        self.log.append(("update", n))

    def set_postfix(self, **values):
        self.log.append(("postfix", sorted(values)))

    def close(self):
        self.log.append(("close",))


@pytest.mark.parametrize("verbose", [0, 1])
def test_trainer_reports_progress_through_the_injected_callable(bars, verbose):
    # core/ draws no bar itself: the estimator injects the package's tqdm helper.
    X, y = bars(40, channel_axis=True)
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,))
    log = []
    trainer = _trainer(net, batch_size=16, verbose=verbose,
                       progress=lambda **options: _RecordingBar(log, **options))
    trainer.run(ImageBatches(X, "cpu"), torch.from_numpy(y), epochs=2, epoch_offset=3)
    opened = [entry[1] for entry in log if entry[0] == "open"]
    assert opened == [{"total": 3, "verbose": verbose, "leave": True, "desc": f"epoch {e}"}
                      for e in (4, 5)]
    assert sum(entry[1] for entry in log if entry[0] == "update") == 6  # 3 batches an epoch
    assert [entry for entry in log if entry[0] == "close"] == [("close",)] * 2
    assert any(entry[0] == "postfix" for entry in log) == bool(verbose)


def test_trainer_without_progress_draws_nothing(bars, capsys):
    X, y = bars(40, channel_axis=True)
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,))
    trainer = _trainer(net, batch_size=16, verbose=2)  # no progress callable: no bar
    assert trainer.progress is no_progress
    trainer.run(ImageBatches(X, "cpu"), torch.from_numpy(y), epochs=1)
    assert capsys.readouterr() == ("", "")
