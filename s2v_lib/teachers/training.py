"""Training the in-project teachers (family "trained") on the separate generated face set
(data/teacher_faces.py): a VGG-style identity net (cosine-margin logits) and an SE-ResNet emotion
net, one epoch per unit of the resumable loop (train/resumable.py).
"""
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import Profile, as_profile
from ..frames import frames_to_tensor
from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import history_columns, run_resumable


@dataclass
class TeacherTrainConfig:
    epochs: int
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    shift: float = 0.04            # random translation, fraction of the frame (augmentation)


def teacher_configs(profile: Profile, seed: int = 0) -> dict:
    """Face set, networks and schedules for a profile (sizes for the CPU budget: ~6 min at 64 px)."""
    from ..data.teacher_faces import face_set_config
    from ..models.emotion_teacher import EmotionNetConfig
    from ..models.identity_teacher import IdentityNetConfig
    faces = face_set_config(profile, seed)
    n_train_ids = faces.n_identities - int(round(faces.heldout_fraction * faces.n_identities))
    id_epochs, emo_epochs = {"smoke": (3, 6), "cpu": (6, 15), "gpu": (20, 20), "paper": (100, 100)}[profile.scale]
    return {
        "identity": {"faces": asdict(faces), "net": asdict(IdentityNetConfig(n_classes=n_train_ids)),
                     "train": asdict(TeacherTrainConfig(epochs=id_epochs)), "seed": seed},
        "emotion": {"faces": asdict(faces), "net": asdict(EmotionNetConfig()),
                    "train": asdict(TeacherTrainConfig(epochs=emo_epochs)), "seed": seed},
    }


def build_net(kind: str, cfg: dict):
    if kind == "identity":
        from ..models.identity_teacher import IdentityNet, IdentityNetConfig
        return IdentityNet(IdentityNetConfig(**cfg["net"]))
    from ..models.emotion_teacher import EmotionNet, EmotionNetConfig
    return EmotionNet(EmotionNetConfig(**cfg["net"]))


def teacher_checkpoint(profile: Profile, kind: str, cfg: dict) -> Checkpoint:
    return Checkpoint(checkpoint_dir(profile.name) / f"teacher_{kind}", cfg)


def _augment(x: torch.Tensor, shift: float, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and translation (edge-replicated), drawn from `gen`."""
    n, _, s, _ = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None].to(x.device), x.flip(-1), x)
    p = int(round(shift * s))
    if p == 0:
        return x
    xp = F.pad(x, (p, p, p, p), mode="replicate")
    dx, dy = torch.randint(0, 2 * p + 1, (2, n), generator=gen).tolist()
    return torch.stack([xp[i, :, dy[i]:dy[i] + s, dx[i]:dx[i] + s] for i in range(n)])


@torch.no_grad()
def batched_apply(fn, x_u8: torch.Tensor, device, batch: int = 256) -> torch.Tensor:
    return torch.cat([fn(frames_to_tensor(x_u8[i:i + batch], device)).cpu() for i in range(0, len(x_u8), batch)])


def nn_accuracy(gallery_emb, gallery_lab, query_emb, query_lab) -> np.ndarray:
    """Per-query 0/1: is the nearest gallery item (cosine) of the same label?"""
    sim = F.normalize(query_emb, dim=1) @ F.normalize(gallery_emb, dim=1).t()
    return (gallery_lab[sim.argmax(1)] == query_lab).numpy().astype(np.float64)


def _fit(kind: str, cfg: dict, faces: dict, ckpt: Checkpoint, device: str, force_retrain: bool, progress: bool):
    """Train one teacher net on the face set (one epoch per unit), resuming after the last saved epoch."""
    tc = TeacherTrainConfig(**cfg["train"])
    torch.manual_seed(cfg["seed"])
    net = build_net(kind, cfg).to(device)
    train_mask = ~faces["heldout"]
    images = torch.from_numpy(faces["images"])
    if kind == "identity":   # labels: training identities renumbered 0..n-1
        ids = np.unique(faces["identity"][train_mask])
        labels = torch.from_numpy(np.searchsorted(ids, faces["identity"]))
    else:
        labels = torch.from_numpy(faces["emotion"])
    x_train, y_train = images[train_mask], labels[train_mask]
    if torch.device(device).type == "cuda":
        x_train = x_train.to(device)      # uint8 on the GPU (a quarter of float32's bytes); batches indexed there
    held = torch.from_numpy(np.flatnonzero(faces["heldout"]))
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = (len(x_train) + tc.batch_size - 1) // tc.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=tc.epochs * steps_per_epoch, pct_start=0.2)

    def epoch_fn(epoch: int) -> dict:
        t0 = time.perf_counter()
        net.train()
        torch.manual_seed(cfg["seed"] * 1000 + epoch)                     # dropout: same after a resume
        gen = torch.Generator().manual_seed(cfg["seed"] * 1000 + epoch)   # batches and augmentation too
        order = torch.randperm(len(x_train), generator=gen)
        total, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"{kind} teacher epoch {epoch + 1}/{tc.epochs}",
                   disable=not progress, leave=False)
        for b in bar:
            idx = order[b * tc.batch_size:(b + 1) * tc.batch_size]
            x = _augment(frames_to_tensor(x_train[idx], device), tc.shift, gen)   # on the device
            y = y_train[idx].to(device)
            logits = net.cosine_logits(net(x), y) if kind == "identity" else net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=tc.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total = total + loss.detach().double() * len(y)   # tensors: no host sync per step
            correct = correct + (logits.argmax(1) == y).sum()
            seen += len(y)
        net.eval()
        return {"epoch": epoch + 1, "loss": float(total) / seen, "train_acc": int(correct) / seen,
                "val_acc": _validate(kind, net, faces, held, device), "seconds": time.perf_counter() - t0}

    result = run_resumable(ckpt, tc.epochs, epoch_fn, {"model": net, "opt": opt, "sched": sched}, save_every=1,
                           force_retrain=force_retrain, progress=progress, desc=f"{kind} teacher")
    return net.eval(), history_columns(result.history), not result.trained


def _validate(kind: str, net, faces: dict, held: torch.Tensor, device) -> float:
    """Held-out identities (never trained on). Identity: 1-NN accuracy, gallery = each identity's
    even-numbered images, queries = the odd ones. Emotion: classification accuracy."""
    x = torch.from_numpy(faces["images"])[held]
    if kind == "identity":
        emb = batched_apply(net, x, device)
        lab = torch.from_numpy(faces["identity"])[held]
        gallery = torch.arange(len(held)) % 2 == 0
        return float(nn_accuracy(emb[gallery], lab[gallery], emb[~gallery], lab[~gallery]).mean())
    pred = batched_apply(net, x, device).argmax(1)
    return float((pred == torch.from_numpy(faces["emotion"])[held]).float().mean())


def train_teachers(profile, seed: int = 0, device: str = "cpu", force_retrain: bool = False,
                   progress: bool = True) -> dict:
    """Generate the face set and train both in-project teachers (or reuse their checkpoints).

    Returns {"face_set": {...}, "identity": log, "emotion": log}; a log has per-epoch lists epoch,
    loss, train_acc, val_acc (held-out face-set identities), seconds, plus reused (bool)."""
    from ..data.teacher_faces import face_set_config, make_face_set
    profile = as_profile(profile)
    cfgs = teacher_configs(profile, seed)
    ckpts = {k: teacher_checkpoint(profile, k, c) for k, c in cfgs.items()}
    out = {}
    if not force_retrain and all(c.is_done() for c in ckpts.values()):
        for kind, c in ckpts.items():   # nothing to do: no face set needed
            out[kind] = {**history_columns(c.load()["history"]), "reused": True}
        out["face_set"] = {"reused": True}
        return out
    t0 = time.perf_counter()
    faces = make_face_set(face_set_config(profile, seed), progress=progress)
    out["face_set"] = {"n_images": int(len(faces["images"])), "n_identities": int(faces["identity"].max() + 1),
                       "seconds": time.perf_counter() - t0, "reused": False}
    for kind in ("identity", "emotion"):
        _, log, reused = _fit(kind, cfgs[kind], faces, ckpts[kind], device, force_retrain, progress)
        out[kind] = {**log, "reused": reused}
    return out
