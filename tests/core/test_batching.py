"""Tests of the shared batch shapes (:mod:`sklearn_ckn.core.batching`)."""

import torch

from sklearn_ckn.core.batching import pad_to_multiple, split_sizes


def test_parts_never_leave_one_image_alone():
    assert split_sizes(256, 32) == [32] * 8
    assert split_sizes(33, 32) == [33]
    assert split_sizes(70, 32) == [32, 32, 6]
    assert split_sizes(65, 32) == [32, 33]
    assert split_sizes(5, 2) == [2, 3]
    assert split_sizes(3, 2) == [3]
    assert split_sizes(1, 32) == [1]


def test_padding_appends_zero_images_up_to_the_multiple():
    x = torch.rand(10, 3, 4, 4)
    padded, n = pad_to_multiple(x, 8, memory_format=torch.channels_last)
    assert n == 10 and padded.shape[0] == 16
    assert padded.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(padded[:10], x)
    assert not padded[10:].any()
    same, n = pad_to_multiple(x[:8], 8)
    assert same.shape[0] == 8 and n == 8
    assert pad_to_multiple(x, 1)[0] is x
