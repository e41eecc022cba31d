"""Notebook 06: do faces generated from unseen voices keep the voice owner's sex and age group?

Probes (logistic regressions on identity-teacher embeddings of seen actors' real faces) read sex and
age group from a face; a generated face agrees when the probe reads the voice owner's attribute.
Intervals resample whole unseen actors (their clips are not independent); chance is what
predictions independent of the truth would reach.
"""
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import metrics as M
from ..atomic import write_csv, write_json
from ..paths import results_dir
from ..stats import cluster_bootstrap_ci  # noqa: F401  (re-exported: tests and notebooks use U.cluster_bootstrap_ci)
from .context import EvalContext


def method_key(method: str) -> str:
    return {"speech2video": "speech2video", "S2F+SDFA": "s2f_sdfa", "real": "real"}.get(method, method.lower())


def fit_demographic_probes(identity_teacher, data, split: str = "train", seed: int = 0, progress: bool = False) -> dict:
    """Logistic regressions on identity-teacher clip embeddings of seen actors' real frames:
    {"sex": model, "age_group": model} (class-balanced; sklearn)."""
    from sklearn.linear_model import LogisticRegression
    clips = data.clips(split)
    frames = [data.load(c)[0] for c in tqdm(clips["clip_id"], desc="probe features", disable=not progress, leave=False)]
    emb = M.clip_embeddings(identity_teacher, frames)
    probes = {}
    for target in ("sex", "age_group"):
        y = clips[target].astype(str).to_numpy()
        probes[target] = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced",
                                            random_state=seed).fit(emb, y)
    return probes


def independence_chance(truth, pred) -> float:
    """Agreement expected if predictions were independent of the truth: sum_g P(truth=g) P(pred=g)."""
    t, p = pd.Series(truth).value_counts(normalize=True), pd.Series(pred).value_counts(normalize=True)
    return float(sum(t.get(g, 0) * p.get(g, 0) for g in t.index))


def _pair_distance_sums(emb: np.ndarray, actors: np.ndarray, uniq: np.ndarray) -> np.ndarray:
    """(A, A): sum over clip pairs (one of actor a, one of actor b) of 1 - cosine; the diagonal is zeroed
    (a distance between different actors only)."""
    dist = 1.0 - emb @ emb.T
    owner = np.stack([actors == a for a in uniq]).astype(float)             # (A, n_clips)
    sums = owner @ dist @ owner.T
    np.fill_diagonal(sums, 0.0)
    return sums


def generated_spread_ratio(gen_emb: np.ndarray, real_emb: np.ndarray, actors, n: int = 1000,
                           seed: int = 0) -> tuple[float, float, float]:
    """How far apart different unseen actors' generated faces are, relative to their real faces: the mean
    over clip pairs of DIFFERENT actors of the identity-teacher distance (1 - cosine of the L2-normalised
    clip embeddings, metrics.clip_embeddings) between generated faces, over the same mean between their
    real faces (the same pairs). 1 = as spread as the real faces; near 0 = one face for everyone.
    95% interval: resample whole actors (a pair drawn twice counts twice; an actor paired with a copy of
    itself is not a pair of different actors and is left out). Returns (ratio, lo, hi)."""
    actors = np.asarray(actors)
    uniq = np.unique(actors)
    if len(uniq) < 2:
        return np.nan, np.nan, np.nan
    g, r = _pair_distance_sums(gen_emb, actors, uniq), _pair_distance_sums(real_emb, actors, uniq)
    ratio = float(g.sum() / r.sum())
    counts = np.stack([np.bincount(i, minlength=len(uniq)) for i in
                       np.random.default_rng(seed).integers(0, len(uniq), size=(n, len(uniq)))]).astype(float)
    num, den = np.einsum("ba,ac,bc->b", counts, g, counts), np.einsum("ba,ac,bc->b", counts, r, counts)
    boots = num[den > 0] / den[den > 0]                     # a resample of one actor only has no pair
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return ratio, float(lo), float(hi)


def unseen_voice_study(ctx: EvalContext, generators: dict, probes: dict, clip_ids=None,
                       progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """For unseen actors' clips: does the generated face keep the voice owner's sex and age group?

    generators: method -> generate_fn (e.g. speech2video, S2F+SDFA); the real frames are added as
    method "real" (what the probes reach on real faces of people they never saw).
    Returns (per-clip rows, summary {metric: {mean, lo, hi}} for unseen_voice.json), with
    generated_spread_ratio_<method> (1 for the real faces by construction)."""
    data = ctx.data
    man = data.manifest.set_index("clip_id")
    clip_ids = list(data.clips("unseen")["clip_id"]) if clip_ids is None else list(clip_ids)
    seen = data.manifest.groupby("actor")[["sex", "age_group"]].first()
    rows, embs = [], {}
    for method, fn in {"real": lambda c: data.load(c)[0], **generators}.items():
        picked = [_pick(np.asarray(fn(c))) for c in tqdm(clip_ids, desc=f"unseen {method}", disable=not progress,
                                                          leave=False)]
        if not picked:
            continue
        emb = embs[method] = M.clip_embeddings(ctx.identity_teacher, picked)
        nn_actor = ctx.gallery.nearest(emb)
        df = pd.DataFrame({"method": method, "clip_id": clip_ids, "actor": man.loc[clip_ids, "actor"].to_numpy(),
                           "sex": man.loc[clip_ids, "sex"].astype(str).to_numpy(),
                           "age_group": man.loc[clip_ids, "age_group"].astype(str).to_numpy(),
                           "pred_sex": probes["sex"].predict(emb), "pred_age_group": probes["age_group"].predict(emb),
                           "nn_actor": nn_actor})
        df["nn_sex"] = seen.loc[nn_actor, "sex"].astype(str).to_numpy()
        df["nn_age_group"] = seen.loc[nn_actor, "age_group"].astype(str).to_numpy()
        df["sex_agree"] = (df["pred_sex"] == df["sex"]).astype(float)
        df["age_group_agree"] = (df["pred_age_group"] == df["age_group"]).astype(float)
        df["nn_sex_agree"] = (df["nn_sex"] == df["sex"]).astype(float)
        df["nn_age_group_agree"] = (df["nn_age_group"] == df["age_group"]).astype(float)
        rows.append(df)
    per_clip = pd.concat(rows, ignore_index=True)
    summary = {}
    for method, df in per_clip.groupby("method", sort=False):
        k = method_key(method)
        for col, name in (("sex_agree", "sex_agreement"), ("age_group_agree", "age_group_agreement"),
                          ("nn_sex_agree", "nn_sex_agreement"), ("nn_age_group_agree", "nn_age_group_agreement")):
            m, lo, hi = cluster_bootstrap_ci(df[col], df["actor"])
            summary[f"{name}_{k}"] = {"mean": m, "lo": lo, "hi": hi}
        for t in ("sex", "age_group"):
            c = independence_chance(df[t], df[f"pred_{t}"])
            summary[f"{t}_chance_{k}"] = {"mean": c, "lo": c, "hi": c}
        m, lo, hi = generated_spread_ratio(embs[method], embs["real"], df["actor"].to_numpy())
        summary[f"generated_spread_ratio_{k}"] = {"mean": m, "lo": lo, "hi": hi}
    n = float(len(clip_ids))
    summary["n_clips"] = {"mean": n, "lo": n, "hi": n}
    a = float(per_clip["actor"].nunique())
    summary["n_actors"] = {"mean": a, "lo": a, "hi": a}
    return per_clip, summary


def _pick(frames: np.ndarray) -> np.ndarray:
    return frames[M.frame_positions(len(frames))]


def write_unseen(profile_name: str, per_clip: pd.DataFrame, summary: dict) -> None:
    out = results_dir(profile_name)
    write_json(out / "unseen_voice.json", summary)
    write_csv(out / "unseen_voice_per_clip.csv", per_clip)


def nearest_seen_table(unseen_per_clip: pd.DataFrame, method: str = "speech2video") -> pd.DataFrame:
    """Per unseen actor: the seen actor its generated faces most often resemble, and whether sex / age group match."""
    d = unseen_per_clip[unseen_per_clip["method"] == method]
    g = d.groupby("actor").agg(sex=("sex", "first"), age_group=("age_group", "first"),
                               nearest_seen=("nn_actor", lambda x: x.mode().iloc[0]),
                               share=("nn_actor", lambda x: (x == x.mode().iloc[0]).mean()),
                               nn_sex_agreement=("nn_sex_agree", "mean"),
                               nn_age_group_agreement=("nn_age_group_agree", "mean"),
                               probe_sex_agreement=("sex_agree", "mean"),
                               probe_age_group_agreement=("age_group_agree", "mean"), n_clips=("clip_id", "size"))
    return g.reset_index()
