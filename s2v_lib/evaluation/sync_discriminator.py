"""SDFA's synchronisation discriminator read on real clips: can it tell the 0.2 s of speech that goes
with a real 5-frame mouth chunk from speech 3-10 frames away (its own training negatives)?

A generator learns lip sync from D_sync only as far as D_sync itself knows it, so this is the measured
reason behind SDFA's (and S2F+SDFA's) sync offset and Confidence in Table 1. The score is threshold-
free: the share of (chunk, in-sync audio, off-sync audio) triples where the in-sync audio gets the
higher logit; chance is 0.5, a discriminator that knows sync approaches 1.
"""
import numpy as np
import torch

from ..composer.clips import load_clips
from ..stats import bootstrap_ci
from ..train.windows import ClipBank, LoopConfig, WindowSampler, to_device


@torch.no_grad()
def real_pair_ranking(d_sync, data, split: str = "val", n_batches: int = 4, batch_clips: int = 64,
                      seed: int = 0, device="cpu") -> dict:
    """{"pair_accuracy": mean, "ci": [lo, hi], "n": triples, "p_sync": mean sigmoid of in-sync pairs,
    "p_off_sync": the same for off-sync pairs} over windows of `split` drawn as in training."""
    clips, ids = load_clips(data, split)
    cfg = LoopConfig(batch_clips=batch_clips, window=5, audio_negatives=True, seed=seed)
    sampler = WindowSampler(ClipBank(clips, ids), cfg, vector_keys=())
    d_sync = d_sync.to(device).eval()
    ranked, p_sync, p_off = [], [], []
    for i in range(n_batches):
        batch = to_device(sampler.sample(i), device)
        synced = d_sync(batch["frames"], batch["audio_sync"]).float().flatten()
        off = d_sync(batch["frames"], batch["audio_shift"]).float().flatten()
        ranked.append((synced > off).float().cpu().numpy())
        p_sync.append(torch.sigmoid(synced).cpu().numpy())
        p_off.append(torch.sigmoid(off).cpu().numpy())
    ranked = np.concatenate(ranked)
    mean, lo, hi = bootstrap_ci(ranked, seed=seed)
    return {"pair_accuracy": float(mean), "ci": [float(lo), float(hi)], "n": int(len(ranked)), "chance": 0.5,
            "p_sync": float(np.concatenate(p_sync).mean()), "p_off_sync": float(np.concatenate(p_off).mean())}
