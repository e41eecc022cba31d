"""Stage one end to end, cached: what the composer, the evaluation and the generation API read.

    stage = speech_stage(profile, data, id_teacher, emo_teacher, device)
    stage["clips"][clip_id] = {
        "c":  (T, D) float16   CPC context c_t pooled to 25 fps (drives the frames)
        "w":  (D,)             the utterance summary the students read (DistillConfig.w_pooling)
        "nu": (d_id,)          S_id(w), L2-normalised like the identity teacher's embedding
        "mu": (d_emo,)         S_emo(w), in the emotion teacher's feature space (its head gives the emotion)
        "nu_teacher", "mu_teacher": the teachers' targets from the clip's faces (first frame; Eq. (1)) }
    stage["weights"] = {"cpc", "students"}: the trained state dicts (load_speech_encoder rebuilds them)

Every clip of every split is computed. The file cache_root()/features/<profile>/<key>.pt is keyed by the
data, the distillation config and the teachers' fingerprint, written atomically, holds tensors and plain
types only (read with weights_only=True), and is reused unless force=True. The training behind it is
checkpointed, so a rebuild after a kill is cheap.
"""
import dataclasses
import hashlib
import json


from ..atomic import torch_save
from ..config import as_profile
from ..errors import UserError
from ..models.cpc import CPC, CPCConfig
from ..models.students import StudentConfig, Students
from ..paths import cache_root
from ..train.checkpoint import safe_load
from .config import DistillConfig, data_key
from .cpc_training import train_cpc
from .students_training import apply_students, tensor_key, train_students
from .targets import clip_inputs, teacher_fingerprint

FORMAT = 2      # adds the trained weights; part of the file name


def stage_key(data, cfg: DistillConfig, teacher_fp: str) -> str:
    payload = {"data": data_key(data), "cfg": dataclasses.asdict(cfg), "teachers": teacher_fp}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def features_dir(profile_name: str):
    return cache_root() / "features" / profile_name


def speech_stage(profile, data, id_teacher, emo_teacher, device: str = "cpu", force: bool = False,
                 cfg: DistillConfig | None = None, seed: int = 0, progress: bool = True,
                 require_cached: bool = False) -> dict:
    """Stage one from its upstream artifacts (prepared data, the two teachers), cached:
    {"meta", "history": {"cpc", "students"}, "inputs", "clips", "weights"}.

    inputs holds, in manifest order, clip_id, w_last, w_mean, logmel, nu_teacher, mu_teacher (for the
    ablations and the evaluation); clips is the per-clip dict of the module docstring.
    require_cached: a UserError instead of training when the cache has no such stage."""
    profile = as_profile(profile)
    cfg = cfg or DistillConfig.for_profile(profile, seed)
    fp = teacher_fingerprint(id_teacher, emo_teacher, data.frame_size)
    path = features_dir(profile.name) / f"{stage_key(data, cfg, fp)}.v{FORMAT}.pt"
    if path.exists() and not force:
        return safe_load(path, "speech-feature cache")
    if require_cached:
        raise UserError(f"profile {profile.name}: stage one is not in the cache ({path.name}); run notebook 03")

    cpc, cpc_hist = train_cpc(profile, data, device, force_retrain=force, cfg=cfg.cpc, progress=progress)
    inputs = clip_inputs(data, cpc, id_teacher, emo_teacher, cfg.k_frames, cfg.seed, progress=progress)
    w = inputs[f"w_{cfg.w_pooling}"]
    split = data.manifest.set_index("clip_id").loc[inputs["clip_id"], "split"].to_numpy()
    key = tensor_key(w, inputs["nu_teacher"], inputs["mu_teacher"])
    students, st_hist = train_students(profile, f"cpc_{cfg.w_pooling}", w, inputs["nu_teacher"],
                                       inputs["mu_teacher"], split, emo_teacher.head, cfg.students, key,
                                       device, force_retrain=force, progress=progress)
    nu, mu = apply_students(students, w)
    clips = {}
    for i, cid in enumerate(inputs["clip_id"]):
        clips[cid] = {"c": inputs["c"][i], "w": w[i], "nu": nu[i], "mu": mu[i],
                      "nu_teacher": inputs["nu_teacher"][i], "mu_teacher": inputs["mu_teacher"][i]}
    meta = {"profile": profile.name, "config": dataclasses.asdict(cfg), "teacher_fingerprint": fp,
            "kd_direction": cfg.students.kd_direction, "w_pooling": cfg.w_pooling,
            "dims": {"c": int(inputs["c"][0].shape[1]), "w": int(w.shape[1]), "nu": int(nu.shape[1]),
                     "mu": int(mu.shape[1]), "logmel": int(inputs["logmel"].shape[1])},
            "emotion_classes": list(emo_teacher.classes), "n_clips": len(clips)}
    weights = {"cpc": {k: v.cpu() for k, v in cpc.state_dict().items()},
               "students": {k: v.cpu() for k, v in students.state_dict().items()}}
    stage = {"meta": meta, "history": {"cpc": cpc_hist, "students": st_hist},
             "inputs": {k: v for k, v in inputs.items() if k != "c"}, "clips": clips, "weights": weights}
    torch_save(path, stage)
    return stage


def load_speech_encoder(stage: dict, device: str = "cpu") -> tuple[CPC, Students, str]:
    """The trained CPC and students of a stage (from its cached weights) -> (cpc, students, w_pooling)."""
    cfg, dims = stage["meta"]["config"], stage["meta"]["dims"]
    cpc = CPC(CPCConfig(**cfg["cpc"]))
    cpc.load_state_dict(stage["weights"]["cpc"])
    students = Students(dims["w"], dims["nu"], dims["mu"], StudentConfig(**cfg["students"]))
    students.load_state_dict(stage["weights"]["students"])
    return cpc.to(device).eval(), students.to(device).eval(), stage["meta"]["w_pooling"]
