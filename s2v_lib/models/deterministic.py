"""Deterministic stand-ins for the two ops of the study whose CUDA backward torch refuses under
torch.use_deterministic_algorithms(True) (seed.py turns it on, warn_only=False).

On the CPU both call the usual op, so CPU runs keep their numbers bit for bit; on CUDA they compute
the same values from slices and index_select, whose backward passes are deterministic.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.utils import _pair


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """nn.AdaptiveAvgPool2d; on CUDA each output bin is the mean of its slice (the same bins: rows
    floor(i H / n) .. ceil((i + 1) H / n))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) if not x.is_cuda else adaptive_avg_pool_by_slices(x, self.output_size)


def adaptive_avg_pool_by_slices(x: torch.Tensor, output_size) -> torch.Tensor:
    (oh, ow), (h, w) = _pair(output_size), x.shape[-2:]
    oh, ow = oh or h, ow or w
    rows = []
    for i in range(oh):
        h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        cols = [x[..., h0:h1, (j * w) // ow: -(-((j + 1) * w) // ow)].mean((-2, -1)) for j in range(ow)]
        rows.append(torch.stack(cols, -1))
    return torch.stack(rows, -2)


def replicate_pad(x: torch.Tensor, pad) -> torch.Tensor:
    """F.pad(x, pad, mode="replicate") for (left, right, top, bottom) on the last two dims."""
    return F.pad(x, list(pad), mode="replicate") if not x.is_cuda else replicate_pad_by_index(x, pad)


def replicate_pad_by_index(x: torch.Tensor, pad) -> torch.Tensor:
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    rows = torch.arange(-top, h + bottom, device=x.device).clamp(0, h - 1)
    cols = torch.arange(-left, w + right, device=x.device).clamp(0, w - 1)
    return x.index_select(-2, rows).index_select(-1, cols)
