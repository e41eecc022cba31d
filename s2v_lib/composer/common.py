"""What the composer tasks share: frames flattened over time, the reconstruction warm-up step, and the
generator's exponential moving average."""
import copy

import torch


def flat(x):
    """(B, T, ...) -> (B * T, ...)."""
    return x.flatten(0, 1)


def warmup_l1_step(optim, fake_seq, frames, also_in_graph=()) -> dict:
    """One reconstruction warm-up step (configs.WARMUP): the generator alone on full-frame L1.
    also_in_graph: outputs that must get a (zero) gradient so DDP sees their parameters used.
    Logged values stay tensors: the loop reads them only at log steps (no host sync per step)."""
    l1 = (fake_seq.float() - frames).abs().mean()
    loss = l1 + 0.0 * sum(m.float().mean() for m in also_in_graph)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    l1 = l1.detach()
    return {"loss_G": l1, "l1_full": l1, "warmup": torch.ones(())}


def ema_copy(net: torch.nn.Module) -> torch.nn.Module:
    """A frozen copy of the generator that will hold its moving average (a named departure, g_ema)."""
    ema = copy.deepcopy(net)
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float, adversarial_step: int):
    """Generator EMA (Karras et al. 2018; Yazici et al., ICLR 2019): the average of the generator's
    weights over its adversarial steps, which smooths out the oscillation the discriminators drive.
    The effective decay ramps up from 0 at the first adversarial step, so the warm-up's weights
    are not averaged in."""
    d = min(decay, adversarial_step / (adversarial_step + 10.0))
    for pe, p in zip(ema.parameters(), net.parameters()):
        pe.lerp_(p.detach(), 1.0 - d)
    for be, b in zip(ema.buffers(), net.buffers()):
        be.copy_(b)
