"""Loading the teacher family notebook 02 chose (results/<profile>/teachers.json) for a profile."""
import json

from ..config import as_profile
from ..errors import UserError
from ..paths import checkpoint_dir, results_dir
from .frozen import DlibIdentityTeacher, FerEmotionTeacher, TrainedEmotionTeacher, TrainedIdentityTeacher
from . import training

IDENTITY_FAMILIES = ("trained", "dlib")
EMOTION_FAMILIES = ("trained", "fer")


def teachers_json(profile) -> dict:
    profile = as_profile(profile)
    path = results_dir(profile.name) / "teachers.json"
    if not path.exists():
        raise UserError(f"{path} is missing, so no teacher family has been chosen for profile "
                        f"{profile.name!r}; run notebooks/02_teachers first (or pass family=...)")
    return json.loads(path.read_text())


def _trained(profile, kind: str, seed, device):
    profile = as_profile(profile)
    if seed is None:
        path = results_dir(profile.name) / "teachers.json"
        seed = teachers_json(profile).get("seed", 0) if path.exists() else 0
    cfg = training.teacher_configs(profile, seed)[kind]
    state = training.teacher_checkpoint(profile, kind, cfg).load()
    if state is None or not state.get("done"):
        raise UserError(f"no finished {kind} teacher for profile {profile.name!r} (seed {seed}) under "
                        f"{checkpoint_dir(profile.name)}; run notebooks/02_teachers or "
                        "s2v_lib.teachers.train_teachers(profile) first")
    net = training.build_net(kind, cfg)
    net.load_state_dict(state["state"]["model"])
    teacher = TrainedIdentityTeacher if kind == "identity" else TrainedEmotionTeacher
    return teacher(net.eval(), cfg["faces"]["size"]).to(device)


def load_identity_teacher(profile, family: str | None = None, device: str = "cpu", seed: int | None = None):
    """family None: the one notebook 02 chose (results/<profile>/teachers.json); else "trained" | "dlib"."""
    family = family or teachers_json(profile)["identity"]
    if family == "dlib":
        return DlibIdentityTeacher().to(device)
    if family == "trained":
        return _trained(profile, "identity", seed, device)
    raise UserError(f"unknown identity teacher family {family!r}; choose one of {IDENTITY_FAMILIES}")


def load_emotion_teacher(profile, family: str | None = None, device: str = "cpu", seed: int | None = None):
    """family None: the one notebook 02 chose (results/<profile>/teachers.json); else "trained" | "fer"."""
    family = family or teachers_json(profile)["emotion"]
    if family == "fer":
        return FerEmotionTeacher().to(device)
    if family == "trained":
        return _trained(profile, "emotion", seed, device)
    raise UserError(f"unknown emotion teacher family {family!r}; choose one of {EMOTION_FAMILIES}")
