"""Training the Lip2Speech conditions through the project's one loop (train/resumable.run_resumable).

A condition is what conditions the decoder besides the lips: "lips" (nothing), "face" (the speaker
identity module's embedding of the clip's first frame: the paper's method), "voice" (the GE2E
embedding of the speaker's real voice: the oracle). Each is its own model and checkpoint
(checkpoint_dir(profile)/lip2speech_<condition>_<decoder>/), keyed by every setting and by the
speaker embeddings it was given, so a retrained speaker module never reuses a stale decoder.
"""
import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable
from .config import Lip2SpeechConfig
from .data import Batches, ClipArrays, clip_inputs
from .model import Lip2Speech, mel_loss


@dataclass
class TrainedLip2Speech:
    condition: str
    model: Lip2Speech
    history: pd.DataFrame
    ckpt_hash: str
    val_mse: float


def speaker_key(speaker: dict | None) -> str:
    if speaker is None:
        return "none"
    h = hashlib.sha1()
    for c in sorted(speaker):
        h.update(c.encode())
        h.update(np.round(np.asarray(speaker[c], np.float32), 4).tobytes())
    return h.hexdigest()[:12]


def tf_ratio(cfg: Lip2SpeechConfig, i: int, total: int) -> float:
    """Teacher forcing annealed in 10 plateaus from 1 to train.teacher_forcing_end (paper: every 10 epochs)."""
    plateau = min(9, int(10 * i / max(total, 1)))
    return 1.0 - (1.0 - cfg.train.teacher_forcing_end) * plateau / 9


@torch.no_grad()
def val_mse(model, arrays: ClipArrays, stats, speaker, device, max_clips: int = 16) -> float:
    """Mean MSE of free-running predictions of whole validation clips (standardised mel units)."""
    model.eval()
    errs = []
    for c in arrays.ids[:max_clips]:
        x, s = clip_inputs(arrays, c, speaker)
        pred, _ = model(x.to(device), s.to(device))
        tgt = (arrays.logmel[c] - stats[0]) / stats[1]
        errs.append(float(((pred[0].cpu().numpy()[: len(tgt)] - tgt) ** 2).mean()))
    return float(np.mean(errs))


def train_condition(profile, condition: str, cfg: Lip2SpeechConfig, train: ClipArrays, val: ClipArrays, stats,
                    speaker: dict | None, val_speaker: dict | None, data_key: str, device="cpu",
                    steps: int | None = None, force_retrain=False, progress=True) -> TrainedLip2Speech:
    mcfg = dataclasses.replace(cfg.model, use_speaker=speaker is not None)
    tcfg = cfg.train if steps is None else dataclasses.replace(cfg.train, steps=steps)
    key = {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg), "mel": dataclasses.asdict(cfg.mel),
           "condition": condition, "speaker": speaker_key(speaker), "data": data_key}
    torch.manual_seed(tcfg.seed)
    model = Lip2Speech(mcfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    rng = np.random.default_rng(tcfg.seed)
    batches = Batches(train, stats, speaker, tcfg.window, tcfg.batch, tcfg.hflip, rng, cfg.mel.per_video_frame)
    ar = mcfg.decoder == "autoregressive"

    def step(i):
        model.train()
        x, y, s, ends = batches.sample()
        x, y, s = x.to(device), y.to(device), s.to(device)
        tf = tf_ratio(cfg, i, tcfg.steps) if ar else 1.0
        pred, stop = model(x, s, target=y, tf_ratio=tf)
        loss, parts = mel_loss(pred, y, stop, ends.to(device), tcfg.stop_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (i + 1) % tcfg.log_every == 0 or i == 0:
            return {"step": i + 1, "loss": float(loss.detach()), **parts, "tf_ratio": tf}
        return None

    def finish():
        return {"val_mse": val_mse(model, val, stats, val_speaker, device)}

    ckpt = Checkpoint(checkpoint_dir(profile.name) / f"lip2speech_{condition}_{mcfg.decoder}", key)
    res = run_resumable(ckpt, tcfg.steps, step, {"model": model, "opt": opt}, {"batches": rng},
                        save_every=tcfg.save_every, force_retrain=force_retrain, progress=progress,
                        desc=f"Lip2Speech {condition} ({mcfg.decoder})", on_finish=finish,
                        postfix=lambda r: {"mse": f"{r['mse']:.3f}"})
    return TrainedLip2Speech(condition, model.eval(), pd.DataFrame(res.history), ckpt.hash,
                             float(res.summary.get("val_mse", float("nan"))))


@torch.no_grad()
def predict_mel(model: Lip2Speech, arrays: ClipArrays, clip_id: str, speaker: dict | None, stats, device="cpu"):
    """Free-running prediction for a whole clip -> natural-log mel (4T, 80)."""
    x, s = clip_inputs(arrays, clip_id, speaker)
    pred, _ = model.eval()(x.to(device), s.to(device))
    return pred[0].cpu().numpy() * stats[1] + stats[0]
