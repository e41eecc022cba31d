"""The methods under test, as `generate_fn(clip_id) -> frames` per method: the trained models of
notebook 04 and every further seed in the cache ({seed: model} for speech2video, SDFA, S2F+SDFA),
SDFA given another speaker's still (SDFA(mismatch), SDFA's seeds), and the ground truth."""
import functools
import re

import pandas as pd

from ..paths import results_dir

def eval_seeds(profile, seed: int) -> list[int]:
    """Composer seeds notebook 05 trains itself: only notebook 04's. Further seeds of every method
    (seed + 1, seed + 2) are trained by notebook 08's x1 row and picked up from the cache by load_models:
    three more composer runs per method do not fit the default cpu chain's 60 minutes."""
    return [seed]


def cached_seeds(profile, name: str) -> list[int]:
    """Seeds with a run folder of model `name` (default budget, student features, no tag) in the
    checkpoint cache: the candidates load_models tries (a folder may hold only an unfinished or stale
    checkpoint; loading decides)."""
    from ..paths import checkpoint_dir
    root = checkpoint_dir(profile.name)
    pattern = re.compile(rf"^{re.escape(name)}(?:_seed(\d+))?$")
    found = [pattern.match(p.name) for p in root.iterdir()] if root.is_dir() else []
    return sorted(int(m.group(1) or 0) for m in found if m)


def load_models(profile, data, features, id_teacher, device: str = "cpu", seeds=(0,), force_retrain: bool = False,
                progress: bool = True, extra_seeds: bool = True) -> dict:
    """{"speech2video": {seed: TrainedModel}, "sdfa": {seed: ...}, "s2f_sdfa": {seed: ...}}, from their
    upstream artifacts: the prepared data, stage one's per-clip features, the identity teacher.

    The first seed's models are the ones notebook 04 trained (loaded, never retrained here); speech2video
    is trained for each further seed in `seeds` it lacks (one composer run each; force_retrain redoes
    those). extra_seeds: every method also gets every further seed whose finished checkpoint is in the
    cache (notebook 08 trains seeds 0-2 of every method); nothing else is trained for them."""
    from ..composer.training import load_model, train_model
    from ..errors import UserError
    kw = {"speech2video": dict(features=features, teacher=id_teacher), "sdfa": {},
          "s2f_sdfa": dict(teacher=id_teacher)}
    out = {name: {seeds[0]: load_model(name, profile, data, device=device, seed=seeds[0], **kw[name])}
           for name in kw}
    for s in seeds[1:]:
        out["speech2video"][s] = train_model("speech2video", profile, data, device=device, seed=s,
                                             force_retrain=force_retrain, progress=progress, **kw["speech2video"])
    for name in kw if extra_seeds else ():
        for s in cached_seeds(profile, name):
            if s in out[name]:
                continue
            try:
                out[name][s] = load_model(name, profile, data, device=device, seed=s, **kw[name])
            except UserError:          # unfinished, or trained under another configuration: not this table's
                pass
        out[name] = dict(sorted(out[name].items()))
    return out


def mismatch_table(profile_name: str, data, seed: int = 0) -> pd.DataFrame:
    """The SDFA(mismatch) still-image pairs notebook 04 wrote (made here the same way when absent)."""
    path = results_dir(profile_name) / "mismatch_pairs.csv"
    if path.exists():
        return pd.read_csv(path)
    from ..composer.mismatch import mismatch_pairs
    return mismatch_pairs(data, seed)


def generators(models: dict, data, features: dict, mismatch: pd.DataFrame | None = None,
               ground_truth: bool = True) -> dict:
    """method -> {seed: generate_fn(clip_id)} for Table 1 (models: load_models' {seed: model} per model).
    SDFA animates the clip's own first frame; SDFA(mismatch) (SDFA's seeds) the first frame of another
    test speaker (mismatch table)."""
    from ..generate import generate

    @functools.lru_cache(maxsize=4)
    def clip(cid):
        return data.load(cid)

    def s2v(model):
        return lambda cid: generate(model, clip(cid)[1], features=features[cid])

    def sdfa(model):
        return lambda cid: generate(model, clip(cid)[1], still=clip(cid)[0][0])

    def s2f(model):
        return lambda cid: generate(model, clip(cid)[1])

    out = {"speech2video": {s: s2v(m) for s, m in models["speech2video"].items()},
           "SDFA": {s: sdfa(m) for s, m in models["sdfa"].items()},
           "S2F+SDFA": {s: s2f(m) for s, m in models["s2f_sdfa"].items()}}
    if mismatch is not None:
        still_of = mismatch.set_index("clip_id")["still_clip_id"]

        def sdfa_mismatch(model):
            return lambda cid: generate(model, clip(cid)[1], still=clip(still_of[cid])[0][0])
        out["SDFA(mismatch)"] = {s: sdfa_mismatch(m) for s, m in models["sdfa"].items()}
    if ground_truth:
        out["ground_truth"] = lambda cid: clip(cid)[0]
    return out
