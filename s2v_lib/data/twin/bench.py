"""Twin generator throughput: video frames written per second of wall time, all cores, whole
generation (worker start-up, TTS, rendering, MP4 + FLV + WAV + sidecar writing), at 64 and 128 px.

twin_fps_S is the target figure (wall time); twin_fps_S_per_cpu divides by the CPU seconds used
instead, which stays meaningful when other jobs share the machine.
"""
import dataclasses
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ...config import get_profile
from ...device import available_cpus

BENCH_ACTORS, BENCH_SENTENCES = 8, ("DFA", "TIE")   # 8 x 2 x 6 emotions = 96 clips per size


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the generator's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_twin(profile_name: str, workers: int | None = None) -> dict:
    from .synth import synth_dataset
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
