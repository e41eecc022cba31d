"""Generation with a trained DAVS: G(f_p^v(k), F_w^a) from audio, G(f_p^v(k), F_w^v) from video.

`davs_generate_fn` is the study's interface: a callable clip_id -> frames uint8 (T, S, S, 3) that
evaluation.evaluate_method scores like every other method. `table1_generators` is the one place the
Table 1 rows are made: "DAVS" (from audio, a still image of the speaker: the clip's first frame, the
still SDFA gets) and "DAVS(mismatch)" (the first frame of another test speaker, composer/mismatch.py's
mismatch pairs, the pairing SDFA(mismatch) uses).
"""
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .word_windows import mfcc_windows

CHUNK = 64   # frames generated at once


@dataclass
class TrainedDAVS:
    model: object                # models.davs.DAVS, eval mode
    mfcc_mean: np.ndarray        # (12, 1): the training windows' MFCC statistics
    mfcc_std: np.ndarray
    device: str = "cpu"

    @property
    def frame_size(self) -> int:
        return self.model.cfg.frame_size


def _frames_tensor(frames_u8, device) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames_u8))
    return x.permute(0, 3, 1, 2).float().div(255).to(device)


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    return (frames.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def identity_feature(trained: TrainedDAVS, still_u8: np.ndarray) -> torch.Tensor:
    """f_p^v of one still image (S, S, 3) uint8 -> (1, dim)."""
    return trained.model.E_p(_frames_tensor(still_u8[None], trained.device))


@torch.no_grad()
def audio_wid(trained: TrainedDAVS, audio: np.ndarray, n_frames: int) -> torch.Tensor:
    """F_w^a of a whole clip: (1, T, dim), from 12 x 20 MFCC windows per frame."""
    m = (mfcc_windows(audio, n_frames) - trained.mfcc_mean) / trained.mfcc_std
    x = torch.from_numpy(m.astype(np.float32)).to(trained.device)
    return torch.cat([trained.model.E_wa(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])[None]


@torch.no_grad()
def video_wid(trained: TrainedDAVS, frames_u8: np.ndarray) -> torch.Tensor:
    """F_w^v of a whole clip: (1, T, dim)."""
    x = _frames_tensor(frames_u8, trained.device)
    return torch.cat([trained.model.E_wv(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])[None]


@torch.no_grad()
def decode(trained: TrainedDAVS, f_p: torch.Tensor, F_w: torch.Tensor) -> np.ndarray:
    """G(f_p, F_w) -> uint8 (T, S, S, 3), in chunks of frames."""
    out = [trained.model.generate(f_p, F_w[:, i:i + CHUNK])[0] for i in range(0, F_w.shape[1], CHUNK)]
    return _to_uint8(torch.cat(out))


def generate_from_audio(trained: TrainedDAVS, still_u8: np.ndarray, audio: np.ndarray, n_frames: int) -> np.ndarray:
    return decode(trained, identity_feature(trained, still_u8), audio_wid(trained, audio, n_frames))


def generate_from_video(trained: TrainedDAVS, still_u8: np.ndarray, frames_u8: np.ndarray) -> np.ndarray:
    return decode(trained, identity_feature(trained, still_u8), video_wid(trained, frames_u8))


def guidance_frame(clip_id: str, n_frames: int, seed: int = 0) -> int:
    """The paper's "random k-th frame" of a clip, reproducible from (clip id, seed)."""
    import zlib
    return int(np.random.default_rng([seed, zlib.crc32(clip_id.encode())]).integers(n_frames))


def davs_generate_fn(trained: TrainedDAVS, data, still_from="own", source: str = "audio", frame="first"):
    """clip_id -> uint8 (T, S, S, 3). still_from: "own" (the clip's speaker) or a mismatch table
    (DataFrame clip_id -> still_clip_id, composer.mismatch.mismatch_pairs); frame: "first" (the frame
    SDFA animates) or "random" (the DAVS paper's random k-th frame); source: "audio" or "video"."""
    still_of = None if isinstance(still_from, str) else still_from.set_index("clip_id")["still_clip_id"]
    if isinstance(still_from, str) and still_from != "own":
        raise ValueError(f"still_from must be 'own' or a mismatch table, not {still_from!r}")

    @functools.lru_cache(maxsize=4)
    def clip(cid):
        return data.load(cid)

    def fn(cid):
        frames, audio = clip(cid)
        still_frames = frames if still_of is None else clip(still_of[cid])[0]
        k = 0 if frame == "first" else guidance_frame(cid, len(still_frames))
        if source == "audio":
            return generate_from_audio(trained, still_frames[k], audio, len(frames))
        return generate_from_video(trained, still_frames[k], frames)
    return fn


def table1_generators(trained: TrainedDAVS, data, mismatch: pd.DataFrame | None = None) -> dict:
    """The study's Table 1 / Figure 3 rows: {"DAVS": fn, "DAVS(mismatch)": fn} (the latter with a mismatch table)."""
    out = {"DAVS": davs_generate_fn(trained, data, "own")}
    if mismatch is not None:
        out["DAVS(mismatch)"] = davs_generate_fn(trained, data, mismatch)
    return out
