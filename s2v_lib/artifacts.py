"""The one place that builds a missing upstream artifact, so a notebook (or a test) can run alone.

Each stage is a function of its upstream artifacts and says so in its signature:

    prepared data       data.pipeline.get_prepared(profile, dataset, data_root, seed)      (notebook 01)
    teachers            teachers.train_teachers + teachers.json's choice                    (notebook 02)
    stage one           stage_one.speech_stage(profile, data, id_teacher, emo_teacher)      (notebook 03)
    composer models     composer.train_model(name, profile, data, features, teacher)        (notebook 04)
    sync expert         evaluation.sync_expert.train_sync_expert(profile, data)             (notebook 05)

`require(name, profile, ...)` returns the artifact from the cache, building what is missing with the
stage's own function (which is itself cached and resumable); the notebooks' order is the only place the
whole pipeline is spelled out. Teachers are the exception: their family is chosen by notebook 02's
evaluation, so a missing choice is an error that says to run notebook 02.
"""
from .config import as_profile

ARTIFACTS = ("prepared", "teachers", "stage_one")


def prepared(profile, dataset: str = "synthetic", data_root: str = "", seed: int = 0):
    from .data.pipeline import get_prepared
    return get_prepared(as_profile(profile), dataset, data_root, seed)


def teachers(profile, device: str = "cpu") -> tuple:
    """(identity teacher, emotion teacher) of the families notebook 02 chose."""
    from .teachers.loading import load_emotion_teacher, load_identity_teacher
    return load_identity_teacher(profile, device=device), load_emotion_teacher(profile, device=device)


def stage_one(profile, data=None, device: str = "cpu", dataset: str = "synthetic", data_root: str = "",
              seed: int = 0) -> dict:
    """The cached speech stage for the profile's default DistillConfig (trained when missing)."""
    from .stage_one.features import speech_stage
    data = data if data is not None else prepared(profile, dataset, data_root, seed)
    id_teacher, emo_teacher = teachers(profile, device)
    return speech_stage(profile, data, id_teacher, emo_teacher, device, progress=False)


def require(name: str, profile, **kw):
    """require("prepared" | "teachers" | "stage_one", profile, ...): see the module docstring."""
    from .errors import UserError
    builders = {"prepared": prepared, "teachers": teachers, "stage_one": stage_one}
    if name not in builders:
        raise UserError(f"unknown artifact {name!r}; choose one of {ARTIFACTS}")
    return builders[name](profile, **kw)
