"""DistributedDataParallel: 2 CPU processes (gloo), each with half the global batch, follow the
single-process run of the same config (parameters after 2 steps).

The optimisers are swapped for plain SGD here: RMSProp's first steps divide each gradient by its own
magnitude, which turns float-rounding noise in near-zero gradients into visible parameter changes;
SGD makes the parity check test what DDP does (average the shards' gradients) to 1e-6. With the default
departures (spectral norm in D, generator EMA) the same check runs at 1e-5: spectral norm divides each
weight by its power-iteration estimate of sigma, which scales the shards' float-rounding differences up
(measured: one of 16 elements off by 1.2e-6)."""
import pytest
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from s2v_lib.composer.configs import speech2video_config
from s2v_lib.composer.speech2video_task import Speech2VideoTask
from s2v_lib.config import get_profile
from s2v_lib.data.dataset import PreparedData
from s2v_lib.train.checkpoint import Checkpoint
from s2v_lib.train.loop import train
from s2v_lib.train.windows import WindowSampler

from test_composer import C_DIM, MU_DIM, NU_DIM, StandInTeacher, _bank, stand_in_features
from toy_av import make_toy_prepared


PAPER_TRAINING = {"d_spectral_norm": False, "g_ema": 0.0}


def _tiny(steps=2, overrides=None):
    torch.manual_seed(0)
    cfg = speech2video_config(get_profile("smoke"), C_DIM, NU_DIM, MU_DIM, (16, 8, 8), steps=steps, ch=16,
                              **(overrides or {}))
    cfg.loop.batch_clips, cfg.loop.window, cfg.loop.log_every = 4, 2, 1
    task = Speech2VideoTask(cfg, StandInTeacher())
    task.optims = {k: torch.optim.SGD(net.parameters(), lr=0.05) for k, net in task.nets.items()}
    return task, cfg


def _run(root, ckpt_dir, overrides=None):
    data = PreparedData(root)
    torch.set_num_threads(1)
    task, cfg = _tiny(overrides=overrides)
    bank = _bank(data, stand_in_features(data))
    train(task, WindowSampler(bank, cfg.loop), cfg.loop, Checkpoint(ckpt_dir, cfg), progress=False)
    return task


def _worker(rank, world, port, root, out, overrides):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        task = _run(root, os.path.join(out, "ckpt"), overrides)
        if rank == 0:
            torch.save({k: {n: p.detach().clone() for n, p in v.state_dict().items()} for k, v in task.nets.items()},
                       os.path.join(out, "ddp.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("overrides,atol", [(PAPER_TRAINING, 1e-6), ({}, 1e-5)], ids=["paper_training", "default"])
def test_ddp_two_processes_match_single_process(tmp_path, overrides, atol):
    root = make_toy_prepared(tmp_path / "toy", n_actors=4, clips_per_actor=8, size=48, n_frames=20)
    single = _run(root, tmp_path / "single", overrides)
    mp.spawn(_worker, args=(2, _free_port(), str(root), str(tmp_path), overrides), nprocs=2, join=True)
    ddp = torch.load(tmp_path / "ddp.pt")
    init, _ = _tiny(overrides=overrides)
    moved = 0.0
    for name, net in single.nets.items():
        for k, v in net.state_dict().items():
            torch.testing.assert_close(ddp[name][k], v, rtol=10 * atol, atol=atol)
            moved = max(moved, float((v - init.nets[name].state_dict()[k]).abs().max()))
    assert moved > 1e-4                                    # the parameters did train
    assert (tmp_path / "ckpt").exists() and Checkpoint(tmp_path / "ckpt", _tiny(overrides=overrides)[1]).load()["done"]
