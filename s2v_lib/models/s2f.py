"""Speech2Face-style voice encoder (Oh et al., CVPR 2019), small: log-mel spectrogram -> the
identity teacher's face feature. Trained with the normalised L2 + distillation loss; in S2F+SDFA
its output replaces SDFA's image encoding."""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class VoiceEncoderConfig:
    out_dim: int = 128          # the identity teacher's embedding size
    n_mels: int = 40
    ch: int = 64
    sample_rate: int = 16000
    utterance_norm: bool = False # True subtracts each utterance's mean log-mel (False: Speech2Face's input, unnormalised)


class LogMel(nn.Module):
    """raw audio (B, L) -> log-mel (B, n_mels, L / 160), 10 ms hop; utterance_norm subtracts each
    utterance's mean over time, which also removes its long-term spectrum, a speaker cue."""

    def __init__(self, n_mels: int = 40, sample_rate: int = 16000, utterance_norm: bool = False):
        super().__init__()
        import torchaudio
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=400, hop_length=160,
                                                        n_mels=n_mels)
        self.utterance_norm = utterance_norm

    def forward(self, audio):
        m = torch.log(self.mel(audio.float()) + 1e-5)
        return m - m.mean(-1, keepdim=True) if self.utterance_norm else m


class VoiceEncoder(nn.Module):
    def __init__(self, cfg: VoiceEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.logmel = LogMel(cfg.n_mels, cfg.sample_rate, cfg.utterance_norm)
        c = cfg.ch
        self.conv = nn.Sequential(
            nn.Conv1d(cfg.n_mels, c, 5, 1, 2), nn.GroupNorm(8, c), nn.ReLU(inplace=True),
            nn.Conv1d(c, c, 5, 2, 2), nn.GroupNorm(8, c), nn.ReLU(inplace=True),
            nn.Conv1d(c, 2 * c, 5, 2, 2), nn.GroupNorm(8, 2 * c), nn.ReLU(inplace=True),
            nn.Conv1d(2 * c, 2 * c, 5, 2, 2), nn.GroupNorm(8, 2 * c), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Linear(2 * c, 2 * c), nn.ReLU(inplace=True), nn.Linear(2 * c, cfg.out_dim))

    def forward(self, audio):
        """audio (B, L) float at 16 kHz, any length >= 0.1 s -> face feature (B, out_dim)."""
        h = self.conv(self.logmel(audio))
        return self.head(h.mean(-1))     # average over time: any utterance length
