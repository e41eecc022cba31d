"""Checkpoints keyed by a config hash, written atomically, resumable after a kill.

    ckpt = Checkpoint(checkpoint_dir(profile) / "cpc", config)
    state = ckpt.load(force_retrain=FORCE_RETRAIN)   # None, or the last saved dict
    ...
    ckpt.save({"model": m.state_dict(), "opt": o.state_dict(), "epoch": e}, done=(e == last))

A checkpoint whose config hash differs from the current config is ignored (and kept on disk
under its own hash), so changing a hyper-parameter never silently reuses stale weights.
"""
import dataclasses
import hashlib
import json
from pathlib import Path

from ..atomic import torch_save


def config_hash(config) -> str:
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Checkpoint:
    def __init__(self, directory, config):
        self.config = config
        self.hash = config_hash(config)
        self.path = Path(directory) / f"{self.hash}.pt"

    def load(self, force_retrain: bool = False, map_location="cpu"):
        """The last saved state, or None when there is none or FORCE_RETRAIN is set."""
        import torch
        if force_retrain or not self.path.exists():
            return None
        return torch.load(self.path, map_location=map_location, weights_only=False)

    def is_done(self) -> bool:
        state = self.load()
        return bool(state and state.get("done"))

    def save(self, state: dict, done: bool = False) -> None:
        cfg = dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else dict(self.config)
        torch_save(self.path, {**state, "done": done, "config": cfg, "config_hash": self.hash})
