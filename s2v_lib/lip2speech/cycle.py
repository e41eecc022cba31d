"""The voice -> face -> voice cycle (no paper has it): Lip2Speech's generated speech of test and
unseen actors is fed to the trained speech2video, and the faces it recollects are scored like
notebook 06 scores them: identity top-1 among the seen actors (identity-teacher centroids of their
training clips; for seen test actors only), and sex / age-group agreement of probes on the identity
teacher's features with the real actor. The same scores from the real speech are the reference.
"""
import numpy as np
import pandas as pd
from tqdm.auto import tqdm


def speech2video_backend(profile, data, device="cpu"):
    """The ONE place that reaches into the speech2video stage: returns (wav -> frames, identity teacher,
    seen-actor gallery, demographic probes). The speech2video API is being moved into stage folders;
    re-point these imports here and nowhere else."""
    from .. import metrics as M
    from ..artifacts import stage_one, teachers
    from ..composer.training import load_model
    from ..evaluation.unseen import fit_demographic_probes
    from ..generate import generate, speech_encoder
    teacher, _ = teachers(profile, device)
    stage = stage_one(profile, data, device)
    model = load_model("speech2video", profile, data, stage["clips"], teacher, device=device, seed=0)
    enc = speech_encoder(profile, data, device, stage=stage)
    gallery = M.actor_gallery(teacher, data, "train")
    probes = fit_demographic_probes(teacher, data)

    def faces_of(wav):
        return generate(model, wav, encoder=enc)

    def embed(frame_lists):
        return M.clip_embeddings(teacher, frame_lists)
    return faces_of, embed, gallery, probes


def run_cycle(backend, speech: dict, real_wavs: dict, manifest, progress=True) -> pd.DataFrame:
    """speech: {method: {clip: wav}} (conditions' generated speech); real speech added as "real".
    Rows per (split-agnostic) clip and method: nn_actor, top1 (seen actors only), sex/age agreement."""
    faces_of, embed, gallery, probes = backend
    m = manifest.set_index("clip_id")
    rows = []
    for method, clips in {"real": real_wavs, **speech}.items():
        ids = list(clips)
        if not ids:
            continue
        frames = [np.asarray(faces_of(clips[c])) for c in tqdm(ids, desc=f"speech2video on {method}",
                                                              disable=not progress, leave=False)]
        emb = embed(frames)
        nn_actor = gallery.nearest(emb)
        pred = {t: probes[t].predict(emb) for t in ("sex", "age_group")}
        for k, c in enumerate(ids):
            split, actor = m.loc[c, "split"], int(m.loc[c, "actor"])
            rows.append({"method": method, "clip_id": c, "split": split, "actor": actor,
                         "nn_actor": int(nn_actor[k]),
                         "top1": float(nn_actor[k] == actor) if split != "unseen" else np.nan,
                         "sex": str(m.loc[c, "sex"]), "age_group": str(m.loc[c, "age_group"]),
                         "pred_sex": str(pred["sex"][k]), "pred_age_group": str(pred["age_group"][k]),
                         "frame": frames[k][len(frames[k]) // 2]})
    df = pd.DataFrame(rows)
    for t in ("sex", "age_group"):
        df[f"{t}_agree"] = (df[f"pred_{t}"] == df[t]).astype(float)
    return df


CYCLE_METRICS = ("top1", "sex_agree", "age_group_agree")


def cycle_summary(rows: pd.DataFrame, n_seen_actors: int) -> dict:
    """{split: {method: {metric: {mean, lo, hi, n}, "<metric>_chance": c, "minus_real": {metric: paired}}},
    "chance": {...}}. Chance of top1: 1 / seen actors; of an attribute agreement: what predictions
    independent of the truth would reach (evaluation.unseen.independence_chance, per method).
    minus_real: this speech's score - the real speech's on the same clips (actors resampled)."""
    from ..evaluation.unseen import independence_chance
    from .evaluate import actor_bootstrap, paired_actor_bootstrap
    out = {}
    for (split, method), g in rows.groupby(["split", "method"], sort=False):
        d = {k: actor_bootstrap(g[k], g["actor"]) for k in CYCLE_METRICS if g[k].notna().any()}
        for t in ("sex", "age_group"):
            d[f"{t}_agree_chance"] = independence_chance(g[t], g[f"pred_{t}"])
        if method != "real":
            split_rows = rows[rows["split"] == split]
            d["minus_real"] = {k: paired_actor_bootstrap(split_rows, method, "real", k) for k in CYCLE_METRICS
                               if g[k].notna().any()}
        out.setdefault(split, {})[method] = d
    out["chance"] = {"top1": 1 / n_seen_actors, "n_seen_actors": int(n_seen_actors)}
    return out
