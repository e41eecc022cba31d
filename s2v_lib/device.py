"""The device rule, in one place.

- Models and the tensors a training step touches live on the run's device (`resolve_device`).
- The caches (speech features, checkpoints, per-clip tables) hold CPU tensors and numpy arrays.
- Crossing happens at the edge of a function that computes on a module: it moves its inputs to
  `module_device(module)` and returns CPU results (`to_cpu`), so callers never have to know where a
  teacher or a student runs.
- Worker processes are counted from the CPU affinity mask (a one-GPU slice of a large node gets its
  own cores, not the node's).
"""
import os

import torch

from .errors import UserError


def has_cuda() -> bool:
    return torch.cuda.is_available()


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if has_cuda() else "cpu"
    if device.startswith("cuda") and not has_cuda():
        raise UserError(f"DEVICE={device!r} but CUDA is not available here; use DEVICE='cpu' or 'auto'")
    return device


def module_device(module) -> torch.device:
    """Where a module (or a bound method of one, or a teacher wrapper with a .device or parameters)
    computes; CPU for stand-ins without parameters."""
    module = getattr(module, "__self__", module)
    dev = getattr(module, "device", None)
    if dev is not None and not callable(dev):
        return torch.device(dev)
    try:
        return next(module.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def to_cpu(x: torch.Tensor) -> torch.Tensor:
    return x.detach().cpu()


def available_cpus() -> int:
    """Cores this process may run on (the affinity mask, not the machine's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:     # not on Linux
        return max(1, os.cpu_count() or 1)
