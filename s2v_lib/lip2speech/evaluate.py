"""Scoring Lip2Speech: every condition's generated speech of test clips (seen actors) and unseen
actors, against the real audio and the real voice.

Per clip and method ("real", "real mel + Griffin-Lim" = the vocoder's ceiling, and each condition):
STOI, ESTOI, PESQ-WB against the real audio; GE2E cosine to the real clip; word errors of the
closed-vocabulary recogniser; sex and age group read from the GE2E embedding by probes trained on
real training voices. Per split and method: speaker-verification EER (generated clips scored
against every actor's enrolment = mean GE2E of that actor's real clips in the split).
Intervals: 95% bootstrap resampling ACTORS (clips of one actor are not independent), also for the
paired differences between methods (per-clip differences on the same clips, actors resampled).
"""
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..stats import cluster_bootstrap_ci
from . import metrics as SM
from .config import CONDITIONS
from .recogniser import transcript, word_errors
from .train import predict_mel

SPLITS = ("test", "unseen")


def pick_clips(data, split: str, n: int | None, seed: int = 0) -> list[str]:
    """n clips of a split spread over its actors (round robin over actors, shuffled by seed)."""
    clips = data.clips(split)
    rng = np.random.default_rng(seed)
    per_actor = {a: list(rng.permutation(g["clip_id"].to_numpy())) for a, g in clips.groupby("actor")}
    out = []
    while per_actor and (n is None or len(out) < n):
        for a in sorted(per_actor):
            if per_actor[a]:
                out.append(str(per_actor[a].pop()))
            if n is not None and len(out) >= n:
                break
        per_actor = {a: v for a, v in per_actor.items() if v}
    return out


def fit_voice_probes(train_emb: dict, manifest, seed: int = 0) -> dict:
    """Logistic regressions reading sex and age group from GE2E embeddings of real training voices."""
    from sklearn.linear_model import LogisticRegression
    m = manifest.set_index("clip_id")
    ids = sorted(train_emb)
    X = np.stack([train_emb[c] for c in ids])
    return {t: LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed)
            .fit(X, m.loc[ids, t].astype(str).to_numpy()) for t in ("sex", "age_group")}


def actor_bootstrap(values, actors, n: int = 1000, seed: int = 0) -> dict:
    """stats.cluster_bootstrap_ci (resampling actors; NaN clips left out) as {mean, lo, hi, n}."""
    v = np.asarray(values, float)
    m, lo, hi = cluster_bootstrap_ci(v, actors, n, seed)
    return {"mean": m, "lo": lo, "hi": hi, "n": int((~np.isnan(v)).sum())}


VOICE_METRICS = ("ge2e_cos", "sex_agree", "age_group_agree")
PAIRS = {("face", "lips"): VOICE_METRICS, ("voice", "face"): VOICE_METRICS, ("voice", "lips"): VOICE_METRICS,
         ("face", "face_ar"): ("stoi", "estoi", "ge2e_cos")}      # (a, b): a - b; the last: parallel - AR decoder


def paired_actor_bootstrap(rows: pd.DataFrame, a: str, b: str, metric: str) -> dict | None:
    """Mean over clips of metric(a) - metric(b) on the clips both methods scored, 95% interval
    resampling actors: {mean, lo, hi, n}. None when a method is missing."""
    piv = rows.pivot(index="clip_id", columns="method", values=metric)
    if a not in piv or b not in piv:
        return None
    d = (piv[a] - piv[b]).dropna()
    actor = rows.drop_duplicates("clip_id").set_index("clip_id")["actor"]
    return actor_bootstrap(d.to_numpy(), actor.loc[d.index].to_numpy())


def generate_speech(trained: dict, arrays, clip_ids, speakers: dict, stats, vocoder, device="cpu",
                    progress=True) -> dict:
    """{method: {clip: (log-mel, wav)}} for the conditions, plus Griffin-Lim of the real mel."""
    out = {"real mel + Griffin-Lim": {c: (arrays.logmel[c], vocoder(arrays.logmel[c])) for c in clip_ids}}
    for cond, tr in trained.items():
        res = {}
        for c in tqdm(clip_ids, desc=f"generate {cond}", disable=not progress, leave=False):
            mel = predict_mel(tr.model, arrays, c, speakers.get(cond), stats, device)
            res[c] = (mel, vocoder(mel))
        out[cond] = res
    return out


def score_split(split: str, arrays, clip_ids, speech: dict, ge2e, real_emb: dict, probes, recogniser, manifest,
                progress=True) -> tuple[pd.DataFrame, dict]:
    """Per-clip rows for one split, and the GE2E embeddings of every method's speech (for the EER)."""
    m = manifest.set_index("clip_id")
    rows, embs = [], {}
    methods = {"real": {c: (arrays.logmel[c], arrays.wav[c]) for c in clip_ids}, **speech}
    for method, clips in methods.items():
        e = {c: ge2e.embed_many([w])[0] for c, (_, w) in tqdm(clips.items(), desc=f"score {split} {method}",
                                                                disable=not progress, leave=False)}
        embs[method] = e
        X = np.stack([e[c] for c in clip_ids])
        pred = {t: probes[t].predict(X) for t in probes}
        for k, c in enumerate(clip_ids):
            ref, wav = arrays.wav[c], clips[c][1]
            truth = transcript(m.loc[c, "sentence"])
            hyp = recogniser.transcribe(wav)
            real = method == "real"
            rows.append({"split": split, "method": method, "clip_id": c, "actor": int(m.loc[c, "actor"]),
                         "sex": str(m.loc[c, "sex"]), "age_group": str(m.loc[c, "age_group"]),
                         "stoi": np.nan if real else SM.stoi(ref, wav),
                         "estoi": np.nan if real else SM.stoi(ref, wav, extended=True),
                         "pesq": np.nan if real else SM.pesq_wb(ref, wav),
                         "ge2e_cos": np.nan if real else SM.cosine(e[c], real_emb[c]),
                         "word_errors": word_errors(truth, hyp), "n_words": len(truth), "hypothesis": " ".join(hyp),
                         "pred_sex": pred["sex"][k], "pred_age_group": pred["age_group"][k]})
    df = pd.DataFrame(rows)
    df["wer"] = df["word_errors"] / df["n_words"]
    df["sex_agree"] = (df["pred_sex"] == df["sex"]).astype(float)
    df["age_group_agree"] = (df["pred_age_group"] == df["age_group"]).astype(float)
    return df, embs


def enrolment(real_emb_all: dict, manifest) -> dict:
    actor = manifest.set_index("clip_id")["actor"]
    by = {}
    for c, e in real_emb_all.items():
        by.setdefault(int(actor[c]), []).append(e)
    return {a: (np.mean(v, 0) / np.linalg.norm(np.mean(v, 0))) for a, v in by.items()}


def summarise(per_clip: pd.DataFrame, embs: dict, real_emb_all: dict, manifest) -> dict:
    """{split: {method: {metric: {mean, lo, hi, n}}}} + EER per split and method + chance levels +
    paired differences (PAIRS: face - lips, voice - face, voice - lips, parallel - AR decoder)."""
    out = {}
    actor_of = manifest.set_index("clip_id")["actor"].astype(int).to_dict()
    for split, df in per_clip.groupby("split", sort=False):
        enrol = enrolment(real_emb_all[split], manifest)
        s = {}
        for method, g in df.groupby("method", sort=False):
            s[method] = {k: actor_bootstrap(g[k], g["actor"]) for k in
                         ("stoi", "estoi", "pesq", "ge2e_cos", "wer", "sex_agree", "age_group_agree")
                         if g[k].notna().any()}       # the real speech has no STOI/PESQ/GE2E against itself
            s[method]["wer_pooled"] = float(g["word_errors"].sum() / g["n_words"].sum())
            sc, lab = SM.verification_trials(embs[split][method], actor_of, enrol)
            s[method]["eer"] = SM.eer(sc, lab)
        g = df[df["method"] == "real"]
        s["chance"] = {"eer": 0.5, "n_actors": int(len(enrol)),
                       "sex_majority": float(g["sex"].value_counts(normalize=True).max()),
                       "age_group_majority": float(g["age_group"].value_counts(normalize=True).max()),
                       "ge2e_cos_other_actor": _other_actor_cos(embs[split]["real"], actor_of, enrol)}
        pairs = {}
        for (a, b), metrics in PAIRS.items():
            for k in metrics:
                d = paired_actor_bootstrap(df, a, b, k)
                if d is not None:
                    pairs[f"{k}_{a}_minus_{b}"] = d
        s["paired"] = pairs
        out[split] = s
    return out


def _other_actor_cos(real: dict, actor_of: dict, enrol: dict) -> float:
    """Mean GE2E cosine of a real clip to OTHER actors' enrolments: what 'the wrong voice' scores."""
    vals = [float(np.asarray(e) @ enrol[a]) for c, e in real.items() for a in enrol if a != actor_of[c]]
    return float(np.mean(vals)) if vals else float("nan")


__all__ = ["CONDITIONS", "SPLITS", "pick_clips", "fit_voice_probes", "generate_speech", "score_split", "summarise",
           "actor_bootstrap", "paired_actor_bootstrap", "enrolment"]
