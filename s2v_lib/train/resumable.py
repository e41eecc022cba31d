"""The one resumable training loop every model of the study uses (teachers, CPC, students, sync expert,
the composer tasks, DAVS, Lip2Speech).

A run is a `step_fn(i) -> dict | None` called for i = start .. total - 1 (a step or an epoch: the
caller decides what one unit is), the objects whose state must survive a kill (modules, optimisers,
schedulers: anything with state_dict / load_state_dict) and the random generators it draws from.
The loop owns everything else: loading the checkpoint, restoring every RNG (the named numpy and
torch generators, torch's global CPU generator and every CUDA device's), the history (one row dict
per logged unit), saving every `save_every` units and at the end with done=True, and tqdm progress.

    result = run_resumable(ckpt, total=cfg.steps, step_fn=step, state={"model": m, "opt": opt},
                           rngs={"batches": np_rng, "noise": torch_gen}, save_every=100, desc="CPC")
    result.history      # list of row dicts (pd.DataFrame(result.history) for a table)

A finished checkpoint is loaded and nothing runs (result.trained is False). Because every generator
is restored, a killed and resumed run equals the uninterrupted run (tests/test_resumable.py).
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import UserError
from .checkpoint import Checkpoint


@dataclass
class RunResult:
    history: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)   # what on_finish returned (e.g. a validation), saved with the run
    trained: bool = False                         # False: a finished checkpoint was loaded
    start: int = 0                                # the unit training (re)started at


def rng_states(rngs: dict) -> dict:
    """Every generator's state as plain types and CPU tensors (loadable with weights_only=True)."""
    out = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["torch_cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    for name, gen in rngs.items():
        if isinstance(gen, np.random.Generator):
            out[name] = gen.bit_generator.state
        elif isinstance(gen, torch.Generator):
            out[name] = gen.get_state().cpu()
        else:
            raise TypeError(f"rng {name!r}: a numpy Generator or a torch.Generator, not {type(gen).__name__}")
    return out


def restore_rng_states(rngs: dict, saved: dict) -> None:
    """The inverse of rng_states. torch wants CPU ByteTensors for every generator, CUDA ones included."""
    torch.set_rng_state(saved["torch_cpu"].cpu())
    if "torch_cuda" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in saved["torch_cuda"]])
    for name, gen in rngs.items():
        if isinstance(gen, np.random.Generator):
            gen.bit_generator.state = saved[name]
        else:
            gen.set_state(saved[name].cpu())


def load_states(state: dict, saved: dict) -> None:
    for name, obj in state.items():
        obj.load_state_dict(saved[name])


def run_resumable(ckpt: Checkpoint, total: int, step_fn: Callable[[int], dict | None], state: dict,
                  rngs: dict | None = None, *, save_every: int = 100, force_retrain: bool = False,
                  require_done: bool = False, progress: bool = True, desc: str = "train",
                  on_save: Callable[[list], None] | None = None, on_finish: Callable[[], dict] | None = None,
                  postfix: Callable[[dict], dict] | None = None, is_writer: bool = True) -> RunResult:
    """Run (or resume, or load when finished) units start .. total - 1 of a training.

    state: name -> object with state_dict/load_state_dict (restored from the checkpoint first);
    rngs: name -> numpy / torch generator the steps draw from; step_fn(i) returns the unit's log row
    (appended to the history) or None; on_save(history) runs after each checkpoint (e.g. write a CSV);
    on_finish() runs once after the last unit, its dict is saved with the run and returned as summary;
    require_done: raise a UserError instead of training when no finished checkpoint exists;
    is_writer: False on DDP ranks other than 0 (they train but never write)."""
    rngs = rngs or {}
    saved = ckpt.load(force_retrain=force_retrain)
    if require_done and not (saved and saved.get("done")):
        raise UserError(f"no finished checkpoint {ckpt.path} for this configuration; train it first "
                        "(run the notebook that trains it, or call its train_* function)")
    result = RunResult()
    if saved is not None:
        load_states(state, saved["state"])
        result.history = list(saved["history"])
        result.summary = dict(saved.get("summary") or {})
        if saved.get("done"):
            return result
        restore_rng_states(rngs, saved["rngs"])
        result.start = int(saved["unit"])
    result.trained = True

    def save(unit: int, done: bool) -> None:
        if not is_writer:
            return
        ckpt.save({"state": {k: v.state_dict() for k, v in state.items()}, "rngs": rng_states(rngs),
                   "history": result.history, "unit": unit, "summary": result.summary}, done=done)
        if on_save is not None:
            on_save(result.history)

    bar = tqdm(range(result.start, total), desc=desc, disable=not (progress and is_writer),
               initial=result.start, total=total)
    for i in bar:
        row = step_fn(i)
        if row:
            result.history.append(row)
            if postfix is not None:
                bar.set_postfix(postfix(row), refresh=False)
        done = i + 1 == total
        if done and on_finish is not None:
            result.summary = dict(on_finish())
        if done or (i + 1) % save_every == 0:
            save(i + 1, done)
    if result.start >= total:       # nothing left to run (e.g. total lowered): mark it finished
        save(total, True)
    return result


def history_columns(history: list) -> dict:
    """Rows -> {column: [values]} (the form the figures and JSON of the stages read)."""
    cols = {}
    for row in history:
        for k in row:
            cols.setdefault(k, [])
    for row in history:
        for k in cols:
            cols[k].append(row.get(k))
    return cols
