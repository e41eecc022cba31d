"""The generative models' training (composer, SDFA, S2F+SDFA, the S2F voice encoder) on the one
resumable loop (train/resumable.py): windows of consecutive frames (train/windows.py), a
model-specific step, bf16 autocast on GPU, loss curves as CSV, sample grids, and
DistributedDataParallel under `torchrun --nproc_per_node N` (train/ddp.py).

A *task* is an object with
    nets: dict[str, nn.Module]       optims: dict[str, Optimizer]
    train_step(batch, step_ctx) -> dict[str, float]   (uses step_ctx.autocast(), step_ctx.generator)
    sample_figure(batch) -> matplotlib Figure           (optional)
"""
import contextlib
import time

import pandas as pd
import torch
import torch.distributed as dist

from ..atomic import write_csv
from .ddp import raw, world_info, wrap_ddp
from .resumable import run_resumable
from .windows import LoopConfig, Prefetcher, WindowSampler, to_device


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


def train(task, sampler: WindowSampler, cfg: LoopConfig, ckpt, *, device="cpu", amp=None,
          log_path=None, grid_path=None, sample_batch=None, force_retrain=False, progress=True,
          desc="train", require_done=False) -> pd.DataFrame:
    """Run (or resume, or load) a task's training; returns the loss history (one row per log step).

    ckpt: s2v_lib.train.checkpoint.Checkpoint. A finished checkpoint is loaded and nothing runs;
    require_done: raise instead of training when there is none."""
    rank, world = world_info()
    amp = torch.device(device).type == "cuda" if amp is None else amp
    for net in task.nets.values():
        net.to(device)
    plain = dict(task.nets)
    state = {**{f"net.{k}": v for k, v in plain.items()}, **{f"optim.{k}": o for k, o in task.optims.items()}}
    ctx = StepContext(device, amp, cfg.seed)
    wrapped = None
    prefetch = None if sampler is None else Prefetcher(sampler, rank, world, pin_memory=ctx.device.type == "cuda")
    clock = {"t": time.perf_counter(), "frames": 0}

    def step_fn(step: int):
        nonlocal wrapped
        if wrapped is None:         # wrap only when there is training to do
            wrapped = {name: wrap_ddp(net, device) for name, net in plain.items()}
        task.nets = wrapped
        for net in task.nets.values():
            net.train()
        batch = to_device(prefetch.get(step, last_step=cfg.steps - 1), device)
        logs = task.train_step(batch, ctx.at(step))
        task.nets = plain
        clock["frames"] += cfg.batch_clips * cfg.window
        done = step + 1 == cfg.steps
        if rank == 0 and grid_path is not None and sample_batch is not None and hasattr(task, "sample_figure") \
                and (done or (cfg.sample_every and (step + 1) % cfg.sample_every == 0)):
            save_grid(task, sample_batch, grid_path, device)
        if (step + 1) % cfg.log_every and not done:
            return None
        now = time.perf_counter()
        row = {"step": step + 1, **{k: float(v) for k, v in logs.items()},
               "frames_per_s": clock["frames"] / max(now - clock["t"], 1e-9)}
        clock.update(t=now, frames=0)
        return row

    def on_save(history):
        if log_path is not None:
            write_csv(log_path, pd.DataFrame(history))

    try:
        result = run_resumable(ckpt, cfg.steps, step_fn, state, save_every=cfg.ckpt_every,
                               force_retrain=force_retrain, require_done=require_done, progress=progress, desc=desc,
                               on_save=on_save, is_writer=rank == 0,
                               postfix=lambda row: {k: f"{v:.3g}" for k, v in row.items() if k.startswith("loss")})
    finally:
        if prefetch is not None:
            prefetch.close()
    task.nets = plain
    if world > 1 and result.trained:
        dist.barrier()
    return pd.DataFrame(result.history)


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
