"""SDFA baseline (Vougioukas, Petridis & Pantic, "Realistic speech-driven facial animation with
GANs", IJCV 2019), re-implemented small: still image + raw speech -> video.

    identity encoder: still image -> 4 stride-2 convs (U-Net skips at S/2..S/16) -> id code
    content encoder:  0.2 s raw-audio window per frame -> strided conv1d -> code -> GRU over time
    noise generator:  Gaussian noise per frame -> GRU (spontaneous motion, e.g. blinks)
    frame decoder:    [id, content, noise] -> transposed convs, concatenating the skips

With id_from_vector (S2F+SDFA) the identity code comes from a face-feature vector (the
Speech2Face voice encoder's output) through a linear layer, and the decoder has no skips.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn

from . import fp32_rnn
from .discriminators import down, frame_code

WINDOW = 3200   # 0.2 s at 16 kHz, centred on the frame


@dataclass
class SDFAConfig:
    frame_size: int = 64
    ch: int = 32
    id_dim: int = 128
    audio_dim: int = 128
    noise_dim: int = 10
    noise_std: float = 0.33
    id_from_vector: int = 0        # > 0: S2F+SDFA, the size of the face-feature vector; no skips
    audio_norm: bool = True        # SDFA's normalised audio encoder (False: the raw-amplitude one we had)


class RawAudioEncoder(nn.Module):
    """(N, 3200) raw samples -> (N, out_dim): strided 1-d convs, then a linear layer.

    norm=True is SDFA's published encoder shape (a normalisation after every conv, tanh on the code;
    GroupNorm where SDFA has BatchNorm, so no score depends on the rest of the batch). Without it the
    encoder sees raw amplitudes and, on our budgets, barely learns (notebook 04's SDFA ablation)."""

    def __init__(self, out_dim: int = 128, ch: int = 32, norm: bool = False):
        super().__init__()

        def block(cin, cout, k, s, p):
            layers = [nn.Conv1d(cin, cout, k, s, p)]
            if norm:
                layers.append(nn.GroupNorm(min(8, cout // 4), cout))
            return layers + [nn.LeakyReLU(0.2, inplace=True)]

        self.net = nn.Sequential(
            *block(1, ch, 64, 16, 24),                # 3200 -> 200
            *block(ch, 2 * ch, 8, 4, 2),              # -> 50
            *block(2 * ch, 4 * ch, 8, 4, 2),          # -> 12
            *block(4 * ch, 4 * ch, 4, 4, 0),          # -> 3
            nn.Flatten(), nn.Linear(4 * ch * 3, out_dim), *([nn.Tanh()] if norm else []))

    def forward(self, x):
        return self.net(x[:, None].float())


class SDFASyncDiscriminator(nn.Module):
    """SDFA's synchronisation discriminator: the 0.2 s audio window around a chunk's centre frame and
    the mouth (lower) half of the chunk's frames -> one logit: in sync or not. Two encoders; the score
    is a linear function of the Euclidean distance between their embeddings (as SDFA describes it)."""

    def __init__(self, frames: int, ch: int = 32, dim: int = 128):
        super().__init__()
        self.video = frame_code(3 * frames, ch, dim)
        self.audio = RawAudioEncoder(dim, norm=True)
        self.out = nn.Linear(1, 1)

    def forward(self, frames, audio_window):
        """frames (B, T, 3, S, S) in [0, 1], audio_window (B, 3200) -> logits (B, 1)."""
        mouth = frames[..., frames.shape[-2] // 2:, :].flatten(1, 2)          # (B, 3T, S/2, S)
        dist = (self.video(mouth) - self.audio(audio_window)).float().norm(dim=-1, keepdim=True)
        return self.out(dist)


def up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.GroupNorm(8, cout),
                         nn.LeakyReLU(0.2, inplace=True))


class SDFAGenerator(nn.Module):
    def __init__(self, cfg: SDFAConfig):
        super().__init__()
        self.cfg = cfg
        ch, s0 = cfg.ch, cfg.frame_size // 16
        self.s0 = s0
        self.skips = cfg.id_from_vector == 0
        if self.skips:
            self.enc = nn.ModuleList([down(3, ch // 2, norm=False), down(ch // 2, ch), down(ch, 2 * ch),
                                      down(2 * ch, 4 * ch)])               # S/2, S/4, S/8, S/16
            self.id_fc = nn.Linear(4 * ch * s0 * s0, cfg.id_dim)
        else:
            self.id_fc = nn.Sequential(nn.Linear(cfg.id_from_vector, cfg.id_dim), nn.LeakyReLU(0.2),
                                       nn.Linear(cfg.id_dim, cfg.id_dim))
        self.audio = RawAudioEncoder(cfg.audio_dim, norm=cfg.audio_norm)
        self.audio_gru = nn.GRU(cfg.audio_dim, cfg.audio_dim, batch_first=True)
        self.noise_gru = nn.GRU(cfg.noise_dim, cfg.noise_dim, batch_first=True)
        z = cfg.id_dim + cfg.audio_dim + cfg.noise_dim
        self.fc = nn.Sequential(nn.Linear(z, 4 * ch * s0 * s0), nn.LeakyReLU(0.2, inplace=True))
        k = 1 if self.skips else 0   # skip widths join the decoder when present
        self.up1 = up(4 * ch + k * 4 * ch, 2 * ch)       # S/16 -> S/8
        self.up2 = up(2 * ch + k * 2 * ch, ch)           # S/8 -> S/4
        self.up3 = up(ch + k * ch, ch // 2)              # S/4 -> S/2
        self.up4 = up(ch // 2 + k * ch // 2, ch // 2)    # S/2 -> S
        self.to_rgb = nn.Conv2d(ch // 2, 3, 3, 1, 1)

    def encode_identity(self, still=None, face_vec=None):
        """-> (id code (B, id_dim), skips [S/16, S/8, S/4, S/2] or None)."""
        if not self.skips:
            return self.id_fc(face_vec.float()), None
        h, skips = still, []
        for layer in self.enc:
            h = layer(h)
            skips.append(h)
        return self.id_fc(h.flatten(1)), skips[::-1]

    def forward(self, audio_windows, still=None, face_vec=None, generator: torch.Generator | None = None):
        """audio_windows (B, T, 3200); still (B, 3, S, S) in [0, 1] or face_vec (B, F)
        -> frames (B, T, 3, S, S) in [0, 1]."""
        b, t, _ = audio_windows.shape
        ident, skips = self.encode_identity(still, face_vec)
        a, _ = fp32_rnn(self.audio_gru, self.audio(audio_windows.flatten(0, 1)).view(b, t, -1))
        noise = torch.randn(b, t, self.cfg.noise_dim, device=audio_windows.device,
                            generator=generator) * self.cfg.noise_std
        n, _ = fp32_rnn(self.noise_gru, noise)
        z = torch.cat([ident[:, None].expand(-1, t, -1), a, n], -1).reshape(b * t, -1)
        h = self.fc(z).view(b * t, -1, self.s0, self.s0)
        for i, block in enumerate([self.up1, self.up2, self.up3, self.up4]):
            if skips is not None:
                h = torch.cat([h, skips[i].repeat_interleave(t, 0)], 1)
            h = block(h)
        frames = torch.sigmoid(self.to_rgb(h))
        return frames.view(b, t, 3, *frames.shape[-2:])

