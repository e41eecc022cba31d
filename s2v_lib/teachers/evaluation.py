"""The teachers on the prepared dataset (notebook 02): actor retrieval, clip emotion, the family choice."""
import numpy as np
import pandas as pd
import torch

from ..atomic import write_json
from ..config import as_profile
from ..device import module_device
from ..errors import UserError
from ..frames import random_frames
from ..paths import results_dir
from ..stats import bootstrap_ci
from .loading import EMOTION_FAMILIES, IDENTITY_FAMILIES
from .training import batched_apply


def _clip_frames(data, clips: pd.DataFrame, k: int, seed: int):
    """For each clip, k sampled frames: (frames uint8 (M, S, S, 3), clip index per frame)."""
    rng = np.random.default_rng(seed)
    frames, owner = [], []
    for i, clip_id in enumerate(clips["clip_id"]):
        video, _ = data.load(clip_id)
        pos = random_frames(len(video), k, rng)
        frames.append(video[pos])
        owner.extend([i] * len(pos))
    return torch.from_numpy(np.concatenate(frames)), np.array(owner)


def evaluate_identity(teacher, data, split_gallery: str = "train", split_query: str = "test",
                      frames_per_clip: int = 2, seed: int = 0, progress: bool = False) -> dict:
    """Actor retrieval: each query frame (split_query) takes the actor of its nearest gallery frame
    (split_gallery, cosine similarity of teacher.embed); top-5 ranks actors by their best match."""
    gal_clips, qry_clips = data.clips(split_gallery), data.clips(split_query)
    if gal_clips.empty or qry_clips.empty:
        raise UserError(f"{data.root}: split {split_gallery!r} or {split_query!r} has no clips")
    device = module_device(teacher)
    g_frames, g_owner = _clip_frames(data, gal_clips, frames_per_clip, seed)
    q_frames, q_owner = _clip_frames(data, qry_clips, frames_per_clip, seed + 1)
    g_emb, q_emb = batched_apply(teacher.embed, g_frames, device), batched_apply(teacher.embed, q_frames, device)
    g_actor = gal_clips["actor"].to_numpy()[g_owner]
    q_actor = qry_clips["actor"].to_numpy()[q_owner]
    actors = np.unique(g_actor)
    sim = (q_emb @ g_emb.t()).numpy()
    per_actor = np.stack([sim[:, g_actor == a].max(1) for a in actors], 1)   # best match per actor
    column = {a: j for j, a in enumerate(actors)}
    known = np.array([a in column for a in q_actor])   # a query actor absent from the gallery counts as a miss
    true_score = per_actor[np.arange(len(q_actor)), [column.get(a, 0) for a in q_actor]]
    rank = (per_actor > true_score[:, None]).sum(1)
    top1 = ((rank == 0) & known).astype(np.float64)
    top5 = ((rank < 5) & known).astype(np.float64)
    m1, lo1, hi1 = bootstrap_ci(top1, seed=seed)
    m5, lo5, hi5 = bootstrap_ci(top5, seed=seed)
    return {"teacher": teacher.name, "top1": m1, "top1_ci": [lo1, hi1], "top5": m5, "top5_ci": [lo5, hi5],
            "n_queries": int(len(top1)), "n_gallery": int(len(g_actor)), "n_actors": int(len(actors)),
            "chance_top1": 1.0 / len(actors), "frames_per_clip": frames_per_clip}


def evaluate_emotion(teacher, data, split: str = "test", k: int = 5, seed: int = 0) -> dict:
    """Clip emotion: logits averaged over k sampled frames (the paper's K; ours K = 5), argmax over
    the teacher's classes. Returns accuracy with a bootstrap interval over clips and the confusion
    matrix (rows: true emotion, columns: the teacher's classes, counts)."""
    clips = data.clips(split)
    if clips.empty:
        raise UserError(f"{data.root}: split {split!r} has no clips")
    frames, owner = _clip_frames(data, clips, k, seed)
    logits = batched_apply(teacher.logits, frames, module_device(teacher)).numpy()
    mean_logits = np.stack([logits[owner == i].mean(0) for i in range(len(clips))])
    pred = np.array(teacher.classes)[mean_logits.argmax(1)]
    truth = clips["emotion"].to_numpy()
    correct = (pred == truth).astype(np.float64)
    m, lo, hi = bootstrap_ci(correct, seed=seed)
    true_classes = sorted(set(truth))
    confusion = pd.crosstab(pd.Categorical(truth, categories=true_classes),
                            pd.Categorical(pred, categories=teacher.classes), dropna=False)
    confusion.index.name, confusion.columns.name = "true", "predicted"
    per_class = {e: float(correct[truth == e].mean()) for e in true_classes}
    return {"teacher": teacher.name, "accuracy": m, "accuracy_ci": [lo, hi], "n_clips": int(len(clips)),
            "chance": 1.0 / len(true_classes), "k": k, "per_class": per_class, "confusion": confusion,
            "predictions": pred}


def choose_families(identity_results: dict, emotion_results: dict) -> dict:
    """Per task, the family with the better held-out score (ties go to the in-project teacher)."""
    best_id = max(IDENTITY_FAMILIES, key=lambda f: (identity_results[f]["top1"], f == "trained"))
    best_emo = max(EMOTION_FAMILIES, key=lambda f: (emotion_results[f]["accuracy"], f == "trained"))
    why = (f"identity: {best_id} (1-NN actor accuracy " + ", ".join(
        f"{f} {identity_results[f]['top1']:.3f}" for f in IDENTITY_FAMILIES) + "); "
        f"emotion: {best_emo} (clip accuracy " + ", ".join(
        f"{f} {emotion_results[f]['accuracy']:.3f}" for f in EMOTION_FAMILIES) + ")")
    return {"identity": best_id, "emotion": best_emo, "why": why}


def write_teachers_json(profile, choice: dict, identity_results: dict, emotion_results: dict,
                        seed: int = 0, extra: dict | None = None) -> dict:
    """results/<profile>/teachers.json: the chosen families, why, and every measured number."""
    profile = as_profile(profile)
    drop = ("confusion", "predictions")
    doc = {**choice, "seed": seed, "profile": profile.name,
           "identity_metrics": {f: r for f, r in identity_results.items()},
           "emotion_metrics": {f: {k: v for k, v in r.items() if k not in drop} for f, r in emotion_results.items()},
           "emotion_confusion": {f: r["confusion"].to_dict(orient="index") for f, r in emotion_results.items()},
           **(extra or {})}
    write_json(results_dir(profile.name) / "teachers.json", doc)
    return doc
