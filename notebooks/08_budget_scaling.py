# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (s2v)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Budget scaling: are the verdicts the methods', or the budget's?
#
# Every composer of Table 1 is trained on a CPU budget (notebook 04: a reconstruction warm-up, then
# the adversarial steps). An ordering measured at one budget could belong to the budget rather than to
# the methods: a model that learns faster looks better early and may be overtaken later. Here the
# composer stage of every method (speech2video, SDFA, S2F+SDFA; SDFA(mismatch) is SDFA's model given
# another speaker's still) is trained at **x0.25, x0.5, x1, x2 and x4** of the profile's budget (the
# adversarial steps and the warm-up scaled alike), scored with exactly Table 1's evaluation, and the
# paper's claims are decided at each budget.
#
# The **x1** row is the default chain's models themselves, with **seeds 0, 1, 2 for every method**:
# the seeds missing there are trained here, and notebook 05 then uses them (every seed whose finished
# checkpoint is in the cache), so Table 1's intervals and the claims' per-seed verdicts cover training
# variance for every row. The other budgets have one seed each. S2F+SDFA's voice encoder (the
# Speech2Face stage before the composer) keeps its own budget throughout.
#
# Not part of the default chain (`python -m s2v_lib reproduce --only 08`): at the cpu profile it
# trains 3 x (0.25 + 0.5 + 2 + 4) budgets plus 6 further x1 models, hours on 2 cores. Every model is a
# cached checkpoint and every model's scores a cached CSV (keyed by the checkpoint and the evaluation),
# so an interrupted run resumes where it stopped.

# %% tags=["parameters"]
PROFILE = "smoke"
SEED = 0
DATASET = "synthetic"
DATA_ROOT = ""
DEVICE = "auto"
FORCE_RETRAIN = False
INTERACTIVE = True

# %%
import pandas as pd
from IPython.display import Markdown, display

from s2v_lib.config import get_profile
from s2v_lib.data.pipeline import get_prepared
from s2v_lib.device import resolve_device
from s2v_lib.evaluation.budget import MULTIPLIERS, budget_plan, score_budget, train_budget
from s2v_lib.evaluation.budget_report import (budget_claims, budget_figure, budget_summary, budget_table,
                                              verdicts_by_budget, write_budget)
from s2v_lib.evaluation.context import build_context
from s2v_lib.evaluation.methods import mismatch_table
from s2v_lib.evaluation.table1 import dataset_label
from s2v_lib.figures import save_figure
from s2v_lib.paths import figures_dir, results_dir
from s2v_lib.seed import seed_everything
from s2v_lib.stage_one.features import speech_stage

profile = get_profile(PROFILE)
device = resolve_device(DEVICE)
seed_everything(SEED)
DATA_LABEL = dataset_label(DATASET)
FIG_DIR, RES_DIR = figures_dir(profile.name), results_dir(profile.name)
data = get_prepared(profile, DATASET, DATA_ROOT, seed=SEED)
test_ids = list(data.clips("test")["clip_id"])
print(f"profile {profile.name} on {device}; data: {DATA_LABEL}; {len(test_ids)} test clips")

# %% [markdown]
# ## The runs
# One row per trained model: the multiplier, the adversarial steps and the warm-up steps it trains,
# and the tag its checkpoint is stored under (none at x1: the default chain's checkpoints).

# %%
plan = budget_plan(profile, MULTIPLIERS, seed=SEED)
display(pd.DataFrame(plan).rename(columns={"warmup": "warm-up", "tag": "checkpoint tag"}))

# %% [markdown]
# ## Training
# The evaluation context first (the sync expert and the teachers notebook 05 uses, from their
# checkpoints), then every run of the plan: loaded when its checkpoint is finished, resumed when it
# was interrupted, trained otherwise.

# %%
ctx = build_context(profile, data, device, seed=SEED, force_retrain=False, progress=False)
features = speech_stage(profile, data, ctx.identity_teacher, ctx.emotion_teacher, device, progress=False)["clips"]
models = train_budget(plan, profile, data, features, ctx.identity_teacher, device, force_retrain=FORCE_RETRAIN)

# %% [markdown]
# ## Scoring
# Every model on every test clip, with Table 1's metrics (`evaluation/per_clip.py`); SDFA also with the
# mismatched stills of notebook 04 (`mismatch_pairs.csv`).

# %%
mismatch = mismatch_table(profile.name, data, SEED)
per_clip = score_budget(models, ctx, data, features, test_ids, mismatch, profile.name)
table = budget_table(per_clip)
claims = budget_claims(per_clip)
summary = budget_summary(claims, table, profile.name, DATA_LABEL)
paths = write_budget(profile.name, table, claims, summary)
print("wrote", ", ".join(p.name for p in paths.values()))

# %% [markdown]
# ## Each metric against the budget
# Mean and 95% interval per method and budget (x1: hierarchical over the three seeds and the test
# clips; elsewhere over test clips); the real videos' value dashed where the metric has one.

# %%
fig = budget_figure(table)
_ = save_figure(fig, FIG_DIR / "budget_scaling.png")

# %% [markdown]
# ## The claims at each budget
# The verdict of each claim that the test clips decide at each budget (claim 4 needs the unseen
# voices of notebook 06), and whether it is the same at every budget.

# %%
display(verdicts_by_budget(claims).rename(columns=lambda m: f"x{m:g}" if isinstance(m, float) else m))
display(Markdown(summary))

# %%
assert set(table["budget_multiplier"].dropna()) == {float(m) for m in MULTIPLIERS}
x1 = table[(table["budget_multiplier"] == 1) & (table["seed"] == "all")]
assert set(x1["method"]) == {"speech2video", "SDFA", "S2F+SDFA", "SDFA(mismatch)"} and (x1["n_seeds"] == 3).all()
assert claims.groupby("budget_multiplier")["statement"].nunique().nunique() == 1
