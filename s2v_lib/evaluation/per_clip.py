"""Per-clip scores of every method: quality against the ground truth, lip sync, and what the teachers
read from the generated face (whose identity, which emotion). One row per (method, seed, clip)."""
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import metrics as M
from .context import EvalContext
from .table1 import METHODS


def evaluate_method(method: str, generate_fn, ctx: EvalContext, clip_ids, seed: int = 0,
                    progress: bool = True) -> pd.DataFrame:
    """One row per clip: quality vs ground truth (not for ground_truth itself), sync, identity, emotion."""
    man = ctx.data.manifest.set_index("clip_id")
    rows, picked = [], []
    for cid in tqdm(list(clip_ids), desc=f"eval {method}" + (f" seed {seed}" if method == "speech2video" else ""),
                    disable=not progress, leave=False):
        truth, wav = ctx.data.load(cid)
        gen = np.asarray(generate_fn(cid))
        if gen.dtype != np.uint8 or gen.ndim != 4 or gen.shape[1:] != truth.shape[1:]:
            raise ValueError(f"{method}: generated frames for {cid} are {gen.dtype} {gen.shape}; "
                             f"expected uint8 (T, {truth.shape[1]}, {truth.shape[2]}, 3)")
        row = {"method": method, "seed": seed, "clip_id": cid, "actor": man.at[cid, "actor"],
               "emotion": man.at[cid, "emotion"]}
        if method != "ground_truth":
            row.update(M.clip_quality(gen, truth))
        s = ctx.sync.score(gen, wav)
        row.update(confidence=s.confidence, lse_d=s.min_dist, offset=s.offset, offset0=float(s.offset == 0),
                   mean_dists=" ".join(f"{d:.4f}" for d in s.mean_dists))
        rows.append(row)
        picked.append(gen[M.frame_positions(len(gen))])
    df = pd.DataFrame(rows)
    if rows:
        emb = M.clip_embeddings(ctx.identity_teacher, picked)
        rank = ctx.gallery.ranks(emb, df["actor"].to_numpy())          # 1-based: rank 1 = the true actor is nearest
        df["identity_pred"] = ctx.gallery.nearest(emb)
        df["identity_top1"] = (rank == 1).astype(float)
        df["identity_top5"] = (rank <= 5).astype(float)
        logits = M.clip_emotion_logits(ctx.emotion_teacher, picked)
        df["emotion_pred"] = M.emotion_predictions(ctx.emotion_teacher, logits)
        df["emotion_acc"] = (df["emotion_pred"] == df["emotion"]).astype(float)
    return df


def score_methods(generators: dict, ctx: EvalContext, clip_ids, progress: bool = True) -> pd.DataFrame:
    """generators: method -> generate_fn, or method -> {seed: generate_fn} for multi-seed methods."""
    parts = []
    for method, fn in generators.items():
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; Table 1 has {METHODS}")
        for seed, f in (fn.items() if isinstance(fn, dict) else [(0, fn)]):
            parts.append(evaluate_method(method, f, ctx, clip_ids, seed, progress))
    return pd.concat(parts, ignore_index=True)


def mean_dist_curves(per_clip: pd.DataFrame) -> pd.DataFrame:
    """Long table (method, offset, mean_dist): syncnet's distance-per-offset curve, averaged over clips."""
    out = []
    for method, sub in per_clip.groupby("method", sort=False):
        d = np.stack([np.array(s.split(), float) for s in sub["mean_dists"]]).mean(0)
        v = (len(d) - 1) // 2
        # column k of mean_dists is audio shifted by k - vshift; syncnet_python reports offset = vshift - k
        out.append(pd.DataFrame({"method": method, "offset": v - np.arange(len(d)), "mean_dist": d}))
    return pd.concat(out, ignore_index=True)
