"""Per-clip motion tracks at the video rate: blinks, head pose, expression intensity."""
import numpy as np

# Head-motion amplitude per emotion (anger and happiness move more, sadness less).
EMO_MOTION = {"NEU": 1.0, "HAP": 1.3, "SAD": 0.6, "ANG": 1.5, "FEA": 1.2, "DIS": 1.0}
BLINK_SHAPE = (0.5, 1.0, 1.0, 0.6, 0.25)   # lid closure over ~170 ms at 30 fps


def blink_track(n_frames: int, fps: float, rng) -> np.ndarray:
    """(T,) eyelid closure 0 (open) .. 1 (closed); blinks every 1.5-4.5 s."""
    b = np.zeros(n_frames, np.float32)
    t = rng.uniform(0.2, 1.5)
    while t < n_frames / fps:
        f0 = int(t * fps)
        for k, v in enumerate(BLINK_SHAPE):
            if f0 + k < n_frames:
                b[f0 + k] = max(b[f0 + k], v)
        t += rng.uniform(1.5, 4.5)
    return b


def pose_track(n_frames: int, fps: float, rng, amp: float = 1.0, energy=None) -> np.ndarray:
    """(T, 4) head pose (tx, ty as fractions of the image, roll in radians, zoom): smooth sums of
    slow sines, plus small nods with speech energy (T,) in [0, 1]."""
    t = np.arange(n_frames) / fps
    out = np.zeros((n_frames, 4))
    for j, a in enumerate((0.012, 0.010, 0.035)):
        for _ in range(3):
            out[:, j] += a * amp / 3 * np.sin(2 * np.pi * rng.uniform(0.15, 1.2) * t + rng.uniform(0, 2 * np.pi))
    if energy is not None:
        out[:, 1] += 0.006 * amp * np.asarray(energy)
    out[:, 3] = 1.0 + 0.01 * amp * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t)
    return out.astype(np.float32)


def intensity_track(n_frames: int, fps: float, rng, gain: float) -> np.ndarray:
    """(T,) expression intensity: onset ramp over 0.4 s to `gain`, with +-8 % slow fluctuation."""
    t = np.arange(n_frames) / fps
    ramp = 0.55 + 0.45 * np.clip(t / 0.4, 0, 1)
    wobble = 1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 2 * np.pi))
    return (gain * ramp * wobble).astype(np.float32)
