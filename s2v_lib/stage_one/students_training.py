"""The identity and emotion students S_id, S_emo (paper section 2.1): Eq. (2)-(3) with RMSProp on the
training split, one epoch per unit of the resumable loop; val loss per epoch."""
import dataclasses
import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from ..config import as_profile
from ..device import module_device
from ..models.students import StudentConfig, Students, students_loss
from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import history_columns, run_resumable
from .cpc_training import at_most_threads


def freeze(module):
    """No parameter gradients (the emotion teacher's head inside the students' loss)."""
    if isinstance(module, torch.nn.Module):
        for p in module.parameters():
            p.requires_grad_(False)
    return module


def tensor_key(*tensors) -> str:
    """A fingerprint of the students' inputs and targets (part of their checkpoint key)."""
    h = hashlib.sha1()
    for t in tensors:
        h.update(np.round(t.detach().cpu().double().numpy(), 5).tobytes())
    return h.hexdigest()[:12]


def train_students(profile, name: str, w: torch.Tensor, nu_teacher: torch.Tensor, mu_teacher: torch.Tensor,
                   split: np.ndarray, emotion_head, cfg: StudentConfig, key: str = "", device: str = "cpu",
                   force_retrain: bool = False, save_every: int = 25, progress: bool = True
                   ) -> tuple[Students, dict]:
    """Eq. (2)-(3) on the training split -> (Students in eval mode, history).

    name separates student sets trained on different inputs (e.g. "cpc_mean", "logmel");
    key fingerprints those inputs and targets (part of the checkpoint hash)."""
    profile = as_profile(profile)
    freeze(emotion_head)
    split = np.asarray(split)
    tr, va = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    if len(tr) == 0:
        raise ValueError("no training clips for the students")
    ckpt = Checkpoint(checkpoint_dir(profile.name) / f"students_{name}",
                      {"students": dataclasses.asdict(cfg), "inputs": key, "in_dim": w.shape[1]})
    torch.manual_seed(cfg.seed)
    model = Students(w.shape[1], nu_teacher.shape[1], mu_teacher.shape[1], cfg).to(device)
    model.set_input_stats(w[tr].to(device))
    opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    W, NU, MU = w.to(device), nu_teacher.to(device), mu_teacher.to(device)

    def epoch_fn(epoch: int) -> dict:
        model.train()
        order = tr[rng.permutation(len(tr))]
        losses = []
        for i in range(0, len(order), cfg.batch_size):
            b = torch.from_numpy(order[i: i + cfg.batch_size]).to(device)
            nu, mu = model(W[b])
            loss, _ = students_loss(nu, mu, NU[b], MU[b], emotion_head, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        model.eval()
        with torch.no_grad():
            v = torch.from_numpy(va if len(va) else tr).to(device)
            nu, mu = model(W[v])
            vloss, parts = students_loss(nu, mu, NU[v], MU[v], emotion_head, cfg)
            id_cos = F.cosine_similarity(nu, NU[v], dim=-1).mean()
            agree = (emotion_head(mu).argmax(-1) == emotion_head(MU[v]).argmax(-1)).float().mean()
        return {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": float(vloss), "val_parts": parts,
                "val_id_cos": float(id_cos), "val_emo_agree": float(agree)}

    # one thread: with 2 on a busy 2-core machine every small matmul waits for the other core
    with at_most_threads(1 if torch.device(device).type == "cpu" else torch.get_num_threads()):
        result = run_resumable(ckpt, cfg.epochs, epoch_fn, {"model": model, "opt": opt}, {"order": rng},
                               save_every=save_every, force_retrain=force_retrain, progress=progress,
                               desc=f"students ({name})")
    return model.eval(), history_columns(result.history)


@torch.no_grad()
def apply_students(students: Students, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (nu L2-normalised like the identity teacher's embedding, mu raw in the emotion teacher's
    feature space), both on the CPU."""
    nu, mu = students.eval()(w.to(module_device(students)))
    return F.normalize(nu, dim=-1).cpu(), mu.cpu()
