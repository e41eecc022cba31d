"""Audio features: log-mel spectrogram and MFCC at 100 Hz (10 ms hop) from 16 kHz waveforms.

Log-mel feeds the "plain features" ablation of the students (notebook 03); MFCC feeds the sync
expert (SyncNet uses 13 MFCCs at 100 Hz, 20 steps = 0.2 s per window).
"""
from functools import lru_cache

import numpy as np
import torch
import torchaudio

SAMPLE_RATE = 16000
HOP = 160        # 10 ms at 16 kHz: 4 steps per 25 fps video frame
WIN = 400        # 25 ms


@lru_cache(maxsize=8)
def _melspec(sample_rate: int, n_mels: int):
    return torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, n_fft=512, win_length=WIN,
                                                hop_length=HOP, f_min=50.0, f_max=sample_rate / 2 - 400,
                                                n_mels=n_mels, power=2.0, center=True)


@lru_cache(maxsize=8)
def _mfcc(sample_rate: int, n_mfcc: int):
    return torchaudio.transforms.MFCC(sample_rate=sample_rate, n_mfcc=n_mfcc, log_mels=True,
                                      melkwargs=dict(n_fft=512, win_length=WIN, hop_length=HOP, n_mels=40,
                                                     f_min=50.0, f_max=sample_rate / 2 - 400, center=True))


def _as_tensor(audio) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32) if not torch.is_tensor(audio) else audio)
    return x.float()


def log_mel(audio, sample_rate: int = SAMPLE_RATE, n_mels: int = 40) -> torch.Tensor:
    """(n_samples,) or (B, n_samples) waveform -> (n_steps, n_mels) or (B, n_steps, n_mels), log power.

    n_steps = n_samples // 160 (the trailing centred frame is dropped so 640 samples -> 4 steps).
    """
    x = _as_tensor(audio)
    m = _melspec(sample_rate, n_mels)(x)                       # (..., n_mels, n_samples // HOP + 1)
    m = torch.log(m + 1e-6)[..., : x.shape[-1] // HOP]
    return m.transpose(-1, -2).contiguous()


def mfcc(audio, sample_rate: int = SAMPLE_RATE, n_mfcc: int = 13) -> torch.Tensor:
    """(n_samples,) or (B, n_samples) -> (n_steps, n_mfcc) or (B, n_steps, n_mfcc) at 100 Hz."""
    x = _as_tensor(audio)
    m = _mfcc(sample_rate, n_mfcc)(x)[..., : x.shape[-1] // HOP]
    return m.transpose(-1, -2).contiguous()


def logmel_utterance(audio, sample_rate: int = SAMPLE_RATE, n_mels: int = 40) -> torch.Tensor:
    """A plain utterance descriptor for the ablation: mean and std of log-mel over voiced steps -> (2 n_mels,).

    Steps quieter than the 30th energy percentile (silence around the sentence) are dropped.
    """
    m = log_mel(audio, sample_rate, n_mels)
    energy = m.mean(1)
    keep = energy >= torch.quantile(energy, 0.3)
    m = m[keep]
    return torch.cat([m.mean(0), m.std(0)])
