"""Lip2Speech data: mouth crops and target log-mels from the prepared clips, aligned per video frame.

A prepared clip holds frames (T, S, S, 3) at 25 fps and T * 640 samples of 16 kHz audio. The mouth
crop is the lower half of the face crop (rows S/2 .. S), gray, at ModelConfig.mouth_hw. The target
is an 80-bin log-mel with hop 160, so video frame t owns mel frames 4t .. 4t + 3 exactly.
Arrays of a split are cached in one .npz (keyed by the data and the mel / crop settings).
"""
import contextlib
import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..atomic import save_npz
from ..paths import cache_root
from .config import MelConfig


@contextlib.contextmanager
def one_thread(device="cpu"):
    """Per-clip inference (GE2E, vocoding, scoring) on one torch thread: on two busy cores small ops
    run many times slower on two threads than on one (measured in the distillation stage too)."""
    before = torch.get_num_threads()
    if str(device).startswith("cpu"):
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LogMel(torch.nn.Module):
    """wav (..., L) float -> natural-log mel magnitude (..., L // hop, n_mels) (trailing frame dropped)."""

    def __init__(self, cfg: MelConfig):
        super().__init__()
        import torchaudio
        self.cfg = cfg
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop,
            f_min=cfg.f_min, f_max=cfg.f_max, n_mels=cfg.n_mels, power=1.0, norm="slaney", mel_scale="slaney")

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        n = wav.shape[-1] // self.cfg.hop
        m = self.mel(wav.float())[..., :n]
        return torch.log(m.clamp_min(self.cfg.log_floor)).transpose(-1, -2)


def mouth_crops(frames: np.ndarray, hw: tuple) -> np.ndarray:
    """uint8 (T, S, S, 3) face crops -> uint8 (T, h, w) gray lower halves."""
    s = frames.shape[1]
    lower = torch.from_numpy(frames[:, s // 2:]).float()
    gray = (lower @ torch.tensor([0.299, 0.587, 0.114]))[:, None]
    if tuple(gray.shape[-2:]) != tuple(hw):
        gray = F.interpolate(gray, size=tuple(hw), mode="bilinear", align_corners=False, antialias=True)
    return gray[:, 0].round().clamp(0, 255).byte().numpy()


@dataclass
class ClipArrays:
    """One split's clips: per clip id, mouths uint8 (T, h, w), logmel float32 (4T, 80), wav float32 (640 T)."""
    ids: list
    mouths: dict
    logmel: dict
    wav: dict


def _key(data, mel: MelConfig, hw, split, ids) -> str:
    payload = {"data": str(data.root), "info": data.info.get("config_hash", ""), "mel": dataclasses.asdict(mel),
               "hw": list(hw), "split": split, "ids": list(ids)}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def load_split(data, split: str, mel: MelConfig, hw: tuple, ids=None, progress: bool = True) -> ClipArrays:
    ids = list(data.clips(split)["clip_id"]) if ids is None else list(ids)
    path = cache_root() / "lip2speech" / f"{split}-{_key(data, mel, hw, split, ids)}.npz"
    if path.exists():
        with np.load(path) as z:
            return ClipArrays(ids, {c: z[f"m/{c}"] for c in ids}, {c: z[f"l/{c}"] for c in ids},
                              {c: z[f"w/{c}"] for c in ids})
    logmel = LogMel(mel)
    mouths, mels, wavs = {}, {}, {}
    for c in tqdm(ids, desc=f"lip2speech {split} clips", disable=not progress, leave=False):
        frames, audio = data.load(c)
        t = len(frames)
        wav = audio[: t * 640]
        mouths[c] = mouth_crops(frames, hw)
        with torch.no_grad():
            mels[c] = logmel(torch.from_numpy(wav)).numpy().astype(np.float32)[: t * mel.per_video_frame]
        wavs[c] = wav.astype(np.float32)
    save_npz(path, **{f"m/{c}": v for c, v in mouths.items()}, **{f"l/{c}": v for c, v in mels.items()},
             **{f"w/{c}": v for c, v in wavs.items()})
    return ClipArrays(ids, mouths, mels, wavs)


def mel_stats(arrays: ClipArrays) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and std of the training log-mels (the model predicts standardised mels)."""
    allm = np.concatenate([arrays.logmel[c] for c in arrays.ids])
    return allm.mean(0).astype(np.float32), (allm.std(0) + 1e-3).astype(np.float32)


class Batches:
    """Random training windows: mouths (B, 1, W, h, w) in [0, 1], standardised mels (B, 4W, 80), speaker
    embeddings (B, 256) (zeros for 'lips only'), and whether each window ends at its clip's end (B,)."""

    def __init__(self, arrays: ClipArrays, stats, speaker: dict | None, window: int, batch: int, hflip: bool,
                 rng: np.random.Generator, per_frame: int = 4):
        self.a, self.mean, self.std = arrays, stats[0], stats[1]
        self.speaker, self.window, self.batch, self.hflip, self.rng, self.k = speaker, window, batch, hflip, rng, per_frame

    def sample(self):
        ids = self.rng.choice(len(self.a.ids), size=self.batch, replace=len(self.a.ids) < self.batch)
        mouths, mels, spk, ends = [], [], [], []
        for i in ids:
            c = self.a.ids[i]
            m, lm = self.a.mouths[c], self.a.logmel[c]
            t = len(m)
            w = min(self.window, t)
            t0 = int(self.rng.integers(0, t - w + 1))
            crop = m[t0:t0 + w]
            if self.hflip and self.rng.random() < 0.5:
                crop = crop[:, :, ::-1]
            mel = (lm[t0 * self.k:(t0 + w) * self.k] - self.mean) / self.std
            if w < self.window:       # pad short clips (rare) by repeating the last frame / silence mel
                crop = np.concatenate([crop, np.repeat(crop[-1:], self.window - w, 0)])
                mel = np.concatenate([mel, np.repeat(mel[-1:], (self.window - w) * self.k, 0)])
            mouths.append(np.ascontiguousarray(crop))
            mels.append(mel)
            spk.append(self.speaker[c] if self.speaker is not None else np.zeros(256, np.float32))
            ends.append(float(t0 + w >= t))
        x = torch.from_numpy(np.stack(mouths)).float().div(255)[:, None]
        return x, torch.from_numpy(np.stack(mels)).float(), torch.from_numpy(np.stack(spk)).float(), torch.tensor(ends)


def clip_inputs(arrays: ClipArrays, clip_id: str, speaker: dict | None):
    """A whole clip as a batch of one: mouths (1, 1, T, h, w), speaker (1, 256)."""
    x = torch.from_numpy(arrays.mouths[clip_id]).float().div(255)[None, None]
    s = speaker[clip_id] if speaker is not None else np.zeros(256, np.float32)
    return x, torch.from_numpy(np.asarray(s, np.float32))[None]
