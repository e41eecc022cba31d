"""The speech-feature cache: what stage 1 (CPC + students) gives the composer and the evaluation.

    feats = speech_features(profile, data, device)          # dict clip_id -> {
        "c":  (T, D) float16   CPC context c_t pooled to 25 fps (drives the frames)
        "w":  (D,)             the utterance summary the students read (w = c_T unless w_pooling says otherwise)
        "nu": (d_id,)          S_id(w), L2-normalised like the identity teacher's embedding
        "mu": (d_emo,)         S_emo(w), in the emotion teacher's feature space (its head gives the emotion)
        "nu_teacher", "mu_teacher": the teachers' targets from the clip's faces (first frame; K frames, Eq. (1)) }

Every clip of every split is computed. The file cache_root()/features/<profile>/<hash>.pt is keyed by
the data, the distillation config and the teachers' fingerprint, written atomically, and reused
unless force=True. The training behind it is checkpointed (distill.py), so a rebuild is cheap.
"""
import dataclasses
import hashlib
import json

import torch

from . import distill
from .atomic import torch_save
from .config import as_profile
from .paths import cache_root


def _teachers(profile, device, id_teacher, emo_teacher):
    if id_teacher is None or emo_teacher is None:
        from .teachers import load_emotion_teacher, load_identity_teacher
        id_teacher = id_teacher or load_identity_teacher(profile, device=device)
        emo_teacher = emo_teacher or load_emotion_teacher(profile, device=device)
    return id_teacher, emo_teacher


def stage_key(data, cfg: distill.DistillConfig, teacher_fp: str) -> str:
    payload = {"data": distill.data_key(data), "cfg": dataclasses.asdict(cfg), "teachers": teacher_fp}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def features_dir(profile_name: str):
    return cache_root() / "features" / profile_name


def speech_stage(profile, data, device: str = "cpu", force: bool = False, cfg: distill.DistillConfig | None = None,
                 id_teacher=None, emo_teacher=None, seed: int = 0, progress: bool = True) -> dict:
    """Stage 1 end to end, cached: {"meta", "history": {"cpc", "students"}, "inputs", "clips"}.

    inputs holds, in manifest order, clip_id, w_last, w_mean, logmel, nu_teacher, mu_teacher (for the
    ablations and the evaluation); clips is the per-clip dict speech_features returns."""
    profile = as_profile(profile)
    cfg = cfg or distill.DistillConfig.for_profile(profile, seed)
    id_teacher, emo_teacher = _teachers(profile, device, id_teacher, emo_teacher)
    fp = distill.teacher_fingerprint(id_teacher, emo_teacher, data.frame_size)
    path = features_dir(profile.name) / f"{stage_key(data, cfg, fp)}.pt"
    if path.exists() and not force:
        return torch.load(path, map_location="cpu", weights_only=False)

    cpc, cpc_hist = distill.train_cpc(profile, data, device, force_retrain=force, cfg=cfg.cpc, progress=progress)
    inputs = distill.clip_inputs(data, cpc, id_teacher, emo_teacher, cfg.k_frames, cfg.seed, progress=progress)
    w = inputs[f"w_{cfg.w_pooling}"]
    split = data.manifest.set_index("clip_id").loc[inputs["clip_id"], "split"].to_numpy()
    key = distill.tensor_key(w, inputs["nu_teacher"], inputs["mu_teacher"])
    students, st_hist = distill.train_students(profile, f"cpc_{cfg.w_pooling}", w, inputs["nu_teacher"],
                                               inputs["mu_teacher"], split, emo_teacher.head, cfg.students, key,
                                               device, force_retrain=force, progress=progress)
    nu, mu = distill.apply_students(students, w)
    clips = {}
    for i, cid in enumerate(inputs["clip_id"]):
        clips[cid] = {"c": inputs["c"][i], "w": w[i], "nu": nu[i], "mu": mu[i],
                      "nu_teacher": inputs["nu_teacher"][i], "mu_teacher": inputs["mu_teacher"][i]}
    meta = {"profile": profile.name, "config": dataclasses.asdict(cfg), "teacher_fingerprint": fp,
            "kd_direction": cfg.students.kd_direction, "w_pooling": cfg.w_pooling,
            "dims": {"c": int(inputs["c"][0].shape[1]), "w": int(w.shape[1]), "nu": int(nu.shape[1]),
                     "mu": int(mu.shape[1]), "logmel": int(inputs["logmel"].shape[1])},
            "emotion_classes": list(emo_teacher.classes), "n_clips": len(clips)}
    stage = {"meta": meta, "history": {"cpc": cpc_hist, "students": st_hist},
             "inputs": {k: v for k, v in inputs.items() if k != "c"}, "clips": clips}
    torch_save(path, stage)
    return stage


def speech_features(profile, data, device: str = "cpu", force: bool = False, **kw) -> dict:
    """dict clip_id -> {"c", "w", "nu", "mu", "nu_teacher", "mu_teacher"} for every clip (see module doc)."""
    return speech_stage(profile, data, device, force, **kw)["clips"]
