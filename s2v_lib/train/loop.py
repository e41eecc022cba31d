"""The training loop every generative model of the study shares (composer, SDFA, S2F+SDFA, the S2F
voice encoder): windows of consecutive frames from the training clips, a model-specific step, bf16
autocast on GPU, tqdm progress, loss curves as CSV, sample grids, checkpoints with resume, and
DistributedDataParallel under `torchrun --nproc_per_node N`.

A *task* is an object with
    nets: dict[str, nn.Module]       optims: dict[str, Optimizer]
    train_step(batch, step_ctx) -> dict[str, float]   (uses step_ctx.autocast(), step_ctx.generator)
    sample_figure(batch) -> matplotlib Figure           (optional)
Sampling is a pure function of (seed, step): a resumed or a distributed run sees exactly the batches
a single uninterrupted run would; under DDP each rank takes its slice of the global batch.
"""
import contextlib
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ..atomic import write_csv
from ..data.dataset import SAMPLES_PER_FRAME

AUDIO_WINDOW = 3200        # 0.2 s of raw audio around each frame (SDFA's content window)


@dataclass
class LoopConfig:
    steps: int = 200
    batch_clips: int = 8          # global batch: clips per step (split across DDP ranks)
    window: int = 8               # consecutive frames per clip
    voice_crop_s: float = 0.0     # > 0: also a random crop of this many seconds of the clip's speech
    log_every: int = 10
    sample_every: int = 0         # 0: one grid at the end only
    ckpt_every: int = 100
    seed: int = 0


# --- data ------------------------------------------------------------------------------------------

class ClipBank:
    """Training clips held in memory: frames uint8, audio, and optional per-frame / per-clip features.

    clips: list of dicts with "frames" (T, S, S, 3) uint8, "audio" (T * 640,) float32, optionally
    "c" (T, D) per-frame features and any per-clip vectors ("nu", "mu", "face_vec", ...)."""

    def __init__(self, clips: list[dict], clip_ids: list[str] | None = None):
        if not clips:
            raise ValueError("ClipBank needs at least one clip")
        self.clips = clips
        self.clip_ids = clip_ids or [str(i) for i in range(len(clips))]

    def __len__(self):
        return len(self.clips)

    @property
    def frame_size(self) -> int:
        return self.clips[0]["frames"].shape[1]


def audio_window_array(audio: np.ndarray, start: int, n: int) -> np.ndarray:
    """0.2 s windows centred on frames start .. start + n - 1 -> (n, 3200), zero-padded at the ends."""
    half = AUDIO_WINDOW // 2
    centre = (np.arange(start, start + n) * SAMPLES_PER_FRAME + SAMPLES_PER_FRAME // 2)
    padded = np.pad(audio, (half, half))
    idx = centre[:, None] + np.arange(AUDIO_WINDOW)[None]      # already shifted by the left pad
    return padded[np.clip(idx, 0, len(padded) - 1)]


class WindowSampler:
    """Global batch for step s: batch_clips random (clip, start) windows drawn from rng(seed, s)."""

    def __init__(self, bank: ClipBank, cfg: LoopConfig, vector_keys=("nu", "mu")):
        self.bank, self.cfg, self.vector_keys = bank, cfg, tuple(vector_keys)

    def draw(self, rng, clip: dict) -> dict:
        cfg = self.cfg
        frames, audio = clip["frames"], clip["audio"]
        t_all, w = len(frames), cfg.window
        start = int(rng.integers(0, max(1, t_all - w + 1)))
        idx = np.minimum(np.arange(start, start + w), t_all - 1)     # short clips repeat their last frame
        item = {"frames": frames[idx], "still": frames[0], "audio": audio_window_array(audio, start, w)}
        if "c" in clip:
            # D_sync's negative: the same frames paired with c from 3..10 frames away, same clip
            shift = int(rng.integers(3, 11)) * (1 if rng.random() < 0.5 else -1)
            sidx = np.clip(idx + shift, 0, t_all - 1)
            sidx = np.where(sidx == idx, np.clip(idx - shift, 0, t_all - 1), sidx)
            item["c"], item["c_shift"] = clip["c"][idx], clip["c"][sidx]
        if cfg.voice_crop_s > 0:
            n = int(cfg.voice_crop_s * 16000)
            s0 = int(rng.integers(0, max(1, len(audio) - n + 1)))
            crop = audio[s0:s0 + n]
            item["voice"] = np.pad(crop, (0, n - len(crop)))
        for k in self.vector_keys:
            if k in clip:
                item[k] = clip[k]
        return item

    def sample(self, step: int, rank: int = 0, world: int = 1) -> dict:
        cfg = self.cfg
        if cfg.batch_clips % world:
            raise ValueError(f"batch_clips={cfg.batch_clips} must divide by the {world} DDP ranks")
        rng = np.random.default_rng([cfg.seed, step])
        picks = rng.integers(0, len(self.bank), cfg.batch_clips)
        items = [self.draw(rng, self.bank.clips[i]) for i in picks]     # all ranks draw the global batch
        per = cfg.batch_clips // world
        return collate(items[rank * per:(rank + 1) * per])


def collate(items: list[dict]) -> dict:
    batch = {}
    for k in items[0]:
        arr = np.stack([it[k] for it in items])
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if k in ("frames", "still"):
            t = t.float().div_(255.0).movedim(-1, -3)           # (..., S, S, 3) uint8 -> (..., 3, S, S)
        else:
            t = t.float()
        batch[k] = t
    return batch


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


# --- distributed -----------------------------------------------------------------------------------

def world_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def wrap_ddp(module: torch.nn.Module, device) -> torch.nn.Module:
    """DDP-wrap a trainable module when a process group is up (torchrun); otherwise as is."""
    if world_info()[1] == 1 or not any(p.requires_grad for p in module.parameters()):
        return module
    ids = [torch.device(device).index] if str(device).startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=ids)


def raw(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper. Tasks call a discriminator through raw() in the generator's
    update, so DDP sees one forward and one backward per update for each wrapped net."""
    return module.module if isinstance(module, DistributedDataParallel) else module


@contextlib.contextmanager
def frozen(*modules):
    """No weight gradients for these modules inside the block (a discriminator during the
    generator's update: its input gradients still flow, its weight gradients are not computed)."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class StepContext:
    def __init__(self, device, amp: bool, seed: int):
        self.device, self.amp, self.seed = torch.device(device), amp, seed
        self.generator = torch.Generator(device=self.device)
        self.step = 0

    def at(self, step: int) -> "StepContext":
        self.step = step
        self.generator.manual_seed(self.seed * 1_000_003 + step)     # noise draws depend on the step only
        return self

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)


# --- the loop --------------------------------------------------------------------------------------

def train(task, sampler: WindowSampler, cfg: LoopConfig, ckpt, *, device="cpu", amp=None,
          log_path=None, grid_path=None, sample_batch=None, force_retrain=False, progress=True,
          desc="train", require_done=False) -> pd.DataFrame:
    """Run (or resume, or load) a training; returns the loss history (one row per log step).

    ckpt: s2v_lib.train.checkpoint.Checkpoint. A finished checkpoint is loaded and nothing runs;
    require_done: raise instead of training when there is none."""
    rank, world = world_info()
    amp = torch.device(device).type == "cuda" if amp is None else amp
    state = ckpt.load(force_retrain=force_retrain)
    if require_done and not (state and state.get("done")):
        from ..errors import UserError
        raise UserError(f"no finished checkpoint {ckpt.path} for this configuration; train it first "
                        "(notebooks/04_composer.ipynb or composer_stage.train_model)")
    for name, net in task.nets.items():
        net.to(device)
        if state is not None:
            net.load_state_dict(state["nets"][name])
    if state is not None:
        for name, opt in task.optims.items():
            opt.load_state_dict(state["optims"][name])
    history = list(state["history"]) if state is not None else []
    start = int(state["step"]) if state is not None else 0
    if state is not None and state.get("done"):
        return pd.DataFrame(history)

    wrapped = {name: wrap_ddp(net, device) for name, net in task.nets.items()}
    plain = task.nets
    task.nets = wrapped
    ctx = StepContext(device, amp, cfg.seed)

    def save(step, done):
        if rank != 0:
            return
        task.nets = plain
        ckpt.save({"nets": {k: v.state_dict() for k, v in plain.items()},
                   "optims": {k: o.state_dict() for k, o in task.optims.items()},
                   "step": step, "history": history}, done=done)
        task.nets = wrapped
        if log_path is not None:
            write_csv(log_path, pd.DataFrame(history))

    t_last, frames_seen = time.perf_counter(), 0
    bar = tqdm(range(start, cfg.steps), desc=desc, disable=not progress or rank != 0,
               initial=start, total=cfg.steps)
    for step in bar:
        for net in task.nets.values():
            net.train()
        batch = to_device(sampler.sample(step, rank, world), device)
        logs = task.train_step(batch, ctx.at(step))
        frames_seen += cfg.batch_clips * cfg.window
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            now = time.perf_counter()
            row = {"step": step + 1, **{k: float(v) for k, v in logs.items()},
                   "frames_per_s": frames_seen / max(now - t_last, 1e-9)}
            t_last, frames_seen = now, 0
            history.append(row)
            bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss")})
        done = step + 1 == cfg.steps
        if rank == 0 and grid_path is not None and sample_batch is not None and hasattr(task, "sample_figure") \
                and (done or (cfg.sample_every and (step + 1) % cfg.sample_every == 0)):
            save_grid(task, sample_batch, grid_path, device)
        if done or (step + 1) % cfg.ckpt_every == 0:
            save(step + 1, done)
    task.nets = plain
    if world > 1:
        dist.barrier()
    return pd.DataFrame(history)


def save_grid(task, batch, path, device):
    import matplotlib.pyplot as plt

    from ..figures import save_figure
    nets = task.nets
    task.nets = {k: raw(v) for k, v in nets.items()}
    try:
        fig = task.sample_figure(to_device(batch, device))
        save_figure(fig, path)
        plt.close(fig)
    finally:
        task.nets = nets
