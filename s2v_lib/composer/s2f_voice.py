"""The Speech2Face voice encoder (first half of S2F+SDFA): training on the identity teacher's
embedding of each clip's first frame, and its face vectors for the clips."""
import numpy as np
import torch

from .. import losses
from ..config import as_profile
from ..frames import frames_to_tensor
from ..models.s2f import VoiceEncoder
from ..models.students import l_distill
from ..paths import checkpoint_dir, results_dir
from ..train.checkpoint import Checkpoint
from ..train.loop import train
from ..train.windows import ClipBank, WindowSampler
from .clips import data_key, load_clips
from .configs import VOICE_UTTERANCE_NORM, VoiceTrainConfig, seed_suffix, voice_config


class VoiceTask:
    """Speech2Face voice encoder: normalised L2 + distillation loss to the identity teacher's feature."""

    def __init__(self, cfg: VoiceTrainConfig):
        self.cfg = cfg
        self.nets = {"E": VoiceEncoder(cfg.model)}
        self.optims = {"E": torch.optim.Adam(self.nets["E"].parameters(), cfg.lr)}

    def train_step(self, batch, ctx):
        pred = self.nets["E"](batch["voice"])
        l2 = losses.normalized_l2(pred, batch["nu_target"])
        kd = l_distill(pred.float(), batch["nu_target"].float(), "standard")
        loss = self.cfg.w_norm_l2 * l2 + self.cfg.w_distill * kd
        self.optims["E"].zero_grad(set_to_none=True)
        loss.backward()
        self.optims["E"].step()
        cos = torch.nn.functional.cosine_similarity(pred.detach(), batch["nu_target"], dim=-1).mean()
        return {"loss": loss.detach(), "norm_l2": l2.detach(), "distill": kd.detach(), "cos": cos}


def _identity_targets(data, ids, teacher, device) -> dict:
    """nu* = T_id(phi_0): the identity teacher's embedding of each clip's first frame."""
    out = {}
    with torch.no_grad():
        for i in range(0, len(ids), 64):
            chunk = ids[i:i + 64]
            firsts = np.stack([data.load(c)[0][0] for c in chunk])
            x = frames_to_tensor(firsts, device)
            emb = teacher.embed(x).float().cpu().numpy()
            out.update(zip(chunk, emb))
    return out


def train_voice_encoder(profile, data, teacher, device="cpu", seed=0, steps=None, force_retrain=False,
                        progress=True, require_done=False, utterance_norm=None, tag=""):
    """The Speech2Face voice encoder (first half of S2F+SDFA); returns (encoder, history, ckpt hash).
    tag names the training log of a side run (train_s2f_voice_<tag>.csv)."""
    profile = as_profile(profile)
    utterance_norm = VOICE_UTTERANCE_NORM if utterance_norm is None else utterance_norm
    clips, ids = load_clips(data, "train")
    targets = _identity_targets(data, ids, teacher, device)
    for clip, cid in zip(clips, ids):
        clip["nu_target"] = targets[cid]
    out_dim = len(next(iter(targets.values())))
    cfg = voice_config(profile, out_dim, seed, steps, data_key(data), utterance_norm)
    task = VoiceTask(cfg)
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "s2f_voice", cfg)
    hist = train(task, WindowSampler(ClipBank(clips, ids), cfg.loop, vector_keys=("nu_target",)), cfg.loop, ckpt,
                 device=device, log_path=results_dir(profile.name) / f"train_s2f_voice{'_' + tag if tag else ''}{seed_suffix(seed)}.csv",
                 force_retrain=force_retrain, progress=progress, desc="S2F voice encoder", require_done=require_done)
    return task.nets["E"].eval(), hist, ckpt.hash


@torch.no_grad()
def voice_face_vectors(encoder, data, ids, device="cpu") -> dict:
    """The voice encoder's face feature for each clip, from the whole utterance."""
    return {cid: encoder(torch.from_numpy(data.load(cid)[1]).to(device)[None]).float().cpu().numpy()[0]
            for cid in ids}
