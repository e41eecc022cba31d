"""log-mel -> waveform: undo the log, invert the mel filterbank (torchaudio InverseMelScale, least
squares), then Griffin-Lim phase reconstruction (torchaudio GriffinLim), as the paper does."""
import numpy as np
import torch

from .config import MelConfig


class GriffinLimVocoder:
    def __init__(self, cfg: MelConfig, n_iter: int = 32, stats=None):
        import torchaudio
        self.cfg = cfg
        self.stats = stats
        n_stft = cfg.n_fft // 2 + 1
        self.inv_mel = torchaudio.transforms.InverseMelScale(n_stft, n_mels=cfg.n_mels, sample_rate=cfg.sample_rate,
                                                             f_min=cfg.f_min, f_max=cfg.f_max, norm="slaney",
                                                             mel_scale="slaney")
        self.gl = torchaudio.transforms.GriffinLim(n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop,
                                                   power=1.0, n_iter=n_iter, momentum=0.99,
                                                   rand_init=False)   # deterministic: zero initial phase

    @torch.no_grad()
    def __call__(self, logmel: np.ndarray, standardised: bool = False) -> np.ndarray:
        """(frames, 80) natural-log mel (or standardised with self.stats) -> float32 wav of frames * hop."""
        m = np.asarray(logmel, np.float32)
        if standardised:
            m = m * self.stats[1] + self.stats[0]
        mag = torch.exp(torch.from_numpy(m)).T                              # (80, frames)
        spec = self.inv_mel(mag).clamp_min(0)
        wav = self.gl(spec)
        n = m.shape[0] * self.cfg.hop
        wav = torch.nn.functional.pad(wav, (0, max(0, n - wav.shape[-1])))[:n]
        peak = wav.abs().max()
        return (wav / peak * 0.9 if peak > 1 else wav).numpy().astype(np.float32)
