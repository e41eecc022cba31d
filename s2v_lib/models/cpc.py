"""Contrastive Predictive Coding (van den Oord et al. 2018) on raw 16 kHz audio.

    z_t = g_enc(audio)      5 strided conv1d (strides 5,4,2,2,2 = 160x) -> 100 Hz
    c_t = g_ar(z_<=t)       GRU
    InfoNCE: W_k c_t should pick z_{t+k} (k = 1..12) among the other sampled z of the batch
             (other positions of the same utterance and other utterances).

Speech2Video reads c_t (pooled to the video frame rate) to drive the frames and w = c_T (the last
context vector) as the utterance summary that the students distil identity and emotion from.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

STRIDES = (5, 4, 2, 2, 2)
KERNELS = (10, 8, 4, 4, 4)
PADDINGS = (3, 2, 1, 1, 1)      # with these, n_samples multiple of 160 -> exactly n_samples / 160 steps
DOWNSAMPLE = 160                # 16 kHz / 160 = 100 Hz
STEPS_PER_FRAME = 4             # 100 Hz / 25 fps


@dataclass
class CPCConfig:
    channels: int = 128          # z dimension (g_enc's last layer)
    enc_channels: tuple = (32, 64, 128, 128)   # g_enc's first four layers (the 16 kHz end is the costly one)
    hidden: int = 128            # g_ar (GRU) width = c dimension
    n_predict: int = 12          # future steps k = 1..12
    crop_samples: int = 20480    # 1.28 s random training crops (128 steps)
    n_positions: int = 8         # anchor positions t sampled per crop for InfoNCE
    temperature: float = 0.1     # InfoNCE scores are cosine / temperature
    batch_size: int = 32
    lr: float = 2e-3
    steps: int = 600
    seed: int = 0

    @classmethod
    def for_scale(cls, scale: str, seed: int = 0) -> "CPCConfig":
        if scale == "smoke":
            return cls(channels=64, hidden=64, enc_channels=(16, 32, 64, 64), crop_samples=9600,
                       batch_size=8, steps=40, seed=seed)
        if scale == "cpu":
            return cls(seed=seed)
        if scale == "gpu":
            return cls(channels=256, hidden=256, enc_channels=(256,) * 4, batch_size=64, steps=3000, seed=seed)
        return cls(channels=512, hidden=256, enc_channels=(512,) * 4, batch_size=64, steps=20000, lr=2e-4,
                   seed=seed)   # the original CPC's widths


class CPC(nn.Module):
    def __init__(self, cfg: CPCConfig):
        super().__init__()
        self.cfg = cfg
        layers, c_in = [], 1
        for c_out, k, s, p in zip((*cfg.enc_channels, cfg.channels), KERNELS, STRIDES, PADDINGS):
            # BatchNorm centres each channel over batch and time: with per-step LayerNorm (or conv biases)
            # the constant part swamped the quiet waveform and InfoNCE did not move in our first runs
            layers += [nn.Conv1d(c_in, c_out, k, s, p, bias=False), nn.BatchNorm1d(c_out), nn.ReLU()]
            c_in = c_out
        self.g_enc = nn.Sequential(*layers[:-1])       # z is the last layer's normalised output, no ReLU
        self.g_ar = nn.GRU(cfg.channels, cfg.hidden, batch_first=True)
        self.predict = nn.Linear(cfg.hidden, cfg.n_predict * cfg.channels)   # W_1..W_K stacked

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, n_samples) -> z (B, n_samples // 160, channels)."""
        n = audio.shape[-1] // DOWNSAMPLE
        z = self.g_enc(audio[:, None, : n * DOWNSAMPLE]).transpose(1, 2)
        return z[:, :n]

    def forward(self, audio: torch.Tensor):
        """(B, n_samples) -> (z (B, L, channels), c (B, L, hidden)) at 100 Hz."""
        z = self.encode(audio)
        c, _ = self.g_ar(z)
        return z, c


def infonce_loss(model: CPC, audio: torch.Tensor, generator: torch.Generator | None = None):
    """InfoNCE on a batch of crops -> (loss, accuracy per k (n_predict,) tensor).

    For n_positions anchors t per crop, the prediction W_k c_t scores every sampled target z_{t'+k}
    of the batch; the true one must win (cross-entropy over N = B * n_positions candidates).
    """
    cfg = model.cfg
    z, c = model(audio)
    B, L, C = z.shape
    K = cfg.n_predict
    if L <= K + 1:
        raise ValueError(f"crop of {audio.shape[-1]} samples gives {L} steps; need more than {K + 1}")
    t = torch.randint(0, L - K, (B, cfg.n_positions), generator=generator, device=audio.device)
    b = torch.arange(B, device=audio.device)[:, None].expand_as(t)
    pred = model.predict(c[b, t]).view(B * cfg.n_positions, K, C)            # (N, K, C)
    ks = torch.arange(1, K + 1, device=audio.device)
    target = z[b[..., None], t[..., None] + ks].reshape(B * cfg.n_positions, K, C)   # (N, K, C)
    # cosine scores with a temperature (as in wav2vec 2.0): plain dot products let the easiest early move be
    # shrinking every score at once, which flattens z over time; cosines learn much faster on a small budget
    pred, target = F.normalize(pred, dim=-1), F.normalize(target, dim=-1)
    logits = torch.einsum("nkc,mkc->knm", pred, target) / cfg.temperature    # (K, N, N)
    labels = torch.arange(logits.shape[1], device=audio.device).expand(K, -1)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
    acc = (logits.argmax(-1) == labels).float().mean(1)
    return loss, acc.detach()


def _pad_to_frames(audio: torch.Tensor, n_frames: int) -> torch.Tensor:
    need = n_frames * STEPS_PER_FRAME * DOWNSAMPLE
    if audio.shape[-1] < need:
        audio = F.pad(audio, (0, need - audio.shape[-1]))
    return audio[..., :need]


@torch.no_grad()
def context(model: CPC, audio, n_frames: int | None = None) -> torch.Tensor:
    """One waveform (n_samples,) -> c (L, hidden) at 100 Hz; L = 4 * n_frames when n_frames is given."""
    device = next(model.parameters()).device
    x = torch.as_tensor(audio, dtype=torch.float32, device=device)
    if n_frames is not None:
        x = _pad_to_frames(x, n_frames)
    _, c = model(x[None])
    return c[0]


def pool_to_frames(c: torch.Tensor) -> torch.Tensor:
    """(4 T, D) at 100 Hz -> (T, D) at 25 fps, averaging the 4 steps that belong to each frame."""
    T = c.shape[0] // STEPS_PER_FRAME
    return c[: T * STEPS_PER_FRAME].reshape(T, STEPS_PER_FRAME, -1).mean(1)


@torch.no_grad()
def frame_features(model: CPC, audio, n_frames: int | None = None) -> torch.Tensor:
    """Waveform of T * 640 samples -> c_t at 25 fps, (T, hidden)."""
    if n_frames is None:
        n_frames = len(audio) // (STEPS_PER_FRAME * DOWNSAMPLE)
    return pool_to_frames(context(model, audio, n_frames))


@torch.no_grad()
def utterance_feature(model: CPC, audio, pooling: str = "last") -> torch.Tensor:
    """The utterance summary w: "last" = c_T (the paper), "mean" = c_t averaged over time."""
    c = context(model, audio)
    if pooling == "last":
        return c[-1]
    if pooling == "mean":
        return c.mean(0)
    raise ValueError(f"pooling must be 'last' or 'mean', not {pooling!r}")
