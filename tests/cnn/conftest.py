"""Fixtures of the CNN tests: one torch thread per test (``bars`` is in tests/conftest.py)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
