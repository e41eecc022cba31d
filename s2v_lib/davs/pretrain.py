"""E_p^v's identity pretraining on the teacher face set (the paper: a subset of MS-Celeb-1M).

The teacher face set (data/teacher_faces.py) holds rendered faces of identities that are not the
91 CREMA-D actors; E_p^v plus a linear identity head learn to classify its training identities.
The check: 1-nearest-neighbour identity accuracy on the set's held-out identities (faces E_p^v
never saw), one gallery image per identity.
"""
import numpy as np
import torch
import torch.nn.functional as F

from ..data.teacher_faces import face_set_config, make_face_set
from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable


def pretrain_faces(profile, seed: int = 0, progress: bool = True) -> dict:
    return make_face_set(face_set_config(profile, seed), progress=progress)


def n_pretrain_ids(faces: dict) -> int:
    return int(faces["identity"].max()) + 1


def _heldout_nn_accuracy(E_p, faces: dict, device) -> float:
    """1-NN over held-out identities: gallery = each identity's first image, queries = the rest."""
    held = np.flatnonzero(faces["heldout"])
    if len(held) == 0:
        return float("nan")
    ids = faces["identity"][held]
    x = torch.from_numpy(faces["images"][held]).permute(0, 3, 1, 2).float().div(255).to(device)
    with torch.no_grad():
        emb = F.normalize(torch.cat([E_p(x[i:i + 256]) for i in range(0, len(x), 256)]), dim=1).cpu().numpy()
    first = {i: k for k, i in reversed(list(enumerate(ids)))}
    gal = np.array(sorted(first.values()))
    query = np.setdiff1d(np.arange(len(ids)), gal)
    nearest = gal[np.argmax(emb[query] @ emb[gal].T, 1)]
    return float((ids[nearest] == ids[query]).mean())


def pretrain_person_encoder(model, cfg, faces: dict, profile, device="cpu", force_retrain=False, progress=True):
    """Train model.E_p + model.id_head (in place) on the face set's training identities; resumable."""
    from .config import net_config
    key = {"stage": "pretrain", "net": vars(net_config(cfg, 1, 1, n_pretrain_ids(faces))), "seed": cfg.seed,
           "steps": cfg.pretrain_steps, "batch": cfg.pretrain_batch, "lr": cfg.lr,
           "faces": [int(len(faces["images"])), int(faces["images"].shape[1])]}
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "davs" / "pretrain", key)
    train_idx = np.flatnonzero(~faces["heldout"])
    images = torch.from_numpy(faces["images"])
    labels = torch.from_numpy(faces["identity"])
    opt = torch.optim.Adam(list(model.E_p.parameters()) + list(model.id_head.parameters()), lr=cfg.lr,
                           betas=cfg.betas)
    rng = np.random.default_rng([cfg.seed, 11])

    def step(i):
        idx = rng.choice(train_idx, cfg.pretrain_batch)
        x = images[idx].permute(0, 3, 1, 2).float().div(255).to(device)
        flip = torch.from_numpy(rng.random(len(idx)) < 0.5).to(device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)            # faces are left-right symmetric
        logits = model.id_head(model.E_p(x))
        loss = F.cross_entropy(logits, labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i % 10 == 0 or i + 1 == cfg.pretrain_steps:
            return {"step": i, "id_ce": float(loss.detach()), "id_acc": float((logits.argmax(1).cpu() == labels[idx]).float().mean())}
        return None

    def finish():
        return {"heldout_nn_acc": _heldout_nn_accuracy(model.E_p, faces, device)}

    return run_resumable(ckpt, cfg.pretrain_steps, step, {"E_p": model.E_p, "id_head": model.id_head, "opt": opt},
                         {"batches": rng}, save_every=100, force_retrain=force_retrain, progress=progress,
                         desc="DAVS E_p^v pretraining", on_finish=finish,
                         postfix=lambda r: {"ce": f"{r['id_ce']:.2f}"})
