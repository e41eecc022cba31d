"""The methods under test, as `generate_fn(clip_id) -> frames` per method: the trained models of
notebook 04 (speech2video with one model per seed, SDFA, S2F+SDFA), SDFA given another speaker's
still (SDFA(mismatch)), and the ground truth."""
import functools

import pandas as pd

from ..paths import results_dir

def eval_seeds(profile, seed: int) -> list[int]:
    """Composer seeds reported: 1 for smoke, 3 (seed, seed+1, seed+2) otherwise."""
    return [seed] if profile.scale == "smoke" else [seed, seed + 1, seed + 2]


def load_models(profile, data, features, id_teacher, device: str = "cpu", seeds=(0,), force_retrain: bool = False,
                progress: bool = True) -> dict:
    """{"speech2video": {seed: TrainedModel}, "sdfa": TrainedModel, "s2f_sdfa": TrainedModel}, from
    their upstream artifacts: the prepared data, stage one's per-clip features, the identity teacher.

    The first seed's models are the ones notebook 04 trained (loaded, never retrained here); speech2video
    is trained for each further seed it lacks (one composer run each; force_retrain redoes those)."""
    from ..composer.training import load_model, train_model
    s2v = {seeds[0]: load_model("speech2video", profile, data, features, id_teacher, device=device, seed=seeds[0])}
    for s in seeds[1:]:
        s2v[s] = train_model("speech2video", profile, data, features, id_teacher, device=device, seed=s,
                             force_retrain=force_retrain, progress=progress)
    return {"speech2video": s2v, "sdfa": load_model("sdfa", profile, data, device=device, seed=seeds[0]),
            "s2f_sdfa": load_model("s2f_sdfa", profile, data, teacher=id_teacher, device=device, seed=seeds[0])}


def mismatch_table(profile_name: str, data, seed: int = 0) -> pd.DataFrame:
    """The SDFA(mismatch) still-image pairs notebook 04 wrote (made here the same way when absent)."""
    path = results_dir(profile_name) / "mismatch_pairs.csv"
    if path.exists():
        return pd.read_csv(path)
    from ..composer.mismatch import mismatch_pairs
    return mismatch_pairs(data, seed)


def generators(models: dict, data, features: dict, mismatch: pd.DataFrame | None = None,
               ground_truth: bool = True) -> dict:
    """method -> generate_fn(clip_id) for Table 1 (speech2video: {seed: fn}). SDFA animates the clip's
    own first frame; SDFA(mismatch) the first frame of another test speaker (mismatch table)."""
    from ..generate import generate

    @functools.lru_cache(maxsize=4)
    def clip(cid):
        return data.load(cid)

    def s2v(model):
        return lambda cid: generate(model, clip(cid)[1], features=features[cid])

    out = {"speech2video": {s: s2v(m) for s, m in models["speech2video"].items()},
           "SDFA": lambda cid: generate(models["sdfa"], clip(cid)[1], still=clip(cid)[0][0]),
           "S2F+SDFA": lambda cid: generate(models["s2f_sdfa"], clip(cid)[1])}
    if mismatch is not None:
        still_of = mismatch.set_index("clip_id")["still_clip_id"]
        out["SDFA(mismatch)"] = lambda cid: generate(models["sdfa"], clip(cid)[1], still=clip(still_of[cid])[0][0])
    if ground_truth:
        out["ground_truth"] = lambda cid: clip(cid)[0]
    return out
