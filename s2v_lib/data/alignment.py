"""Audio-visual alignment of one prepared clip, by content: is the voice in step with the mouth?

The audio's loudness envelope (log RMS per video frame) is cross-correlated with the mouth's motion
(mean absolute frame difference over the mouth region of the face crop) at lags of +-15 frames;
the lag of the peak is the offset (positive: the audio lags the video). Calibrated on the smoke twin,
whose ground truth says every clip is in sync: healthy clips measure -1..+2 frames; audio delayed by
10 frames measures 8..13, by 5 frames 3..8 (so the 4-frame threshold catches >= 0.25 s reliably).
The audio onset against the mouth-motion onset was tried too and is worse: first phonemes are quiet
and blinks or head motion start the "mouth" early (6 of 71 healthy twin clips off by > 3 frames).
A clip whose audio is flat (a test tone) or whose mouth does not move gives no verdict: not checked.

A video cut short (the sentence's tail missing) shows as speech in the audio after the last frame.
"""
import numpy as np

MAX_LAG = 15                 # frames searched either way (the sync expert's range)
MOUTH_ROWS = (0.58, 0.85)    # the mouth's place in the face crop (crop = 1.3 x the face box, centred)
MOUTH_COLS = (0.30, 0.70)
MIN_PEAK = 0.3               # below this correlation at the best lag, voice and mouth are unrelated: no verdict
MIN_AUDIO_DB_STD = 3.0       # a steady tone has no envelope to align
MIN_MOTION_STD = 0.05        # grey levels: a still mouth has no motion to align


def loudness_db(audio_int16: np.ndarray, samples_per_frame: int) -> np.ndarray:
    """Log RMS (dB re one LSB) of each video frame's audio."""
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


def measure_offset(audio_int16: np.ndarray, crops: np.ndarray, samples_per_frame: int) -> dict | None:
    """{"offset_frames", "peak"} (positive offset: the audio lags), or None when the clip gives no verdict."""
    a, m = _smooth(loudness_db(audio_int16, samples_per_frame)), _smooth(mouth_motion(crops))
    n = min(len(a), len(m))
    if n < 2 * MAX_LAG or a[:n].std() < MIN_AUDIO_DB_STD or m[:n].std() < MIN_MOTION_STD:
        return None
    a, m = (a - a.mean()) / a.std(), (m - m.mean()) / m.std()
    corr = []
    for lag in range(-MAX_LAG, MAX_LAG + 1):   # a[t + lag] against m[t]
        x, y = (a[lag:], m) if lag >= 0 else (a, m[-lag:])
        k = min(len(x), len(y))
        corr.append(float((x[:k] * y[:k]).mean()))
    best = int(np.argmax(corr))
    if corr[best] < MIN_PEAK:
        return None
    return {"offset_frames": best - MAX_LAG, "peak": round(corr[best], 3)}


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
