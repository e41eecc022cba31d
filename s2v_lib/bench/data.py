"""Data throughput: the twin generator (video frames written per second of wall time, all cores, whole
generation: worker start-up, TTS, rendering, MP4 + FLV + WAV + sidecar writing, at 64 and 128 px) and
`prepare` (clips per second through the sidecar boxes and through the dlib detector).

Wall-time rates are the target figures; the *_per_cpu / *_cpu_s variants divide by the CPU seconds used
instead, which stays meaningful when other jobs share the machine.
"""
import dataclasses
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..config import get_profile
from ..data.pipeline import get_twin
from ..data.prepare import prepare_dataset
from ..device import available_cpus
from ..paths import cache_root

BENCH_ACTORS, BENCH_SENTENCES = 8, ("DFA", "TIE")   # 8 x 2 x 6 emotions = 96 clips per size


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the generator's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_twin(profile_name: str, workers: int | None = None) -> dict:
    from ..data.twin.synth import synth_dataset
    base = dataclasses.replace(get_profile(profile_name), n_actors=BENCH_ACTORS, sentences=BENCH_SENTENCES,
                               emotions=(), levels=("XX",))
    out = {}
    for size in (64, 128):
        profile = dataclasses.replace(base, frame_size=size)
        root = Path(tempfile.mkdtemp(prefix="s2v-twin-bench-"))
        try:
            cpu0 = _cpu_seconds()
            t0 = time.perf_counter()
            synth_dataset(profile, root, workers=workers or available_cpus(), progress=False)
            wall = time.perf_counter() - t0
            cpu = _cpu_seconds() - cpu0
            n_frames = sum(len(np.load(p)["blink"]) for p in (root / "GroundTruth").glob("*.npz"))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        out[f"twin_fps_{size}"] = round(n_frames / wall, 1)
        out[f"twin_fps_{size}_per_cpu"] = round(n_frames / cpu, 1)
    return out


def bench_prepare(profile_name: str, workers: int = 2) -> dict:
    """Fresh prepares of the profile's twin (built first if needed, not timed) on `workers` processes:
    prepare_clips_per_s with the twin's sidecar boxes, prepare_detect_clips_per_s through the dlib
    detector (the path real data takes), and the detector's agreement with the sidecars."""
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
