"""The CREMA-D twin: a synthetic dataset in CREMA-D's real layout, with ground truth per clip.

    python -m s2v_lib synth --profile cpu --out DIR [--workers N] [--seed S] [--defects]

Per clip (name ACTOR_SENTENCE_EMOTION_LEVEL, chosen by crema_meta.select_clips):
  AudioWAV/<name>.wav     16 kHz mono PCM16 (eSpeak NG voice of that actor, emotion prosody)
  VideoFlash/<name>.flv   flv1 + AAC, 30 fps
  VideoMP4/<name>.mp4     h264 yuv420p + AAC, 30 fps
  GroundTruth/<name>.npz  phonemes, visemes, expression, face box, 5 landmarks, blink, pose
plus VideoDemographics.csv (the real table) and twin.json, written last, marking the set complete.

Everything random derives from (clip name, seed), never from the worker partition, and eSpeak is
reloaded per clip: the same profile and seed give byte-identical WAVs and identical frames whatever
--workers is. Every file is written atomically; rerunning skips clips whose outputs all exist.
"""
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ...atomic import save_npz, write_bytes, write_json
from ...errors import UserError
from ...paths import ensure_dir
from .. import crema_meta
from . import face as F
from .motion import EMO_MOTION, blink_track, intensity_track, pose_track
from .voices import LEVEL_GAIN, prosody, sample_voice, voice_file

VERSION = "twin-2"   # bump whenever generated clips change
FPS = 30                 # CREMA-D's video rate
SR = 16000               # CREMA-D's WAV rate
EMO_ARTICULATION = {"NEU": 1.0, "HAP": 1.1, "SAD": 0.75, "ANG": 1.2, "FEA": 1.05, "DIS": 0.9}   # jaw gain
VOICE_SEED_OFFSET = 500_000   # voice and face of an actor draw from different streams
FOLDERS = {"wav": "AudioWAV", "flv": "VideoFlash", "mp4": "VideoMP4", "npz": "GroundTruth"}


@dataclass(frozen=True)
class ClipJob:
    name: str
    actor: int
    sentence: str
    emotion: str
    level: str
    sex: str
    age: int
    race: str
    size: int
    seed: int


def canvas_size(profile) -> int:
    """Raw video size: 64 px for profiles preparing <= 64 px crops, else 128."""
    return 64 if profile.frame_size <= 64 else 128


def identity_seed(actor: int, seed: int) -> int:
    return actor + 1000 * seed


def clip_seed(name: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def clip_paths(root: Path, name: str) -> dict:
    return {k: Path(root) / d / f"{name}.{k}" for k, d in FOLDERS.items()}


# ----------------------------------------------------------------------------- one clip
def synth_audio(job: ClipJob, tts, rng):
    """-> (int16 WAV at 16 kHz, [(sample, ipa)] at 16 kHz). Silence lead-in/out like CREMA-D's clips."""
    from scipy.signal import resample_poly
    voice = sample_voice(job.sex, job.age, identity_seed(job.actor, job.seed) + VOICE_SEED_OFFSET)
    raw, phonemes = tts.speak(crema_meta.SENTENCE_TEXT[job.sentence], voice_file(voice, job.emotion, job.level),
                              prosody(voice, job.emotion, job.level), clip_seed(job.name, job.seed))
    if tts.sample_rate != 22050:
        raise RuntimeError(f"eSpeak NG runs at {tts.sample_rate} Hz; the twin expects 22050")
    speech = resample_poly(raw.astype(np.float32), 320, 441)       # 22050 -> 16000 Hz
    lead, tail = rng.uniform(0.25, 0.45), rng.uniform(0.30, 0.50)
    n_frames = int(round((lead + len(speech) / SR + tail) * FPS))
    n = int(round(n_frames * SR / FPS))
    out = np.zeros(n, np.float32)
    a = int(lead * SR)
    k = max(0, min(len(speech), n - a))
    out[a:a + k] = speech[:k]
    out += rng.normal(0, 2.0, n)                                    # faint noise floor: no digital silence
    wav = np.clip(np.round(out), -32768, 32767).astype(np.int16)
    phon = [(int(s * SR / tts.sample_rate) + a, p) for s, p in phonemes]
    return wav, phon, n_frames


def loudness(wav: np.ndarray, hop: int = SR // 100):
    """(times_s, RMS normalised to its 95th percentile, clipped to [0, 1]) every 10 ms."""
    n = len(wav) // hop
    e = np.sqrt((wav[:n * hop].astype(np.float32).reshape(n, hop) ** 2).mean(1))
    return (np.arange(n) + 0.5) * hop / SR, np.clip(e / (np.percentile(e, 95) + 1e-6), 0, 1)


def make_clip(job: ClipJob, tts):
    """-> (wav int16, frames uint8 (T, S, S, 3) at 30 fps, ground-truth dict)."""
    rng = np.random.default_rng(clip_seed(job.name, job.seed))
    wav, phon, n_frames = synth_audio(job, tts, rng)
    gain = LEVEL_GAIN[job.level]
    env = loudness(wav)
    jaw_gain = 1 + gain * (EMO_ARTICULATION[job.emotion] - 1)
    visemes = F.viseme_track(phon, len(wav), SR, FPS, n_frames, energy=env, gain=jaw_gain)
    blink = blink_track(n_frames, FPS, rng)
    energy_f = np.interp((np.arange(n_frames) + 0.5) / FPS, *env)
    pose = pose_track(n_frames, FPS, rng, amp=1 + gain * (EMO_MOTION[job.emotion] - 1), energy=energy_f)
    inten = np.array([F.quantise_gain(g) for g in intensity_track(n_frames, FPS, rng, gain)], np.float32)
    identity = F.sample_identity(job.sex, job.age, job.race, identity_seed(job.actor, job.seed))
    renderer = F.FaceRenderer(identity, job.emotion, gain, job.size)
    frames = np.stack([renderer.frame(inten[i], visemes[i], blink[i], pose[i]) for i in range(n_frames)])
    truth = dict(
        phon_sample=np.array([s for s, _ in phon], np.int32), phon_ipa=np.array([p for _, p in phon], dtype=str),
        viseme=visemes, viseme_names=np.array(F.VISEME_NAMES),
        expression=(inten[:, None] * F.EXPR[job.emotion][None]).astype(np.float32), expr_names=np.array(F.EXPR_NAMES),
        emotion=np.array(job.emotion), level=np.array(job.level), sentence=np.array(job.sentence),
        text=np.array(crema_meta.SENTENCE_TEXT[job.sentence]),
        face_box=np.stack([renderer.face_box(p) for p in pose]), landmarks5=np.stack([renderer.landmarks5(p) for p in pose]),
        blink=blink, pose=pose, fps=np.int32(FPS), sample_rate=np.int32(SR), size=np.int32(job.size),
        identity_seed=np.int32(identity_seed(job.actor, job.seed)),
    )
    return wav, frames, truth


def write_clip(root: Path, job: ClipJob, tts, only=None) -> int:
    """Make one clip and write its four files (or those in `only`). Returns its frame count."""
    from .mux import write_flv, write_mp4, write_wav
    wav, frames, truth = make_clip(job, tts)
    paths = clip_paths(root, job.name)
    todo = set(only) if only is not None else set(paths)
    if "wav" in todo:
        write_wav(paths["wav"], wav, SR)
    if "mp4" in todo:
        write_mp4(paths["mp4"], frames, wav, FPS, SR)
    if "flv" in todo:
        write_flv(paths["flv"], frames, wav, FPS, SR)
    if "npz" in todo:
        save_npz(paths["npz"], **truth)
    return len(frames)


# ----------------------------------------------------------------------------- workers
_TTS = None


def _init_worker():
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    import sys
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _tts():
    global _TTS
    if _TTS is None:
        from .espeak import Synth
        _TTS = Synth()
    return _TTS


def _run_job(arg) -> tuple[str, int]:
    root, job, only = arg
    return job.name, write_clip(Path(root), job, _tts(), only)


def run_jobs(root: Path, jobs: list, workers: int, progress: bool = True, desc: str = "twin") -> int:
    """Run (job, only) pairs over `workers` spawned processes; returns the frames written."""
    from tqdm.auto import tqdm
    args = [(str(root), job, only) for job, only in jobs]
    total = 0
    with tqdm(total=len(args), desc=desc, unit="clip", disable=not progress) as bar:
        if args:
            # always in spawned workers, even for one: the clips must not depend on the calling process's
            # state (threads, libraries loaded by earlier work); the in-process path was not bit-stable
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(max(1, min(workers, len(args))), initializer=_init_worker) as pool:
                for _, n in pool.imap_unordered(_run_job, args, chunksize=1):
                    total += n
                    bar.update()
                pool.close()
                pool.join()
    return total


# ----------------------------------------------------------------------------- the dataset
def clip_jobs(profile, seed: int) -> list[ClipJob]:
    demo = crema_meta.demographics().set_index("actor")
    size = canvas_size(profile)
    jobs = []
    for c in crema_meta.select_clips(profile):
        d = demo.loc[c.actor]
        jobs.append(ClipJob(c.name, c.actor, c.sentence, c.emotion, c.level, str(d.sex), int(d.age), str(d.race), size, seed))
    return jobs


def _resolve_profile(profile):
    from ...config import as_profile
    return as_profile(profile)


def twin_meta(profile, seed: int, layout: str, n_clips: int, defects: bool) -> dict:
    return {"profile": profile.name, "data_key": json.loads(json.dumps(profile.data_key(), default=list)),
            "seed": seed, "layout": layout, "clips": n_clips, "canvas": canvas_size(profile),
            "fps": FPS, "sample_rate": SR, "defects": defects, "generator": VERSION}


def synth_dataset(profile, out_dir, workers=None, seed=0, layout="crema-d", defects=False, progress=True) -> Path:
    """Write (or finish) the twin for `profile` (a Profile or its name) under out_dir; returns out_dir."""
    from .espeak import library_paths
    profile = _resolve_profile(profile)
    if layout not in ("crema-d", "voxceleb2"):
        raise UserError(f"unknown layout {layout!r}; choose 'crema-d' or 'voxceleb2'")
    if layout == "voxceleb2":   # its own writer: other identities, 25 fps, VoxCeleb2's folders
        from .voxceleb2 import synth_voxceleb2
        return synth_voxceleb2(profile, out_dir, workers=workers, seed=seed, defects=defects, progress=progress)
    library_paths()
    root = ensure_dir(out_dir, "twin output directory")
    jobs = clip_jobs(profile, seed)
    meta = twin_meta(profile, seed, layout, len(jobs), defects)
    done_file = root / "twin.json"
    if done_file.exists():
        old = json.loads(done_file.read_text())
        if {k: old.get(k) for k in meta} != meta:
            raise UserError(f"{done_file} describes another twin ({old.get('profile')}, seed {old.get('seed')}); "
                            "choose an empty --out or delete that directory")
    for d in FOLDERS.values():
        (root / d).mkdir(exist_ok=True)
    pending = []
    for job in jobs:
        missing = [k for k, p in clip_paths(root, job.name).items() if not p.exists()]
        if missing:
            pending.append((job, None if len(missing) == len(FOLDERS) else missing))
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    run_jobs(root, pending, workers, progress)
    from importlib import resources
    for name in ("VideoDemographics.csv", "LICENSE.txt"):
        src = resources.files("s2v_lib.data").joinpath("meta", name).read_bytes()
        if not (root / name).exists() or (root / name).read_bytes() != src:
            write_bytes(root / name, src)
    if defects:
        write_defects(root, profile, seed)
    write_json(done_file, meta)
    return root


# ----------------------------------------------------------------------------- the release's defects
# Named after the real defective clips (crema-d-meta README); a loader must find them by content.
DEFECTS = {
    "1005_IWW_DIS_XX": "flv_no_audio", "1037_WSI_SAD_XX": "flv_no_audio", "1076_ITH_HAP_XX": "flv_no_audio",
    "1076_MTI_NEU_XX": "very_short_flv_no_audio",   # very short; no audio in the FLV (the WAV is fine)
    "1076_MTI_SAD_XX": "very_short_error_picture",    # very short, an error picture, no audio anywhere
    "1064_TIE_SAD_XX": "zero_duration",               # empty WAV; FLV/MP4 without frames (unreadable)
    "1064_IEO_DIS_MD": "all_displays_one_minute",     # about a minute: every display of that sentence
}
TRUNCATED = "truncated"                               # plus one corrupt file: the last selected clip's FLV


def _job_for(name: str, size: int, seed: int) -> ClipJob:
    c = crema_meta.parse_clip_name(name)
    d = crema_meta.demographics().set_index("actor").loc[c.actor]
    return ClipJob(name, c.actor, c.sentence, c.emotion, c.level, str(d.sex), int(d.age), str(d.race), size, seed)


def _error_picture(size: int, n: int) -> np.ndarray:
    """A grey frame with a red cross: what the real 1076_MTI_SAD_XX shows."""
    img = np.full((size, size, 3), 128, np.uint8)
    k = np.arange(size)
    for d in (-1, 0, 1):
        img[k, np.clip(k + d, 0, size - 1)] = img[k, np.clip(size - 1 - k + d, 0, size - 1)] = (220, 30, 30)
    return np.repeat(img[None], n, 0)


def _write_defect(root: Path, name: str, kind: str, size: int, seed: int) -> None:
    from .mux import write_flv, write_mp4, write_wav
    paths, tts = clip_paths(root, name), _tts()
    short = 6                                                  # frames (0.2 s)
    if kind == "all_displays_one_minute":
        actor, sentence = name.split("_")[:2]
        parts = [_job_for(n, size, seed) for n in crema_meta.all_clip_names() if n.startswith(f"{actor}_{sentence}_")]
        made = [make_clip(j, tts)[:2] for j in parts]
        reps = int(np.ceil(55 * SR / sum(len(w) for w, _ in made)))   # the real one runs about a minute
        wav, frames = np.concatenate([w for w, _ in made] * reps), np.concatenate([f for _, f in made] * reps)
    elif kind == "zero_duration":
        wav, frames = np.zeros(0, np.int16), np.zeros((0, size, size, 3), np.uint8)
    else:
        wav, frames, truth = make_clip(_job_for(name, size, seed), tts)
        save_npz(paths["npz"], **truth)
    if kind == "very_short_error_picture":
        wav, frames = np.zeros(int(short * SR / FPS), np.int16), _error_picture(size, short)
    write_wav(paths["wav"], wav, SR)
    if kind.startswith("very_short"):
        frames = frames[:short]
    no_audio = kind != "all_displays_one_minute"
    write_flv(paths["flv"], frames, None if no_audio or kind == "zero_duration" else wav, FPS, SR)
    write_mp4(paths["mp4"], frames, None if kind in ("very_short_error_picture", "zero_duration") else
              wav[:int(len(frames) * SR / FPS)], FPS, SR)


def write_defects(root: Path, profile, seed: int) -> None:
    """Overwrite/add the defective clips and list them in defects.json (written once they exist)."""
    done = root / "defects.json"
    if done.exists():
        return
    size = canvas_size(profile)
    for name, kind in DEFECTS.items():
        _write_defect(root, name, kind, size, seed)
    last = clip_jobs(profile, seed)[-1].name
    flv = clip_paths(root, last)["flv"]
    data = flv.read_bytes()
    write_bytes(flv, data[:len(data) // 2])
    listing = {name: {"kind": kind, "files": [f"{d}/{name}.{k}" for k, d in FOLDERS.items() if k != "npz"]}
               for name, kind in DEFECTS.items()}
    listing[last] = {"kind": TRUNCATED, "files": [f"{FOLDERS['flv']}/{last}.flv"]}
    write_json(done, listing)


def synth_cli(args) -> int:
    root = synth_dataset(args.profile, args.out, workers=args.workers, seed=args.seed, layout=args.layout,
                         defects=args.defects)
    meta = json.loads((root / "twin.json").read_text())
    print(f"twin: {meta['clips']} clips ({meta['canvas']} px, seed {meta['seed']}) in {root}")
    return 0
