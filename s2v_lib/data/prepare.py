"""python -m s2v_lib prepare: decode, check, crop and cache a dataset in the format of dataset.py.

A reader per dataset (readers.py) lists every clip on disk as a ClipSource; everything after that is
shared, in two passes over worker processes:
  1. header checks of every clip, the profile's or not (missing, undecodable, zero duration, no audio
     stream, rates out of range), then against the dataset's norms (far longer than the median clip,
     a frame rate unlike the others'); each defect becomes a quarantine.csv row: file, reason, value;
  2. the profile's healthy clips: stream-decode at 25 fps, audio of record at 16 kHz checked against
     the video's duration, face boxes (the twin's sidecars, or dlib detection + 5-point alignment,
     faces.py), a smoothed square crop resized to the profile's size, one atomic .npz per clip.
The output dir is keyed by a hash of everything that changes its content, so re-running is a no-op
and an interrupted run resumes (header results and finished clips are kept). prepare.json is written
last: a dir without it, or with "complete" false, is never mistaken for a prepared dataset.
Scale: `shard=(i, n)` prepares the i-th of n disjoint parts (by a hash of the clip id); `merge_prepared`
combines the shards' outputs into one dataset and draws the splits once, over all of it.
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
from ..config import Profile, as_profile, get_profile
from ..errors import UserError
from ..paths import cache_root, ensure_dir
from .dataset import SAMPLES_PER_FRAME
from .faces import DetectConfig, NoFaceError, compare_boxes, detect_face_boxes
from .readers import ClipSource, make_reader   # noqa: F401  (ClipSource, make_reader: public here too)
from .splits import make_splits, save_splits
from .video_io import DecodeError, audio_info, probe, read_audio, read_video_resampled

PREPARE_VERSION = 2            # bump when the code changes what a prepared clip contains
MANIFEST_COLUMNS = ["clip_id", "actor", "sentence", "emotion", "level", "sex", "age", "age_group", "race",
                    "n_frames", "duration_s", "path", "source"]
QUARANTINE_COLUMNS = ["file", "reason", "value"]
FACE_COLUMNS = ["clip_id", "face_source", "sampled", "found", "longest_gap_s", "iou", "centre_err", "size_ratio"]


@dataclass(frozen=True)
class PrepareConfig:
    frame_size: int
    fps: int = 25
    sample_rate: int = 16000
    crop_scale: float = 1.3            # square crop side = 1.3 x the longer side of the face box
    smooth_sigma: float = 1.5          # Gaussian smoothing of crop centre/size over time, in output frames
    max_av_diff_s: float = 0.5         # audio vs video duration difference that quarantines a clip
    max_len_ratio: float = 5.0         # clips longer than 5 x the median duration are quarantined
    max_fps_dev: float = 0.05          # a frame rate this far (relative) from the dataset's median is an outlier
    fps_range: tuple = (15.0, 61.0)
    rate_range: tuple = (8000, 96000)
    detect: DetectConfig | None = None  # None: the twin's sidecar boxes; else the dlib detector's settings


class ClipProblem(Exception):
    """A defect found in one clip: (file, reason, value) for quarantine.csv."""

    def __init__(self, file, reason, value=""):
        super().__init__(f"{file}: {reason} ({value})")
        self.row = {"file": str(file), "reason": reason, "value": value}


# ---------------------------------------------------------------- pass 1: headers

def check_headers(clip: ClipSource, root: Path, cfg: PrepareConfig) -> dict:
    """Cheap checks from the file headers; returns duration (s, audio of record) and video fps."""
    def rel(p):
        return str(p.relative_to(root))

    def check_audio():
        try:
            duration, rate = audio_info(clip.audio)
        except DecodeError as e:
            raise ClipProblem(rel(clip.audio), "undecodable audio", str(e).split(": ", 1)[-1]) from None
        if not cfg.rate_range[0] <= rate <= cfg.rate_range[1]:
            raise ClipProblem(rel(clip.audio), "audio sample rate out of range", rate)
        if duration <= 0:
            raise ClipProblem(rel(clip.audio), "zero duration", 0.0)
        return duration

    def check_video():
        try:
            info = probe(clip.video)
        except DecodeError as e:
            raise ClipProblem(rel(clip.video), "undecodable video", str(e).split(": ", 1)[-1]) from None
        if not cfg.fps_range[0] <= info.fps <= cfg.fps_range[1]:
            raise ClipProblem(rel(clip.video), "video frame rate out of range", round(info.fps, 3))
        if not info.has_audio:   # CREMA-D's known defect: FLVs without a sound track
            raise ClipProblem(rel(clip.video), "video has no audio stream", "")
        return info

    for path, what in ((clip.audio, "audio"), (clip.video, "video")):
        if not path.exists():
            raise ClipProblem(rel(path), f"missing {what} file", "")
        if path.stat().st_size == 0:
            raise ClipProblem(rel(path), "zero duration", 0.0)
    if clip.audio == clip.video:   # audio from the video's own track: its container first
        info = check_video()
        duration = check_audio()
    else:
        duration = check_audio()
        info = check_video()
    return {"duration_s": duration, "fps": info.fps}


def _check_work(task):
    clip, root, cfg = task
    try:
        return clip.clip_id, check_headers(clip, root, cfg), None
    except ClipProblem as e:
        return clip.clip_id, None, e.row


def dataset_norms(clips, headers: dict, root: Path, cfg: PrepareConfig) -> tuple[dict, list]:
    """Quarantine rows for clips far longer than the median, or with a frame rate unlike the median's."""
    ok = [headers[c.clip_id] for c in clips if headers.get(c.clip_id)]
    if not ok:
        return {}, []
    med_dur = float(np.median([h["duration_s"] for h in ok]))
    med_fps = float(np.median([h["fps"] for h in ok]))
    rows = []
    for c in clips:
        h = headers.get(c.clip_id)
        if not h:
            continue
        if h["duration_s"] > cfg.max_len_ratio * med_dur:
            rows.append({"file": str(c.audio.relative_to(root)),
                         "reason": f"clip longer than {cfg.max_len_ratio:g}x the median duration (s)",
                         "value": round(h["duration_s"], 3)})
        elif abs(h["fps"] - med_fps) > cfg.max_fps_dev * med_fps:
            rows.append({"file": str(c.video.relative_to(root)),
                         "reason": f"frame rate unlike the dataset's (median {med_fps:g} fps)",
                         "value": round(h["fps"], 3)})
    return {"median_duration_s": round(med_dur, 3), "median_fps": round(med_fps, 3)}, rows


# ---------------------------------------------------------------- pass 2: one clip

def resample_indices(times: np.ndarray, n_out: int, fps: int) -> np.ndarray:
    """For each output frame t (at t / fps seconds) the source frame nearest in time.

    Nearest-frame resampling (not blending): 30 -> 25 fps repeats no frame and drops one in six,
    and every output frame is a real decoded frame, so mouth shapes are never averaged.
    (video_io.read_video_resampled makes the same choice while streaming.)
    """
    if len(times) == 1:
        return np.zeros(n_out, int)
    tau = np.arange(n_out) / fps
    j = np.clip(np.searchsorted(times, tau), 1, len(times) - 1)
    return np.where(tau - times[j - 1] <= times[j] - tau, j - 1, j)


def crop_boxes(boxes: np.ndarray, scale: float, sigma: float) -> np.ndarray:
    """Square crop boxes (T, 4) around the face boxes: centre and side smoothed over time."""
    from scipy.ndimage import gaussian_filter1d
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    side = scale * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    if len(boxes) > 1 and sigma > 0:   # steady crop: detector/box jitter must not become apparent head motion
        cx, cy, side = (gaussian_filter1d(v, sigma, mode="nearest") for v in (cx, cy, side))
    half = np.maximum(side, 2.0) / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], 1)


def crop_faces(frames: np.ndarray, boxes: np.ndarray, size: int, scale: float, sigma: float) -> np.ndarray:
    """Square crops around the (smoothed) box centres, resized to size x size with antialiasing."""
    from PIL import Image
    T, H, W, _ = frames.shape
    crops = crop_boxes(boxes, scale, sigma)
    # crops reaching past the border read replicated edge pixels
    pad = int(np.ceil(max(0.0, -crops[:, :2].min(), (crops[:, 2] - W).max(), (crops[:, 3] - H).max())))
    if pad:
        frames = np.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.empty((T, size, size, 3), np.uint8)
    for t in range(T):
        # PIL's resampling filters widen with the reduction factor: antialiased when shrinking
        out[t] = np.asarray(Image.fromarray(frames[t]).resize((size, size), Image.Resampling.BILINEAR,
                                                              box=tuple(crops[t] + pad)))
    return out


def sidecar_boxes(clip: ClipSource, root: Path) -> np.ndarray:
    """Ground-truth face boxes (T_src, 4) from the clip's sidecar; gaps filled from neighbours."""
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


def face_boxes(video, clip: ClipSource, root: Path, cfg: PrepareConfig) -> tuple[np.ndarray, dict]:
    """Face boxes (n_out, 4) for the kept frames, and per-clip face statistics for faces.csv."""
    if not clip.detect:
        boxes = sidecar_boxes(clip, root)
        return boxes[np.minimum(video.src_index, len(boxes) - 1)], {"face_source": "sidecar"}
    try:
        boxes, _, stats = detect_face_boxes(video.frames, cfg.fps, cfg.detect or DetectConfig())
    except NoFaceError as e:
        raise ClipProblem(clip.video.relative_to(root), e.reason, e.value) from None
    stats["face_source"] = "detect"
    if clip.boxes is not None and clip.boxes.exists():   # the twin: how close is the detector to the truth?
        try:
            truth = sidecar_boxes(clip, root)
            stats.update(compare_boxes(boxes, truth[np.minimum(video.src_index, len(truth) - 1)]))
        except ClipProblem:
            pass   # a broken sidecar does not matter when detecting
    return boxes, stats


def prepare_clip(clip: ClipSource, root: Path, out_file: Path, cfg: PrepareConfig) -> dict:
    """Decode, check, crop and save one clip; returns its manifest fields, raises ClipProblem for a defect."""
    def rel(p):
        return str(p.relative_to(root))

    try:
        video = read_video_resampled(clip.video, cfg.fps)
    except DecodeError as e:
        raise ClipProblem(rel(clip.video), "undecodable video", str(e).split(": ", 1)[-1]) from None
    if video.n_src == 0:
        raise ClipProblem(rel(clip.video), "zero duration", 0.0)
    try:
        audio, _ = read_audio(clip.audio, cfg.sample_rate)
    except DecodeError as e:
        raise ClipProblem(rel(clip.audio), "undecodable audio", str(e).split(": ", 1)[-1]) from None
    if len(audio) == 0:
        raise ClipProblem(rel(clip.audio), "zero duration", 0.0)
    if np.abs(audio).max() < 1.0 / 32768:
        raise ClipProblem(rel(clip.audio), "silent audio", 0.0)
    diff = len(audio) / cfg.sample_rate - video.duration_s
    if abs(diff) > cfg.max_av_diff_s:   # truncated files land here too
        raise ClipProblem(rel(clip.video), "audio and video durations differ (audio - video, s)", round(diff, 3))
    n_out = len(video.frames)
    if n_out < 1:
        raise ClipProblem(rel(clip.video), "zero duration", round(video.duration_s, 3))

    boxes, stats = face_boxes(video, clip, root, cfg)
    frames = crop_faces(video.frames, boxes, cfg.frame_size, cfg.crop_scale, cfg.smooth_sigma)
    n_samples = n_out * SAMPLES_PER_FRAME
    audio = np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))
    audio = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    save_npz(out_file, frames=frames, audio=audio, face_box=boxes.astype(np.float32),
             face_stats=np.array(json.dumps(stats, sort_keys=True)))
    return {"n_frames": n_out, "faces": stats}


def _work(task):
    clip, root, out_file, cfg = task
    try:
        return clip, prepare_clip(clip, root, out_file, cfg), None
    except ClipProblem as e:
        return clip, None, e.row


def _finished(out_file: Path) -> dict:
    with np.load(out_file) as z:
        stats = json.loads(str(z["face_stats"])) if "face_stats" in z.files else {}
        return {"n_frames": len(z["audio"]) // SAMPLES_PER_FRAME, "faces": stats}


# ---------------------------------------------------------------- whole dataset

def resolve_root(root) -> Path:
    if root is None or not str(root):
        raise UserError("no dataset root given; pass --root DIR (the folder with VideoFlash/ and AudioWAV/, "
                        "or VoxCeleb2's dev/ and test/)")
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise UserError(f"dataset root {root} does not exist; check the path given as --root")
    if not root.is_dir():
        raise UserError(f"dataset root {root} is not a folder; pass the folder holding the dataset")
    return root


def parse_shard(shard) -> tuple[int, int] | None:
    """'i/n' (or (i, n)) -> (i, n) with 0 <= i < n; None stays None."""
    if shard is None or shard == "":
        return None
    try:
        i, n = (int(x) for x in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError):
        raise UserError(f"--shard {shard!r} is not of the form i/n (e.g. 0/4 for the first of four parts)") from None
    if not (n >= 1 and 0 <= i < n):
        raise UserError(f"--shard {i}/{n}: need 0 <= i < n (shards are numbered from 0)")
    return i, n


def in_shard(clip_id: str, shard) -> bool:
    """A stable split of clip ids into n parts (independent of listing order and of the machine)."""
    if shard is None:
        return True
    return int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16) % shard[1] == shard[0]


def config_key(dataset: str, root: Path, profile: Profile, cfg: PrepareConfig, seed: int, listing, shard=None) -> dict:
    key = {"version": PREPARE_VERSION, "dataset": dataset, "root": str(root), "profile": profile.data_key(),
           "n_unseen": profile.n_unseen, "split_fractions": list(profile.split_fractions), "seed": seed,
           "prepare": dataclasses.asdict(cfg),
           "listing": hashlib.sha1(json.dumps(listing).encode()).hexdigest()}
    if shard is not None:
        key["shard"] = list(shard)
    return key


def prepared_dir(cache, dataset: str, profile: Profile, key: dict) -> Path:
    h = hashlib.sha1(json.dumps(key, sort_keys=True, default=list).encode()).hexdigest()[:10]
    shard = f"-shard{key['shard'][0]}of{key['shard'][1]}" if key.get("shard") else ""
    return Path(cache).expanduser().resolve() / "prepared" / f"{dataset}-{profile.name}-{h}{shard}"


def is_complete(out: Path) -> bool:
    try:
        return json.loads((out / "prepare.json").read_text()).get("complete") is True
    except (OSError, ValueError):
        return False


def _pool_map(func, tasks, workers: int, bar):
    """Yield func(task) for every task, over `workers` processes (fork where there is one: works from
    scripts without a __main__ guard; workers never touch torch)."""
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield func(t)
            bar.update()
        return
    pool = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(workers)
    try:
        for r in pool.imap_unordered(func, tasks, chunksize=max(1, min(8, len(tasks) // (4 * workers)))):
            yield r
            bar.update()
    finally:
        pool.terminate()
        pool.join()


def _header_pass(clips, root, cfg, out: Path, workers: int, progress: bool) -> dict:
    """clip_id -> header dict or the quarantine row; cached in headers.json so a resumed run skips it."""
    cached = out / "headers.json"
    if cached.exists():
        return json.loads(cached.read_text())
    res = {}
    with tqdm(total=len(clips), desc="check headers", unit="clip", disable=not progress, file=sys.stderr) as bar:
        for cid, header, problem in _pool_map(_check_work, [(c, root, cfg) for c in clips], workers, bar):
            res[cid] = header if problem is None else {"problem": problem}
    write_json(cached, res)
    return res


def prepare_dataset(dataset: str, root, profile, cache=None, workers=None, seed: int = 0, progress: bool = True,
                    faces: str = "auto", shard=None, detect: DetectConfig | None = None) -> Path:
    """Prepare `root` for `profile` into <cache>/prepared/<dataset>-<profile>-<hash>[-shardIofN]; returns that dir.

    faces: "auto" (twin sidecars for "synthetic", the detector for real datasets), "sidecar" or "detect".
    shard: "i/n" or (i, n) prepares one part; combine the parts with merge_prepared.
    """
    profile = as_profile(profile)
    root = resolve_root(root)
    shard = parse_shard(shard)
    reader = make_reader(dataset, root, profile, faces)
    cfg = PrepareConfig(frame_size=profile.frame_size, fps=profile.fps, sample_rate=profile.sample_rate,
                        detect=(detect or DetectConfig()) if reader.detect else None)
    key = config_key(dataset, root, profile, cfg, seed, reader.listing(), shard)
    out = prepared_dir(cache if cache is not None else cache_root(), dataset, profile, key)
    if is_complete(out):
        return out
    ensure_dir(out / "clips", "prepare cache dir")
    for tmp in out.rglob("*.tmp-*"):   # left by a killed run
        tmp.unlink()

    clips, quarantine = reader.clips()
    clips = [c for c in clips if in_shard(c.clip_id, shard)]
    if not any(c.selected for c in clips):
        raise UserError(f"{root} holds no clips that profile {profile.name!r} selects"
                        f"{' in shard %d/%d' % shard if shard else ''}; check --root, --dataset and --profile")
    workers = max(1, workers or os.cpu_count() or 1)
    headers = _header_pass(clips, root, cfg, out, workers, progress)
    quarantine += [h["problem"] for h in headers.values() if "problem" in h]
    norms, outliers = dataset_norms(clips, {k: h for k, h in headers.items() if "problem" not in h}, root, cfg)
    quarantine += outliers
    flagged = {r["file"] for r in outliers}
    healthy = [c for c in clips if c.selected and "problem" not in headers[c.clip_id]
               and str(c.audio.relative_to(root)) not in flagged and str(c.video.relative_to(root)) not in flagged]

    rows, tasks = [], []
    for c in healthy:
        f = out / "clips" / f"{c.clip_id}.npz"
        if f.exists():
            rows.append((c, _finished(f)))   # finished by an earlier, interrupted run
        else:
            tasks.append((c, root, f, cfg))
    with tqdm(total=len(healthy), initial=len(rows), desc=f"prepare {dataset}/{profile.name}", unit="clip",
              disable=not progress, file=sys.stderr) as bar:
        for c, fields, problem in _pool_map(_work, tasks, min(workers, max(1, len(tasks))), bar):
            if problem is None:
                rows.append((c, fields))
            else:
                quarantine.append(problem)

    manifest, more = build_manifest(rows, reader.demographics(), root, cfg)
    quarantine = pd.DataFrame(quarantine + more, columns=QUARANTINE_COLUMNS).sort_values(["file", "reason"])
    write_csv(out / "quarantine.csv", quarantine)
    if manifest.empty:
        raise UserError(f"every clip of {root} was quarantined; see {out / 'quarantine.csv'} for the reasons")
    face_rows = pd.DataFrame([{"clip_id": c.clip_id, **f["faces"]} for c, f in rows], columns=FACE_COLUMNS)
    write_csv(out / "faces.csv", face_rows.sort_values("clip_id"))
    write_csv(out / "manifest.csv", manifest)
    unseen = reader.unseen_actors()
    if shard is None:
        save_splits(out / "splits.csv", make_splits(manifest, profile.n_unseen, profile.split_fractions, seed,
                                                    unseen_actors=unseen))
    write_json(out / "prepare.json", {
        "complete": True, "dataset": dataset, "profile": profile.name, "root": str(root), "seed": seed,
        "frame_size": cfg.frame_size, "fps": cfg.fps, "sample_rate": cfg.sample_rate, "version": PREPARE_VERSION,
        "config": {k: v for k, v in key.items() if k not in ("root",)},
        "shard": list(shard) if shard else None, "unseen_actors": unseen, "norms": norms,
        "face_source": "detect" if reader.detect else "sidecar",
        "n_clips": len(manifest), "n_quarantined": len(quarantine),
        "n_outside_profile": sum(not c.selected for c in clips)})
    return out


def build_manifest(rows, demo: pd.DataFrame, root: Path, cfg: PrepareConfig) -> tuple[pd.DataFrame, list]:
    """Manifest rows joined with demographics on actor; clips of unknown actors go to quarantine."""
    recs = [{"clip_id": c.clip_id, **{k: c.meta[k] for k in ("actor", "sentence", "emotion", "level")},
             "n_frames": f["n_frames"], "duration_s": round(f["n_frames"] / cfg.fps, 4),
             "path": f"clips/{c.clip_id}.npz", "source": str(c.video.relative_to(root))} for c, f in rows]
    m = pd.DataFrame(recs, columns=[c for c in MANIFEST_COLUMNS if c not in ("sex", "age", "age_group", "race")])
    m = m.merge(demo[["actor", "sex", "age", "age_group", "race"]], on="actor", how="left", validate="many_to_one")
    unknown = m["sex"].isna()
    more = [{"file": r.source, "reason": "actor missing from the demographics table", "value": int(r.actor)}
            for r in m[unknown].itertuples()]
    m = m[~unknown].sort_values("clip_id").reset_index(drop=True)
    if m["age"].notna().all():   # VoxCeleb2 has no ages: the column stays empty there
        m["age"] = m["age"].astype(int)
    return m[MANIFEST_COLUMNS], more


# ---------------------------------------------------------------- shards -> one dataset

def merge_prepared(dirs, out, profile=None) -> Path:
    """Combine the prepared shards `dirs` (one run's i/n for every i) into the dataset `out`.

    Clips are hard-linked (copied across file systems); manifests, quarantine and face reports are
    concatenated; splits are drawn once over the merged manifest. Refuses incomplete or missing shards.
    """
    dirs = [Path(d).expanduser().resolve() for d in dirs]
    infos = []
    for d in dirs:
        if not is_complete(d):
            raise UserError(f"{d} is not a finished prepare run (no complete prepare.json); rerun its "
                            "`python -m s2v_lib prepare ... --shard i/n` to finish it before merging")
        infos.append(json.loads((d / "prepare.json").read_text()))
    if any(not i.get("shard") for i in infos):
        raise UserError(f"{dirs[[not i.get('shard') for i in infos].index(True)]} is not a shard; merge only "
                        "the outputs of `prepare --shard i/n`")
    base = lambda i: {k: v for k, v in i["config"].items() if k not in ("shard",)}
    if any(base(i) != base(infos[0]) for i in infos):
        raise UserError("the shards were prepared with different settings (dataset, profile, seed, data or code); "
                        "rerun them all with the same command and --shard i/n")
    n = infos[0]["shard"][1]
    have = sorted(i["shard"][0] for i in infos)
    if have != list(range(n)):
        missing = sorted(set(range(n)) - set(have))
        raise UserError(f"merging needs each of the {n} shards exactly once; missing {missing}, got {have}; "
                        "pass every shard's prepared dir")
    out = ensure_dir(Path(out).expanduser().resolve(), "merge output dir")
    if is_complete(out):
        raise UserError(f"{out} already holds a prepared dataset; choose an empty --out")
    ensure_dir(out / "clips", "merge output dir")
    frames = {name: [] for name in ("manifest", "quarantine", "faces")}
    for d in dirs:
        for name in frames:
            frames[name].append(pd.read_csv(d / f"{name}.csv"))
        for f in (d / "clips").iterdir():
            if f.suffix == ".npz" and not (out / "clips" / f.name).exists():
                try:
                    os.link(f, out / "clips" / f.name)
                except OSError:
                    import shutil
                    shutil.copy2(f, out / "clips" / f.name)
    manifest = pd.concat(frames["manifest"]).sort_values("clip_id").reset_index(drop=True)
    if manifest.clip_id.duplicated().any():
        raise UserError("two shards hold the same clip; were they prepared from different roots or shard counts?")
    write_csv(out / "manifest.csv", manifest)
    write_csv(out / "quarantine.csv", pd.concat(frames["quarantine"]).sort_values(["file", "reason"]))
    write_csv(out / "faces.csv", pd.concat(frames["faces"]).sort_values("clip_id"))
    i0 = infos[0]
    profile = get_profile(profile or i0["profile"]) if not isinstance(profile, Profile) else profile
    unseen = sorted({a for i in infos for a in (i.get("unseen_actors") or [])}) if i0.get("unseen_actors") else None
    save_splits(out / "splits.csv", make_splits(manifest, profile.n_unseen, profile.split_fractions, i0["seed"],
                                                unseen_actors=unseen))
    write_json(out / "prepare.json", {
        **{k: i0[k] for k in ("dataset", "profile", "root", "seed", "frame_size", "fps", "sample_rate", "version",
                              "face_source")},
        "complete": True, "config": base(i0), "shard": None, "merged_from": [str(d) for d in dirs],
        "unseen_actors": unseen, "n_clips": len(manifest), "n_quarantined": sum(len(q) for q in frames["quarantine"]),
        "n_outside_profile": sum(i["n_outside_profile"] for i in infos)})
    return out


def prepare_cli(args) -> int:
    if getattr(args, "merge", None):
        if not args.out:
            raise UserError("--merge needs --out DIR, where the merged dataset goes")
        out = merge_prepared(args.merge, args.out)
    else:
        out = prepare_dataset(args.dataset, args.root, args.profile, cache=args.cache, workers=args.workers,
                              seed=args.seed, faces=getattr(args, "faces", "auto"), shard=getattr(args, "shard", None))
    info = json.loads((out / "prepare.json").read_text())
    print(f"prepared {info['n_clips']} clips ({info['n_quarantined']} quarantined, see quarantine.csv; "
          f"{info['n_outside_profile']} outside profile {info['profile']!r})")
    print(out)
    return 0
