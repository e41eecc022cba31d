"""Budget scaling (notebook 08) on a toy dataset at tiny budgets: the plan scales steps and warm-up, every
run trains (x1 = the default configuration's checkpoint names), scores are cached per checkpoint, and the
tables, claims, summary and figure come from the numbers."""
import numpy as np
import pandas as pd
import pytest
import torch

from s2v_lib import metrics as M
from s2v_lib.composer.configs import STEPS, WARMUP
from s2v_lib.config import get_profile
from s2v_lib.data.dataset import PreparedData
from s2v_lib.evaluation import budget as B
from s2v_lib.evaluation import budget_report as R
from s2v_lib.evaluation.context import EvalContext
from s2v_lib.evaluation.sync_expert import SyncExpert
from s2v_lib.evaluation.table1 import METRICS
from s2v_lib.models.syncnet import SyncNet, SyncNetConfig
from test_composer import StandInTeacher, stand_in_features
from toy_av import ToyEmotionTeacher, ToyIdentityTeacher, make_toy_prepared


def test_plan_scales_steps_and_warmup_and_gives_x1_three_seeds():
    plan = B.budget_plan(get_profile("cpu"))
    assert {r.multiplier for r in plan} == {0.25, 0.5, 1.0, 2.0, 4.0}
    x4 = [r for r in plan if r.multiplier == 4]
    assert {(r.steps, r.warmup, r.tag) for r in x4} == {(4 * STEPS["cpu"], 4 * WARMUP["cpu"], "budget_x4")}
    q = [r for r in plan if r.multiplier == 0.25][0]
    assert (q.steps, q.warmup, q.tag) == (round(0.25 * STEPS["cpu"]), round(0.25 * WARMUP["cpu"]), "budget_x0.25")
    x1 = [r for r in plan if r.multiplier == 1]
    assert {(r.model, r.seed) for r in x1} == {(m, s) for m in B.MODELS for s in (0, 1, 2)}
    assert {r.tag for r in x1} == {""}                        # the default chain's checkpoints
    assert len(plan) == 3 * (4 + 3)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import s2v_lib.composer.s2f_voice as voice_stage
    import s2v_lib.composer.training as stage
    tmp = tmp_path_factory.mktemp("budget")
    mp = pytest.MonkeyPatch()
    mp.setenv("S2V_CACHE", str(tmp / "cache"))
    for module in (stage, voice_stage):
        mp.setattr(module, "results_dir", lambda p: tmp / "results" / p)
    mp.setattr(stage, "figures_dir", lambda p: tmp / "figures" / p)
    data = PreparedData(make_toy_prepared(tmp / "toy", n_actors=4, clips_per_actor=8, size=48, n_frames=30))
    feats, teacher = stand_in_features(data), StandInTeacher()
    torch.manual_seed(0)
    id_t = ToyIdentityTeacher()
    ctx = EvalContext(data, SyncExpert(SyncNet(SyncNetConfig(width=4))), id_t, ToyEmotionTeacher(),
                      M.actor_gallery(id_t, data, "train"))
    profile = get_profile("smoke")
    # tiny budgets: x0.05 = 2 adversarial + 1 warm-up steps, x0.1 = 4 + 2; two seeds at "x1" stand-in x0.1
    plan = [r for r in B.budget_plan(profile, multipliers=(0.05, 0.1), x1_seeds=2)]
    plan = [B.BudgetRun(r.model, r.multiplier, s, r.steps, r.warmup, r.tag) for r in plan
            for s in ((0, 1) if r.multiplier == 0.1 else (0,))]
    plan = list(dict.fromkeys(plan))
    kw = dict(ch=16, voice_steps=2, loop_overrides={"batch_clips": 2, "window": 3})
    models = B.train_budget(plan, profile, data, feats, teacher, progress=False, **kw)
    mismatch = pd.DataFrame({"clip_id": data.clips("test")["clip_id"],
                             "still_clip_id": np.roll(data.clips("test")["clip_id"].to_numpy(), 2)})
    test_ids = list(data.clips("test")["clip_id"])
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        per_clip = B.score_budget(models, ctx, data, feats, test_ids, mismatch, "smoke", progress=False)
    finally:
        torch.set_num_threads(n)
    yield dict(tmp=tmp, plan=plan, models=models, per_clip=per_clip, ctx=ctx, data=data, feats=feats,
               mismatch=mismatch, test_ids=test_ids, profile=profile, kw=kw, teacher=teacher)
    mp.undo()


def test_every_run_trained_with_its_budget_and_scores_are_cached(study):
    models, per_clip = study["models"], study["per_clip"]
    for run, m in models.items():
        assert m.config.warmup_steps == run.warmup and m.config.loop.steps == run.steps + run.warmup
        assert f"budget_x{run.multiplier:g}" in m.extra["run"]
    assert len({m.extra["ckpt_hash"] for m in models.values()}) == len(models)
    got = per_clip.dropna(subset=["budget_multiplier"]).groupby(["method", "budget_multiplier"])["seed"].nunique()
    assert got.loc[("SDFA(mismatch)", 0.1)] == 2 and got.loc[("speech2video", 0.05)] == 1
    assert set(per_clip["method"]) == {"speech2video", "SDFA", "S2F+SDFA", "SDFA(mismatch)", "ground_truth"}
    cached = sorted((study["tmp"] / "cache" / "budget_scores" / "smoke").glob("*.csv"))
    assert len(cached) == 4 * 2 + 4 * 1 + 1     # per (model, method): x0.1 2 seeds, x0.05 1 (SDFA twice), real once
    # resumed: trains nothing, scores nothing new, the same numbers
    again_models = B.train_budget(study["plan"], study["profile"], study["data"], study["feats"], study["teacher"],
                                  progress=False, **study["kw"])
    again = B.score_budget(again_models, study["ctx"], study["data"], study["feats"], study["test_ids"],
                           study["mismatch"], "smoke", progress=False)
    pd.testing.assert_frame_equal(again, per_clip)
    # another evaluation (other mismatch pairs) is another key: never a stale score
    other = B.evaluation_key(study["ctx"], study["test_ids"], study["mismatch"].iloc[::-1])
    assert other != B.evaluation_key(study["ctx"], study["test_ids"], study["mismatch"])


def test_tables_claims_summary_and_figure(study, tmp_path, monkeypatch):
    per_clip = study["per_clip"]
    table = R.budget_table(per_clip, n_boot=100)
    assert table.columns[:5].tolist() == R.LEAD
    assert {f"{m}_lo" for m in METRICS} <= set(table.columns)
    pooled = table[table["seed"] == R.POOLED]
    assert set(pooled["budget_multiplier"]) == {0.1} and (pooled["n_seeds"] == 2).all()
    assert set(table.loc[table["seed"] == "1", "budget_multiplier"]) == {0.1}
    assert table.loc[table["method"] == "ground_truth", "hf_ratio"].iloc[0] == pytest.approx(1.0)
    claims = R.budget_claims(per_clip, n_boot=100)
    assert set(claims["budget_multiplier"]) == {0.05, 0.1} and not claims["claim"].eq("4").any()
    assert (claims.loc[claims["budget_multiplier"] == 0.05, "stable"] != "no").all()        # one seed
    wide = R.verdicts_by_budget(claims)
    md = R.budget_summary(claims, table, "smoke", "toy")
    n_stable = int((wide["across_budgets"] == "stable").sum())
    assert f"**Stable across budgets** ({n_stable} of {len(wide)})" in md
    assert "x0.05 (2 adversarial steps, 1 seed)" in md and "x0.1 (4 adversarial steps, 2 seeds)" in md
    for s, r in wide[wide["across_budgets"] == "flips"].iterrows():
        assert f"{s}: x0.05 {r[0.05]}, x0.1 {r[0.1]}".replace("~", "\\~") in md
    assert "~" not in md.replace("\\~", "")
    # a flip is reported as one: force one claim's verdict to differ between budgets
    forced = claims.copy()
    row = forced.index[(forced["budget_multiplier"] == 0.1)][0]
    forced.loc[row, "verdict"] = "holds" if forced.loc[row - len(wide), "verdict"] != "holds" else "does not hold"
    assert R.verdicts_by_budget(forced).iloc[0]["across_budgets"] == "flips"
    import matplotlib
    matplotlib.use("Agg")
    fig = R.budget_figure(table)
    assert [ax.get_title() for ax in fig.axes[:len(METRICS)]] == [R.LABELS[m] for m in METRICS]
    monkeypatch.setattr(R, "results_dir", lambda p: tmp_path / p)
    paths = R.write_budget("smoke", table, claims, md)
    back = pd.read_csv(paths["budget_scaling.csv"])
    assert len(back) == len(table) and (tmp_path / "smoke" / "budget_claims.csv").exists()


def test_load_models_takes_every_finished_cached_seed(tmp_cache, monkeypatch):
    """Table 1's models: notebook 04's seed, speech2video's trained seeds, and every further seed of every
    method whose finished checkpoint is in the cache (a run folder with an unfinished or stale one is skipped)."""
    import s2v_lib.composer.training as stage
    from s2v_lib.errors import UserError
    from s2v_lib.evaluation.methods import cached_seeds, load_models
    from s2v_lib.paths import checkpoint_dir
    profile = get_profile("smoke")
    root = checkpoint_dir("smoke")
    for run in ("speech2video", "speech2video_seed1", "speech2video_seed4", "speech2video_budget_x2_seed3",
                "speech2video_teacher_seed2", "sdfa", "sdfa_seed1", "sdfa_seed2", "s2f_sdfa", "s2f_voice_seed1"):
        (root / run).mkdir(parents=True)
    assert cached_seeds(profile, "speech2video") == [0, 1, 4]      # budget and teacher-feature runs are not Table 1's
    assert cached_seeds(profile, "sdfa") == [0, 1, 2] and cached_seeds(profile, "s2f_sdfa") == [0]
    finished = {("speech2video", 0), ("speech2video", 4), ("sdfa", 0), ("sdfa", 2), ("s2f_sdfa", 0)}
    trained = []

    def fake_load(name, profile, data=None, features=None, teacher=None, device="cpu", seed=0, **kw):
        if (name, seed) not in finished:
            raise UserError(f"no finished checkpoint for {name} seed {seed}")
        return (name, seed)

    def fake_train(name, profile, data=None, features=None, teacher=None, device="cpu", seed=0, **kw):
        trained.append((name, seed))
        return (name, seed)
    monkeypatch.setattr(stage, "load_model", fake_load)
    monkeypatch.setattr(stage, "train_model", fake_train)
    models = load_models(profile, None, {}, None, seeds=[0, 1, 2])
    assert trained == [("speech2video", 1), ("speech2video", 2)]
    assert list(models["speech2video"]) == [0, 1, 2, 4]
    assert list(models["sdfa"]) == [0, 2] and list(models["s2f_sdfa"]) == [0]     # sdfa_seed1 unfinished
    assert list(load_models(profile, None, {}, None, seeds=[0], extra_seeds=False)["sdfa"]) == [0]
