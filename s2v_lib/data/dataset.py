"""Reading a prepared dataset (what `python -m s2v_lib prepare` writes).

Layout of a prepared cache dir:
    prepare.json        config + "complete": true, written last (a dir without it is not a dataset)
    manifest.csv        one row per kept clip: clip_id, actor, sentence, emotion, level, sex, age,
                        age_group, race, n_frames, duration_s, path (relative .npz), source
    splits.csv          clip_id, actor, split in {train, val, test, unseen}
    quarantine.csv      file, reason, value (present, maybe empty)
    key.json            dataset, root, profile, seed, shard: whose dir this is (written first; for --prune)
    trimmed.csv         with --trim-misaligned only: clip_id, av_trim_frames, speech_cut_s of the clips kept shifted
    clips/<clip_id>.npz frames uint8 (T, S, S, 3) RGB at 25 fps; audio int16 (T * 640,) 16 kHz mono,
                        aligned: audio samples [640 t, 640 (t + 1)) belong to frame t
"""
import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError

SAMPLES_PER_FRAME = 640   # 16000 Hz / 25 fps
SPLITS = ("train", "val", "test", "unseen")


class PreparedData:
    def __init__(self, root):
        self.root = Path(root)
        info = self.root / "prepare.json"
        if not info.exists():
            raise UserError(f"{self.root} is not a prepared dataset (no prepare.json); "
                            "run `python -m s2v_lib prepare ...` first")
        self.info = json.loads(info.read_text())
        if not self.info.get("complete"):
            raise UserError(f"{self.root} is only partly prepared; rerun `python -m s2v_lib prepare ...` to finish it")
        if self.info.get("shard"):
            i, n = self.info["shard"]
            raise UserError(f"{self.root} is shard {i}/{n} of a dataset, not the whole; combine every shard with "
                            "`python -m s2v_lib prepare --merge DIR... --out DIR` and use that")

    @cached_property
    def manifest(self) -> pd.DataFrame:
        m = pd.read_csv(self.root / "manifest.csv")
        s = pd.read_csv(self.root / "splits.csv")[["clip_id", "split"]]
        return m.merge(s, on="clip_id", how="left", validate="one_to_one")

    @cached_property
    def quarantine(self) -> pd.DataFrame:
        return pd.read_csv(self.root / "quarantine.csv")

    @property
    def frame_size(self) -> int:
        return int(self.info["frame_size"])

    @property
    def emotions(self) -> list[str]:
        return sorted(self.manifest["emotion"].unique())

    @property
    def actors(self) -> list[int]:
        return sorted(self.manifest["actor"].unique())

    def clips(self, split: str | None = None) -> pd.DataFrame:
        if split is None:
            return self.manifest
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        return self.manifest[self.manifest["split"] == split].reset_index(drop=True)

    def load(self, clip_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(frames uint8 (T, S, S, 3), audio float32 in [-1, 1] of length T * 640)."""
        row = self.manifest.loc[self.manifest["clip_id"] == clip_id]
        if row.empty:
            raise KeyError(f"clip {clip_id!r} not in {self.root}/manifest.csv")
        with np.load(self.root / row["path"].iloc[0]) as z:
            frames, audio = z["frames"], z["audio"]
        return frames, audio.astype(np.float32) / 32768.0

    def load_many(self, clip_ids) -> dict:
        return {c: self.load(c) for c in clip_ids}
