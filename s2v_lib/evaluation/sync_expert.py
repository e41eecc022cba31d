"""The sync expert: training on real clips, and AV Confidence / min distance exactly as syncnet_python.

syncnet_python (Chung & Zisserman; SyncNetInstance.evaluate) scores a clip like this, and so do we:
  - one video feature per 5-frame window starting at v = 0 .. T-6 (`lastframe = len(images) - 5`),
    one audio feature per MFCC window [4v, 4v + 20);
  - calc_pdist: zero-pad the audio features by vshift on both sides; for every video window the
    Euclidean distance (F.pairwise_distance, eps 1e-6) to the audio windows at offsets -vshift..+vshift;
  - mdist = mean over windows, per offset; min_dist = min(mdist); offset = vshift - argmin;
    confidence = median(mdist) - min(mdist)  (LSE-C = confidence, LSE-D = min_dist).
Absolute values depend on the expert (ours is trained here, not syncnet_v2.model); orderings compare.

Training (docs/design.md §6): multi-way matching on the training split's real clips: for each video window
the in-sync audio window must be nearer than the same clip's audio shifted by -15..+15 frames
(softmax over negative distances, as in Chung et al. 2019 "Perfect match"), on the project's one
resumable loop (train/resumable.py): a killed run resumes where it stopped, with the same draws.
"""
import hashlib
import json
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import audio as audio_features
from ..config import as_profile
from ..data.dataset import SAMPLES_PER_FRAME
from ..models.syncnet import N_FRAMES, N_STEPS, STEPS_PER_FRAME, SyncNet, SyncNetConfig, lower_face
from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable

VSHIFT = 15           # syncnet_python demo default: offsets -15..+15 frames


@dataclass
class SyncTrainConfig:
    data_id: str                 # which prepared dataset (a hash of its prepare.json)
    seed: int = 0
    steps: int = 1200
    clips_per_step: int = 16
    span: int = 16               # consecutive video windows per clip and step
    vshift: int = VSHIFT
    lr: float = 1e-3
    max_val_clips: int = 120
    ckpt_every: int = 200
    net: SyncNetConfig = field(default_factory=SyncNetConfig)


def sync_config(profile, data, seed: int = 0) -> SyncTrainConfig:
    """Sizes per profile.scale: smoke ~20 s, cpu ~3 min on one busy core (0.15 s/step)."""
    profile = as_profile(profile)
    data_id = hashlib.sha1(json.dumps(data.info, sort_keys=True, default=str).encode()).hexdigest()[:10]
    steps = {"smoke": 120, "cpu": 1200, "gpu": 4000, "paper": 8000}[profile.scale]
    net = SyncNetConfig(width=8 if profile.scale in ("smoke", "cpu") else 16)
    return SyncTrainConfig(data_id=data_id, seed=seed, steps=steps, net=net)


@dataclass
class SyncScore:
    offset: int            # frames; syncnet_python's sign convention (vshift - argmin)
    min_dist: float        # LSE-D
    confidence: float      # LSE-C = median - min of the mean distance per offset
    mean_dists: np.ndarray  # (2 vshift + 1,) mean distance per offset, offsets -vshift..+vshift


# ---------------------------------------------------------------- inputs

def sync_inputs(frames: np.ndarray, audio: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """frames uint8 (T, S, S, 3), audio float32 (>= T * 640,) -> lips (T', 32, 64), mfcc (13, 4 T').

    T' = min(T, len(audio) // 640): a generated video and its speech are cut to the shorter one.
    """
    t = min(len(frames), len(audio) // SAMPLES_PER_FRAME)
    lips = lower_face(torch.from_numpy(np.ascontiguousarray(frames[:t])))
    mfcc = audio_features.mfcc(audio[: t * SAMPLES_PER_FRAME]).T.contiguous()   # (13, 4 t)
    return lips, mfcc


def n_windows(t: int) -> int:
    return max(t - N_FRAMES, 0)          # syncnet_python: range(0, len(images) - 5)


# ---------------------------------------------------------------- syncnet_python's scoring

def calc_pdist(feat1: torch.Tensor, feat2: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """syncnet_python's calc_pdist, vectorised: (n, 2 vshift + 1) distances from video window i to
    audio window i + d, d = -vshift..vshift, with the audio features zero-padded at both ends."""
    win = 2 * vshift + 1
    feat2p = F.pad(feat2, (0, 0, vshift, vshift))
    idx = torch.arange(len(feat1))[:, None] + torch.arange(win)[None, :]
    return F.pairwise_distance(feat1[:, None, :].expand(-1, win, -1), feat2p[idx])


def score_from_features(vfeat: torch.Tensor, afeat: torch.Tensor, vshift: int = VSHIFT) -> SyncScore:
    dists = calc_pdist(vfeat.float().cpu(), afeat.float().cpu(), vshift)
    mdist = dists.mean(0)
    minval, minidx = torch.min(mdist, 0)
    conf = torch.median(mdist) - minval
    return SyncScore(offset=int(vshift - minidx), min_dist=float(minval), confidence=float(conf),
                     mean_dists=mdist.numpy())


class SyncExpert:
    """A trained SyncNet plus syncnet_python's scoring. score(frames, audio) -> SyncScore.

    history: one row per training step (step, loss, train_acc, step_seconds); summary: the final
    validation (val_offset0, val_offset_pm1, val_window_acc, val_confidence, val_clips)."""

    def __init__(self, model: SyncNet, device: str = "cpu", vshift: int = VSHIFT, history: list | None = None,
                 summary: dict | None = None):
        self.model = model.to(device).eval()
        self.device = device
        self.vshift = vshift
        self.history = list(history or [])
        self.summary = dict(summary or {})

    @property
    def train_seconds(self) -> float:
        """Time spent in training steps, summed over every (resumed) run."""
        return float(sum(r["step_seconds"] for r in self.history))

    @torch.no_grad()
    def features(self, lips: torch.Tensor, mfcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip -> video and audio features of its T - 5 windows (as syncnet_python)."""
        return self.video_features(lips), self.audio_features(mfcc, len(lips))

    @torch.no_grad()
    def video_features(self, lips: torch.Tensor) -> torch.Tensor:
        return self.model.forward_lip(lips[None].to(self.device))[0, :n_windows(len(lips))].cpu()

    @torch.no_grad()
    def audio_features(self, mfcc: torch.Tensor, t: int) -> torch.Tensor:
        return self.model.forward_aud(mfcc[None].to(self.device))[0, :n_windows(t)].cpu()

    def speech_features(self, audio: np.ndarray, t: int) -> torch.Tensor:
        """The audio stream's features of a clip's speech cut to t frames: the same for every video scored
        against that speech (score(..., speech=) takes them, so many methods share one computation)."""
        mfcc = audio_features.mfcc(audio[: t * SAMPLES_PER_FRAME]).T.contiguous()
        return self.audio_features(mfcc, t)

    def score(self, frames: np.ndarray, audio: np.ndarray, speech: dict | None = None) -> SyncScore:
        """speech: an optional dict t -> speech_features(audio, t), filled on first use (a cache for one clip)."""
        t = min(len(frames), len(audio) // SAMPLES_PER_FRAME)
        if n_windows(t) < 1:
            raise ValueError(f"a clip of {t} frames is too short to score (needs >= {N_FRAMES + 1})")
        lips = lower_face(torch.from_numpy(np.ascontiguousarray(frames[:t])))
        if speech is None:
            afeat = self.speech_features(audio, t)
        else:
            afeat = speech[t] if t in speech else speech.setdefault(t, self.speech_features(audio, t))
        return score_from_features(self.video_features(lips), afeat, self.vshift)


# ---------------------------------------------------------------- training

def _load_split(data, split: str, limit: int | None = None, min_windows: int = 2):
    ids = data.clips(split)["clip_id"].tolist()[:limit]
    lips, mfccs = [], []
    for cid in tqdm(ids, desc=f"sync inputs ({split})", leave=False):
        frames, wav = data.load(cid)
        l, m = sync_inputs(frames, wav)
        if n_windows(len(l)) < min_windows:
            continue
        lips.append((l * 255).round().to(torch.uint8))     # uint8 keeps ~1400 clips in ~200 MB
        mfccs.append(m)
    return lips, mfccs


def _matching_loss(model, lips, mfccs, picks, span, vshift):
    """Multi-way matching: each video window against the same clip's audio windows at offsets
    -vshift..vshift (softmax over negative distances; offsets outside the clip are masked).

    mfccs are zero-padded by 4 vshift steps on both sides, so one fixed-size audio crop per clip covers
    every candidate; padded windows are masked and never enter the loss."""
    n_cand = 2 * vshift + 1
    vids, auds, valid = [], [], []
    for ci, v0 in picks:
        n = n_windows(len(lips[ci]))
        vids.append(lips[ci][v0:v0 + span + N_FRAMES - 1])
        # padded window index j <-> original window j - vshift; we need j = v0 .. v0 + span + 2 vshift - 1
        s0 = STEPS_PER_FRAME * v0
        auds.append(mfccs[ci][:, s0:s0 + STEPS_PER_FRAME * (span + n_cand - 2) + N_STEPS])
        orig = v0 - vshift + torch.arange(span)[:, None] + torch.arange(n_cand)[None, :]
        valid.append((orig >= 0) & (orig < n))
    v = model.forward_lip(torch.stack(vids).float() / 255)                 # (B, span, D)
    a = model.forward_aud(torch.stack(auds))                               # (B, span + 2 vshift, D)
    a_cand = a.unfold(1, n_cand, 1).transpose(2, 3)                        # (B, span, n_cand, D)
    logits = -(v[:, :, None, :] - a_cand).pow(2).sum(-1).clamp_min(1e-12).sqrt()
    logits = logits.masked_fill(~torch.stack(valid).to(logits.device), float("-inf")).flatten(0, 1)
    target = torch.full((len(logits),), vshift, dtype=torch.long, device=logits.device)
    loss = F.cross_entropy(logits, target)
    acc = (logits.argmax(1) == target).float().mean().item()
    return loss, acc


def validate(expert: SyncExpert, lips, mfccs) -> dict:
    """Clip-level: syncnet_python offset == 0 (and within +-1 frame); window-level 31-way accuracy."""
    offsets, confs, win_hits, win_n = [], [], 0, 0
    for l, m in zip(lips, mfccs):
        v, a = expert.features(l.float() / 255, m)
        s = score_from_features(v, a, expert.vshift)
        d = calc_pdist(v, a, expert.vshift)
        win_hits += int((d.argmin(1) == expert.vshift).sum())
        win_n += len(d)
        offsets.append(s.offset)
        confs.append(s.confidence)
    offsets = np.array(offsets)
    return {"val_offset0": float(np.mean(offsets == 0)), "val_offset_pm1": float(np.mean(np.abs(offsets) <= 1)),
            "val_window_acc": win_hits / max(win_n, 1), "val_confidence": float(np.mean(confs)),
            "val_clips": len(offsets)}


def train_sync_expert(profile, data, device: str = "cpu", seed: int = 0, force_retrain: bool = False,
                      cfg: SyncTrainConfig | None = None, progress: bool = True) -> SyncExpert:
    """Train (or load the finished checkpoint of) the sync expert on data's training split.

    The clips are read only when a step has to run (a finished checkpoint needs none); the final
    validation on the val split is the run's summary, saved with the last checkpoint."""
    profile = as_profile(profile)
    cfg = cfg or sync_config(profile, data, seed)
    torch.manual_seed(cfg.seed)
    model = SyncNet(cfg.net).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    rng = np.random.default_rng(cfg.seed)
    train = {}

    def load_train(fresh: bool) -> None:
        lips, mfccs = _load_split(data, "train", min_windows=cfg.span)
        if not lips:
            raise ValueError(f"no training clip in {data.root} has >= {cfg.span + N_FRAMES} frames for the sync expert")
        if fresh:                       # a resumed run has these buffers from its checkpoint
            all_mfcc = torch.cat(mfccs, 1)
            model.mfcc_mean.copy_(all_mfcc.mean(1, keepdim=True))
            model.mfcc_std.copy_(all_mfcc.std(1, keepdim=True).clamp_min(1e-3))
        pad = STEPS_PER_FRAME * cfg.vshift
        train["lips"] = [x.to(device) for x in lips]
        train["mfccs"] = [F.pad(m, (pad, pad)).to(device) for m in mfccs]

    def step(i: int) -> dict:
        if not train:
            load_train(fresh=i == 0)
        t0 = time.perf_counter()
        lips, mfccs = train["lips"], train["mfccs"]
        model.train()
        clip_idx = rng.integers(0, len(lips), cfg.clips_per_step)
        picks = [(int(ci), int(rng.integers(0, n_windows(len(lips[ci])) - cfg.span + 1))) for ci in clip_idx]
        loss, acc = _matching_loss(model, lips, mfccs, picks, cfg.span, cfg.vshift)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return {"step": i, "loss": loss.item(), "train_acc": acc, "step_seconds": time.perf_counter() - t0}

    def on_finish() -> dict:
        return validate(SyncExpert(model, device, cfg.vshift), *_load_split(data, "val", cfg.max_val_clips))

    result = run_resumable(Checkpoint(checkpoint_dir(profile.name) / "syncnet", cfg), cfg.steps, step,
                           {"model": model, "opt": opt, "sched": sched}, {"batches": rng},
                           save_every=cfg.ckpt_every, force_retrain=force_retrain, progress=progress,
                           desc="sync expert", on_finish=on_finish,
                           postfix=lambda r: {"loss": f"{r['loss']:.3f}", "acc": f"{r['train_acc']:.2f}"})
    return SyncExpert(model, device, cfg.vshift, result.history, result.summary)
