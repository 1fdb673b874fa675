"""Fixtures of the CNN tests: one torch thread per test, and a tiny synthetic image task."""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _bars(n, size=8, seed=0, channel_axis=False):
    """2 classes: a horizontal (0) or vertical (1) bright bar, plus noise.

    Returns float32 images of shape ``(n, size, size)`` (``(n, size, size, 1)``, the
    layout ``ImageBatches`` takes, with ``channel_axis``) and labels of shape ``(n,)``.
    """
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    line = np.arange(size)[None, :] == rng.randint(0, size, n)[:, None]  # (n, size)
    X = np.where(y[:, None, None] == 0, line[:, :, None], line[:, None, :]).astype(np.float32)
    X = X + 0.3 * rng.randn(n, size, size).astype(np.float32)
    return (X[..., None] if channel_axis else X), y


@pytest.fixture(scope="session")
def bars():
    """The function ``bars(n, size=8, seed=0, channel_axis=False) -> (X, y)``."""
    return _bars
