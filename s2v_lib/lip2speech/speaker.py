"""The speaker identity module: a face -> "speaker embedding" in the frozen GE2E voice space.

Paper: an Inception-ResNet face recogniser (pretrained on CASIA-WebFace), first 3 of its 5 blocks
frozen and the rest fine-tuned, mapped by instance-based contrastive learning onto the embeddings a
frozen speech speaker encoder gives the same clip's audio. Here: the study's identity teacher
(notebook 02's choice). For the trained VGG-style teacher, its first `frozen_stages` stages stay
frozen and the later stages, its embedding layer and a linear map to the 256-d GE2E space are
fine-tuned; dlib's ResNet (if chosen) stays wholly frozen under a trained 2-layer head (fine-tuning
it at 150 px is out of a CPU budget). The loss is a symmetric InfoNCE over a batch holding one clip
per actor (so no same-speaker pair is a false negative): face i should be nearest voice i.
"""
import copy
import dataclasses
import hashlib
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..atomic import save_npz
from ..paths import cache_root, checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable
from .config import SpeakerConfig


def ge2e_embeddings(ge2e, arrays, progress: bool = True) -> dict:
    """clip id -> GE2E embedding (256,) of the clip's real audio (cached beside the split's arrays)."""
    h = hashlib.sha1(json.dumps(sorted(arrays.ids)).encode())
    for c in sorted(arrays.ids):            # the audio itself: another twin with the same clip names differs
        h.update(arrays.wav[c].tobytes())
    key = h.hexdigest()[:12]
    path = cache_root() / "lip2speech" / f"ge2e-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            if set(z.files) >= set(arrays.ids):
                return {c: z[c] for c in arrays.ids}
    out = {c: ge2e.embed_many([arrays.wav[c]])[0] for c in tqdm(arrays.ids, desc="GE2E of real speech",
                                                                   disable=not progress, leave=False)}
    save_npz(path, **out)
    return out


def actor_voice_embeddings(manifest, emb: dict) -> dict:
    """The oracle's conditioning: for each clip, the mean GE2E of the SAME actor's OTHER clips (a
    reference utterance, so the conditioning carries the voice and not this clip's content), or the
    clip's own when the actor has no other clip in the set."""
    actor = manifest.set_index("clip_id")["actor"]
    by_actor = {}
    for c in emb:
        by_actor.setdefault(actor[c], []).append(c)
    out = {}
    for c, v in emb.items():
        others = [emb[o] for o in by_actor[actor[c]] if o != c] or [v]
        m = np.mean(others, 0)
        out[c] = (m / np.linalg.norm(m)).astype(np.float32)
    return out


class FaceSpeakerEncoder(nn.Module):
    """face crop (N, 3, S, S) in [0, 1] -> L2-normalised speaker embedding (N, 256)."""

    def __init__(self, teacher, cfg: SpeakerConfig, out_dim: int = 256):
        super().__init__()
        self.kind = "trained" if hasattr(teacher, "net") and hasattr(teacher.net, "stages") else "frozen"
        if self.kind == "trained":
            self.net = copy.deepcopy(teacher.net)
            self.input_size = teacher.input_size
            for i, stage in enumerate(self.net.stages):
                stage.requires_grad_(i >= cfg.frozen_stages)
            self.net.embed.requires_grad_(True)
            self.net.class_weight.requires_grad_(False)
            self.head = nn.Linear(self.net.cfg.embed_dim, out_dim)
        else:
            self.teacher = teacher
            self.head = nn.Sequential(nn.Linear(teacher.dim, 256), nn.ReLU(), nn.Linear(256, out_dim))
        self.frozen_stages = cfg.frozen_stages

    def train(self, mode: bool = True):
        super().train(mode)
        if self.kind == "trained":       # frozen stages keep their BatchNorm statistics too
            for s in self.net.stages[: self.frozen_stages]:
                s.eval()
        else:
            self.teacher.eval()
        return self

    def forward(self, faces):
        if self.kind == "trained":
            x = faces if faces.shape[-1] == self.input_size else F.interpolate(
                faces, size=(self.input_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
            feat = self.net(x)
        else:
            with torch.no_grad():
                feat = self.teacher.embed(faces)
        return F.normalize(self.head(feat), dim=-1)


def fingerprint(module) -> str:
    """A hash of a module's weights: a retrained identity teacher must not reuse this module's checkpoint."""
    h = hashlib.sha1()
    for k, v in module.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def info_nce(face, voice, temperature):
    logits = face @ voice.t() / temperature
    labels = torch.arange(len(face), device=face.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)), logits


def train_speaker_encoder(profile, data, teacher, ge2e_train: dict, cfg: SpeakerConfig, device="cpu",
                          force_retrain=False, progress=True):
    """Fit the face -> GE2E mapping on training clips (a random frame of a random clip per actor per step)."""
    clips = data.clips("train")
    clips = clips[clips["clip_id"].isin(list(ge2e_train))]
    by_actor = {a: list(g["clip_id"]) for a, g in clips.groupby("actor")}
    actors = sorted(by_actor)
    faces = {c: data.load(c)[0] for c in clips["clip_id"]}                   # uint8 (T, S, S, 3)
    key = {"cfg": dataclasses.asdict(cfg), "teacher": type(teacher).__name__, "teacher_weights": fingerprint(teacher),
           "n": len(faces),
           "ids": hashlib.sha1("".join(sorted(faces)).encode()).hexdigest()[:10], "data": str(data.root)}
    torch.manual_seed(cfg.seed)
    enc = FaceSpeakerEncoder(teacher, cfg).to(device)
    opt = torch.optim.Adam([p for p in enc.parameters() if p.requires_grad], lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    n = min(cfg.batch, len(actors))

    def step(i):
        enc.train()
        pick = rng.choice(len(actors), size=n, replace=False)
        cids = [by_actor[actors[j]][rng.integers(len(by_actor[actors[j]]))] for j in pick]
        frames = np.stack([faces[c][rng.integers(len(faces[c]))] for c in cids])
        x = torch.from_numpy(frames).to(device).float().div(255).permute(0, 3, 1, 2)
        v = torch.from_numpy(np.stack([ge2e_train[c] for c in cids])).to(device)
        loss, logits = info_nce(enc(x), v, cfg.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = float((logits.argmax(1) == torch.arange(n, device=device)).float().mean())
        return {"step": i + 1, "loss": float(loss.detach()), "acc": acc, "chance": 1.0 / n}

    ckpt = Checkpoint(checkpoint_dir(profile.name) / "lip2speech_speaker", key)
    res = run_resumable(ckpt, cfg.steps, step, {"model": enc, "opt": opt}, {"batches": rng},
                        save_every=max(10, cfg.steps // 4), force_retrain=force_retrain, progress=progress,
                        desc="speaker encoder (face -> GE2E)", postfix=lambda r: {"loss": f"{r['loss']:.3f}"})
    return enc.eval(), res.history, ckpt.hash


@torch.no_grad()
def face_embeddings(enc, data, ids, device="cpu") -> dict:
    """clip id -> speaker embedding of the clip's FIRST frame (the paper's inference input)."""
    out = {}
    ids = list(ids)
    for i in range(0, len(ids), 64):
        chunk = ids[i:i + 64]
        x = torch.from_numpy(np.stack([data.load(c)[0][0] for c in chunk])).to(device).float().div(255).permute(0, 3, 1, 2)
        out.update(zip(chunk, enc.eval()(x).cpu().numpy().astype(np.float32)))
    return out
