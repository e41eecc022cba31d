"""The speech2video frame composer F(c_t, nu, mu) (paper section 2.2, Fig. 2 right).

    frame branch:    [c_t, mu] -> linear -> (2ch, S/16) -> up -> (2ch, S/8)
                     (+) -> (ch, S/4)   (+) -> (ch/2, S/2)   (+) -> (ch/4, S) -> 1x1 -> RGB
    identity branch: nu -> linear -> (2 id_ch, S/16) -> 3 transposed convs, each x2:
                     maps (id_ch, S/8), (id_ch/2, S/4), (id_ch/4, S/2)
                     each map -> 1x1 conv -> the identity teacher's channels at that size (nu~, for D_ID)

"(+)" is Fig. 2's block: the identity map of that size is concatenated, a transposed conv doubles
the size, then two 1x1 convs (in the last block the second 1x1 gives RGB). Widths halve as the size
doubles, so the per-frame cost stays small (~12 MMAC per 64 px frame at ch=32). Our choice where the paper is ambiguous: the branch's own maps are concatenated into the
generator, and the 1x1-aligned maps (nu~) are what D_ID judges; so the alignment convs are needed
only in training. The identity branch depends on nu alone, so it runs once per clip, not per frame.

Output (not specified by the paper): linear, clamped to [0, 1] only at test time. With a sigmoid, a
region pushed far out of range early in training stops receiving gradient and stays black; on the cpu
profile every sigmoid run we tried kept such a blob on the forehead (output="sigmoid" restores it).
"""
from dataclasses import dataclass

import torch
import torch.nn as nn

from .deterministic import Upsample2x


@dataclass
class ComposerConfig:
    frame_size: int = 64
    c_dim: int = 256                      # CPC context size
    nu_dim: int = 128                     # identity feature size (teacher / student)
    mu_dim: int = 64                      # emotion feature size
    teacher_channels: tuple = (64, 32, 16)   # identity teacher's maps at S/8, S/4, S/2
    ch: int = 32                          # base width
    id_ch: int = 32                       # identity branch width
    c_context: int = 0                    # extra c frames each side (paper: 0, c_t alone)
    output: str = "linear"                # "linear": 0.5 + x in training, clamped to [0, 1] in eval; or "sigmoid"
    upsample: str = "transposed"          # the paper's transposed convs; "resize_conv" / "bilinear_conv": x2 + 3x3 conv


def upsample_x2(cin: int, cout: int, how: str) -> nn.Module:
    """x2 upsampling. "transposed" (Fig. 2): a 4x4 stride-2 transposed conv, whose uneven kernel overlap
    paints a checkerboard (Odena et al., Distill 2016). "resize_conv" (their fix; a named departure):
    nearest-neighbour x2, then a 3x3 conv, which every output pixel sees evenly. "bilinear_conv": the
    same with bilinear x2, whose output has no 2x2 blocks for the conv to smooth."""
    if how == "transposed":
        return nn.ConvTranspose2d(cin, cout, 4, 2, 1)
    if how in ("resize_conv", "bilinear_conv"):
        mode = "nearest" if how == "resize_conv" else "bilinear"
        return nn.Sequential(Upsample2x(mode), nn.Conv2d(cin, cout, 3, 1, 1))
    raise ValueError(f"upsample must be 'transposed', 'resize_conv' or 'bilinear_conv', not {how!r}")


def up_block(cin: int, cout: int, upsample: str = "transposed") -> nn.Sequential:
    """Transposed conv (x2) + two 1x1 convs (Fig. 2's (+) block)."""
    return nn.Sequential(
        upsample_x2(cin, cout, upsample), nn.GroupNorm(min(8, cout // 2), cout), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 1), nn.LeakyReLU(0.2, inplace=True))


class IdentityBranch(nn.Module):
    """nu -> 3 maps (S/8, S/4, S/2) for the generator, and their teacher-aligned versions for D_ID."""

    def __init__(self, cfg: ComposerConfig):
        super().__init__()
        s0, c = cfg.frame_size // 16, cfg.id_ch
        self.s0, self.c0 = s0, 2 * c
        self.fc = nn.Linear(cfg.nu_dim, 2 * c * s0 * s0)
        widths = [2 * c, c, c // 2, c // 4]
        self.ups = nn.ModuleList(
            nn.Sequential(upsample_x2(widths[i], widths[i + 1], cfg.upsample), nn.GroupNorm(2, widths[i + 1]),
                          nn.LeakyReLU(0.2, inplace=True)) for i in range(3))
        self.align = nn.ModuleList(nn.Conv2d(widths[i + 1], t, 1) for i, t in enumerate(cfg.teacher_channels))
        self.widths = widths[1:]

    def forward(self, nu: torch.Tensor, aligned: bool = True):
        h = torch.relu(self.fc(nu)).view(-1, self.c0, self.s0, self.s0)
        maps = []
        for up in self.ups:
            h = up(h)
            maps.append(h)
        inflated = [a(m) for a, m in zip(self.align, maps)] if aligned else None
        return maps, inflated


class Composer(nn.Module):
    def __init__(self, cfg: ComposerConfig):
        super().__init__()
        if cfg.frame_size % 16:
            raise ValueError(f"frame_size must be a multiple of 16, not {cfg.frame_size}")
        self.cfg = cfg
        ch, s0 = cfg.ch, cfg.frame_size // 16
        self.s0 = s0
        self.identity = IdentityBranch(cfg)
        c_in = cfg.c_dim * (2 * cfg.c_context + 1) + cfg.mu_dim
        self.fc = nn.Sequential(nn.Linear(c_in, 2 * ch * s0 * s0), nn.LeakyReLU(0.2, inplace=True))
        iw = self.identity.widths
        u = cfg.upsample
        self.up1 = up_block(2 * ch, 2 * ch, u)                 # S/16 -> S/8
        self.up2 = up_block(2 * ch + iw[0], ch, u)             # (+) S/8  -> S/4
        self.up3 = up_block(ch + iw[1], ch // 2, u)            # (+) S/4  -> S/2
        self.up4 = nn.Sequential(                              # (+) S/2  -> S, the last 1x1 gives RGB
            upsample_x2(ch // 2 + iw[2], ch // 4, u), nn.GroupNorm(min(8, ch // 4), ch // 4),
            nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ch // 4, ch // 4, 1), nn.LeakyReLU(0.2, inplace=True))
        self.to_rgb = nn.Conv2d(ch // 4, 3, 1)

    def context(self, c: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D * (2k + 1)): c_t with k neighbours each side (edge-padded)."""
        k = self.cfg.c_context
        if k == 0:
            return c
        padded = torch.cat([c[:, :1].expand(-1, k, -1), c, c[:, -1:].expand(-1, k, -1)], 1)
        return torch.cat([padded[:, i:i + c.shape[1]] for i in range(2 * k + 1)], -1)

    def forward(self, c: torch.Tensor, nu: torch.Tensor, mu: torch.Tensor, aligned: bool = True):
        """c (B, T, c_dim), nu (B, nu_dim), mu (B, mu_dim) -> frames (B, T, 3, S, S) in [0, 1] and
        the inflated identity maps nu~ (3 tensors (B, C_i, S_i, S_i); None when aligned=False)."""
        b, t, _ = c.shape
        maps, inflated = self.identity(nu, aligned)
        # per-clip identity maps, repeated for each frame of the clip
        # channels_last: the layout oneDNN's fast (transposed) convolutions want on CPU
        maps = [m.repeat_interleave(t, 0).contiguous(memory_format=torch.channels_last) for m in maps]
        z = torch.cat([self.context(c), mu[:, None].expand(-1, t, -1)], -1).reshape(b * t, -1)
        h = self.fc(z).view(b * t, -1, self.s0, self.s0).contiguous(memory_format=torch.channels_last)
        h = self.up1(h)
        h = self.up2(torch.cat([h, maps[0]], 1))
        h = self.up3(torch.cat([h, maps[1]], 1))
        h = self.up4(torch.cat([h, maps[2]], 1))
        x = self.to_rgb(h)
        if self.cfg.output == "sigmoid":
            frames = torch.sigmoid(x)
        else:   # no saturation: a pixel pushed out of range still gets the L1 gradient back
            frames = x + 0.5 if self.training else (x + 0.5).clamp(0, 1)
        return frames.view(b, t, 3, *frames.shape[-2:]), inflated
