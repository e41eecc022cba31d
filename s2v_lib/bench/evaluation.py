"""The evaluation's throughput: sync scoring clips/s and frame-metric clips/s."""
import time

import numpy as np
import torch

from .. import metrics as M
from ..config import get_profile
from ..evaluation.sync_expert import SyncExpert, SyncTrainConfig, sync_config
from ..models.syncnet import SyncNet


def bench_eval(profile_name: str, n_clips: int = 40, n_frames: int = 62) -> dict:
    """sync_clips_per_s: syncnet_python scoring (MFCC, both streams, 31 offsets) of 2.5 s clips with the
    profile's sync expert size; metrics_clips_per_s: SSIM + both PSNRs of a clip against its truth.
    Throughput does not depend on content, so the clips are random (no trained weights needed)."""

    class _Info:                                  # sync_config only reads data.info for its cache key
        info = {"bench": True}

    profile = get_profile(profile_name)
    s = profile.frame_size
    rng = np.random.default_rng(0)
    clips = [(rng.integers(0, 256, (n_frames, s, s, 3), dtype=np.uint8),
              rng.uniform(-0.3, 0.3, n_frames * 640).astype(np.float32)) for _ in range(n_clips)]
    cfg: SyncTrainConfig = sync_config(profile, _Info())
    torch.manual_seed(0)
    expert = SyncExpert(SyncNet(cfg.net))
    expert.score(*clips[0])                       # warm-up
    t0 = time.perf_counter()
    for f, a in clips:
        expert.score(f, a)
    sync_rate = n_clips / (time.perf_counter() - t0)
    ref = [np.clip(f.astype(int) + rng.integers(-20, 20, f.shape), 0, 255).astype(np.uint8) for f, _ in clips]
    t0 = time.perf_counter()
    for (f, _), r in zip(clips, ref):
        M.clip_quality(f, r)
    metrics_rate = n_clips / (time.perf_counter() - t0)
    return {"sync_clips_per_s": round(sync_rate, 2), "metrics_clips_per_s": round(metrics_rate, 2),
            "eval_clip_frames": n_frames, "eval_frame_size": s, "eval_torch_threads": torch.get_num_threads()}
