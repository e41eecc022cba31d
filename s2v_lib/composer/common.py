"""What the composer tasks share: frames flattened over time, and the reconstruction warm-up step."""


def flat(x):
    """(B, T, ...) -> (B * T, ...)."""
    return x.flatten(0, 1)


def warmup_l1_step(optim, fake_seq, frames, also_in_graph=()) -> dict:
    """One reconstruction warm-up step (configs.WARMUP): the generator alone on full-frame L1.
    also_in_graph: outputs that must get a (zero) gradient so DDP sees their parameters used."""
    l1 = (fake_seq.float() - frames).abs().mean()
    loss = l1 + 0.0 * sum(m.float().mean() for m in also_in_graph)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    return {"loss_G": l1.item(), "l1_full": l1.item(), "warmup": 1.0}
