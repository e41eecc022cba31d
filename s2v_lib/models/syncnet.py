"""SyncNet-style sync expert (Chung & Zisserman 2016): two streams mapping 0.2 s of video and of
audio into one space where in-sync pairs are close.

Video stream: windows of 5 grey frames of the lower face half (resized to 32 x 64).
Audio stream: windows of 13 MFCCs x 20 steps at 100 Hz (the same 0.2 s).
Both streams are fully convolutional in time, so a clip is encoded in one pass and window v's
embedding sees exactly video frames [v, v + 5) and MFCC steps [4v, 4v + 20) -- the windows
syncnet_python scores -- while each frame is encoded once instead of five times (2 CPU cores).
Outputs are *not* normalised: syncnet_python measures plain Euclidean distances between them.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

N_FRAMES = 5        # video frames per window (0.2 s at 25 fps)
N_MFCC = 13
N_STEPS = 20        # MFCC steps per window (0.2 s at 100 Hz)
STEPS_PER_FRAME = 4
LIP_HW = (32, 64)   # lower face half, resized


@dataclass
class SyncNetConfig:
    width: int = 16        # channels of the first conv; doubled per stage
    frame_dim: int = 128   # per-frame lip feature
    emb_dim: int = 128


def _conv(cin, cout, stride):
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SyncNet(nn.Module):
    def __init__(self, cfg: SyncNetConfig = SyncNetConfig()):
        super().__init__()
        w = cfg.width
        # one lip frame (1, 32, 64) -> (4w, 4, 8) -> frame_dim; strided from the first layer (2 CPU cores)
        self.lip_frame = nn.Sequential(*_conv(1, w, 2), *_conv(w, 2 * w, 2), *_conv(2 * w, 4 * w, 2), nn.Flatten(),
                                       nn.Linear(4 * w * 4 * 8, cfg.frame_dim), nn.ReLU(inplace=True))
        # 5 consecutive frame features -> window embedding (kernel 5 = the 5-frame window)
        self.lip_window = nn.Sequential(nn.Conv1d(cfg.frame_dim, 256, N_FRAMES), nn.ReLU(inplace=True),
                                        nn.Conv1d(256, cfg.emb_dim, 1))
        # MFCC (13, steps) -> window embeddings every 4 steps; receptive field 4 + 2*2 + 3*4 = 20 steps
        # No BatchNorm here: training batches carry zero-padded MFCC at clip edges (masked out of the
        # loss), which would skew batch statistics; a fixed per-coefficient standardisation instead.
        self.register_buffer("mfcc_mean", torch.zeros(N_MFCC, 1))
        self.register_buffer("mfcc_std", torch.ones(N_MFCC, 1))
        self.aud = nn.Sequential(nn.Conv1d(N_MFCC, 4 * w, 4, stride=2), nn.ReLU(inplace=True),
                                 nn.Conv1d(4 * w, 8 * w, 3, stride=2), nn.ReLU(inplace=True),
                                 nn.Conv1d(8 * w, 256, 4), nn.ReLU(inplace=True),
                                 nn.Conv1d(256, cfg.emb_dim, 1))

    def forward_lip(self, lips: torch.Tensor) -> torch.Tensor:
        """lips (B, T, 32, 64) grey lower faces in [0, 1] -> (B, T - 4, emb_dim), window v = frames [v, v+5)."""
        b, t = lips.shape[:2]
        f = self.lip_frame(lips.reshape(b * t, 1, *lips.shape[2:]) - 0.5).reshape(b, t, -1)
        return self.lip_window(f.transpose(1, 2)).transpose(1, 2)

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """mfcc (B, 13, S) -> (B, (S - 20) // 4 + 1, emb_dim), window j = steps [4j, 4j + 20)."""
        return self.aud((mfcc - self.mfcc_mean) / self.mfcc_std).transpose(1, 2)


def lower_face(frames_uint8: torch.Tensor) -> torch.Tensor:
    """(T, S, S, 3) uint8 RGB -> (T, 32, 64) float grey lower half in [0, 1] (the mouth region)."""
    x = frames_uint8.float().div(255.0)
    grey = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]       # (T, S, S)
    half = grey[:, grey.shape[1] // 2:, :]
    return F.interpolate(half[:, None], size=LIP_HW, mode="area")[:, 0]
