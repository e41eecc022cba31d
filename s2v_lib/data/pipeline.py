"""The one call every notebook makes for its data: get_prepared(profile, dataset, data_root, seed).

dataset "synthetic" with no data_root: build the CREMA-D twin for the profile in the cache (once),
then prepare it. With a data_root: prepare that folder (CREMA-D or VoxCeleb2 layout, per `dataset`),
or use it as it is when it already is a prepared dataset (e.g. merged shards). Cached and resumable.
"""
import hashlib
import json
import time
from pathlib import Path

from ..config import Profile, as_profile, get_profile
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


def _cpu_seconds() -> float:
    import resource
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_prepare(profile_name: str, workers: int = 2) -> dict:
    """Fresh prepares of the profile's twin (built first if needed, not timed) on `workers` processes:
    prepare_clips_per_s with the twin's sidecar boxes, prepare_detect_clips_per_s through the dlib
    detector (the path real data takes), and the detector's agreement with the sidecars."""
    import tempfile

    import pandas as pd
    profile = get_profile(profile_name)
    root = get_twin(profile, progress=False)
    cache_root().mkdir(parents=True, exist_ok=True)
    out = {"prepare_workers": workers}
    for key, faces in (("prepare_clips_per_s", "sidecar"), ("prepare_detect_clips_per_s", "detect")):
        with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
            t0, cpu0 = time.perf_counter(), _cpu_seconds()
            done = prepare_dataset("synthetic", root, profile, cache=tmp, workers=workers, progress=False, faces=faces)
            dt, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
            info = json.loads((done / "prepare.json").read_text())
            n = info["n_clips"] + info["n_quarantined"]
            # wall-time rate is the figure; per CPU second stays meaningful on a shared machine
            out[key], out[f"{key[:-2]}_cpu_s"] = round(n / dt, 2), round(n / cpu, 2)
            if faces == "detect":
                f = pd.read_csv(done / "faces.csv")
                out["prepare_detect_iou_vs_sidecar"] = round(float(f["iou"].mean()), 3)
                out["prepare_detect_face_found_frac"] = round(float(f["found"].sum() / f["sampled"].sum()), 4)
    return out
