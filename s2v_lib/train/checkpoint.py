"""Checkpoints keyed by a config hash, written atomically, resumable after a kill.

    ckpt = Checkpoint(checkpoint_dir(profile) / "cpc", config)
    saved = ckpt.load(force_retrain=FORCE_RETRAIN)   # None, or the last saved dict

train/resumable.py is the one loop that writes and reads them. A checkpoint whose config hash differs
from the current config is ignored (and kept on disk under its own hash), so changing a
hyper-parameter never silently reuses stale weights. Checkpoints hold tensors and plain types only
and are read with torch.load(weights_only=True): a file carrying pickled objects (one shared by
someone else, say) is refused rather than executed.
"""
import dataclasses
import hashlib
import json
import pickle
from pathlib import Path

from ..atomic import torch_save
from ..errors import UserError

FORMAT = 3      # the layout run_resumable writes; part of the file name, so older files are never misread


def config_hash(config) -> str:
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


def safe_load(path, what: str = "checkpoint"):
    """torch.load with weights_only=True; a file that needs arbitrary unpickling is a UserError."""
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UserError(f"{what} {path} holds pickled Python objects, which are not loaded (they could run code); "
                        f"delete it and retrain, or recreate it with this version of s2v_lib ({str(e).splitlines()[0]})") from None


class Checkpoint:
    def __init__(self, directory, config):
        self.config = config
        self.hash = config_hash(config)
        self.path = Path(directory) / f"{self.hash}.v{FORMAT}.pt"

    def load(self, force_retrain: bool = False):
        """The last saved state (tensors on the CPU), or None when there is none or FORCE_RETRAIN is set."""
        if force_retrain or not self.path.exists():
            return None
        return safe_load(self.path)

    def is_done(self) -> bool:
        state = self.load()
        return bool(state and state.get("done"))

    def save(self, state: dict, done: bool = False) -> None:
        cfg = dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else dict(self.config)
        cfg = json.loads(json.dumps(cfg, default=str))     # plain types only (weights_only loading)
        torch_save(self.path, {**state, "done": done, "config": cfg, "config_hash": self.hash})
