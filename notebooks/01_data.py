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
# # 1. The data
#
# *Speech2Video* (Si et al., Interspeech 2021) learns, from speech alone, to recollect a speaker's
# face and render a talking-face video. The paper trains and evaluates on CREMA-D (91 actors, 12
# sentences, 6 emotions) and VoxCeleb2.
#
# **What data this study runs on.** The paper's datasets cannot be downloaded in the environment
# this study was built in. The embedded default is therefore the **CREMA-D twin**: a synthetic
# dataset with CREMA-D's exact structure — the real 91 actors' demographics, the real clip names,
# the real file layout and formats — whose voices come from eSpeak NG (per-actor voice from sex, age
# and a seed; emotion changes prosody) and whose faces are rendered procedurally (identity from
# demographics; FACS-like expressions; lips driven by the phoneme timings of the speech; blinks and
# head motion). Numbers on the twin are **not** a reproduction of the paper's numbers; what the twin
# can show is whether the method's claims and orderings hold under controlled conditions, where we
# know the ground truth. If you have CREMA-D or VoxCeleb2, set `DATASET` and `DATA_ROOT` below and
# every notebook runs unchanged on the real data.

# %% tags=["parameters"]
PROFILE = "smoke"
SEED = 0
DATASET = "synthetic"
DATA_ROOT = ""
DEVICE = "auto"
FORCE_RETRAIN = False
INTERACTIVE = True

# %%
from IPython.display import display

from s2v_lib.config import get_profile
from s2v_lib.data import overview
from s2v_lib.data.pipeline import get_prepared
from s2v_lib.figures import save_figure
from s2v_lib.media import show_clip
from s2v_lib.paths import figures_dir
from s2v_lib.seed import seed_everything

profile = get_profile(PROFILE)
seed_everything(SEED)
FIG_DIR = figures_dir(profile.name)
print(f"profile {profile.name}: {profile.frame_size}px frames at {profile.fps} fps, "
      f"{profile.n_unseen} unseen actors; dataset {DATASET!r}")

# %% [markdown]
# ## Build (or find) and prepare the data
# With `DATA_ROOT` empty the twin is generated into the cache (once; later runs find it). Preparation
# decodes the video with PyAV, resamples it to 25 fps, crops the face, resizes it and stores compact
# arrays with a manifest. Both steps are cached by a hash of their configuration and resume after an
# interruption.

# %%
data = get_prepared(profile, DATASET, DATA_ROOT, seed=SEED)
print("prepared data in", data.root)

# %% [markdown]
# ## What is in it
# Clips per emotion and split. `unseen` holds whole actors whose voices no model sees in training
# (the paper's Figure 4); the other actors' clips go 70/15/15 to train/val/test, stratified by actor
# and emotion.

# %%
display(overview.counts_table(data))
display(overview.split_summary(data))

# %% [markdown]
# Clips with a defect (no audio, truncated, far too long, no face...) are never silently dropped: they
# are listed here with the measured value and left out of the manifest.

# %%
q = data.quarantine
print(f"{len(q)} clips quarantined")
display(q.head(20))

# %%
fig = overview.demographics_figure(data)
_ = save_figure(fig, FIG_DIR / "demographics.png")

# %% [markdown]
# ## Faces: emotions x actors
# One frame from the middle of a clip per actor and emotion. Each actor's face is derived from their
# real demographics (sex, age, race) and a seed; each emotion has its own expression.

# %%
fig = overview.contact_sheet(data)
_ = save_figure(fig, FIG_DIR / "contact_sheet.png")

# %% [markdown]
# ## One clip, with its speech

# %%
clip_id = data.clips("test")["clip_id"].iloc[0]
frames, audio = data.load(clip_id)
print(clip_id, frames.shape, f"{len(audio) / profile.sample_rate:.2f} s of audio")

# %% tags=["nbval-ignore-output"]
show_clip(frames, audio, width=4 * profile.frame_size, label=clip_id)

# %% [markdown]
# ## Browse
# Pick an actor, a sentence and an emotion (only when run interactively).

# %% tags=["nbval-ignore-output"]
if INTERACTIVE:
    display(overview.clip_browser(data))

# %% [markdown]
# ## Checks
# The splits keep unseen actors out of training, and every kept clip has aligned audio.

# %%
m = data.manifest
assert set(m[m.split == "unseen"].actor).isdisjoint(m[m.split != "unseen"].actor)
assert (m.split == "train").sum() > 0 and (m.split == "test").sum() > 0
assert len(audio) == len(frames) * 640
print("ok:", len(m), "clips,", m.actor.nunique(), "actors")
