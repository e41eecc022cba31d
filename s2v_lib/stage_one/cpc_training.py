"""CPC pre-training (paper section 2.1: a pretrained CPC): InfoNCE on random crops of the training-split
audio only, on the resumable loop."""
import contextlib
import dataclasses
import math

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import as_profile
from ..models.cpc import CPC, CPCConfig, infonce_loss
from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import history_columns, run_resumable
from .config import data_key


def load_audio(data, clip_id: str) -> np.ndarray:
    """Only the audio member of a clip's npz (training CPC need not read the frames)."""
    row = data.manifest.loc[data.manifest["clip_id"] == clip_id]
    with np.load(data.root / row["path"].iloc[0]) as z:
        return z["audio"].astype(np.float32) / 32768.0


def sample_crops(audios: list, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """n random crops of `length` samples (zero-padded when a clip is shorter)."""
    out = np.zeros((n, length), np.float32)
    for i, j in enumerate(rng.integers(0, len(audios), n)):
        a = audios[j]
        if len(a) <= length:
            out[i, : len(a)] = a
        else:
            s = rng.integers(0, len(a) - length + 1)
            out[i] = a[s: s + length]
    return out


@contextlib.contextmanager
def at_most_threads(n: int):
    """Run a loop of tiny ops (the students' MLPs, batch-1 CPC passes) on at most n threads (on a busy
    2-core machine we measured 277 ms per student step on 2 threads against 7 ms on one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(n, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def lr_at(step: int, cfg: CPCConfig, warmup: int = 50) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, cfg.steps - warmup)))


def train_cpc(profile, data, device: str = "cpu", force_retrain: bool = False, cfg: CPCConfig | None = None,
              save_every: int = 100, progress: bool = True) -> tuple[CPC, dict]:
    """InfoNCE pre-training on random crops of the training-split audio -> (CPC in eval mode, history).

    history: step, loss, acc (steps x n_predict: accuracy of picking z_{t+k}, k = 1..12), lr."""
    profile = as_profile(profile)
    cfg = cfg or CPCConfig.for_scale(profile.scale)
    train_ids = list(data.clips("train")["clip_id"])
    if not train_ids:
        raise ValueError("the prepared data has no training clips; CPC needs training-split audio")
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "cpc", {"cpc": dataclasses.asdict(cfg), "data": data_key(data)})
    torch.manual_seed(cfg.seed)
    model = CPC(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    audios = []

    def step_fn(step: int) -> dict:
        if not audios:      # loaded only when there is training to do
            audios.extend(load_audio(data, c) for c in tqdm(train_ids, desc="CPC: load train audio",
                                                            disable=not progress, leave=False))
        model.train()
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(sample_crops(audios, cfg.batch_size, cfg.crop_samples, rng)).to(device)
        loss, acc = infonce_loss(model, x, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return {"step": step, "loss": float(loss.detach()), "acc": acc.cpu().tolist(), "lr": lr}

    result = run_resumable(ckpt, cfg.steps, step_fn, {"model": model, "opt": opt}, {"crops": rng, "negatives": gen},
                           save_every=save_every, force_retrain=force_retrain, progress=progress, desc="CPC",
                           postfix=lambda row: {"loss": f"{row['loss']:.3f}"})
    return model.eval(), history_columns(result.history)
