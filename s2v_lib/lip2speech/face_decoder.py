"""The speaker-embedding face decoder (the paper's mean-face analysis, Fig. 6-7).

A DCGAN-style generator (linear -> 4x4 map -> four x2 transposed convs -> 64 x 64 RGB) trained with L2
to rebuild the face from its speaker embedding. The paper trains it on UTKFace faces; here on the
training clips' first frames (the face the speaker module saw). What it rebuilds for test and unseen
actors shows which traits of the face the speaker embedding kept.
"""
import dataclasses

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable
from .config import FaceDecoderConfig


class FaceDecoder(nn.Module):
    def __init__(self, cfg: FaceDecoderConfig, in_dim: int = 256):
        super().__init__()
        c = cfg.ch
        self.fc = nn.Linear(in_dim, 8 * c * 16)

        def up(cin, cout):
            return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))
        self.net = nn.Sequential(up(8 * c, 4 * c), up(4 * c, 2 * c), up(2 * c, c),
                                 nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Sigmoid())
        self.c = c

    def forward(self, emb):
        return self.net(F.relu(self.fc(emb)).view(len(emb), 8 * self.c, 4, 4))


def face_targets(data, ids, size: int = 64) -> np.ndarray:
    x = torch.from_numpy(np.stack([data.load(c)[0][0] for c in ids])).float().div(255).permute(0, 3, 1, 2)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.numpy()


def train_face_decoder(profile, emb: dict, faces: np.ndarray, ids, cfg: FaceDecoderConfig, key: str, device="cpu",
                       force_retrain=False, progress=True):
    torch.manual_seed(cfg.seed)
    dec = FaceDecoder(cfg).to(device)
    opt = torch.optim.Adam(dec.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    E = torch.from_numpy(np.stack([emb[c] for c in ids]))
    X = torch.from_numpy(faces)

    def step(i):
        dec.train()
        j = torch.from_numpy(rng.choice(len(ids), size=min(cfg.batch, len(ids)), replace=False))
        loss = F.mse_loss(dec(E[j].to(device)), X[j].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"step": i + 1, "l2": float(loss.detach())}

    ckpt = Checkpoint(checkpoint_dir(profile.name) / "lip2speech_face_decoder",
                      {"cfg": dataclasses.asdict(cfg), "speaker": key, "n": len(ids)})
    res = run_resumable(ckpt, cfg.steps, step, {"model": dec, "opt": opt}, {"batches": rng},
                        save_every=max(10, cfg.steps // 4), force_retrain=force_retrain, progress=progress,
                        desc="face decoder (embedding -> face)", postfix=lambda r: {"l2": f"{r['l2']:.4f}"})
    return dec.eval(), res.history


@torch.no_grad()
def reconstruct(dec, emb: dict, ids) -> np.ndarray:
    dev = next(dec.parameters()).device
    return dec.eval()(torch.from_numpy(np.stack([emb[c] for c in ids])).to(dev)).cpu().numpy()
