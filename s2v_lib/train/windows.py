"""Training windows for the generative models: clips held in memory and the batch of step s.

Sampling is a pure function of (seed, step): a resumed or a distributed run sees exactly the batches a
single uninterrupted run would; under DDP each rank takes its slice of the global batch. Because of that,
the next step's batch can be drawn while the current one trains (`Prefetcher`) without changing a number.

A host batch (`collate`) keeps frames as uint8 (..., S, S, 3), a quarter of float32's bytes on the way to
the device; `to_device` moves it (from pinned memory on CUDA) and makes the models' float (..., 3, S, S)
in [0, 1] there.
"""
import threading
from dataclasses import dataclass

import numpy as np
import torch

from ..data.dataset import SAMPLES_PER_FRAME

AUDIO_WINDOW = 3200        # 0.2 s of raw audio around each frame (SDFA's content window)


@dataclass
class LoopConfig:
    steps: int = 200
    batch_clips: int = 8          # global batch: clips per step (split across DDP ranks)
    window: int = 8               # consecutive frames per clip
    voice_crop_s: float = 0.0     # > 0: also a random crop of this many seconds of the clip's speech
    audio_negatives: bool = False  # also the 0.2 s audio windows around the window's centre frame, in
                                   # sync ("audio_sync") and 3..10 frames away ("audio_shift"): SDFA's D_sync
    log_every: int = 10
    sample_every: int = 0         # 0: one grid at the end only
    ckpt_every: int = 100
    seed: int = 0


class ClipBank:
    """Training clips held in memory: frames uint8, audio, and optional per-frame / per-clip features.

    clips: list of dicts with "frames" (T, S, S, 3) uint8, "audio" (T * 640,) float32, optionally
    "c" (T, D) per-frame features and any per-clip vectors ("nu", "mu", "face_vec", ...)."""

    def __init__(self, clips: list[dict], clip_ids: list[str] | None = None):
        if not clips:
            raise ValueError("ClipBank needs at least one clip")
        self.clips = clips
        self.clip_ids = clip_ids or [str(i) for i in range(len(clips))]

    def __len__(self):
        return len(self.clips)

    @property
    def frame_size(self) -> int:
        return self.clips[0]["frames"].shape[1]


def audio_window_array(audio: np.ndarray, start: int, n: int) -> np.ndarray:
    """0.2 s windows centred on frames start .. start + n - 1 -> (n, 3200), zero-padded at the ends."""
    half = AUDIO_WINDOW // 2
    centre = (np.arange(start, start + n) * SAMPLES_PER_FRAME + SAMPLES_PER_FRAME // 2)
    padded = np.pad(audio, (half, half))
    idx = centre[:, None] + np.arange(AUDIO_WINDOW)[None]      # already shifted by the left pad
    return padded[np.clip(idx, 0, len(padded) - 1)]


def _sync_shift(rng) -> int:
    """A synchronisation negative's offset: 3..10 frames, either direction."""
    return int(rng.integers(3, 11)) * (1 if rng.random() < 0.5 else -1)


class WindowSampler:
    """Global batch for step s: batch_clips random (clip, start) windows drawn from rng(seed, s)."""

    def __init__(self, bank: ClipBank, cfg: LoopConfig, vector_keys=("nu", "mu")):
        self.bank, self.cfg, self.vector_keys = bank, cfg, tuple(vector_keys)

    def draw(self, rng, clip: dict) -> dict:
        cfg = self.cfg
        frames, audio = clip["frames"], clip["audio"]
        t_all, w = len(frames), cfg.window
        start = int(rng.integers(0, max(1, t_all - w + 1)))
        idx = np.minimum(np.arange(start, start + w), t_all - 1)     # short clips repeat their last frame
        item = {"frames": frames[idx], "still": frames[0], "audio": audio_window_array(audio, start, w)}
        if "c" in clip:
            # D_sync's negative: the same frames paired with c from 3..10 frames away, same clip
            shift = _sync_shift(rng)
            sidx = np.clip(idx + shift, 0, t_all - 1)
            sidx = np.where(sidx == idx, np.clip(idx - shift, 0, t_all - 1), sidx)
            item["c"], item["c_shift"] = clip["c"][idx], clip["c"][sidx]
        if cfg.audio_negatives:
            centre, shift = int(idx[w // 2]), _sync_shift(rng)
            shifted = centre + shift if 0 <= centre + shift < t_all else centre - shift   # near an end: the other way
            shifted = int(np.clip(shifted, 0, t_all - 1))
            item["audio_sync"] = audio_window_array(audio, centre, 1)[0]
            item["audio_shift"] = audio_window_array(audio, shifted, 1)[0]
        if cfg.voice_crop_s > 0:
            n = int(cfg.voice_crop_s * 16000)
            s0 = int(rng.integers(0, max(1, len(audio) - n + 1)))
            crop = audio[s0:s0 + n]
            item["voice"] = np.pad(crop, (0, n - len(crop)))
        for k in self.vector_keys:
            if k in clip:
                item[k] = clip[k]
        return item

    def sample(self, step: int, rank: int = 0, world: int = 1) -> dict:
        cfg = self.cfg
        if cfg.batch_clips % world:
            raise ValueError(f"batch_clips={cfg.batch_clips} must divide by the {world} DDP ranks")
        rng = np.random.default_rng([cfg.seed, step])
        picks = rng.integers(0, len(self.bank), cfg.batch_clips)
        items = [self.draw(rng, self.bank.clips[i]) for i in picks]     # all ranks draw the global batch
        per = cfg.batch_clips // world
        return collate(items[rank * per:(rank + 1) * per])


FRAME_KEYS = ("frames", "still")     # uint8 images in a host batch; float (..., 3, S, S) after to_device


def collate(items: list[dict]) -> dict:
    """Host batch: frame keys stay uint8 (..., S, S, 3), everything else float32."""
    batch = {}
    for k in items[0]:
        t = torch.from_numpy(np.ascontiguousarray(np.stack([it[k] for it in items])))
        batch[k] = t if k in FRAME_KEYS else t.float()
    return batch


def pin(batch: dict) -> dict:
    """Page-locked copies, so a CUDA copy can run asynchronously (non_blocking)."""
    return {k: v.pin_memory() for k, v in batch.items()}


def to_device(batch: dict, device) -> dict:
    """Host batch -> the models' batch on `device`: frame keys converted from uint8 there."""
    out = {}
    for k, v in batch.items():
        v = v.to(device, non_blocking=True)
        if k in FRAME_KEYS and v.dtype == torch.uint8:
            v = v.float().div_(255.0).movedim(-1, -3)           # (..., S, S, 3) uint8 -> (..., 3, S, S)
        out[k] = v
    return out


class Prefetcher:
    """The batch of step s + 1 drawn (and pinned, for CUDA) in a background thread while step s trains.
    Sampling is a pure function of the step, so the batches are exactly those of sampler.sample."""

    def __init__(self, sampler: WindowSampler, rank: int = 0, world: int = 1, pin_memory: bool = False):
        self.sampler, self.rank, self.world, self.pin_memory = sampler, rank, world, pin_memory
        self._next: tuple[int, threading.Thread, dict] | None = None

    def _draw(self, step: int) -> dict:
        batch = self.sampler.sample(step, self.rank, self.world)
        return pin(batch) if self.pin_memory else batch

    def _start(self, step: int):
        box = {}

        def work():
            try:
                box["batch"] = self._draw(step)
            except BaseException as e:          # re-raised in the training thread
                box["error"] = e

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        self._next = (step, thread, box)

    def get(self, step: int, last_step: int | None = None) -> dict:
        """The host batch of `step`; starts drawing step + 1 unless step is last_step."""
        if self._next is not None and self._next[0] == step:
            _, thread, box = self._next
            thread.join()
            if "error" in box:
                raise box["error"]
            batch = box["batch"]
        else:                                    # first step, or after a resume: draw it now
            self.close()
            batch = self._draw(step)
        self._next = None
        if last_step is None or step < last_step:
            self._start(step + 1)
        return batch

    def close(self):
        """Wait for the batch being drawn, if any, and drop it."""
        if self._next is not None:
            self._next[1].join()
            self._next = None
