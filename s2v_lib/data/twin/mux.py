"""Writers for CREMA-D's formats (all atomic): WAV (soundfile), MP4 and FLV (PyAV / FFmpeg).

MP4: h264 yuv420p + AAC; the MP4 edit list hides the AAC encoder's 1024-sample priming.
FLV: flv1 (Sorenson H.263) + AAC; FLV has no edit list, so we drop 1024 samples of the (silent)
lead-in before encoding to keep the decoded audio aligned with the video.
"""
from fractions import Fraction

import av
import numpy as np
import soundfile as sf

from ...atomic import atomic_path

AAC_PRIMING = 1024


def write_wav(path, wav: np.ndarray, sr: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, wav, sr, subtype="PCM_16", format="WAV")


def _write_av(path, frames, wav, fps, sr, vcodec, vopts=None, bit_rate=None, trim=0):
    n, h, w, _ = frames.shape
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w") as c:
            vs = c.add_stream(vcodec, rate=fps)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            # one encoder thread, also in the generic options: threaded x264 is not bit-reproducible
            vs.options = {**(vopts or {}), "threads": "1"}
            if bit_rate:
                vs.bit_rate = bit_rate
            vs.codec_context.thread_count = 1          # deterministic and we parallelise over clips
            audio = []
            if wav is not None:
                aus = c.add_stream("aac", rate=sr, layout="mono", options={"aac_coder": "fast"})   # 2x faster
                if trim:
                    wav = np.concatenate([wav[trim:], np.zeros(trim, wav.dtype)])
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(wav, np.int16)[None], format="s16", layout="mono")
                af.sample_rate, af.pts, af.time_base = sr, 0, Fraction(1, sr)
                audio = [*aus.encode(af), *aus.encode()]
            # interleave by time: FLV rejects streams more than a few seconds apart
            k = 0
            for i in range(n):
                while k < len(audio) and audio[k].pts * audio[k].time_base <= Fraction(i, fps):
                    c.mux(audio[k])
                    k += 1
                fr = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
                fr.pts, fr.time_base = i, Fraction(1, fps)
                c.mux(vs.encode(fr))
            c.mux(vs.encode())
            c.mux(audio[k:])


def write_mp4(path, frames: np.ndarray, wav: np.ndarray | None, fps: int, sr: int) -> None:
    """frames uint8 (T, H, W, 3) RGB; wav int16 or None (no audio track)."""
    _write_av(path, frames, wav, fps, sr, "libx264", vopts={"crf": "18", "preset": "veryfast"})


def write_flv(path, frames: np.ndarray, wav: np.ndarray | None, fps: int, sr: int) -> None:
    bit_rate = 250_000 if frames.shape[1] <= 64 else 600_000
    _write_av(path, frames, wav, fps, sr, "flv", bit_rate=bit_rate, trim=AAC_PRIMING)
