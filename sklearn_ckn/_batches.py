"""Float image batches from numpy images, for the torch estimators' training loops."""

import numpy as np
import torch

from ._images import images_to_tensor, to_float_nchw

__all__ = ["ImageBatches"]


class ImageBatches:
    """Float image batches from a ``(n, H, W, C)`` numpy array.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
        Any numeric dtype; ``uint8`` is scaled to [0, 1].
    device : torch.device
        Where the batches go.
    preload : bool or None, default=None
        Copy the whole array to ``device`` once (``uint8`` kept as such, other dtypes
        as float32) rather than gathering each batch from the numpy array. None: only
        on CUDA, where it saves a host-to-device copy per batch.
    memory_format : torch.memory_format, default=torch.channels_last
        Layout of the batches: channels-last suits convolutions (oneDNN, tensor
        cores), ``torch.contiguous_format`` the CKN's patch products.
    """

    def __init__(self, images, device, preload=None, memory_format=torch.channels_last):
        self.device = torch.device(device)
        self.memory_format = memory_format
        self.n = images.shape[0]
        self.shape = images.shape[1:]
        self._numpy = None
        self._tensor = None
        if preload is None:
            preload = self.device.type == "cuda"
        if not preload:
            self._numpy = images
        else:
            dtype = images.dtype
            if dtype != np.uint8:
                dtype = np.float32
            chunks = []
            for start in range(0, self.n, 8192):
                part = np.ascontiguousarray(images[start:start + 8192], dtype=dtype)
                if not part.flags.writeable:
                    part = part.copy()
                chunks.append(torch.from_numpy(part).to(self.device))
            self._tensor = torch.cat(chunks) if chunks else torch.empty((0,) + self.shape)

    def __len__(self):
        return self.n

    def _to_float(self, t):
        # (b, H, W, C) -> (b, C, H, W) view, which *is* channels-last memory.
        return to_float_nchw(t, memory_format=self.memory_format)

    def get(self, index=None):
        """Batch of the rows ``index`` (a slice, or an int64 array/tensor of indices)."""
        if self._tensor is not None:
            if index is None:
                part = self._tensor
            elif isinstance(index, slice):
                part = self._tensor[index]
            else:
                part = self._tensor[torch.as_tensor(index, device=self.device)]
            return self._to_float(part)
        if index is None:
            part = self._numpy
        elif isinstance(index, slice):
            part = self._numpy[index]
        else:
            if isinstance(index, torch.Tensor):
                index = index.numpy()
            part = self._numpy[index]
        return images_to_tensor(part, memory_format=self.memory_format)
