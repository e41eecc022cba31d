"""The one training loop: a killed and resumed run equals the uninterrupted one (every RNG restored),
a finished run is loaded without training, and checkpoints carrying pickled objects are refused."""
import numpy as np
import pytest
import torch

from s2v_lib.errors import UserError
from s2v_lib.train.checkpoint import Checkpoint, safe_load
from s2v_lib.train.resumable import history_columns, run_resumable


class Evil:
    """Stands for any pickled object a foreign checkpoint could carry."""


def _run(ckpt_dir, total, stop_at=None, force=False):
    """A toy run drawing from a numpy generator, a torch generator and torch's global RNG (dropout)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)

    def step(i):
        if stop_at is not None and i == stop_at:
            raise KeyboardInterrupt
        x = torch.from_numpy(rng.standard_normal((16, 4)).astype(np.float32)) + torch.randn(16, 4, generator=gen)
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"step": i, "loss": loss.item()}

    result = run_resumable(Checkpoint(ckpt_dir, {"toy": total}), total, step, {"net": net, "opt": opt},
                           {"batches": rng, "noise": gen}, save_every=3, force_retrain=force, progress=False)
    return net, result


def test_kill_and_resume_equals_uninterrupted(tmp_path):
    full, full_result = _run(tmp_path / "a", 9)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", 9, stop_at=7)           # killed after the checkpoint at unit 6
    resumed, result = _run(tmp_path / "b", 9)
    assert result.trained and result.start == 6
    assert [r["step"] for r in result.history] == list(range(9))
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert history_columns(result.history)["loss"] == history_columns(full_result.history)["loss"]


def test_finished_run_is_loaded_not_trained(tmp_path):
    first, _ = _run(tmp_path, 4)
    again, result = _run(tmp_path, 4, stop_at=0)       # would raise if any unit ran
    assert not result.trained and len(result.history) == 4
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_require_done_and_pickled_checkpoints_are_refused(tmp_path):
    with pytest.raises(UserError, match="no finished checkpoint"):
        run_resumable(Checkpoint(tmp_path, {"x": 1}), 2, lambda i: None, {}, require_done=True)

    path = tmp_path / "shared.pt"
    torch.save({"state": Evil()}, path)         # a class instance: needs arbitrary unpickling
    with pytest.raises(UserError, match="pickled Python objects"):
        safe_load(path)
