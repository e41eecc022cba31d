"""Deterministic stand-ins for the ops of the study whose CUDA backward torch refuses under
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


class Upsample2x(nn.Module):
    """nn.Upsample(scale_factor=2, mode) for "nearest" or "bilinear" (align_corners=False); on CUDA (whose
    bilinear backward torch refuses under deterministic algorithms) the same values from shifted slices."""

    def __init__(self, mode: str = "nearest"):
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"mode must be 'nearest' or 'bilinear', not {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_cuda:
            return F.interpolate(x, scale_factor=2, mode=self.mode)
        return upsample2x_by_slices(x, self.mode)


def upsample2x_by_slices(x: torch.Tensor, mode: str) -> torch.Tensor:
    """x2 along the last two dims: nearest repeats each pixel; bilinear puts output 2i at 3/4 x[i] + 1/4
    x[i-1] and 2i+1 at 3/4 x[i] + 1/4 x[i+1], edges clamped (align_corners=False)."""
    for dim in (-2, -1):
        n = x.shape[dim]
        if mode == "nearest":
            even = odd = x
        else:
            prev = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)
            nxt = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)
            even, odd = 0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt
        x = torch.stack([even, odd], dim).flatten(dim - 1, dim)     # even0, odd0, even1, odd1, ...
    return x
