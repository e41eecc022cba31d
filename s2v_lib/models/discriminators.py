"""Discriminators: the composer's D_ID, D_fr, D_sync (paper section 2.2) and SDFA's frame and
sequence discriminators (Vougioukas et al. 2019). No batch statistics anywhere (GroupNorm or none),
so a sample's score never depends on the rest of its batch; that also makes DDP shards exact."""
import torch
import torch.nn as nn

from . import fp32_rnn
from .deterministic import AdaptiveAvgPool2d


def spectral_normed(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al., ICLR 2018) on every conv and linear layer of a
    discriminator: its Lipschitz constant stays near 1, so it cannot overpower the generator with
    steep, high-frequency gradients. A named departure wherever a paper's D has none."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Conv1d, nn.Conv2d, nn.Linear)) and child.weight.numel() > 1:
            # a one-element weight (SDFA's D_sync score of a distance) would be pinned to +-1: no gradient
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral_normed(child)
    return module


def down(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 4, 2, 1)]
    if norm:
        layers.append(nn.GroupNorm(min(8, cout // 2), cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def frame_code(in_ch: int, ch: int, out_dim: int) -> nn.Sequential:
    """(N, in_ch, H, W) -> (N, out_dim): three stride-2 convs, global average pooling, a linear layer
    (the frame / mouth stream of D_sync, SDFA's sequence D and SDFA's D_sync)."""
    return nn.Sequential(down(in_ch, ch, norm=False), down(ch, 2 * ch), down(2 * ch, 4 * ch),
                         AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * ch, out_dim))


class ImageEncoder(nn.Module):
    """(N, C, S, S) -> (N, 8ch, S/16, S/16) by four stride-2 convs."""

    def __init__(self, in_ch: int, ch: int):
        super().__init__()
        self.net = nn.Sequential(down(in_ch, ch, norm=False), down(ch, 2 * ch), down(2 * ch, 4 * ch),
                                 down(4 * ch, 8 * ch))

    def forward(self, x):
        return self.net(x)


class FrameDiscriminator(nn.Module):
    """D_fr: one frame -> a patch of real/fake scores (N, S/16 * S/16). With cond_ch > 0 (SDFA) the
    frame is judged together with the still image, channel-concatenated."""

    def __init__(self, ch: int = 32, cond_ch: int = 0):
        super().__init__()
        self.enc = ImageEncoder(3 + cond_ch, ch)
        self.out = nn.Conv2d(8 * ch, 1, 3, 1, 1)

    def forward(self, frames, cond=None):
        x = frames if cond is None else torch.cat([frames, cond], 1)
        return self.out(self.enc(x)).flatten(1)


class IdentityDiscriminator(nn.Module):
    """D_ID: judges three identity feature maps (coarse -> fine: S/8, S/4, S/2) together: the finest
    map is downsampled and concatenated with the next coarser one, and so on."""

    def __init__(self, teacher_channels=(64, 32, 16), ch: int = 32):
        super().__init__()
        c8, c4, c2 = teacher_channels
        self.d2 = down(c2, ch, norm=False)               # S/2 -> S/4
        self.d4 = down(ch + c4, 2 * ch)                  # S/4 -> S/8
        self.d8 = down(2 * ch + c8, 4 * ch)              # S/8 -> S/16
        self.out = nn.Conv2d(4 * ch, 1, 3, 1, 1)

    def forward(self, maps):
        m8, m4, m2 = maps
        h = self.d2(m2.float())
        h = self.d4(torch.cat([h, m4.float()], 1))
        h = self.d8(torch.cat([h, m8.float()], 1))
        return self.out(h).flatten(1)


class SyncDiscriminator(nn.Module):
    """D_sync: (audio feature c_t, frame) -> is this frame the one spoken with c_t? The lower half of
    the frame (the mouth) is encoded; the score is an MLP of [frame code, audio code]."""

    def __init__(self, c_dim: int, ch: int = 32, hidden: int = 128):
        super().__init__()
        self.frame = frame_code(3, ch, hidden)
        self.audio = nn.Sequential(nn.Linear(c_dim, hidden), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(hidden, hidden))
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(2 * hidden, hidden),
                                  nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 1))

    def forward(self, c, frames):
        mouth = frames[..., frames.shape[-2] // 2:, :]
        return self.head(torch.cat([self.frame(mouth), self.audio(c.float())], -1))


class SequenceDiscriminator(nn.Module):
    """SDFA's sequence discriminator: frame codes + audio codes -> GRU -> one score per sequence."""

    def __init__(self, audio_encoder: nn.Module, audio_dim: int, ch: int = 32, hidden: int = 128):
        super().__init__()
        self.frame = frame_code(3, ch, hidden)
        self.audio = audio_encoder
        self.gru = nn.GRU(hidden + audio_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, frames, audio_windows):
        """frames (B, T, 3, S, S), audio_windows (B, T, W) -> logits (B, 1)."""
        b, t = frames.shape[:2]
        f = self.frame(frames.flatten(0, 1)).view(b, t, -1)
        a = self.audio(audio_windows.flatten(0, 1)).view(b, t, -1)
        h, _ = fp32_rnn(self.gru, torch.cat([f, a], -1).float())
        return self.out(h[:, -1])
