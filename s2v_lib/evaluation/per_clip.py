"""Per-clip scores of every method: quality against the ground truth, lip sync, and what the teachers
read from the generated face (whose identity, which emotion). One row per (method, seed, clip).

Scoring runs clip by clip, every method of a clip in turn: what depends only on the clip's truth (its
frames, its high-frequency energy, the sync expert's audio features) is computed once per clip instead
of once per method, and SSIM is one compiled pass per clip (metrics.ssim_frames). Every number is the
one the per-method scikit-image code gave, to float rounding (tests/test_metrics.py compares them).
On a CUDA device SSIM and PSNR run there (evaluation/device_quality.py, float64)."""
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import metrics as M
from ..device import module_device
from .context import EvalContext
from .sharpness import GRID_PERIOD, clip_cpbd, grid_spectrum_share, hf_energy
from .table1 import METHODS


@dataclass
class ClipTruth:
    """What every method's score of one clip shares: its ground truth and what is computed from it alone."""
    clip_id: str
    frames: np.ndarray                # uint8 (T, S, S, 3)
    wav: np.ndarray
    hf: dict = None                   # t -> hf_energy(frames[:t])
    grid: dict = None                 # t -> grid_spectrum_share(frames[:t])
    speech: dict = None               # t -> the sync expert's audio features (SyncExpert.speech_features)

    def __post_init__(self):
        self.hf, self.grid, self.speech = {}, {}, {}

    def hf_energy(self, t: int) -> float:
        if t not in self.hf:
            self.hf[t] = hf_energy(self.frames[:t])
        return self.hf[t]

    def grid_share(self, t: int) -> float:
        if t not in self.grid:
            self.grid[t] = grid_spectrum_share(self.frames[:t], GRID_PERIOD)
        return self.grid[t]


def clip_quality(gen: np.ndarray, truth: ClipTruth, device: str = "cpu") -> dict:
    """metrics.clip_quality(gen, truth.frames): SSIM, and both PSNRs from one MSE per frame; on a CUDA
    device SSIM and the per-frame PSNR are computed there (on the CPU the compiled SSIM is faster)."""
    if str(device).startswith("cuda"):
        return device_clip_quality(gen, truth.frames, device)
    mse = M.mse_frames(gen, truth.frames)
    return {"ssim": float(M.ssim_frames(gen, truth.frames).mean()),
            "psnr_frame": float((10 * np.log10(255.0 ** 2 / np.maximum(mse, M.MSE_FLOOR))).mean()),
            "psnr_video": float(-10 * np.log10(max(mse.mean(), M.MSE_FLOOR) / 255.0 ** 2))}


def device_clip_quality(gen: np.ndarray, ref: np.ndarray, device) -> dict:
    """clip_quality with SSIM and per-frame PSNR in float64 torch on `device` (evaluation/device_quality.py)."""
    from .device_quality import psnr_frames_device, ssim_frames_device
    gen, ref = M._check_pair(gen, ref)
    return {"ssim": float(ssim_frames_device(gen, ref, device).mean()),
            "psnr_frame": float(psnr_frames_device(gen, ref, device, M.MSE_FLOOR).mean()),
            "psnr_video": M.psnr_video(gen, ref)}


def score_clip(method: str, seed: int, gen: np.ndarray, truth: ClipTruth, ctx: EvalContext, man, device) -> dict:
    """One row: quality vs ground truth (not for ground_truth itself), sharpness and texture (cpbd,
    hf_ratio, grid_ratio; also for ground_truth, whose ratios are 1 by construction), sync."""
    cid = truth.clip_id
    if gen.dtype != np.uint8 or gen.ndim != 4 or gen.shape[1:] != truth.frames.shape[1:]:
        raise ValueError(f"{method}: generated frames for {cid} are {gen.dtype} {gen.shape}; "
                         f"expected uint8 (T, {truth.frames.shape[1]}, {truth.frames.shape[2]}, 3)")
    row = {"method": method, "seed": seed, "clip_id": cid, "actor": man.at[cid, "actor"],
           "emotion": man.at[cid, "emotion"]}
    if method != "ground_truth":
        row.update(clip_quality(gen, truth, device))
    t = min(len(gen), len(truth.frames))
    row.update(cpbd=clip_cpbd(gen), hf_ratio=hf_energy(gen[:t]) / max(truth.hf_energy(t), 1e-12),
               grid_ratio=grid_spectrum_share(gen[:t], GRID_PERIOD) / max(truth.grid_share(t), 1e-12))
    s = ctx.sync.score(gen, truth.wav, speech=truth.speech)
    row.update(confidence=s.confidence, lse_d=s.min_dist, offset=s.offset, offset0=float(s.offset == 0),
               mean_dists=" ".join(f"{d:.4f}" for d in s.mean_dists))
    return row


def teacher_columns(df: pd.DataFrame, picked: list, ctx: EvalContext) -> pd.DataFrame:
    """identity_pred / top1 / top5 and emotion_pred / acc from K frames per clip, one batch per method."""
    if not len(df):
        return df
    emb = M.clip_embeddings(ctx.identity_teacher, picked)
    rank = ctx.gallery.ranks(emb, df["actor"].to_numpy())          # 1-based: rank 1 = the true actor is nearest
    df["identity_pred"] = ctx.gallery.nearest(emb)
    df["identity_top1"] = (rank == 1).astype(float)
    df["identity_top5"] = (rank <= 5).astype(float)
    logits = M.clip_emotion_logits(ctx.emotion_teacher, picked)
    df["emotion_pred"] = M.emotion_predictions(ctx.emotion_teacher, logits)
    df["emotion_acc"] = (df["emotion_pred"] == df["emotion"]).astype(float)
    return df


def _score(jobs: list, ctx: EvalContext, clip_ids, progress: bool) -> list[pd.DataFrame]:
    """jobs: [(method, seed, generate_fn)] -> one DataFrame per job (rows in clip order)."""
    man = ctx.data.manifest.set_index("clip_id")
    device = ctx.sync.device if ctx.sync is not None else module_device(ctx.identity_teacher)
    rows, picked = [[] for _ in jobs], [[] for _ in jobs]
    label = jobs[0][0] if len(jobs) == 1 else f"{len(jobs)} method runs"
    for cid in tqdm(list(clip_ids), desc=f"eval {label}", disable=not progress, leave=False, unit="clip"):
        frames, wav = ctx.data.load(cid)
        truth = ClipTruth(cid, frames, wav)
        for j, (method, seed, fn) in enumerate(jobs):
            gen = np.asarray(fn(cid))
            rows[j].append(score_clip(method, seed, gen, truth, ctx, man, device))
            picked[j].append(gen[M.frame_positions(len(gen))])
    return [teacher_columns(pd.DataFrame(r), p, ctx) for r, p in zip(rows, picked)]


def evaluate_method(method: str, generate_fn, ctx: EvalContext, clip_ids, seed: int = 0,
                    progress: bool = True) -> pd.DataFrame:
    """One row per clip (score_clip's columns and the teachers')."""
    return _score([(method, seed, generate_fn)], ctx, clip_ids, progress)[0]


def score_methods(generators: dict, ctx: EvalContext, clip_ids, progress: bool = True) -> pd.DataFrame:
    """generators: method -> generate_fn, or method -> {seed: generate_fn} for multi-seed methods.
    Rows: method by method (in the dict's order, seeds in theirs), clips in clip_ids' order."""
    jobs = []
    for method, fn in generators.items():
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; Table 1 has {METHODS}")
        jobs += [(method, seed, f) for seed, f in (fn.items() if isinstance(fn, dict) else [(0, fn)])]
    return pd.concat(_score(jobs, ctx, clip_ids, progress), ignore_index=True)


def mean_dist_curves(per_clip: pd.DataFrame) -> pd.DataFrame:
    """Long table (method, offset, mean_dist): syncnet's distance-per-offset curve, averaged over clips."""
    out = []
    for method, sub in per_clip.groupby("method", sort=False):
        d = np.stack([np.array(s.split(), float) for s in sub["mean_dists"]]).mean(0)
        v = (len(d) - 1) // 2
        # column k of mean_dists is audio shifted by k - vshift; syncnet_python reports offset = vshift - k
        out.append(pd.DataFrame({"method": method, "offset": v - np.arange(len(d)), "mean_dist": d}))
    return pd.concat(out, ignore_index=True)
