"""python -m s2v_lib prepare: decode, check, crop and cache a dataset in the format of dataset.py.

A reader per dataset (readers.py) lists every clip on disk as a ClipSource; everything after that is
shared. Before any work: the metadata tables are read and checked whole, every media file's identity
is taken for the cache key (cache_key.py; Git LFS pointers are refused there). Then two passes over
worker processes:
  1. header checks of every clip, the profile's or not, then against the dataset's norms (checks.py);
     each defect becomes a quarantine.csv row: file, reason, value;
  2. the profile's healthy clips: stream-decode at 25 fps, audio of record at 16 kHz checked against
     the video (durations, then alignment by content: alignment.py), face boxes and a smoothed square
     crop (crop.py), one atomic .npz per clip.
The output dir is keyed by a hash of everything that changes its content, so re-running is a no-op
and an interrupted run resumes (header results and finished clips are kept); `prune` deletes the dirs
that older keys left. prepare.json is written last: a dir without it, or with "complete" false, is
never mistaken for a prepared dataset. Shards and their merge: shards.py.
"""
import json
import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import save_npz, write_csv, write_json
from ..config import as_profile
from ..device import available_cpus
from ..errors import UserError
from ..paths import cache_root, ensure_dir
from .alignment import measure_offset, speech_after, track_offset
from .cache_key import (PREPARE_VERSION, config_key, content_listing, is_complete,  # noqa: F401 (public here)
                        memo_path, prepared_dir, prune_superseded)
from .checks import ClipProblem, PrepareConfig, check_durations, check_work, dataset_norms
from .checks import check_headers  # noqa: F401  (public here too)
from .crop import crop_boxes, crop_faces, face_boxes, resample_indices, sidecar_boxes  # noqa: F401
from .dataset import SAMPLES_PER_FRAME
from .faces import DetectConfig
from .readers import ClipSource, make_reader   # noqa: F401  (ClipSource, make_reader: public here too)
from .shards import in_shard, merge_prepared, parse_shard
from .splits import make_splits, save_splits
from .video_io import DecodeError, read_audio, read_video_resampled

MANIFEST_COLUMNS = ["clip_id", "actor", "sentence", "emotion", "level", "sex", "age", "age_group", "race",
                    "n_frames", "duration_s", "path", "source"]
QUARANTINE_COLUMNS = ["file", "reason", "value"]
FACE_COLUMNS = ["clip_id", "face_source", "sampled", "found", "longest_gap_s", "iou", "centre_err", "size_ratio"]


# ---------------------------------------------------------------- one clip

def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _fit(audio: np.ndarray, n_samples: int) -> np.ndarray:
    return np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))


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
    check_durations(clip, root, len(audio) / cfg.sample_rate, video.duration_s, cfg)
    n_out = len(video.frames)
    if n_out < 1:
        raise ClipProblem(rel(clip.video), "zero duration", round(video.duration_s, 3))

    boxes, stats = face_boxes(video, clip, root, cfg)
    frames = crop_faces(video.frames, boxes, cfg.frame_size, cfg.crop_scale, cfg.smooth_sigma)
    spf = SAMPLES_PER_FRAME
    pcm = _to_int16(_fit(audio, n_out * spf))
    shift = sync_offset(clip, root, audio, pcm, frames, cfg)   # samples the audio lags by, or None
    if shift is not None:
        audio = audio[shift:] if shift > 0 else np.concatenate([np.zeros(-shift, audio.dtype), audio])
        pcm = _to_int16(_fit(audio, n_out * spf))
        stats["av_trim_frames"] = round(shift / spf, 2)
    cut = speech_after(_to_int16(audio), n_out, spf, cfg.sample_rate)   # checked in sync: after any shift
    if cut > cfg.max_speech_after_video_s:
        if not cfg.trim_misaligned:
            raise ClipProblem(rel(clip.video), "video ends before the speech does (s of speech after its last "
                              "frame; the tail was cut)", round(cut, 2))
        stats["speech_cut_s"] = round(cut, 2)   # kept: the audio stops with the video, as always
    save_npz(out_file, frames=frames, audio=pcm, face_box=boxes.astype(np.float32),
             face_stats=np.array(json.dumps(stats, sort_keys=True)))
    return {"n_frames": n_out, "faces": stats}


def sync_offset(clip: ClipSource, root: Path, audio, pcm, frames, cfg: PrepareConfig) -> int | None:
    """Raise ClipProblem when the audio is out of step with the video (alignment.py); with
    cfg.trim_misaligned return the shift in samples instead. None: in sync, or no verdict."""
    rel, spf = str(clip.audio.relative_to(root)), SAMPLES_PER_FRAME
    if clip.audio != clip.video:   # the video's own track is the reference the container keeps in step
        try:
            track, _ = read_audio(clip.video, cfg.sample_rate)
        except DecodeError:
            track = None
        t = track_offset(audio, track, cfg.sample_rate) if track is not None and len(track) else None
        if t is None or abs(t["offset_s"]) * cfg.fps <= cfg.max_offset_frames:
            return None
        off, what = t["offset_s"], "the video's own sound track"
    else:                          # no separate track: the mouth, only when onset and end confirm it
        m = measure_offset(pcm, frames, spf)
        if m is None or not m["confirmed"] or abs(m["offset_frames"]) <= cfg.max_offset_frames:
            return None
        off, what = m["offset_frames"] / cfg.fps, "the mouth's motion"
    if not cfg.trim_misaligned:
        raise ClipProblem(rel, f"audio out of sync with the video (offset measured against {what}; "
                          "+ means the audio lags)", f"{off:+.2f} s ({off * cfg.fps:+.0f} frames)")
    return int(round(off * cfg.sample_rate))


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

def resolve_root(root, flag: str = "--root") -> Path:
    if root is None or not str(root):
        raise UserError(f"no dataset root given; pass {flag} DIR (the folder with VideoFlash/ and AudioWAV/, "
                        "or VoxCeleb2's dev/ and test/)")
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise UserError(f"dataset root {root} does not exist; check the path given as {flag}")
    if not root.is_dir():
        raise UserError(f"dataset root {root} is not a folder; pass the folder holding the dataset")
    return root


def resolve_workers(workers, flag: str = "--workers") -> int:
    """None: every core; else a whole number >= 1 (0 and negatives are mistakes, not shorthands)."""
    if workers is None:
        return available_cpus()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise UserError(f"{flag} {workers}: give a whole number >= 1 (worker processes), or leave it out "
                        "to use every core")
    return int(workers)


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
        for cid, header, problem in _pool_map(check_work, [(c, root, cfg) for c in clips], workers, bar):
            res[cid] = header if problem is None else {"problem": problem}
    write_json(cached, res)
    return res


def prepare_dataset(dataset: str, root, profile, cache=None, workers=None, seed: int = 0, progress: bool = True,
                    faces: str = "auto", shard=None, detect: DetectConfig | None = None, trim: bool = False,
                    prune: bool = False) -> Path:
    """Prepare `root` for `profile` into <cache>/prepared/<dataset>-<profile>-<hash>[-shardIofN]; returns that dir.

    faces: "auto" (twin sidecars for "synthetic", the detector for real datasets), "sidecar" or "detect".
    shard: "i/n" or (i, n) prepares one part; combine the parts with merge_prepared.
    trim: shift out-of-sync audio by its measured offset (and keep cut videos) instead of quarantining.
    prune: afterwards delete the prepared dirs of this root, profile and seed that an older key left.
    """
    profile = as_profile(profile)
    root = resolve_root(root)
    shard = parse_shard(shard)
    workers = resolve_workers(workers)
    reader = make_reader(dataset, root, profile, faces)
    demo = reader.demographics()          # checked whole now, not after every clip is decoded
    cfg = PrepareConfig(frame_size=profile.frame_size, fps=profile.fps, sample_rate=profile.sample_rate,
                        detect=(detect or DetectConfig()) if reader.detect else None, trim_misaligned=bool(trim))
    cache = cache if cache is not None else cache_root()
    listing = content_listing(root, reader.listing(), memo_path(cache, root))
    key = config_key(dataset, root, profile, cfg, seed, listing, shard)
    out = prepared_dir(cache, dataset, profile, key)
    if not is_complete(out):
        _prepare_into(out, reader, demo, dataset, root, profile, cfg, key, seed, shard, workers, progress)
    if prune:
        for d in prune_superseded(out):
            print(f"pruned superseded {d}", file=sys.stderr)
    return out


def _prepare_into(out, reader, demo, dataset, root, profile, cfg, key, seed, shard, workers, progress) -> None:
    ensure_dir(out / "clips", "prepare cache dir")
    if not (out / "key.json").exists():   # who this dir belongs to, before it is complete (for prune)
        write_json(out / "key.json", {"dataset": dataset, "root": str(root), "profile": profile.name, "seed": seed,
                                      "shard": list(shard) if shard else None})
    for tmp in out.rglob("*.tmp-*"):   # left by a killed run
        tmp.unlink()

    clips, quarantine = reader.clips()
    clips = [c for c in clips if in_shard(c.clip_id, shard)]
    if not any(c.selected for c in clips):
        raise UserError(f"{root} holds no clips that profile {profile.name!r} selects"
                        f"{' in shard %d/%d' % shard if shard else ''}; check --root, --dataset and --profile")
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

    manifest, more = build_manifest(rows, demo, root, cfg)
    quarantine = pd.DataFrame(quarantine + more, columns=QUARANTINE_COLUMNS).sort_values(["file", "reason"])
    write_csv(out / "quarantine.csv", quarantine)
    if manifest.empty:
        raise UserError(f"every clip of {root} was quarantined; see {out / 'quarantine.csv'} for the reasons")
    face_rows = pd.DataFrame([{"clip_id": c.clip_id, **f["faces"]} for c, f in rows], columns=FACE_COLUMNS)
    write_csv(out / "faces.csv", face_rows.sort_values("clip_id"))
    trimmed = [{"clip_id": c.clip_id, "av_trim_frames": f["faces"].get("av_trim_frames", 0),
                "speech_cut_s": f["faces"].get("speech_cut_s", 0.0)} for c, f in rows
               if "av_trim_frames" in f["faces"] or "speech_cut_s" in f["faces"]]
    if cfg.trim_misaligned:
        write_csv(out / "trimmed.csv", pd.DataFrame(trimmed, columns=["clip_id", "av_trim_frames", "speech_cut_s"]))
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


def prepare_cli(args) -> int:
    if getattr(args, "merge", None):
        if not args.out:
            raise UserError("--merge needs --out DIR, where the merged dataset goes")
        out = merge_prepared(args.merge, args.out)
    else:
        out = prepare_dataset(args.dataset, args.root, args.profile, cache=args.cache, workers=args.workers,
                              seed=args.seed, faces=getattr(args, "faces", "auto"), shard=getattr(args, "shard", None),
                              trim=getattr(args, "trim_misaligned", False), prune=getattr(args, "prune", False))
    info = json.loads((out / "prepare.json").read_text())
    print(f"prepared {info['n_clips']} clips ({info['n_quarantined']} quarantined, see quarantine.csv; "
          f"{info['n_outside_profile']} outside profile {info['profile']!r})")
    print(out)
    return 0
