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
# # 7. The reverse direction: Lip2Speech, and the voice -> face -> voice cycle
#
# Speech2Video recollects a face from a voice. Lip2Speech (Millerdurai et al., *Show Me Your Face,
# And I'll Tell You How You Speak*) goes the other way: from a **silent** video it generates speech
# whose content follows the lips and whose voice should match the face (sex, age, ethnicity). Its
# Table 2 reports STOI, ESTOI, PESQ and WER on 153 LRW clips; its voice-match claims rest on a
# 70-clip MOS study and a face decoder's pictures.
#
# On the CREMA-D twin both directions have a known ground truth: every voice is derived from the
# actor's demographics, and the lips follow the phonemes. So here the paper's claims can be measured
# objectively:
#
# * **Does the face embedding move the generated voice toward the speaker?** Three conditions are
#   trained side by side on the same lips: *lips only* (no speaker embedding), *lips + face
#   embedding* (the paper's method), *lips + voice embedding* of the real voice (the oracle, the
#   paper's "speaker audio embedding" row). The voice of the output is read by the frozen GE2E
#   speaker encoder: cosine to the real clip, speaker-verification EER, and sex / age-group probes
#   trained on real voices.
# * **Is the content recognisable?** STOI / ESTOI / PESQ against the real audio, and the word error
#   rate of a small recogniser trained on the twin's real speech.
# * **Does identity survive the cycle?** Lip2Speech's speech of test and unseen actors is fed to the
#   speech2video trained in notebook 04; the faces it recollects are scored against the real actor.
#
# **Data.** On the CREMA-D twin these numbers are *not* a reproduction of the paper's numbers
# (LRW, real people, 500 words); the paper's row is printed beside ours, labelled by its dataset.

# %% tags=["parameters"]
PROFILE = "smoke"
SEED = 0
DATASET = "synthetic"
DATA_ROOT = ""
DEVICE = "auto"
FORCE_RETRAIN = False
INTERACTIVE = True

# %%
import numpy as np
import pandas as pd
from IPython.display import Audio, Markdown, display

from s2v_lib.config import get_profile
from s2v_lib.data.pipeline import get_prepared
from s2v_lib.device import resolve_device
from s2v_lib.evaluation.table1 import dataset_label
from s2v_lib.figures import save_figure
from s2v_lib.lip2speech import figures as LF
from s2v_lib.lip2speech.config import CONDITION_NAMES, Lip2SpeechConfig
from s2v_lib.lip2speech.cycle import CYCLE_METRICS
from s2v_lib.lip2speech.report import decoder_verdict, table_markdown, write_report
from s2v_lib.lip2speech.stage import Study
from s2v_lib.paths import figures_dir, results_dir
from s2v_lib.seed import seed_everything

profile = get_profile(PROFILE)
device = resolve_device(DEVICE)
seed_everything(SEED)
DATA_LABEL = dataset_label(DATASET)
FIG_DIR, RES_DIR = figures_dir(profile.name), results_dir(profile.name)
data = get_prepared(profile, DATASET, DATA_ROOT, seed=SEED)
cfg = Lip2SpeechConfig.for_profile(profile, SEED)
print(f"profile {profile.name}; data: {DATA_LABEL}; device {device}")

# %% [markdown]
# ## Our reading of the paper
# The paper leaves several things open; these are our choices (all in `s2v_lib/lip2speech/config.py`):
#
# | point | the paper | here |
# |---|---|---|
# | target | "melspectogram", 16 kHz implied | 80-bin log-mel, 16 kHz, hop 10 ms (4 mel frames per 25 fps video frame), window 40 ms |
# | lip input | lip ROIs | the lower half of the prepared face crop, gray |
# | front end | 3-D conv block + ShuffleNet V2, temporal length kept, global average pooling | the same; torchvision's ShuffleNetV2 (trained here, no pretrained weights) with its stem replaced by the 3-D block, sized per profile |
# | speaker encoder (face) | Inception-ResNet on CASIA-WebFace, 3 of 5 blocks frozen | the study's identity teacher (notebook 02), its first stages frozen, the rest fine-tuned + a linear map to GE2E space |
# | speech encoder | "speech encoder [17]" (SV2TTS's GE2E), frozen | GE2E with the weights that ship in `resemblyzer`, ported to PyTorch (parity-tested) |
# | contrastive loss | "instance based contrastive learning" | symmetric InfoNCE, one clip per actor per batch (no same-speaker negatives) |
# | decoder | Prenet, 4-layer LSTM from the BiLSTM states, localized attention + sinusoidal encodings, stop token | the same, with r = 4 mel frames per step (one per video frame; r unstated) and location-sensitive attention |
# | decoder used for the table | the autoregressive one | **the parallel decoder is the default** (a named departure, `decoder="parallel"`: the BiLSTM outputs upsampled x4, convs + BiLSTM, no attention, no stop token); `decoder="autoregressive"` (the paper's reading) is trained for the face condition too, on its own shorter budget, and scored in the same table. Why, from measurements: see "Which decoder" below (this run's numbers, and the cpu-profile measurement that fixed the default) |
# | length at inference | until the stop token > 0.5 | the video's length (4 mel frames per frame), so outputs align with the real audio for STOI / PESQ |
# | ASR for WER | unnamed | a closed-vocabulary CTC recogniser (log-mel -> 3 strided convs with batch norm to 12.5 frames/s -> BiGRU -> the words of the 12 CREMA-D sentences + blank) trained on the twin's real training speech: a stand-in that knows the script, not an open-vocabulary ASR; its WER on real speech and on Griffin-Lim-resynthesised real mel is printed beside the generated speech's |
# | speaker conditioning of the oracle | "speaker audio embedding" | mean GE2E of the same actor's *other* clips (a reference utterance, not this clip's content) |

# %% [markdown]
# ## Data: mouths, mels, voices
# Each clip gives the mouth sequence (25 fps) and its 80-bin log-mel (100 frames/s, 4 per video
# frame), and the frozen GE2E encoder embeds its real voice.

# %%
st = Study.prepare(profile, data, device, SEED, force_retrain=FORCE_RETRAIN, cfg=cfg)
counts = {s: len(a.ids) for s, a in st.arrays.items()}
print("clips per split:", counts)
ex = st.arrays["train"].ids[0]
print(f"{ex}: mouths {st.arrays['train'].mouths[ex].shape} (T, h, w), log-mel {st.arrays['train'].logmel[ex].shape} (4T, 80)")

# %% [markdown]
# ## The speaker identity module: from a face to a voice embedding
# Trained on the training clips; scored on test clips and unseen actors by how well a face's
# embedding finds its own actor's voice (each actor's mean real GE2E embedding) among the actors of
# the split.

# %%
speaker_hist = st.train_speaker()
retrieval = pd.DataFrame({s: st.speaker_retrieval(s) for s in ("test", "unseen")}).T
display(retrieval.round(3))

# %% [markdown]
# ## Training the three conditions (and the paper's decoder)
# MSE is in standardised log-mel units (1.0 = predicting each bin's training mean). The second
# table compares the decoders: training MSE at the same number of steps, and the free-running
# validation MSE each reached on its own budget.

# %%
display(st.train_conditions().round(4))
dec_cmp = st.decoder_comparison()
display(pd.Series(dec_cmp, name="parallel vs autoregressive").to_frame().round(4))

# %% [markdown]
# The recogniser for WER, trained on real training speech; and the sex / age-group probes, trained
# on real training voices' GE2E embeddings.

# %%
rec_hist = st.train_recogniser()
print(f"recogniser: {len(rec_hist)} steps, CTC {rec_hist['ctc'].iloc[0]:.2f} -> {rec_hist['ctc'].iloc[-5:].mean():.3f}")
probes = st.fit_probes()
fig = LF.training_figure(st)
save_figure(fig, FIG_DIR / "lip2speech_training.png")

# %% [markdown]
# ## Table 2, beside the paper's
# Test clips of seen actors and clips of unseen actors; intervals resample actors.

# %%
summary = st.evaluate()
display(Markdown(table_markdown(summary, DATA_LABEL)))
chance = pd.DataFrame({s: summary[s]["chance"] for s in summary}).T
print("chance levels:")
display(chance.round(3))
for split in summary:     # the recogniser's own ceiling: real speech, and real mel through the vocoder
    r, g = summary[split]["real"]["wer"], summary[split]["real mel + Griffin-Lim"]["wer"]
    print(f"{split}: recogniser WER on real speech {r['mean']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}], "
          f"on Griffin-Lim of the real mel {g['mean']:.3f} [{g['lo']:.3f}, {g['hi']:.3f}]")
print("example:", st.per_clip.query("method == 'real'")[["clip_id", "hypothesis"]].head(3).to_dict("records"))

# %% [markdown]
# ## Which decoder
# The default for the table is the parallel decoder; the paper's autoregressive decoder is trained
# beside it for the face condition. The numbers that decide it: the free-running validation MSE
# (whole clips, no teacher forcing: what inference does) and the paired STOI difference on the
# same test clips. Training MSE does not decide it: the autoregressive decoder is trained with
# teacher forcing (it sees the true previous mel frames), so its training MSE flatters it.
#
# The measurement that set the default (cpu twin, lips-only condition so that no speaker module is
# needed, 24 test clips, intervals resample actors; `python -m s2v_lib.lip2speech.decoder_study
# --profile cpu --prepared <prepared dir> --runs parallel:200,autoregressive:40`):
#
# | decoder (cpu budget) | training MSE (last) | free-running val MSE | test STOI | test ESTOI | train CPU s |
# |---|---|---|---|---|---|
# | parallel, 200 steps | 0.597 | **0.516** | **0.458** [0.421, 0.494] | 0.016 [0.003, 0.029] | 43 |
# | autoregressive, 40 steps | 0.422 (teacher-forced) | 1.646 | 0.386 [0.371, 0.403] | -0.001 [-0.010, 0.009] | 16 |
#
# Free running, the autoregressive decoder at its cpu budget is worse than predicting each bin's
# mean (1.0), although its teacher-forced training MSE is lower: its own outputs fed back drift
# away (exposure bias), and 40 steps (each 1.5-2x the cost of a parallel step) do not teach it
# to recover.
# The parallel decoder is the default because of these two numbers. **Not measured**: the
# autoregressive decoder at the same 200 steps (the comparison at equal steps was started but did
# not finish on the shared 2-core machine); whether it would catch up with 5x the budget is open.
# This run's own comparison (at smoke it proves only the plumbing):

# %%
print(decoder_verdict(summary, dec_cmp, profile.name))

# %% [markdown]
# ## Listen
# Real speech, the vocoder's ceiling (real mel through Griffin-Lim), and each condition, for a test
# clip and an unseen actor's clip.

# %% tags=["nbval-ignore-output"]
for split in ("test", "unseen"):
    c = st.eval_ids[split][0]
    display(Markdown(f"**{split}: {c}**"))
    display(Markdown("real"), Audio(st.arrays[split].wav[c], rate=16000))
    for m in ("real mel + Griffin-Lim", "lips", "face", "voice"):
        display(Markdown(CONDITION_NAMES.get(m, m)), Audio(st.speech[split][m][c][1], rate=16000))

# %% [markdown]
# ## Mel spectrograms (as the paper's Fig. 8)

# %%
fig = LF.mel_figure(st, "test")
save_figure(fig, FIG_DIR / "lip2speech_mels.png")

# %% [markdown]
# ## What the speaker embedding keeps of the face (the paper's mean-face analysis)
# A small decoder trained with L2 to rebuild the face from its speaker embedding.

# %%
fd_hist = st.train_face_decoder()
for split in ("test", "unseen"):
    ids, real, recon = st.face_pairs(split)
    fig = LF.face_pairs_figure(ids, real, recon, f"{split}: real face / face decoded from its speaker embedding")
    save_figure(fig, FIG_DIR / f"lip2speech_faces_{split}.png")

# %% [markdown]
# ## The cycle: speech2video listens to Lip2Speech
# The speech of each condition (and the real speech) goes into the speech2video of notebook 04; the
# recollected face is scored by identity top-1 among the seen actors (test clips only: unseen actors
# have no gallery entry) and by sex / age-group agreement with the real actor.

# %%
cycle = st.cycle()
rows = [{"split": s, "speech": m, **{k: d[k]["mean"] for k in CYCLE_METRICS if k in d},
         **{k: v for k, v in d.items() if k.endswith("_chance")}} for s in ("test", "unseen")
        for m, d in cycle.get(s, {}).items()]
display(pd.DataFrame(rows).round(3))
print(f"identity chance: {cycle['chance']['top1']:.3f} ({cycle['chance']['n_seen_actors']} seen actors)")
fig = LF.cycle_figure(st.cycle_rows[st.cycle_rows["split"] == "test"])
save_figure(fig, FIG_DIR / "lip2speech_cycle.png")

# %% [markdown]
# ## What the numbers say

# %%
out = write_report(profile.name, st, DATA_LABEL, {"cycle": cycle})
display(Markdown("\n".join(f"* {v}" for v in out["verdicts"])))
print(f"wrote {RES_DIR / 'lip2speech.json'} and {RES_DIR / 'lip2speech.md'}")

# %% [markdown]
# Reading the verdicts: each is read from a 95% interval that resamples actors. The face embedding
# "moves the voice toward the speaker" when the paired difference of GE2E cosine (face - lips, the
# same clips) lies above 0; "inconclusive" when the interval contains 0. The oracle (voice) row is
# the ceiling the face could reach, and "voice - lips" says whether the decoder uses a speaker
# embedding at all: if even the oracle is not told apart from lips only, the face rows cannot show
# more. Identity survives the cycle when speech2video's faces from Lip2Speech's speech find the
# right actor (test) or the right sex (unseen) above chance, with the interval clear of chance. At the smoke profile every number only proves the plumbing (a few training
# steps: the decoders still predict close to the mean mel); the cpu profile's run writes
# `results/cpu/lip2speech.md`, the one to read. The cycle asks a harder question than
# either paper: whether a face -> voice -> face round trip keeps the person; the real-speech row is
# what speech2video achieves with the true voice.

# %%
for split in ("test", "unseen"):
    for m in ("lips", "face", "voice"):
        v = summary[split][m]
        assert 0 <= v["stoi"]["lo"] <= v["stoi"]["mean"] <= v["stoi"]["hi"] <= 1, (split, m)
        assert 0 <= v["eer"] <= 1 and -1 <= v["ge2e_cos"]["mean"] <= 1
assert (RES_DIR / "lip2speech.json").exists()
