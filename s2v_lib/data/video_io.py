"""Decoding video and audio files with PyAV (FLV, MP4, WAV, ...).

Every failure of the decoder becomes a DecodeError naming the file, so preparation can quarantine
the clip with a reason instead of crashing.
"""
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter


class DecodeError(Exception):
    """A file that cannot be opened or decoded; the message names the file."""


@dataclass
class VideoInfo:
    path: str
    fps: float                 # nominal frame rate of the first video stream (0 if unknown)
    width: int
    height: int
    has_audio: bool            # the container carries an audio stream
    audio_rate: int            # its sample rate (0 if none)
    duration_s: float          # container's claimed duration (0 if unknown); decode to be sure


@dataclass
class Video:
    frames: np.ndarray         # uint8 (N, H, W, 3) RGB
    times: np.ndarray          # float64 (N,) presentation time of each frame, seconds from the first frame
    fps: float                 # nominal rate (estimated from the timestamps when the container has none)
    info: VideoInfo

    @property
    def duration_s(self) -> float:
        """Time covered by the decoded frames: N frames at `fps` last N / fps seconds."""
        return len(self.frames) / self.fps if self.fps > 0 else 0.0


def _open(path):
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise DecodeError(f"{path}: cannot open ({e})") from None


def probe(path) -> VideoInfo:
    """Stream metadata only (no decoding): cheap."""
    with _open(path) as c:
        if not c.streams.video:
            raise DecodeError(f"{path}: no video stream")
        v = c.streams.video[0]
        rate = v.average_rate or v.guessed_rate or v.base_rate
        a = c.streams.audio[0] if c.streams.audio else None
        return VideoInfo(path=str(path), fps=float(rate) if rate else 0.0,
                         width=v.codec_context.width, height=v.codec_context.height,
                         has_audio=a is not None, audio_rate=a.codec_context.sample_rate if a else 0,
                         duration_s=c.duration / 1e6 if c.duration else 0.0)


def read_video(path) -> Video:
    """All frames of the first video stream as RGB uint8, with their timestamps.

    A truncated file decodes to fewer frames (or raises DecodeError if nothing decodes): callers
    compare the decoded duration with the audio to notice.
    """
    info = probe(path)
    frames, times = [], []
    to_rgb = VideoReformatter()   # one reused converter: ~5x faster than frame.to_ndarray(format=...)
    with _open(path) as c:
        try:
            for f in c.decode(video=0):
                frames.append(to_rgb.reformat(f, format="rgb24").to_ndarray())
                times.append(f.time if f.time is not None else np.nan)
        except av.FFmpegError as e:
            if not frames:   # a damaged tail keeps what decoded; a damaged head is undecodable
                raise DecodeError(f"{path}: cannot decode video ({e})") from None
    if not frames:
        return Video(np.zeros((0, info.height, info.width, 3), np.uint8), np.zeros(0), info.fps, info)
    times = np.asarray(times, np.float64)
    fps = info.fps
    if not fps and len(times) > 1 and np.isfinite(times).all():
        fps = 1.0 / float(np.median(np.diff(times)))
    if not np.isfinite(times).all():   # no timestamps: assume a constant rate
        times = np.arange(len(frames)) / fps
    # Time zero is the first frame: FLV has no edit list, so the muxer shifts video by the AAC priming.
    return Video(np.stack(frames), times - times[0], fps, info)


def resample_audio(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling of a float mono signal (exact for integer rate ratios)."""
    if rate == target:
        return x
    from scipy.signal import resample_poly
    g = gcd(rate, target)
    return resample_poly(x, target // g, rate // g)


def audio_info(path) -> tuple[float, int]:
    """(duration seconds, sample rate) without decoding: soundfile for WAV/FLAC, PyAV otherwise."""
    path = Path(path)
    if path.suffix.lower() in (".wav", ".flac"):
        import soundfile as sf
        try:
            i = sf.info(str(path))
        except (RuntimeError, OSError) as e:
            raise DecodeError(f"{path}: cannot read audio header ({e})") from None
        return i.frames / i.samplerate if i.samplerate else 0.0, i.samplerate
    with _open(path) as c:
        if not c.streams.audio:
            raise DecodeError(f"{path}: no audio stream")
        a = c.streams.audio[0]
        dur = float(a.duration * a.time_base) if a.duration else (c.duration or 0) / 1e6
        return dur, a.codec_context.sample_rate


def read_audio(path, sample_rate: int = 16000) -> tuple[np.ndarray, int]:
    """(mono float32 in [-1, 1] at `sample_rate`, the file's own rate). WAV via soundfile, else PyAV."""
    path = Path(path)
    if path.suffix.lower() in (".wav", ".flac"):
        import soundfile as sf
        try:
            x, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, OSError) as e:
            raise DecodeError(f"{path}: cannot decode audio ({e})") from None
        x = x.mean(axis=1)
    else:
        chunks, rate = [], 0
        with _open(path) as c:
            if not c.streams.audio:
                raise DecodeError(f"{path}: no audio stream")
            rate = c.streams.audio[0].codec_context.sample_rate
            to_float = av.AudioResampler(format="flt", layout="mono", rate=rate)
            try:
                for f in c.decode(audio=0):
                    chunks += [r.to_ndarray().reshape(-1) for r in to_float.resample(f)]
                chunks += [r.to_ndarray().reshape(-1) for r in to_float.resample(None)]
            except av.FFmpegError as e:
                if not chunks:
                    raise DecodeError(f"{path}: cannot decode audio ({e})") from None
        x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if rate <= 0:
        raise DecodeError(f"{path}: audio has no sample rate")
    return resample_audio(x, rate, sample_rate).astype(np.float32), rate


@dataclass
class ResampledVideo:
    frames: np.ndarray         # uint8 (n_out, H, W, 3) RGB: only the frames the output rate keeps
    src_index: np.ndarray      # int (n_out,) index of each kept frame among the decoded ones
    n_src: int                 # frames decoded
    fps: float                 # the source's nominal rate
    info: VideoInfo

    @property
    def duration_s(self) -> float:
        return self.n_src / self.fps if self.fps > 0 else 0.0


def read_video_resampled(path, fps_out: float) -> ResampledVideo:
    """Decode frame by frame, keeping only the frame nearest in time to each output instant k / fps_out.

    Streams: at most one decoded frame beyond the kept ones is held, so 30 -> 25 fps never holds the
    sixth frame it drops. Same choice as nearest-frame resampling of the full decode (ties go to the
    earlier frame). A damaged tail keeps what decoded (callers compare durations); a damaged head
    raises DecodeError.
    """
    info = probe(path)
    kept, src = [], []
    to_rgb = VideoReformatter()
    prev = prev_t = t0 = None
    n = k = 0
    with _open(path) as c:
        try:
            for f in c.decode(video=0):
                t = f.time if f.time is not None else (n / info.fps if info.fps else np.nan)
                t0 = t if t0 is None else t0
                t -= t0
                if prev is not None:      # the previous frame wins every output instant up to the midpoint
                    while k / fps_out <= (prev_t + t) / 2:
                        kept.append(prev)
                        src.append(n - 1)
                        k += 1
                rgb = to_rgb.reformat(f, format="rgb24").to_ndarray()
                prev, prev_t, n = rgb, t, n + 1
                if not np.isfinite(t):
                    raise DecodeError(f"{path}: frames without timestamps and no frame rate")
        except av.FFmpegError as e:
            if n == 0:
                raise DecodeError(f"{path}: cannot decode video ({e})") from None
    fps = info.fps
    if n == 0:
        return ResampledVideo(np.zeros((0, info.height, info.width, 3), np.uint8), np.zeros(0, int), 0, fps, info)
    if not fps:
        fps = (n - 1) / prev_t if n > 1 and prev_t > 0 else fps_out
    n_out = int(np.floor(n / fps * fps_out + 1e-6))
    while k < n_out:                  # instants past the last frame's midpoint take the last frame
        kept.append(prev)
        src.append(n - 1)
        k += 1
    kept, src = kept[:n_out], src[:n_out]
    frames = np.stack(kept) if kept else np.zeros((0, info.height, info.width, 3), np.uint8)
    return ResampledVideo(frames, np.asarray(src, int), n, fps, info)
