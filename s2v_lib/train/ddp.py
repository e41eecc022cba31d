"""DistributedDataParallel helpers (torchrun --nproc_per_node N); all no-ops in a single process."""
import contextlib

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


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
