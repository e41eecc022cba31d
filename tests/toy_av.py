"""A tiny prepared dataset (the format of s2v_lib/data/dataset.py) for fast evaluation tests.

Each actor has a face colour and a voice pitch; emotions tint the upper face; the mouth opens with
the speech envelope (syllables of 80-240 ms), so a sync expert can learn lip sync from it in seconds.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd

SPF = 640  # samples per frame (16 kHz / 25 fps)
EMO_TINT = {"HAP": (40, 40, 0), "NEU": (0, 0, 0), "SAD": (0, 0, 50), "ANG": (60, 0, 0)}


def toy_clip(actor: int, emotion: str, n_frames: int, size: int, rng: np.random.Generator):
    env = np.zeros(n_frames * SPF, np.float32)
    pos = int(rng.integers(0, 4 * SPF))
    while pos < len(env):
        on = int(rng.integers(80, 240) * 16)
        env[pos:pos + on] = rng.uniform(0.4, 1.0)
        pos += on + int(rng.integers(40, 200) * 16)
    t = np.arange(len(env)) / 16000
    pitch = 110 + 25 * actor
    audio = env * (0.5 * np.sin(2 * np.pi * pitch * t) + 0.3 * np.sin(2 * np.pi * 3.1 * pitch * t))
    audio = (audio + 0.01 * rng.standard_normal(len(audio))).astype(np.float32)

    base = np.array([80 + 30 * (actor % 5), 60 + 40 * (actor % 3), 90 + 20 * (actor % 4)], np.float32)
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    face = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (0.45 * size) ** 2
    for f in range(n_frames):
        img = np.full((size, size, 3), 20, np.float32)
        img[face] = base
        img[: size // 2][face[: size // 2]] += np.array(EMO_TINT[emotion], np.float32)
        opening = env[f * SPF:(f + 1) * SPF].mean()
        h = 1 + int(opening * size * 0.2)
        cy, w = int(size * 0.72), size // 4
        img[cy - h:cy + h, size // 2 - w:size // 2 + w] = (30, 10, 10)
        frames[f] = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    return frames, audio


def make_toy_prepared(root, n_actors=4, clips_per_actor=8, size=48, n_frames=50,
                      emotions=("HAP", "NEU", "SAD", "ANG"), n_unseen=0, seed=0) -> Path:
    """Write the toy dataset under root; splits: per actor 5/8 train, 1/8 val, 2/8 test; the last
    n_unseen actors are 'unseen'."""
    root = Path(root)
    (root / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, splits = [], []
    for actor in range(1001, 1001 + n_actors):
        a = actor - 1001
        for k in range(clips_per_actor):
            emo = emotions[k % len(emotions)]
            cid = f"{actor}_S{k:02d}_{emo}_XX"
            frames, audio = toy_clip(a, emo, n_frames, size, rng)
            np.savez(root / "clips" / f"{cid}.npz", frames=frames,
                     audio=np.clip(audio * 32768, -32768, 32767).astype(np.int16))
            sex = "Male" if a % 2 == 0 else "Female"
            age = 25 + 12 * (a % 4)
            rows.append(dict(clip_id=cid, actor=actor, sentence=f"S{k:02d}", emotion=emo, level="XX", sex=sex,
                             age=age, age_group="20-34" if age < 35 else ("35-49" if age < 50 else "50+"),
                             race="Caucasian", n_frames=n_frames, duration_s=n_frames / 25,
                             path=f"clips/{cid}.npz", source="toy"))
            if a >= n_actors - n_unseen:
                split = "unseen"
            else:
                split = "train" if k % 8 < 5 else ("val" if k % 8 == 5 else "test")
            splits.append(dict(clip_id=cid, actor=actor, split=split))
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    pd.DataFrame(splits).to_csv(root / "splits.csv", index=False)
    pd.DataFrame(columns=["file", "reason", "value"]).to_csv(root / "quarantine.csv", index=False)
    (root / "prepare.json").write_text(json.dumps({"complete": True, "frame_size": size, "toy": seed}))
    return root


class ToyIdentityTeacher:
    """Stand-in identity teacher: the cheek colour (below the tinted upper half, beside the mouth)."""
    name, dim = "toy-identity", 3

    def embed(self, frames):
        import torch
        return torch.nn.functional.normalize(_cheek(frames) - 0.3, dim=1)


class ToyEmotionTeacher:
    """Stand-in emotion teacher: reads the tint of the upper face against the cheek."""
    name, dim = "toy-emotion", 3
    classes = list(EMO_TINT)

    def logits(self, frames):
        import torch
        s = frames.shape[-1]
        upper = frames[:, :, s // 5: s // 3, s // 3: 2 * s // 3].mean((2, 3))
        tint = (upper - _cheek(frames)) * 255
        protos = torch.tensor([EMO_TINT[c] for c in self.classes], dtype=torch.float32)
        return -torch.cdist(tint, protos)


def _cheek(frames):
    s = frames.shape[-1]
    return frames[:, :, s // 2 + 1: s // 2 + 4, s // 8: s // 4 - 1].mean((2, 3))
