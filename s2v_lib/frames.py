"""Frames as the models see them, and which K frames of a clip a teacher reads.

Two frame choices, each for its own reason:
- `random_frames`: K distinct frames drawn from a generator (the paper's pi_k of Eq. (1), and the
  teachers' own evaluation); callers seed the generator so the choice is stable across runs.
- metrics.frame_positions: K evenly spaced frames, so a generated clip and its ground truth are read
  at the same instants (evaluation of generated faces).
"""
import numpy as np
import torch


def random_frames(n_frames: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct frame indices of a clip, sorted (all of them when the clip is shorter)."""
    return np.sort(rng.choice(n_frames, size=min(k, n_frames), replace=False))


def frames_to_tensor(frames_u8, device="cpu") -> torch.Tensor:
    """uint8 (N, S, S, 3) numpy or tensor -> float (N, 3, S, S) in [0, 1] on `device`."""
    x = frames_u8 if isinstance(frames_u8, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames_u8))
    return x.to(device).permute(0, 3, 1, 2).float() / 255.0
