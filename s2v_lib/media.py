"""Encode frames + speech to MP4 (h264 + AAC) and show them inline in a notebook."""
import base64
import io
from fractions import Fraction

import av
import numpy as np


def encode_mp4(frames: np.ndarray, audio: np.ndarray | None, fps: int = 25, sr: int = 16000,
               target=None, crf: int = 18) -> bytes | None:
    """frames uint8 (T, H, W, 3); audio float32 in [-1, 1] or int16, mono. Writes to `target` (path)
    or returns the bytes. H and W are padded to even sizes (yuv420p needs them)."""
    frames = np.asarray(frames, dtype=np.uint8)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        h, w = frames.shape[1:3]
    sink = target if target is not None else io.BytesIO()
    with av.open(sink, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"crf": str(crf), "preset": "veryfast"}
        video.codec_context.thread_count = 1
        sound = None
        if audio is not None and len(audio):
            sound = container.add_stream("aac", rate=sr, layout="mono")
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            container.mux(video.encode(vf))
        container.mux(video.encode())
        if sound is not None:
            a = np.asarray(audio)
            pcm = a if a.dtype == np.int16 else np.clip(a * 32767.0, -32768, 32767).astype(np.int16)
            af = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
            af.sample_rate, af.pts, af.time_base = sr, 0, Fraction(1, sr)
            container.mux(sound.encode(af))
            container.mux(sound.encode())
    return None if target is not None else sink.getvalue()


def video_html(frames, audio=None, fps=25, sr=16000, width=192, label="") -> str:
    data = base64.b64encode(encode_mp4(frames, audio, fps, sr)).decode()
    caption = f"<div style='font:12px sans-serif'>{label}</div>" if label else ""
    return (f"<div style='display:inline-block;margin:4px;text-align:center'>{caption}"
            f"<video width={width} controls loop src='data:video/mp4;base64,{data}'></video></div>")


def show_clip(frames, audio=None, fps=25, sr=16000, width=192, label=""):
    """Display one clip inline, playable with its audio."""
    from IPython.display import HTML, display
    display(HTML(video_html(frames, audio, fps, sr, width, label)))


def show_clips(items, width=192):
    """items: [(label, frames, audio)] shown side by side."""
    from IPython.display import HTML, display
    display(HTML("".join(video_html(f, a, width=width, label=lab) for lab, f, a in items)))
