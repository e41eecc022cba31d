"""Your own voice as an unseen voice: the best trained speech2video in the cache, any audio file in.

    python -m s2v_lib generate --wav my.wav --out me.mp4 [--profile auto]

`best_trained_profile` picks the largest profile whose models are trained in this cache (gpu over cpu over
smoke) without training anything; smoke models only prove the plumbing (their faces are coloured noise),
and the CLI says so (`profile_note`). The audio goes through the study's reader (WAV/FLAC via soundfile, MP3
and others via PyAV; any rate, resampled to 16 kHz mono) and is trimmed to MAX_SECONDS. Notebook 06's upload
(widgets.OwnVoicePanel) goes through the same `read_voice_bytes` and `voice_video`.
"""
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError

MAX_SECONDS = 10.0
MIN_SECONDS = 0.5
ORDER = ("gpu", "cpu", "smoke")          # the best trained models first
SMOKE_NOTE = ("these are smoke-profile models: they only prove the plumbing (their faces are coloured noise); "
              "`make reproduce` trains real ones (the cpu chain takes about 40-60 min on 2 cores; "
              "with CUDA it trains the gpu profile)")


@dataclass
class TrainedStudy:
    profile: str
    data: object          # PreparedData
    stage: dict           # stage one (speech features, the students' weights)
    model: object         # composer.training.TrainedModel (speech2video)
    identity_teacher: object = None
    emotion_teacher: object = None


def load_trained(profile: str, device: str = "cpu") -> TrainedStudy:
    """The finished speech2video of one profile and its upstream artifacts; a UserError when any is missing
    (nothing is trained here)."""
    from .composer.training import load_model
    from .data.cache_key import is_complete
    from .data.pipeline import get_prepared, twin_dir
    from .paths import cache_root, results_dir
    from .stage_one.features import speech_stage
    from .teachers.loading import load_emotion_teacher, load_identity_teacher
    if not (results_dir(profile) / "teachers.json").exists():
        raise UserError(f"profile {profile}: no teachers chosen (results/{profile}/teachers.json)")
    if not (twin_dir(_profile(profile)) / "twin.json").exists():
        raise UserError(f"profile {profile}: no twin in the cache")
    if not any(is_complete(d) for d in (cache_root() / "prepared").glob(f"synthetic-{profile}-*")):
        raise UserError(f"profile {profile}: the twin is not prepared yet")     # preparing is notebook 01's work
    data = get_prepared(profile, progress=False)          # a no-op when prepared
    id_t, emo_t = load_identity_teacher(profile, device=device), load_emotion_teacher(profile, device=device)
    stage = speech_stage(profile, data, id_t, emo_t, device, progress=False, require_cached=True)
    model = load_model("speech2video", profile, data, stage["clips"], id_t, device)
    return TrainedStudy(profile, data, stage, model, id_t, emo_t)


def _profile(name):
    from .config import get_profile
    return get_profile(name)


def best_trained_profile(device: str = "cpu", order=ORDER) -> TrainedStudy:
    reasons = []
    for name in order:
        try:
            return load_trained(name, device)
        except UserError as e:
            reasons.append(str(e))
    raise UserError("no trained speech2video in this cache (" + "; ".join(reasons) + "); run "
                    "`make reproduce PROFILE=smoke` (minutes) or `make reproduce` (cpu: about 40-60 min on 2 cores)")


def profile_note(profile: str) -> str:
    """Which profile's models are shown, and for smoke what that means."""
    return f"models: profile {profile}" + (f" ({SMOKE_NOTE})" if profile == "smoke" else "")


def read_voice(path, max_seconds: float = MAX_SECONDS, name: str | None = None) -> tuple[np.ndarray, str]:
    """(16 kHz mono float32, a note on what was done to it) from any audio file the study can read.
    name: how messages call the input (default `--wav PATH`, the CLI's flag)."""
    from .data.video_io import DecodeError, read_audio
    path = Path(path)
    name = name or f"--wav {path}"
    if not path.is_file():
        raise UserError(f"{name}: no such file; give a WAV, FLAC or MP3 recording")
    try:
        wav, rate = read_audio(path)
    except DecodeError as e:
        reason = " ".join(str(e).removeprefix(f"{path}: ").replace(str(path), "the file").split())   # one line
        raise UserError(f"{name}: cannot read it as audio ({reason}); give a WAV, FLAC or MP3 recording") from None
    note = f"{name.removeprefix('--wav ')}: {len(wav) / 16000:.1f} s at {rate} Hz, resampled to 16 kHz mono"
    if len(wav) < MIN_SECONDS * 16000:
        raise UserError(f"{name}: only {len(wav) / 16000:.2f} s of audio; give at least {MIN_SECONDS} s of speech")
    if len(wav) > max_seconds * 16000:
        wav = wav[: int(max_seconds * 16000)]
        note += f"; trimmed to the first {max_seconds:.0f} s"
    peak = float(np.abs(wav).max())
    if peak > 0:
        wav = wav / peak * 0.9          # the twin's speech is peak-normalised too
    return wav.astype(np.float32), note


def read_voice_bytes(content: bytes, filename: str, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, str]:
    """read_voice on an uploaded file's bytes (the reader picks the decoder by the name's suffix)."""
    suffix = Path(filename).suffix.lower()
    if not content:
        raise UserError(f"{filename}: the file is empty; give a WAV, FLAC or MP3 recording")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(bytes(content))
        return read_voice(path, max_seconds, name=filename)


def voice_video(study: TrainedStudy, wav: np.ndarray, encoder) -> tuple[np.ndarray, dict]:
    """speech2video on a voice it never heard: (frames uint8 (T, S, S, 3), the stage-one features c, nu, mu)."""
    from .generate import generate
    features = encoder.encode(wav)
    return generate(study.model, wav, features=features), features


def nearest_seen_actor(study: TrainedStudy, nu) -> dict:
    """The seen actor whose identity centroid (teacher embeddings of its training clips) is nearest to nu."""
    import torch
    import torch.nn.functional as F

    from .stage_one.evaluation import actor_centroids, clip_table
    inp = study.stage["inputs"]
    table = clip_table(study.data, inp["clip_id"])
    actors, cents = actor_centroids(inp["nu_teacher"], table, ["train"])
    sim = F.normalize(torch.as_tensor(nu).float()[None].cpu(), dim=-1) @ cents.T
    j = int(sim.argmax())
    row = table[table["actor"] == actors[j]].iloc[0]
    return {"actor": int(actors[j]), "sex": row["sex"], "age_group": row["age_group"], "cosine": float(sim[0, j])}


def generate_cli(args) -> int:
    from .device import resolve_device
    from .generate import speech_encoder, write_mp4
    device = resolve_device(args.device)
    wav, note = read_voice(args.wav)
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise UserError(f"--out {out}: give a file name ending in .mp4")
    study = load_trained(args.profile, device) if args.profile != "auto" else best_trained_profile(device)
    encoder = speech_encoder(study.profile, study.data, device, stage=study.stage)
    frames, features = voice_video(study, wav, encoder)
    write_mp4(out, frames, wav)
    near = nearest_seen_actor(study, features["nu"])
    print(note)
    print(profile_note(study.profile))
    print(f"wrote {out}: {len(frames)} frames at 25 fps, {frames.shape[1]} px, with your audio")
    print(f"nearest seen actor to your voice: {near['actor']} ({near['sex']}, age group {near['age_group']}; "
          f"cosine {near['cosine']:.2f})")
    return 0
