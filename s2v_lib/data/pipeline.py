"""The one call every notebook makes for its data: get_prepared(profile, dataset, data_root, seed).

dataset "synthetic" with no data_root: build the CREMA-D twin for the profile in the cache (once),
then prepare it. With a data_root: prepare that folder (CREMA-D or VoxCeleb2 layout, per `dataset`),
or use it as it is when it already is a prepared dataset (e.g. merged shards). Cached and resumable.
"""
import hashlib
import json
from pathlib import Path

from ..config import Profile, as_profile
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
    from .twin.synth import VERSION   # a renderer or voice change must not reuse an old twin
    payload = {**profile.data_key(), "generator": VERSION}
    key = hashlib.sha1(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:10]
    return cache_root() / "twin" / f"{profile.name}-seed{seed}-{key}"


def get_twin(profile, seed: int = 0, workers=None, progress: bool = True) -> Path:
    """The twin for this profile and seed, written once into the cache (twin.json marks it finished)."""
    profile = as_profile(profile)
    out = twin_dir(profile, seed)
    if not (out / "twin.json").exists():
        _synth_dataset()(profile, out, workers=workers, seed=seed, progress=progress)
    return out


def get_prepared(profile, dataset: str = "synthetic", data_root: str = "", seed: int = 0, workers=None,
                 progress: bool = True) -> PreparedData:
    profile = as_profile(profile)
    if str(data_root) and (Path(data_root) / "prepare.json").exists():   # already prepared (e.g. merged shards)
        return PreparedData(data_root)
    if not str(data_root):
        if dataset != "synthetic":
            raise UserError(f"DATASET={dataset!r} needs DATA_ROOT, the folder holding the dataset; "
                            "set DATA_ROOT or use DATASET='synthetic'")
        data_root = get_twin(profile, seed, workers, progress)
    return PreparedData(prepare_dataset(dataset, data_root, profile, workers=workers, seed=seed, progress=progress))
