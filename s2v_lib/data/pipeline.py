"""The one call every notebook makes for its data: get_prepared(profile, dataset, data_root, seed).

dataset "synthetic" with no data_root: build the CREMA-D twin for the profile in the cache (once),
then prepare it. With a data_root: prepare that folder. Both steps are cached and resumable.
"""
import hashlib
import json
import time
from pathlib import Path

from ..config import Profile, get_profile
from ..errors import UserError
from ..paths import cache_root
from .dataset import PreparedData
from .prepare import prepare_dataset


def _synth_dataset():
    try:
        from .twin.synth import synth_dataset
    except ImportError:
        from .twin import synth_dataset
    return synth_dataset


def twin_dir(profile: Profile, seed: int = 0) -> Path:
    key = hashlib.sha1(json.dumps(profile.data_key(), sort_keys=True, default=list).encode()).hexdigest()[:10]
    return cache_root() / "twin" / f"{profile.name}-seed{seed}-{key}"


def get_twin(profile, seed: int = 0, workers=None, progress: bool = True) -> Path:
    """The twin for this profile and seed, written once into the cache (twin.json marks it finished)."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    out = twin_dir(profile, seed)
    if not (out / "twin.json").exists():
        _synth_dataset()(profile, out, workers=workers, seed=seed, progress=progress)
    return out


def get_prepared(profile, dataset: str = "synthetic", data_root: str = "", seed: int = 0, workers=None,
                 progress: bool = True) -> PreparedData:
    profile = get_profile(profile) if isinstance(profile, str) else profile
    if not str(data_root):
        if dataset != "synthetic":
            raise UserError(f"DATASET={dataset!r} needs DATA_ROOT, the folder holding the dataset; "
                            "set DATA_ROOT or use DATASET='synthetic'")
        data_root = get_twin(profile, seed, workers, progress)
    return PreparedData(prepare_dataset(dataset, data_root, profile, workers=workers, seed=seed, progress=progress))


def bench_prepare(profile_name: str) -> dict:
    """prepare_clips_per_s: a fresh prepare of the profile's twin (built first if needed, not timed)."""
    import os
    import tempfile
    profile = get_profile(profile_name)
    root = get_twin(profile, progress=False)
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        t0 = time.perf_counter()
        out = prepare_dataset("synthetic", root, profile, cache=tmp, progress=False)
        dt = time.perf_counter() - t0
        n = json.loads((out / "prepare.json").read_text())
        n = n["n_clips"] + n["n_quarantined"]
    return {"prepare_clips_per_s": round(n / dt, 2), "prepare_workers": os.cpu_count()}
