"""PyTorch port of the GE2E speaker encoder (Wan et al. 2018) whose weights ship in `resemblyzer`.

The weights (resemblyzer/pretrained.pt: a 3-layer LSTM 40 -> 256, a linear 256 -> 256, ReLU, L2
norm) ship inside the PyPI package `resemblyzer` (install it with --no-deps: only the file is read
here, so neither its webrtcvad nor its librosa is needed at run time). The mel front end is rebuilt
with torchaudio to match resemblyzer's librosa call: 16 kHz, power mel spectrogram (not log) with
40 Slaney-scale, Slaney-normalised channels, n_fft = 400 (25 ms), hop 160 (10 ms), centred frames
with zero padding (librosa >= 0.10). An utterance is cut into partial utterances of 160 frames
(1.6 s) at 1.3 partials per second, zero-padded at the end, exactly as resemblyzer's
embed_utterance; the utterance embedding is the L2-normalised mean of the partials' embeddings.

Preprocessing: resemblyzer's preprocess_wav raises the volume to -30 dBFS (ported here:
normalize_volume) and trims silences longer than ~0.2 s with WebRTC's VAD (not ported: a C library;
the twin's clips are short single sentences with short lead-in/out silences). Measured parity
against resemblyzer's own VoiceEncoder: tests/test_ge2e.py.
"""
from importlib import resources

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError

SAMPLE_RATE = 16000
N_MELS = 40
WINDOW = 400              # 25 ms
HOP = 160                 # 10 ms
PARTIAL_FRAMES = 160      # 1.6 s per partial utterance
HIDDEN = EMBED_DIM = 256
N_LAYERS = 3
TARGET_DBFS = -30.0
INT16_MAX = 2 ** 15 - 1


def ge2e_weights_path():
    try:
        root = resources.files("resemblyzer")
    except ModuleNotFoundError:
        raise UserError("the GE2E voice encoder needs the package resemblyzer (weights only); "
                        "run `.venv/bin/pip install --no-deps resemblyzer`") from None
    return root / "pretrained.pt"


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """resemblyzer's normalize_volume(..., increase_only=True): raise quiet speech to -30 dBFS."""
    wav = np.asarray(wav, np.float32)
    rms = np.sqrt(np.mean((wav * INT16_MAX) ** 2))
    if rms == 0:
        return wav
    change = target_dbfs - 20 * np.log10(rms / INT16_MAX)
    return wav if change < 0 else (wav * 10 ** (change / 20)).astype(np.float32)


def partial_slices(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> list[slice]:
    """resemblyzer's compute_partial_slices (mel-frame slices; the wav slice is 160 x that)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    frame_step = int(np.round((SAMPLE_RATE / rate) / HOP))
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, frame_step)]
    last = slices[-1]
    coverage = (n_samples - last.start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices


class GE2EEncoder(nn.Module):
    """mel (N, 160, 40) -> L2-normalised embedding (N, 256); embed_utterance(wav) as resemblyzer."""

    def __init__(self):
        super().__init__()
        import torchaudio
        self.lstm = nn.LSTM(N_MELS, HIDDEN, N_LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBED_DIM)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=WINDOW, win_length=WINDOW, hop_length=HOP, n_mels=N_MELS,
            power=2.0, center=True, pad_mode="constant", norm="slaney", mel_scale="slaney")

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = F.relu(self.linear(hidden[-1]))
        return raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def mel_frames(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (L,) float -> mel (frames, 40), power, as librosa.feature.melspectrogram(...).T."""
        return self.mel(wav.float()).T

    @torch.no_grad()
    def embed_utterance(self, wav, rate: float = 1.3, min_coverage: float = 0.75, return_partials: bool = False):
        """wav: float32 16 kHz mono (already volume-normalised if you want resemblyzer's preprocessing)."""
        wav = np.asarray(wav, np.float32)
        slices = partial_slices(len(wav), rate, min_coverage)
        need = slices[-1].stop * HOP
        if need >= len(wav):
            wav = np.pad(wav, (0, need - len(wav)))
        dev = self.linear.weight.device
        mel = self.mel_frames(torch.from_numpy(wav).to(dev))
        partials = self(torch.stack([mel[s] for s in slices]))
        mean = partials.mean(0)
        emb = (mean / mean.norm()).cpu().numpy()
        return (emb, partials.cpu().numpy()) if return_partials else emb

    def embed_many(self, wavs, normalize: bool = True) -> np.ndarray:
        """(N, 256) utterance embeddings; normalize: raise each to -30 dBFS first (resemblyzer's default)."""
        return np.stack([self.embed_utterance(normalize_volume(w) if normalize else w) for w in wavs])


def load_ge2e(device: str = "cpu") -> GE2EEncoder:
    """The pretrained GE2E encoder, frozen, in eval mode (weights from the installed resemblyzer)."""
    from ..train.checkpoint import safe_load
    path = ge2e_weights_path()
    if not path.is_file():
        raise UserError(f"resemblyzer is installed but {path} is missing; reinstall it with "
                        "`.venv/bin/pip install --no-deps --force-reinstall resemblyzer`")
    state = safe_load(path, "GE2E weights")["model_state"]
    net = GE2EEncoder()
    missing, unexpected = net.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity")},
                                              strict=False)
    if [k for k in missing if not k.startswith("mel.")] or unexpected:
        raise UserError(f"{path} does not hold the GE2E encoder this port expects "
                        f"(missing {missing}, unexpected {unexpected})")
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval().to(device)
