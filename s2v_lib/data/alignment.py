"""Audio-visual alignment of one clip, by content: is the audio of record in step with the video?

Two measurements, calibrated on the twin (in sync by construction: its ground truth says so):
  * against the video's own sound track (CREMA-D's FLVs carry one; the container keeps it in step
    with the frames): the loudness envelopes (10 ms hops) of the WAV and of that track are
    cross-correlated at lags of +-0.6 s. 271 of 271 healthy twin clips (smoke and cpu) measure
    exactly 0; with 0.4 s of silence before the WAV every one measures exactly 0.40 s.
  * against the mouth, where there is no separate track (a VoxCeleb2 mp4 whose own track is the
    audio): the audio's loudness envelope per video frame against the mouth region's motion in the
    face crop, at lags of +-15 frames. Weaker: on 454 healthy twin clips the best lag is beyond 4
    frames for 5 of them (blinks, head motion, a long open vowel), so an offset is only reported when
    the audio onset against the mouth-motion onset and the speech end against the motion end agree
    with it within 3 frames: no healthy clip then, half of the 0.4 s shifts. Onsets alone are worse
    still (6 of 71 smoke clips off by > 3 frames). A steady tone or a still mouth gives no verdict.
A video cut short (the sentence's tail missing) shows as speech in the audio after the last frame.
"""
import numpy as np

MAX_LAG = 15                 # frames searched either way (the sync expert's range)
MOUTH_ROWS = (0.58, 0.85)    # the mouth's place in the face crop (crop = 1.3 x the face box, centred)
MOUTH_COLS = (0.30, 0.70)
MIN_PEAK = 0.3               # below this correlation at the best lag, voice and mouth are unrelated: no verdict
MIN_AUDIO_DB_STD = 3.0       # a steady tone has no envelope to align
MIN_MOTION_STD = 0.05        # grey levels: a still mouth has no motion to align
AGREE_FRAMES = 3             # onset and end must confirm a mouth-based offset within this
TRACK_HOP_S = 0.01
TRACK_MAX_LAG_S = 0.6
MIN_TRACK_CORR = 0.6         # below: the video's track is not the same sound (no verdict)


def loudness_db(audio_int16: np.ndarray, samples_per_frame: int) -> np.ndarray:
    """Log RMS (dB re one LSB) of each window of samples_per_frame samples."""
    n = len(audio_int16) // samples_per_frame
    x = audio_int16[: n * samples_per_frame].astype(np.float64).reshape(n, samples_per_frame)
    return 20 * np.log10(np.sqrt((x ** 2).mean(1)) + 1.0)


def mouth_motion(crops: np.ndarray) -> np.ndarray:
    """Mean absolute grey-level change of the mouth region from the previous frame (first frame: the next's)."""
    s = crops.shape[1]
    g = crops[:, int(MOUTH_ROWS[0] * s):int(MOUTH_ROWS[1] * s), int(MOUTH_COLS[0] * s):int(MOUTH_COLS[1] * s)]
    g = g.astype(np.float64).mean(-1)
    d = np.abs(np.diff(g, axis=0)).mean((1, 2))
    return np.concatenate([d[:1], d]) if len(d) else np.zeros(len(crops))


def _smooth(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d
    return uniform_filter1d(x, 3, mode="nearest")


def _lags(a: np.ndarray, b: np.ndarray, max_lag: int, normalise: bool) -> np.ndarray:
    """Correlation of a[t + lag] with b[t] for lag in -max_lag..max_lag (a, b already centred)."""
    out = []
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        k = min(len(x), len(y))
        x, y = x[:k], y[:k]
        out.append(float((x * y).sum() / (np.sqrt((x * x).sum() * (y * y).sum()) + 1e-12)) if normalise
                   else float((x * y).mean()))
    return np.array(out)


def track_offset(audio: np.ndarray, track: np.ndarray, sample_rate: int) -> dict | None:
    """{"offset_s", "corr"} of the audio of record against the video's own track (+: the audio lags),
    or None when they are not the same sound or are flat."""
    hop = int(round(TRACK_HOP_S * sample_rate))
    a = loudness_db(np.clip(np.round(audio * 32768), -32768, 32767), hop)
    b = loudness_db(np.clip(np.round(track * 32768), -32768, 32767), hop)
    lag = int(round(TRACK_MAX_LAG_S / TRACK_HOP_S))
    n = min(len(a), len(b))
    if n < 2 * lag or a[:n].std() < MIN_AUDIO_DB_STD or b[:n].std() < MIN_AUDIO_DB_STD:
        return None
    corr = _lags(a - a[:n].mean(), b - b[:n].mean(), lag, normalise=True)
    best = int(np.argmax(corr))
    if corr[best] < MIN_TRACK_CORR:
        return None
    return {"offset_s": round((best - lag) * TRACK_HOP_S, 3), "corr": round(float(corr[best]), 3)}


def _active(x: np.ndarray, frac: float) -> np.ndarray:
    lo, hi = np.percentile(x, 5), np.percentile(x, 95)
    return np.nonzero(x > lo + frac * (hi - lo))[0]


def measure_offset(audio_int16: np.ndarray, crops: np.ndarray, samples_per_frame: int) -> dict | None:
    """Audio against the mouth: {"offset_frames", "peak", "confirmed"} (+: the audio lags), or None
    when the clip gives no verdict. confirmed: onset and end agree with the offset (see the docstring)."""
    a, m = _smooth(loudness_db(audio_int16, samples_per_frame)), _smooth(mouth_motion(crops))
    n = min(len(a), len(m))
    if n < 2 * MAX_LAG or a[:n].std() < MIN_AUDIO_DB_STD or m[:n].std() < MIN_MOTION_STD:
        return None
    corr = _lags((a - a.mean()) / a.std(), (m - m.mean()) / m.std(), MAX_LAG, normalise=False)
    best = int(np.argmax(corr))
    if corr[best] < MIN_PEAK:
        return None
    k = best - MAX_LAG
    on_a, on_m = _active(a, 0.5), _active(m, 0.3)
    confirmed = (len(on_a) > 0 and len(on_m) > 0 and abs(on_a[0] - on_m[0] - k) <= AGREE_FRAMES
                 and abs(on_a[-1] - on_m[-1] - k) <= AGREE_FRAMES)
    return {"offset_frames": k, "peak": round(float(corr[best]), 3), "confirmed": bool(confirmed)}


def speech_after(audio_int16: np.ndarray, n_frames: int, samples_per_frame: int, sample_rate: int) -> float:
    """Seconds of speech (loudness above halfway from the floor to the peak, in dB) after frame n_frames."""
    e = loudness_db(audio_int16, samples_per_frame)
    if len(e) <= n_frames:
        return 0.0
    lo, hi = np.percentile(e, 5), np.percentile(e, 95)
    if hi - lo < MIN_AUDIO_DB_STD:
        return 0.0
    active = np.nonzero(e[n_frames:] > lo + 0.5 * (hi - lo))[0]
    return float((active[-1] + 1) * samples_per_frame / sample_rate) if len(active) else 0.0
