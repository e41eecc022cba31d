"""The twin in VoxCeleb2's layout (`synth --layout voxceleb2`): exercises the VoxCeleb2 reader here.

    dev|test/mp4/idXXXXX/<video>/<clip>.mp4   h264 + AAC, 25 fps (VoxCeleb2's rate)
    dev|test/aac/idXXXXX/<video>/<clip>.m4a   the same audio, AAC (the release's separate audio download)
    vox2_meta.csv                             VoxCeleb2 ID, VGGFace2 ID, Gender, Set (space-padded, like the release)
    GroundTruth/dev|test/idXXXXX/<video>/<clip>.npz   twin only: face boxes etc., to check the detector
    twin.json (written last), defects.json (with --defects)

Unlike the CREMA-D twin: more speakers (identities drawn here, not CREMA-D's actors), neutral speech
only, a background colour and a stronger head motion per video, and a little noise in picture and
sound. Faces, voices and muxing are the CREMA-D twin's own functions. Test identities are disjoint
from dev identities, as in VoxCeleb2.
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...atomic import save_npz, write_bytes, write_json
from ...device import available_cpus
from ...errors import UserError
from ...paths import ensure_dir
from .. import crema_meta
from . import face as F
from .motion import blink_track, intensity_track, pose_track
from .synth import SR, VERSION, ClipJob, _init_worker, _tts, canvas_size, clip_seed, loudness, synth_audio

FPS = 25                        # VoxCeleb2's video rate
ID_SEED0 = 2_000_000            # face/voice seeds of the VoxCeleb2 twin's identities (apart from CREMA-D's and the teachers')
RACES = ("Caucasian", "African American", "Asian", "Unknown")
RACE_P = (0.65, 0.15, 0.12, 0.08)


@dataclass(frozen=True)
class VoxTwinConfig:
    n_dev: int                  # identities in dev/
    n_test: int                 # identities in test/ (disjoint)
    videos: int                 # videos per identity
    clips: int                  # clips per video


def vox_config(profile) -> VoxTwinConfig:
    """Per profile scale: smoke 12 identities x 6 clips (as many clips as the CREMA-D smoke twin); cpu and
    above more speakers than CREMA-D's 91."""
    return {"smoke": VoxTwinConfig(10, 2, 3, 2), "cpu": VoxTwinConfig(110, 10, 2, 2)}.get(
        profile.scale, VoxTwinConfig(200, 20, 3, 4))


@dataclass(frozen=True)
class VoxJob:
    split: str                  # "dev" | "test"
    ident: str                  # idXXXXX
    video: str                  # YouTube-like id
    clip: str                   # 00001 ...
    sentence: str
    sex: str
    age: int
    race: str
    bg: tuple                   # background colour of this video (0..1 RGB)
    pose_amp: float             # head-motion amplitude of this video
    size: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.ident}_{self.video}_{self.clip}"

    @property
    def actor(self) -> int:
        return int(self.ident[2:])


def vox_paths(root: Path, job: VoxJob) -> dict:
    rel = Path(job.ident) / job.video / job.clip
    return {"mp4": root / job.split / "mp4" / f"{rel}.mp4", "m4a": root / job.split / "aac" / f"{rel}.m4a",
            "npz": root / "GroundTruth" / job.split / f"{rel}.npz"}


def vox_jobs(cfg: VoxTwinConfig, size: int, seed: int) -> list[VoxJob]:
    """Identities (id, set, sex, age, race), their videos and clips: all from the seed."""
    rng = np.random.default_rng(ID_SEED0 + seed)
    n = cfg.n_dev + cfg.n_test
    ids = np.sort(rng.choice(np.arange(10, 10000), size=n, replace=False))
    test = set(rng.choice(n, size=cfg.n_test, replace=False).tolist())
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    sentences = sorted(crema_meta.SENTENCE_TEXT)
    jobs = []
    for k, i in enumerate(ids):
        sex = "Male" if rng.random() < 0.6 else "Female"     # VoxCeleb2 is about 60 % male
        age, race = int(rng.integers(20, 71)), str(rng.choice(RACES, p=RACE_P))
        for _ in range(cfg.videos):
            video = "".join(rng.choice(alphabet, 11))
            bg = tuple(float(x) for x in np.clip(rng.uniform(0.1, 0.9, 3), 0, 1))
            amp = float(rng.uniform(1.5, 3.0))
            for c in range(cfg.clips):
                jobs.append(VoxJob("test" if k in test else "dev", f"id{i:05d}", video, f"{c + 1:05d}",
                                   str(rng.choice(sentences)), sex, age, race, bg, amp, size, seed))
    return jobs


def make_vox_clip(job: VoxJob, tts):
    """-> (wav int16 at 16 kHz, frames uint8 (T, S, S, 3) at 25 fps, ground truth)."""
    rng = np.random.default_rng(clip_seed(job.name, job.seed))
    cj = ClipJob(job.name, ID_SEED0 + job.actor, job.sentence, "NEU", "XX", job.sex, job.age, job.race,
                 job.size, job.seed)
    wav, phon, _ = synth_audio(cj, tts, rng)
    n_frames = len(wav) * FPS // SR
    wav = wav[: n_frames * SR // FPS].astype(np.float32)
    rms = float(np.sqrt(np.mean(wav ** 2)))
    wav = np.clip(np.round(wav + rng.normal(0, 0.03 * rms, len(wav))), -32768, 32767).astype(np.int16)  # ~30 dB SNR
    env = loudness(wav)
    visemes = F.viseme_track(phon, len(wav), SR, FPS, n_frames, energy=env, gain=1.0)
    blink = blink_track(n_frames, FPS, rng)
    energy_f = np.interp((np.arange(n_frames) + 0.5) / FPS, *env)
    pose = pose_track(n_frames, FPS, rng, amp=job.pose_amp, energy=energy_f)
    gain = 0.9
    inten = np.array([F.quantise_gain(g) for g in intensity_track(n_frames, FPS, rng, gain)], np.float32)
    identity = dict(F.sample_identity(job.sex, job.age, job.race, ID_SEED0 + job.actor + 1000 * job.seed),
                    bg=np.array(job.bg))
    renderer = F.FaceRenderer(identity, "NEU", gain, job.size)
    frames = np.stack([renderer.frame(inten[i], visemes[i], blink[i], pose[i]) for i in range(n_frames)])
    frames = np.clip(frames + rng.normal(0, 2.0, frames.shape), 0, 255).astype(np.uint8)   # sensor noise
    truth = dict(face_box=np.stack([renderer.face_box(p) for p in pose]),
                 landmarks5=np.stack([renderer.landmarks5(p) for p in pose]), pose=pose, blink=blink,
                 text=np.array(crema_meta.SENTENCE_TEXT[job.sentence]), fps=np.int32(FPS), sample_rate=np.int32(SR))
    return wav, frames, truth


def write_m4a(path, wav, sr: int) -> None:
    """AAC in an MP4 audio container (.m4a), atomically."""
    from fractions import Fraction

    import av

    from ...atomic import atomic_path
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="ipod") as c:
            s = c.add_stream("aac", rate=sr, layout="mono")
            if len(wav):
                f = av.AudioFrame.from_ndarray(np.ascontiguousarray(wav, np.int16)[None], format="s16", layout="mono")
                f.sample_rate, f.pts, f.time_base = sr, 0, Fraction(1, sr)
                c.mux(s.encode(f))
            c.mux(s.encode())


def write_vox_clip(root: Path, job: VoxJob, tts) -> int:
    from .mux import write_mp4
    wav, frames, truth = make_vox_clip(job, tts)
    p = vox_paths(root, job)
    write_mp4(p["mp4"], frames, wav, FPS, SR)
    write_m4a(p["m4a"], wav, SR)
    save_npz(p["npz"], **truth)
    return len(frames)


def _run(arg) -> int:
    root, job = arg
    return write_vox_clip(Path(root), job, _tts())


# ----------------------------------------------------------------------------- defects
# What in-the-wild video gets wrong; the reader must find each by content.
DEFECT_KINDS = ("no_audio_stream", "audio_short", "no_face", "long", "zero_duration", "truncated")


def _write_defect(root: Path, job: VoxJob, kind: str, tts) -> list[str]:
    from .mux import write_mp4
    p = vox_paths(root, job)
    wav, frames, _ = make_vox_clip(job, tts)
    if kind == "no_audio_stream":          # video without a sound track, and no separate audio
        write_mp4(p["mp4"], frames, None, FPS, SR)
        p["m4a"].unlink(missing_ok=True)
    elif kind == "audio_short":            # the audio stops half-way through the video
        write_mp4(p["mp4"], frames, wav[: len(wav) // 2], FPS, SR)
        write_m4a(p["m4a"], wav[: len(wav) // 2], SR)
    elif kind == "no_face":                # the camera shows the background only
        bg = np.clip(np.array(job.bg) * 255 + np.random.default_rng(1).normal(0, 2.0, frames.shape), 0, 255)
        write_mp4(p["mp4"], bg.astype(np.uint8), wav, FPS, SR)
    elif kind == "long":                   # a clip far longer than the others (12 x)
        write_mp4(p["mp4"], np.concatenate([frames] * 12), np.concatenate([wav] * 12), FPS, SR)
        write_m4a(p["m4a"], np.concatenate([wav] * 12), SR)
    elif kind == "zero_duration":          # an empty file where the clip should be
        write_bytes(p["mp4"], b"")
        write_bytes(p["m4a"], b"")
    elif kind == "truncated":              # a download cut short
        write_mp4(p["mp4"], frames, wav, FPS, SR)
        p["m4a"].unlink(missing_ok=True)
        data = p["mp4"].read_bytes()
        write_bytes(p["mp4"], data[: len(data) // 2])
    return [str(q.relative_to(root)) for q in (p["mp4"], p["m4a"]) if q.exists()]


def write_vox_defects(root: Path, jobs: list[VoxJob]) -> None:
    """Turn one clip of each of the last len(DEFECT_KINDS) videos into a defect; list them in defects.json."""
    done = root / "defects.json"
    if done.exists():
        return
    firsts = [j for j in jobs if j.clip == "00001"][-len(DEFECT_KINDS):]
    listing = {}
    for job, kind in zip(firsts, DEFECT_KINDS):
        listing[job.name] = {"kind": kind, "files": _write_defect(root, job, kind, _tts())}
    write_json(done, listing)


# ----------------------------------------------------------------------------- the dataset
def synth_voxceleb2(profile, out_dir, workers=None, seed=0, defects=False, progress=True,
                    config: VoxTwinConfig | None = None) -> Path:
    """Write (or finish) the VoxCeleb2-layout twin under out_dir; returns out_dir."""
    import pandas as pd
    from tqdm.auto import tqdm

    from .espeak import library_paths
    library_paths()
    cfg = config or vox_config(profile)
    size = canvas_size(profile)
    root = ensure_dir(out_dir, "twin output directory")
    jobs = vox_jobs(cfg, size, seed)
    meta = {"profile": profile.name, "data_key": json.loads(json.dumps(profile.data_key(), default=list)),
            "seed": seed, "layout": "voxceleb2", "clips": len(jobs), "canvas": size, "fps": FPS, "sample_rate": SR,
            "defects": defects, "generator": VERSION, "vox": cfg.__dict__}
    done_file = root / "twin.json"
    if done_file.exists():
        old = json.loads(done_file.read_text())
        if {k: old.get(k) for k in meta} != meta:
            raise UserError(f"{done_file} describes another twin ({old.get('layout')}, {old.get('profile')}, seed "
                            f"{old.get('seed')}); choose an empty --out or delete that directory")
        return root
    pending = [(str(root), j) for j in jobs if not all(p.exists() for p in vox_paths(root, j).values())]
    workers = available_cpus() if workers is None else max(1, int(workers))
    with tqdm(total=len(jobs), initial=len(jobs) - len(pending), desc="twin voxceleb2", unit="clip",
              disable=not progress) as bar:
        if workers <= 1 or len(pending) <= 1:
            for a in pending:
                _run(a)
                bar.update()
        else:
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(min(workers, len(pending)), initializer=_init_worker) as pool:
                for _ in pool.imap_unordered(_run, pending, chunksize=1):
                    bar.update()
    ids = sorted({(j.ident, j.sex, j.split) for j in jobs})
    vgg = lambda ident: "n" + hashlib.sha1(ident.encode()).hexdigest()[:6]
    table = pd.DataFrame({"VoxCeleb2 ID ": [f"{i} " for i, _, _ in ids], "VGGFace2 ID ": [f"{vgg(i)} " for i, _, _ in ids],
                          "Gender ": [f"{s[0].lower()} " for _, s, _ in ids], "Set ": [f"{t} " for _, _, t in ids]})
    write_bytes(root / "vox2_meta.csv", table.to_csv(index=False).encode())
    if defects:
        write_vox_defects(root, jobs)
    write_json(done_file, meta)
    return root
