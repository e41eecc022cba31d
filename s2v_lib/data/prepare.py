"""python -m s2v_lib prepare: decode, check, crop and cache a dataset in the format of dataset.py.

One reader per dataset lists its clips as ClipSource(clip_id, video, audio, meta, boxes); everything
after that is shared: content checks (defects go to quarantine.csv with their reason), 30 -> 25 fps,
face crop, audio of record at 16 kHz trimmed to exactly T * 640 samples, one atomic .npz per clip.

The output dir is keyed by a hash of everything that changes its content, so re-running is a no-op
and an interrupted run resumes (finished clips are skipped). prepare.json is written last: a dir
without it, or with "complete" false, is never mistaken for a prepared dataset.
"""
import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import save_npz, write_csv, write_json
from ..config import Profile, get_profile
from ..errors import UserError
from ..paths import cache_root, ensure_dir
from .crema_meta import demographics, parse_clip_name, read_demographics, select_actors
from .dataset import SAMPLES_PER_FRAME
from .splits import make_splits, save_splits
from .video_io import DecodeError, read_audio, read_video, audio_info, probe

PREPARE_VERSION = 1            # bump when the code changes what a prepared clip contains
MANIFEST_COLUMNS = ["clip_id", "actor", "sentence", "emotion", "level", "sex", "age", "age_group", "race",
                    "n_frames", "duration_s", "path", "source"]


@dataclass(frozen=True)
class PrepareConfig:
    frame_size: int
    fps: int = 25
    sample_rate: int = 16000
    crop_scale: float = 1.3            # square crop side = 1.3 x the longer side of the face box
    smooth_sigma: float = 1.5          # Gaussian smoothing of crop centre/size over time, in output frames
    max_av_diff_s: float = 0.5         # audio vs video duration difference that quarantines a clip
    max_len_ratio: float = 5.0         # clips longer than 5 x the median duration are quarantined
    fps_range: tuple = (15.0, 61.0)
    rate_range: tuple = (8000, 96000)


@dataclass
class ClipSource:
    clip_id: str
    video: Path                        # where the video should be (a missing file is a defect)
    audio: Path                        # the audio of record (CREMA-D: the WAV; may be the video itself)
    meta: dict                         # actor, sentence, emotion, level
    boxes: Path | None                 # sidecar .npz with face_box (T_src, 4) per source frame;
                                       # None: the dataset has no sidecars, face_boxes() finds them


class ClipProblem(Exception):
    """A defect found in one clip: (file, reason, value) for quarantine.csv."""

    def __init__(self, file, reason, value=""):
        super().__init__(f"{file}: {reason} ({value})")
        self.row = {"file": str(file), "reason": reason, "value": value}


# ---------------------------------------------------------------- readers (one per dataset layout)

class CremaLayoutReader:
    """CREMA-D's release layout (the twin writes the same): AudioWAV/, VideoFlash/ (or VideoMP4/),
    VideoDemographics.csv, plus the twin's GroundTruth/<name>.npz sidecars with face boxes."""
    dirs = ("AudioWAV", "VideoFlash", "VideoMP4", "GroundTruth")

    def __init__(self, root: Path, profile: Profile, dataset: str):
        self.root, self.profile, self.dataset = root, profile, dataset
        if not any((root / d).is_dir() for d in ("VideoFlash", "VideoMP4", "AudioWAV")):
            raise UserError(f"{root} has no VideoFlash/, VideoMP4/ or AudioWAV/ folder, so it is not a "
                            f"{dataset} dataset root; pass the folder that contains them as --root")
        # FLV is CREMA-D's real video format; MP4 is the fallback for copies that only ship it
        self.video_dir, self.video_ext = next(((d, e) for d, e in (("VideoFlash", ".flv"), ("VideoMP4", ".mp4"))
                                               if (root / d).is_dir()), (None, None))
        if self.video_dir is None:
            raise UserError(f"{root} has AudioWAV/ but no VideoFlash/ or VideoMP4/; video is needed to "
                            "prepare faces: add the video folder")
        if dataset == "synthetic" and not (root / "twin.json").exists():
            raise UserError(f"{root} is an unfinished twin (no twin.json, which the generator writes last); "
                            f"rerun `python -m s2v_lib synth --out {root}` to finish it")
        self.sidecars = (root / "GroundTruth").is_dir()
        if not self.sidecars:
            what = ("a twin without GroundTruth/ sidecars (rebuild it with `python -m s2v_lib synth`)"
                    if dataset == "synthetic" else "real data without face boxes")
            raise UserError(f"{root}: {what}; face detection for real data is not implemented yet "
                            "(a dlib detector comes later), so only data with GroundTruth/<clip>.npz boxes can be prepared")

    def listing(self) -> list[tuple[str, int]]:
        """(relative path, size) of every file the reader may read: part of the cache key."""
        out = []
        for d in self.dirs:
            if (self.root / d).is_dir():
                out += [(f"{d}/{e.name}", e.stat().st_size) for e in os.scandir(self.root / d) if e.is_file()]
        demo = self.root / "VideoDemographics.csv"
        if demo.exists():
            out.append((demo.name, demo.stat().st_size))
        return sorted(out)

    def demographics(self) -> pd.DataFrame:
        demo = self.root / "VideoDemographics.csv"
        return read_demographics(demo) if demo.exists() else demographics()

    def clips(self) -> tuple[list[ClipSource], list[dict]]:
        """(clips the profile selects, quarantine rows for files that are not clips)."""
        p = self.profile
        actors = set(select_actors(p.n_actors))
        stems, bad = set(), []
        for d, ext in ((self.video_dir, self.video_ext), ("AudioWAV", ".wav")):
            if (self.root / d).is_dir():
                for e in os.scandir(self.root / d):
                    if e.name.endswith(ext):
                        stems.add(e.name[: -len(ext)])
                    elif not e.name.startswith(".") and ".tmp-" not in e.name:   # hidden / atomic-write leftovers
                        bad.append({"file": f"{d}/{e.name}", "reason": "unexpected file in the dataset", "value": ""})
        out = []
        for stem in sorted(stems):
            try:
                c = parse_clip_name(stem)
            except ValueError:
                bad.append({"file": stem, "reason": "not a CREMA-D clip name", "value": ""})
                continue
            if not (c.actor in actors and (not p.sentences or c.sentence in p.sentences)
                    and (not p.emotions or c.emotion in p.emotions) and (not p.levels or c.level in p.levels)):
                continue   # outside the profile: not a defect
            video = self.root / self.video_dir / f"{stem}{self.video_ext}"
            audio = self.root / "AudioWAV" / f"{stem}.wav"
            boxes = self.root / "GroundTruth" / f"{stem}.npz"
            out.append(ClipSource(stem, video, audio, boxes=boxes if self.sidecars else None,
                                  meta={"actor": c.actor, "sentence": c.sentence, "emotion": c.emotion, "level": c.level}))
        return out, bad


def make_reader(dataset: str, root: Path, profile: Profile):
    if dataset in ("synthetic", "crema-d"):
        return CremaLayoutReader(root, profile, dataset)
    if dataset == "voxceleb2":
        raise UserError("--dataset voxceleb2 is not supported yet; use --dataset synthetic or crema-d")
    raise UserError(f"unknown dataset {dataset!r}; choose synthetic, crema-d or voxceleb2")


def face_boxes(video, clip: ClipSource) -> np.ndarray:
    """Hook for face detection on real data: (N, 4) boxes x0, y0, x1, y1 per decoded frame."""
    raise UserError(f"{clip.clip_id}: no face boxes, and face detection for real data is not implemented yet")


# ---------------------------------------------------------------- one clip

def resample_indices(times: np.ndarray, n_out: int, fps: int) -> np.ndarray:
    """For each output frame t (at t / fps seconds) the source frame nearest in time.

    Nearest-frame resampling (not blending): 30 -> 25 fps repeats no frame and drops one in six,
    and every output frame is a real decoded frame, so mouth shapes are never averaged.
    """
    if len(times) == 1:
        return np.zeros(n_out, int)
    tau = np.arange(n_out) / fps
    j = np.clip(np.searchsorted(times, tau), 1, len(times) - 1)
    return np.where(tau - times[j - 1] <= times[j] - tau, j - 1, j)


def crop_faces(frames: np.ndarray, boxes: np.ndarray, size: int, scale: float, sigma: float) -> np.ndarray:
    """Square crops around the (smoothed) box centres, resized to size x size with antialiasing."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter1d
    T, H, W, _ = frames.shape
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    side = scale * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    if T > 1 and sigma > 0:   # steady crop: detector/box jitter must not become apparent head motion
        cx, cy, side = (gaussian_filter1d(v, sigma, mode="nearest") for v in (cx, cy, side))
    half = np.maximum(side, 2.0) / 2
    # crops reaching past the border read replicated edge pixels
    pad = int(np.ceil(max(0.0, (half - cx).max(), (half - cy).max(), (cx + half - W).max(), (cy + half - H).max())))
    if pad:
        frames = np.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.empty((T, size, size, 3), np.uint8)
    for t in range(T):
        img = Image.fromarray(frames[t])
        box = (cx[t] - half[t] + pad, cy[t] - half[t] + pad, cx[t] + half[t] + pad, cy[t] + half[t] + pad)
        # PIL's resampling filters widen with the reduction factor: antialiased when shrinking
        out[t] = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR, box=box))
    return out


def load_boxes(clip: ClipSource, video, root: Path) -> np.ndarray:
    if clip.boxes is None:
        return face_boxes(video, clip)
    if not clip.boxes.exists():
        raise ClipProblem(clip.boxes.relative_to(root), "missing face-box sidecar", "")
    try:
        with np.load(clip.boxes) as z:
            boxes = np.asarray(z["face_box"], np.float64)
    except Exception as e:   # any damage to the sidecar is a defect of this clip
        raise ClipProblem(clip.boxes.relative_to(root), "unreadable face-box sidecar", type(e).__name__) from None
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ClipProblem(clip.boxes.relative_to(root), "face boxes have the wrong shape", str(boxes.shape))
    ok = np.isfinite(boxes).all(axis=1)
    if not ok.any():
        raise ClipProblem(clip.boxes.relative_to(root), "no face box in any frame", "")
    if not ok.all():   # fill frames without a box from their neighbours
        t = np.arange(len(boxes))
        boxes = np.stack([np.interp(t, t[ok], boxes[ok, k]) for k in range(4)], axis=1)
    return boxes


def prepare_clip(clip: ClipSource, root: Path, out_file: Path, cfg: PrepareConfig) -> dict:
    """Check, crop and save one clip; returns its manifest fields, raises ClipProblem for a defect."""
    def rel(p):
        return str(p.relative_to(root))

    for path, what in ((clip.video, "video"), (clip.audio, "audio")):
        if not path.exists():
            raise ClipProblem(rel(path), f"missing {what} file", "")
    try:
        video = read_video(clip.video)
    except DecodeError as e:
        raise ClipProblem(rel(clip.video), "undecodable video", str(e).split(": ", 1)[-1]) from None
    if len(video.frames) == 0:
        raise ClipProblem(rel(clip.video), "zero duration", 0.0)
    if not cfg.fps_range[0] <= video.fps <= cfg.fps_range[1]:
        raise ClipProblem(rel(clip.video), "video frame rate out of range", round(video.fps, 3))
    if not video.info.has_audio:   # CREMA-D's known defect: FLVs without a sound track
        raise ClipProblem(rel(clip.video), "video has no audio stream", "")
    try:
        audio, rate = read_audio(clip.audio, cfg.sample_rate)
    except DecodeError as e:
        raise ClipProblem(rel(clip.audio), "undecodable audio", str(e).split(": ", 1)[-1]) from None
    if not cfg.rate_range[0] <= rate <= cfg.rate_range[1]:
        raise ClipProblem(rel(clip.audio), "audio sample rate out of range", rate)
    if len(audio) == 0:
        raise ClipProblem(rel(clip.audio), "zero duration", 0.0)
    if np.abs(audio).max() < 1.0 / 32768:
        raise ClipProblem(rel(clip.audio), "silent audio", 0.0)
    diff = len(audio) / cfg.sample_rate - video.duration_s
    if abs(diff) > cfg.max_av_diff_s:   # truncated files land here too
        raise ClipProblem(rel(clip.video), "audio and video durations differ (audio - video, s)", round(diff, 3))
    n_out = int(np.floor(video.duration_s * cfg.fps + 1e-6))
    if n_out < 1:
        raise ClipProblem(rel(clip.video), "zero duration", round(video.duration_s, 3))

    src = resample_indices(video.times, n_out, cfg.fps)
    boxes = load_boxes(clip, video, root)
    boxes = boxes[np.minimum(src, len(boxes) - 1)]
    frames = crop_faces(video.frames[src], boxes, cfg.frame_size, cfg.crop_scale, cfg.smooth_sigma)
    n_samples = n_out * SAMPLES_PER_FRAME
    audio = np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))
    audio = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    save_npz(out_file, frames=frames, audio=audio)
    return {"n_frames": n_out}


def _work(task):
    clip, root, out_file, cfg = task
    try:
        return clip, prepare_clip(clip, root, out_file, cfg), None
    except ClipProblem as e:
        return clip, None, e.row


# ---------------------------------------------------------------- whole dataset

def resolve_root(root) -> Path:
    if not str(root):
        raise UserError("no dataset root given; pass --root DIR (the folder with VideoFlash/ and AudioWAV/)")
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise UserError(f"dataset root {root} does not exist; check the path given as --root")
    if not root.is_dir():
        raise UserError(f"dataset root {root} is not a folder; pass the folder holding VideoFlash/ and AudioWAV/")
    return root


def config_key(dataset: str, root: Path, profile: Profile, cfg: PrepareConfig, seed: int, listing) -> dict:
    return {"version": PREPARE_VERSION, "dataset": dataset, "root": str(root), "profile": profile.data_key(),
            "n_unseen": profile.n_unseen, "split_fractions": list(profile.split_fractions), "seed": seed,
            "prepare": dataclasses.asdict(cfg),
            "listing": hashlib.sha1(json.dumps(listing).encode()).hexdigest()}


def prepared_dir(cache, dataset: str, profile: Profile, key: dict) -> Path:
    h = hashlib.sha1(json.dumps(key, sort_keys=True, default=list).encode()).hexdigest()[:10]
    return Path(cache).expanduser().resolve() / "prepared" / f"{dataset}-{profile.name}-{h}"


def is_complete(out: Path) -> bool:
    try:
        return json.loads((out / "prepare.json").read_text()).get("complete") is True
    except (OSError, ValueError):
        return False


def _durations(clips: list[ClipSource]) -> np.ndarray:
    """Audio durations from the file headers (NaN where unreadable: the clip's own check reports it)."""
    out = np.full(len(clips), np.nan)
    for i, c in enumerate(clips):
        try:
            out[i] = audio_info(c.audio)[0] if c.audio.exists() else probe(c.video).duration_s
        except DecodeError:
            pass
    return out


def prepare_dataset(dataset: str, root, profile, cache=None, workers=None, seed: int = 0,
                    progress: bool = True) -> Path:
    """Prepare `root` for `profile` into <cache>/prepared/<dataset>-<profile>-<hash>; returns that dir."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    root = resolve_root(root)
    reader = make_reader(dataset, root, profile)
    cfg = PrepareConfig(frame_size=profile.frame_size, fps=profile.fps, sample_rate=profile.sample_rate)
    key = config_key(dataset, root, profile, cfg, seed, reader.listing())
    out = prepared_dir(cache if cache is not None else cache_root(), dataset, profile, key)
    if is_complete(out):
        return out
    ensure_dir(out / "clips", "prepare cache dir")
    for tmp in (out / "clips").glob("*.tmp-*"):   # left by a killed run
        tmp.unlink()

    clips, quarantine = reader.clips()
    if not clips:
        raise UserError(f"{root} holds no clips that profile {profile.name!r} selects; check --root and --profile")
    # clips far longer than the norm (CREMA-D has one holding a whole sentence's displays)
    dur = _durations(clips)
    limit = cfg.max_len_ratio * np.nanmedian(dur) if np.isfinite(dur).any() else np.inf
    todo, done = [], []
    for c, d in zip(clips, dur):
        if d > limit:
            quarantine.append({"file": str((c.audio if c.audio.exists() else c.video).relative_to(root)),
                               "reason": f"clip longer than {cfg.max_len_ratio:g}x the median duration (s)",
                               "value": round(float(d), 3)})
        elif (out / "clips" / f"{c.clip_id}.npz").exists():
            done.append(c)   # finished by an earlier, interrupted run
        else:
            todo.append(c)

    rows = []
    for c in done:
        with np.load(out / "clips" / f"{c.clip_id}.npz") as z:
            rows.append((c, {"n_frames": len(z["audio"]) // SAMPLES_PER_FRAME}))
    tasks = [(c, root, out / "clips" / f"{c.clip_id}.npz", cfg) for c in todo]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    bar = tqdm(total=len(clips), initial=len(clips) - len(tasks), desc=f"prepare {dataset}/{profile.name}",
               unit="clip", disable=not progress, file=sys.stderr)
    if workers == 1:
        results = map(_work, tasks)
    else:   # fork where there is one: works from scripts without a __main__ guard (workers never touch torch)
        pool = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(workers)
        results = pool.imap_unordered(_work, tasks, chunksize=2)
    try:
        for c, fields, problem in results:
            if problem is None:
                rows.append((c, fields))
            else:
                quarantine.append(problem)
            bar.update()
    finally:
        bar.close()
        if workers > 1:
            pool.terminate()
            pool.join()

    manifest, more = build_manifest(rows, reader.demographics(), root, cfg)
    quarantine = pd.DataFrame(quarantine + more, columns=["file", "reason", "value"]).sort_values(["file", "reason"])
    if manifest.empty:
        write_csv(out / "quarantine.csv", quarantine)
        raise UserError(f"every clip of {root} was quarantined; see {out / 'quarantine.csv'} for the reasons")
    write_csv(out / "manifest.csv", manifest)
    write_csv(out / "quarantine.csv", quarantine)
    save_splits(out / "splits.csv", make_splits(manifest, profile.n_unseen, profile.split_fractions, seed))
    write_json(out / "prepare.json", {
        "complete": True, "dataset": dataset, "profile": profile.name, "root": str(root), "seed": seed,
        "frame_size": cfg.frame_size, "fps": cfg.fps, "sample_rate": cfg.sample_rate, "version": PREPARE_VERSION,
        "config": {k: v for k, v in key.items() if k not in ("root",)},
        "n_clips": len(manifest), "n_quarantined": len(quarantine)})
    return out


def build_manifest(rows, demo: pd.DataFrame, root: Path, cfg: PrepareConfig) -> tuple[pd.DataFrame, list]:
    """Manifest rows joined with demographics on actor; clips of unknown actors go to quarantine."""
    recs = [{"clip_id": c.clip_id, **{k: c.meta[k] for k in ("actor", "sentence", "emotion", "level")},
             "n_frames": f["n_frames"], "duration_s": round(f["n_frames"] / cfg.fps, 4),
             "path": f"clips/{c.clip_id}.npz", "source": str(c.video.relative_to(root))} for c, f in rows]
    m = pd.DataFrame(recs, columns=[c for c in MANIFEST_COLUMNS if c not in ("sex", "age", "age_group", "race")])
    m = m.merge(demo[["actor", "sex", "age", "age_group", "race"]], on="actor", how="left", validate="many_to_one")
    unknown = m["sex"].isna()
    more = [{"file": r.source, "reason": "actor missing from VideoDemographics.csv", "value": int(r.actor)}
            for r in m[unknown].itertuples()]
    m = m[~unknown].sort_values("clip_id").reset_index(drop=True)
    m["age"] = m["age"].astype(int)
    return m[MANIFEST_COLUMNS], more


def prepare_cli(args) -> int:
    out = prepare_dataset(args.dataset, args.root, args.profile, cache=args.cache, workers=args.workers,
                          seed=args.seed)
    info = json.loads((out / "prepare.json").read_text())
    print(f"prepared {info['n_clips']} clips ({info['n_quarantined']} quarantined, see quarantine.csv)")
    print(out)
    return 0
