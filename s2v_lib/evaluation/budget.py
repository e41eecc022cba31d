"""Budget scaling (notebook 08): the composer stage of every Table 1 method trained at several multiples
of the profile's budget, each model scored with Table 1's evaluation.

    plan = budget_plan(profile)                                   # (model, multiplier, seed, steps, warm-up, tag)
    models = train_budget(plan, profile, data, features, teacher, device)
    per_clip = score_budget(models, ctx, data, features, test_ids, mismatch)   # cached per checkpoint

A multiplier m scales both the adversarial steps (composer.configs.STEPS) and the reconstruction
warm-up before them (WARMUP): train_model(..., steps=round(m * STEPS), warmup=round(m * WARMUP),
tag=f"budget_x{m}"). The x1 row is the default chain's models themselves (no tag: the checkpoints
notebook 04 and 05 use), with seeds SEED, SEED+1, SEED+2 for every method: training the missing ones
here is what lets Table 1 and the claims give every row three seeds. S2F+SDFA's voice encoder (the
Speech2Face stage, not the composer) keeps its own budget at every multiplier.
"""
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import write_csv
from ..paths import cache_root

MULTIPLIERS = (0.25, 0.5, 1, 2, 4)
MODELS = ("speech2video", "sdfa", "s2f_sdfa")
X1_SEEDS = 3          # seeds of every method at x1 (one seed at the other budgets)


@dataclass(frozen=True)
class BudgetRun:
    model: str            # composer.configs.MODELS
    multiplier: float
    seed: int
    steps: int            # adversarial steps
    warmup: int           # reconstruction warm-up steps before them
    tag: str              # "" at x1: the default chain's checkpoint


def budget_tag(multiplier: float) -> str:
    return "" if multiplier == 1 else f"budget_x{multiplier:g}"


def budget_plan(profile, multipliers=MULTIPLIERS, seed: int = 0, x1_seeds: int = X1_SEEDS,
                models=MODELS) -> list[BudgetRun]:
    """Every run of the study: each model at each multiplier, seed `seed` (seed .. seed+x1_seeds-1 at x1)."""
    from ..composer.configs import STEPS, WARMUP
    scale = profile.scale
    out = []
    for m in multipliers:
        seeds = range(seed, seed + x1_seeds) if m == 1 else (seed,)
        steps, warmup = round(m * STEPS[scale]), round(m * WARMUP[scale])
        out += [BudgetRun(name, float(m), s, steps, warmup, budget_tag(m)) for name in models for s in seeds]
    return out


def train_budget(plan, profile, data, features, teacher, device="cpu", force_retrain: bool = False,
                 progress: bool = True, **train_kw) -> dict:
    """{BudgetRun: TrainedModel}: each run trained, resumed or loaded from its checkpoint. x1 runs use the
    default configuration (exactly the checkpoint train_model(name, ..., seed=s) names); train_kw go to
    train_model (tests: ch=..., loop_overrides=..., voice_steps=...)."""
    from ..composer.training import train_model
    out = {}
    for run in tqdm(plan, desc="budget scaling: training", disable=not progress):
        budget = {} if run.multiplier == 1 and not train_kw else \
            dict(steps=run.steps, warmup=run.warmup, tag=run.tag)
        out[run] = train_model(run.model, profile, data, features if run.model == "speech2video" else None,
                               teacher if run.model != "sdfa" else None, device=device, seed=run.seed,
                               force_retrain=force_retrain, progress=progress, **budget, **train_kw)
    return out


def _hash(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def module_hash(module) -> str:
    """A hash of a network's weights (what the scores depend on: the sync expert, the teachers)."""
    import torch
    net = getattr(module, "model", None) or getattr(module, "net", None) or module
    if not isinstance(net, torch.nn.Module):
        return type(module).__name__
    return _hash(*[t.detach().cpu().contiguous().numpy().tobytes() for t in net.state_dict().values()])


def evaluation_key(ctx, test_ids, mismatch: pd.DataFrame | None) -> str:
    """What a cached score depends on besides the model: the test clips, the mismatch pairs, the sync
    expert and the teachers (their weights)."""
    pairs = mismatch[["clip_id", "still_clip_id"]].values.tolist() if mismatch is not None else []
    return _hash(list(map(str, test_ids)), pairs, str(ctx.data.root), module_hash(ctx.sync),
                 module_hash(ctx.identity_teacher), module_hash(ctx.emotion_teacher))


def score_cache_path(profile_name: str, method: str, model_hash: str, eval_key: str):
    slug = method.replace("+", "_").replace("(", "_").replace(")", "")
    return cache_root() / "budget_scores" / profile_name / f"{slug}_{model_hash}_{eval_key}.csv"


def _cached_scores(path, score) -> pd.DataFrame:
    """The scores from their CSV, computed and written first when absent (read back either way, so a
    resumed study sees exactly what a fresh one does)."""
    if not path.exists():
        write_csv(path, score())
    return pd.read_csv(path)


def score_budget(models: dict, ctx, data, features, test_ids, mismatch: pd.DataFrame | None, profile_name: str,
                 progress: bool = True) -> pd.DataFrame:
    """Per-clip scores (per_clip.score_methods) of every run's model, one row per (method, multiplier,
    seed, clip), plus the ground truth once (multiplier NaN). SDFA's model is scored as SDFA and, with
    the mismatched stills, as SDFA(mismatch). Each (method, model) is cached as a CSV keyed by the
    checkpoint hash and the evaluation key, so an interrupted study resumes where it stopped."""
    from .methods import generators
    from .per_clip import score_methods
    key = evaluation_key(ctx, test_ids, mismatch)
    parts = []
    jobs = []
    for run, model in models.items():
        slot = {"speech2video": {}, "sdfa": {}, "s2f_sdfa": {}}
        slot[run.model] = {run.seed: model}
        for method, fns in generators(slot, data, features, mismatch, ground_truth=False).items():
            if fns:
                jobs.append((run, method, fns))
    for run, method, fns in tqdm(jobs, desc="budget scaling: scoring", disable=not progress):
        path = score_cache_path(profile_name, method, models[run].extra["ckpt_hash"], key)
        df = _cached_scores(path, lambda: score_methods({method: fns}, ctx, test_ids, progress=False))
        parts.append(df.assign(budget_multiplier=run.multiplier, steps=run.steps, warmup=run.warmup))
    gt = _cached_scores(score_cache_path(profile_name, "ground_truth", "real", key),
                        lambda: score_methods({"ground_truth": lambda cid: data.load(cid)[0]}, ctx, test_ids,
                                              progress=False))
    parts.append(gt.assign(budget_multiplier=np.nan, steps=np.nan, warmup=np.nan))
    return pd.concat(parts, ignore_index=True)
