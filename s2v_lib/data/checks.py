"""What makes a clip unusable, checked before and while decoding; each defect is one quarantine row.

Pass 1 (file headers, cheap): missing or zero-byte files, undecodable containers, zero duration, no
audio stream in the video, rates out of range; then against the dataset's norms (far longer than
the median clip, a frame rate unlike the others'). Pass 2 (decoded clip): silent audio, durations that
disagree (the shorter file is the damaged one: truncation only ever shortens a file), and the audio-
visual alignment of alignment.py. Every row names the file that is actually at fault.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .faces import DetectConfig
from .readers import ClipSource
from .video_io import DecodeError, audio_info, probe


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
    max_offset_frames: int = 4         # audio-visual offset (alignment.py, frames) beyond which a clip is out of sync
    max_speech_after_video_s: float = 0.12   # speech in the audio past the video's last frame: the tail was cut
    trim_misaligned: bool = False      # True: shift the audio by the measured offset (keep cut videos) instead


class ClipProblem(Exception):
    """A defect found in one clip: (file, reason, value) for quarantine.csv."""

    def __init__(self, file, reason, value=""):
        super().__init__(f"{file}: {reason} ({value})")
        self.row = {"file": str(file), "reason": reason, "value": value}


def _why(e: DecodeError) -> str:
    return str(e).split(": ", 1)[-1]


def check_headers(clip: ClipSource, root: Path, cfg: PrepareConfig) -> dict:
    """Cheap checks from the file headers; returns duration (s, audio of record) and video fps."""
    def rel(p):
        return str(p.relative_to(root))

    def check_audio():
        try:
            duration, rate = audio_info(clip.audio)
        except DecodeError as e:
            raise ClipProblem(rel(clip.audio), "undecodable audio", _why(e)) from None
        if not cfg.rate_range[0] <= rate <= cfg.rate_range[1]:
            raise ClipProblem(rel(clip.audio), "audio sample rate out of range", rate)
        if duration <= 0:
            raise ClipProblem(rel(clip.audio), "zero duration", 0.0)
        return duration

    def check_video():
        try:
            info = probe(clip.video)
        except DecodeError as e:
            raise ClipProblem(rel(clip.video), "undecodable video", _why(e)) from None
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


def check_work(task):
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


def check_durations(clip: ClipSource, root: Path, audio_s: float, video_s: float, cfg: PrepareConfig) -> None:
    """Audio and video of one clip must last about as long; the shorter file is the one to blame."""
    diff = audio_s - video_s
    if abs(diff) > cfg.max_av_diff_s:   # truncated files land here
        shorter = clip.audio if diff < 0 else clip.video
        raise ClipProblem(shorter.relative_to(root), "audio and video durations differ (audio - video, s); "
                          f"the {'audio' if diff < 0 else 'video'} is the shorter", round(diff, 3))
