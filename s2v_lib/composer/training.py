"""Training (or loading) the speech2video composer and the baselines from their upstream artifacts.

    model = train_model("speech2video", profile, data, features, teacher)   # features: stage one's clips
    model = train_model("sdfa", profile, data)
    model = train_model("s2f_sdfa", profile, data, teacher=teacher)          # trains the voice encoder first
    model = load_model("sdfa", profile, data)                                # a finished checkpoint, or an error

Upstream artifacts not passed in come from the resolver (s2v_lib/artifacts.py). Each model's training
is a task for the shared loop (train/loop.py): its nets, optimisers and one adversarial step.
"""
import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..config import as_profile
from ..device import resolve_device
from ..errors import UserError
from ..paths import checkpoint_dir, figures_dir, results_dir
from ..train.checkpoint import Checkpoint
from ..train.loop import train
from ..train.windows import ClipBank, WindowSampler
from .clips import data_key, load_clips, sample_batch
from .configs import EVAL_WEIGHTS, FEATURE_SOURCES, MODELS, sdfa_config, seed_suffix, speech2video_config
from .s2f_voice import train_voice_encoder, voice_face_vectors
from .sdfa_task import SDFATask
from .speech2video_task import Speech2VideoTask


@dataclass
class TrainedModel:
    name: str
    profile: str
    config: object
    net: torch.nn.Module                      # the generator (eval mode)
    history: pd.DataFrame
    voice_encoder: torch.nn.Module | None = None    # S2F+SDFA only
    extra: dict = field(default_factory=dict)
    discriminators: dict = field(default_factory=dict)   # {"D_fr": ..., "D_sync": ...} as trained (eval mode)

    @property
    def frame_size(self) -> int:
        return self.config.model.frame_size


def teacher_channels(teacher, frame_size: int, device) -> tuple:
    with torch.no_grad():
        maps = teacher.feature_maps(torch.zeros(1, 3, frame_size, frame_size, device=device))
    sizes = [m.shape[-1] for m in maps]
    want = [frame_size // 8, frame_size // 4, frame_size // 2]
    if sizes != want:
        raise UserError(f"the identity teacher's feature_maps give sizes {sizes}, the composer needs {want} "
                        "(S/8, S/4, S/2); retrain the teacher for this frame size")
    return tuple(int(m.shape[1]) for m in maps)


def _run_dir_name(name: str, feature_source: str = "student", tag: str = "", seed: int = 0) -> str:
    out = name if feature_source == "student" else f"{name}_{feature_source}"
    return out + (f"_{tag}" if tag else "") + seed_suffix(seed)


def train_model(name: str, profile, data=None, features=None, teacher=None, device="auto", seed=0,
                force_retrain=False, feature_source="student", steps=None, tag="", progress=True,
                dataset="synthetic", data_root="", require_done=False, voice_steps=None, loop_overrides=None,
                warmup=None, weights=None, voice_utterance_norm=None, **overrides) -> TrainedModel:
    """Train (or resume, or load when finished) one of MODELS. Logs to results/<profile>/train_<run>.csv,
    the final sample grid to figures/<profile>/samples_<run>.png, the checkpoint to the cache.

    steps: adversarial steps (default STEPS[scale]); warmup: reconstruction warm-up steps before them
    (default WARMUP[scale], or 0 when steps is given).
    feature_source (speech2video): where nu, mu come from at training time, "student" (default; what
    the composer sees at test time) or "teacher" (the teachers' targets). tag names a side run.
    overrides: config fields (e.g. ch=16, w_sim=...); loop_overrides: LoopConfig fields (batch_clips=...).
    weights: "ema" (the generator's moving average when the config keeps one, g_ema > 0) or "raw"
    (the last step's weights); default EVAL_WEIGHTS[name], the other is that run's ablation row.
    voice_steps, voice_utterance_norm (S2F+SDFA): its voice encoder's steps and log-mel normalisation
    (defaults VOICE_STEPS[scale], VOICE_UTTERANCE_NORM)."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of {MODELS}")
    weights = EVAL_WEIGHTS[name] if weights is None else weights
    if weights not in ("ema", "raw"):
        raise UserError(f"weights must be 'ema' or 'raw', not {weights!r}")
    if feature_source not in FEATURE_SOURCES:
        raise UserError(f"feature_source must be one of {FEATURE_SOURCES}, not {feature_source!r}")
    profile = as_profile(profile)
    device = resolve_device(device)
    torch.manual_seed(seed)
    if data is None:
        from ..artifacts import prepared
        data = prepared(profile, dataset, data_root, seed)
    run = _run_dir_name(name, feature_source, tag, seed)
    voice, face_vecs, vector_keys = None, None, ("nu", "mu", "face_vec")
    if name in ("speech2video", "s2f_sdfa") and teacher is None:
        from ..artifacts import teachers
        teacher = teachers(profile, device)[0]
    if name == "speech2video":
        if features is None:
            from ..artifacts import stage_one
            features = stage_one(profile, data, device)["clips"]
        any_f = features[next(iter(data.clips("train")["clip_id"]))]
        cfg = speech2video_config(profile, np.shape(any_f["c"])[1], len(any_f["nu"]), len(any_f["mu"]),
                                  teacher_channels(teacher, profile.frame_size, device), seed, steps,
                                  data_key(data), warmup=warmup, feature_source=feature_source, **overrides)
        cfg.loop = dataclasses.replace(cfg.loop, **(loop_overrides or {}))
        task = Speech2VideoTask(cfg, teacher)
        grid_features = features
    else:
        voice_key = ""
        if name == "s2f_sdfa":
            voice, _, voice_key = train_voice_encoder(profile, data, teacher, device, seed, voice_steps,
                                                      force_retrain=force_retrain, progress=progress,
                                                      require_done=require_done, utterance_norm=voice_utterance_norm,
                                                      # a side run's own encoder keeps its own log
                                                      tag=tag if voice_steps is not None or voice_utterance_norm is not None else "")
        cfg = sdfa_config(profile, seed, steps, data_key(data),
                          id_from_vector=voice.cfg.out_dim if voice is not None else 0,
                          voice_key=voice_key, warmup=warmup, **overrides)
        cfg.loop = dataclasses.replace(cfg.loop, **(loop_overrides or {}))
        task = SDFATask(cfg)
        grid_features = None
    ckpt = Checkpoint(checkpoint_dir(profile.name) / run, cfg)
    sampler = grid_batch = None
    if force_retrain or not ckpt.is_done():      # the training clips are read only when there is training to do
        clips, ids = load_clips(data, "train", features if name == "speech2video" else None, feature_source)
        if voice is not None:
            test_ids = list(data.clips("test")["clip_id"])[:3]
            face_vecs = voice_face_vectors(voice, data, ids + test_ids, device)
            for clip, cid in zip(clips, ids):
                clip["face_vec"] = face_vecs[cid]
        sampler = WindowSampler(ClipBank(clips, ids), cfg.loop, vector_keys=vector_keys)
        grid_batch = sample_batch(data, "test", grid_features, face_vecs=face_vecs, seed=seed)
    hist = train(task, sampler, cfg.loop, ckpt, device=device, log_path=results_dir(profile.name) / f"train_{run}.csv",
                 grid_path=figures_dir(profile.name) / f"samples_{run}.png", sample_batch=grid_batch,
                 force_retrain=force_retrain, progress=progress, desc=run, require_done=require_done)
    net = task.nets["G_ema" if "G_ema" in task.nets and weights == "ema" else "G"]
    return TrainedModel(name, profile.name, cfg, net.eval(), hist, voice,
                        {"run": run, "checkpoint": str(ckpt.path), "ckpt_hash": ckpt.hash, "weights": weights},
                        {k: v.eval() for k, v in task.nets.items() if k.startswith("D_")})


def load_model(name: str, profile, data=None, features=None, teacher=None, device="auto", seed=0,
               feature_source="student", tag="", **kw) -> TrainedModel:
    """A finished model from its checkpoint (same arguments as train_model); trains nothing and
    raises a UserError when that configuration has not been trained."""
    return train_model(name, profile, data, features, teacher, device, seed, False, feature_source,
                       tag=tag, progress=False, require_done=True, **kw)
