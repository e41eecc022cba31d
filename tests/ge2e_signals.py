"""Deterministic voice-like test signals for the GE2E parity checks (harmonic sources with a gliding
pitch, vowel-like formant filters and syllable-rate amplitude modulation; lengths 1.2-4.1 s so that
one and several partial utterances are both exercised)."""
import numpy as np
from scipy.signal import lfilter

SR = 16000
SPECS = ((110, 1.2, (700, 1200)), (210, 2.7, (400, 2300)), (150, 4.1, (600, 1000)), (260, 3.3, (300, 2700)))


def formant(x, f, bw=90.0):
    r = np.exp(-np.pi * bw / SR)
    return lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / SR), r * r], x)


def voice_signals(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for f0, dur, formants in SPECS:
        t = np.arange(int(SR * dur)) / SR
        pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * 0.8 * t))
        phase = 2 * np.pi * np.cumsum(pitch) / SR
        src = sum(np.sin(k * phase) / k for k in range(1, 30))
        y = sum(formant(src, f) for f in formants)
        y = y * (0.3 + 0.7 * np.abs(np.sin(2 * np.pi * 2.5 * t))) + 0.003 * rng.standard_normal(len(t))
        out.append((0.3 * y / np.abs(y).max()).astype(np.float32))
    return out
