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
# # 6. Unseen voices: what does speech2video imagine?
#
# The paper's Figure 4 feeds speech2video the voices of people it never saw and remarks that
# "the appearance of the generated faces are different from the ground truth. But the speakers'
# gender, complexion and age are roughly preserved". It shows two examples and no number.
#
# Here the held-out actors (`split == "unseen"`, whole actors stratified by sex) play that role, and
# we measure the remark:
#
# * **Figure 4**: real faces of unseen actors above the faces generated from their voices;
# * **sex and age group** of each generated face, read by classifiers (logistic regression) trained
#   on identity-teacher features of the *seen* actors' real faces, compared with the voice owner's;
#   the classifiers' accuracy on the unseen actors' *real* faces is the ceiling;
# * **nearest seen actor** of each generated face (identity-teacher centroid), and whether that
#   actor shares the voice owner's sex and age group.
#
# Clips of one actor are not independent, so intervals resample *actors*; with the few unseen
# actors of a profile (2 in smoke, 10 in cpu/gpu) they are wide, and the claim verdicts say so.
# At the end an interactive panel lets you try any test clip or unseen voice with any model.

# %% tags=["parameters"]
PROFILE = "smoke"
SEED = 0
DATASET = "synthetic"
DATA_ROOT = ""
DEVICE = "auto"
FORCE_RETRAIN = False
INTERACTIVE = True

# %%
from IPython.display import Markdown, display

from s2v_lib.config import get_profile
from s2v_lib.device import resolve_device
from s2v_lib.data.pipeline import get_prepared
from s2v_lib.evaluation.claims import write_claims
from s2v_lib.evaluation.context import build_context
from s2v_lib.evaluation.examples import figure4_examples
from s2v_lib.evaluation.plots import figure4, unseen_agreement_frame, unseen_agreement_plot
from s2v_lib.evaluation.methods import generators, load_models
from s2v_lib.evaluation.table1 import dataset_label
from s2v_lib.evaluation.unseen import fit_demographic_probes, nearest_seen_table, unseen_voice_study, write_unseen
from s2v_lib.figures import save_figure, save_png_pdf
from s2v_lib.paths import figures_dir, results_dir
from s2v_lib.seed import seed_everything
from s2v_lib.stage_one.features import speech_stage

profile = get_profile(PROFILE)
device = resolve_device(DEVICE)
seed_everything(SEED)
DATA_LABEL = dataset_label(DATASET)
FIG_DIR, RES_DIR = figures_dir(profile.name), results_dir(profile.name)
data = get_prepared(profile, DATASET, DATA_ROOT, seed=SEED)
unseen = data.clips("unseen")
print(f"profile {profile.name}; {unseen['actor'].nunique()} unseen actors, {len(unseen)} clips; data: {DATA_LABEL}")

# %% [markdown]
# The models of notebook 04 (seed `SEED`), the teachers of notebook 02, and the seen actors'
# identity centroids (from their training clips).

# %%
ctx = build_context(profile, data, device, seed=SEED, with_sync=False)
features = speech_stage(profile, data, ctx.identity_teacher, ctx.emotion_teacher, device, progress=False)["clips"]
models = load_models(profile, data, features, ctx.identity_teacher, device, [SEED], extra_seeds=False)
gens = generators(models, data, features, mismatch=None, ground_truth=False)
speech2video = gens["speech2video"][SEED]

# %% [markdown]
# ## Figure 4
# Each pair of rows: the unseen actor's real face (never shown to any model) and the face
# speech2video generates from that actor's voice.

# %%
fig = figure4(figure4_examples(data, speech2video, n_actors=4))
_ = save_png_pdf(fig, FIG_DIR / "fig4")

# %% [markdown]
# ## Sex and age group: probes on the identity teacher's features
# Trained on the seen actors' real training clips. First their ceiling: how well they read sex and
# age group from the *real* faces of the unseen actors.

# %%
probes = fit_demographic_probes(ctx.identity_teacher, data, seed=SEED)
study, summary = unseen_voice_study(ctx, {"speech2video": speech2video, "S2F+SDFA": gens["S2F+SDFA"][SEED]}, probes)
write_unseen(profile.name, study, summary)
display(unseen_agreement_frame(summary).round(3))
# how varied the generated faces are: distance between different unseen actors' faces, over their real faces'
print("generated_spread_ratio:", ", ".join(
    f"{k} {summary[f'generated_spread_ratio_{k}']['mean']:.2f} [{summary[f'generated_spread_ratio_{k}']['lo']:.2f}, "
    f"{summary[f'generated_spread_ratio_{k}']['hi']:.2f}]" for k in ("speech2video", "s2f_sdfa")))

# %% [markdown]
# Agreement with the voice owner, with 95% intervals over actors; dashes mark what predictions
# independent of the voice would reach (from the marginals of truth and prediction).

# %%
fig = unseen_agreement_plot(summary)
_ = save_figure(fig, FIG_DIR / "unseen_agreement.png")

# %% [markdown]
# ## Whom do the generated faces resemble?
# For each unseen actor, the seen actor nearest (identity-teacher centroid) to most of its generated
# faces, and how often the nearest seen actor shares the voice owner's sex and age group.

# %%
display(nearest_seen_table(study, "speech2video").round(2))
print(f"nearest seen actor has the voice owner's sex: speech2video "
      f"{summary['nn_sex_agreement_speech2video']['mean']:.2f}, real faces {summary['nn_sex_agreement_real']['mean']:.2f}")

# %% [markdown]
# ## The claims table, now with claim 4

# %%
write_claims(profile.name, DATA_LABEL)
display(Markdown((RES_DIR / "claims.md").read_text()))

# %%
for key in ("sex_agreement_speech2video", "age_group_agreement_speech2video", "sex_agreement_s2f_sdfa",
            "age_group_agreement_s2f_sdfa"):
    v = summary[key]
    assert 0 <= v["lo"] <= v["mean"] <= v["hi"] <= 1, key
assert set(study["method"]) == {"real", "speech2video", "S2F+SDFA"}

# %% [markdown]
# ## Try it yourself
# Pick a test clip (an observed speaker) or an unseen voice, pick a model, press **Generate**: the
# generated video plays with its speech next to the real one, with what the teachers read from the
# generated face. Below it, **your own voice**: upload a recording (WAV, FLAC or MP3, any sample rate;
# the first 10 s are used) and press **Run on my voice**: speech2video treats it as one more unseen voice
# and shows the face it imagines, with what the probes read from it (sex, age group) and the nearest seen
# actors. The same from a terminal: `python -m s2v_lib generate --wav my.wav --out me.mp4`.
#
# The demo shows the best models trained in this cache (gpu over cpu over smoke), whatever `PROFILE` this
# notebook ran at, and says which; smoke models only prove the plumbing. (Shown when `INTERACTIVE` is
# true; batch runs skip it.)

# %% tags=["nbval-ignore-output"]
from s2v_lib.demo_models import DemoStudy, best_demo_study, demo_generators, demo_widget

if INTERACTIVE:
    here = DemoStudy(profile.name, data, ctx, probes, demo_generators(models, data, features, SEED))
    demo = best_demo_study(device, seed=SEED, current=here, dataset=DATASET)
    display(demo_widget(demo))
