"""Stage one's per-clip inputs: CPC's context sequence and the students' input w, and the teachers'
targets nu* (identity of the first frame) and mu* (Eq. 1: the emotion features averaged over K frames)."""
import hashlib
import zlib

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import audio as audio_features
from ..device import module_device
from ..frames import frames_to_tensor, random_frames
from ..models.cpc import CPC, context, pool_to_frames
from .cpc_training import at_most_threads


def eq1_frames(n_frames: int, k: int, seed: int, clip_id: str) -> np.ndarray:
    """pi_1..pi_K of Eq. (1): the K frames the emotion teacher sees for this clip (seeded by clip id,
    so the choice is stable across runs and independent of the clip order)."""
    return random_frames(n_frames, k, np.random.default_rng([seed, zlib.crc32(clip_id.encode())]))


@torch.no_grad()
def emotion_target_eq1(emotion_teacher, frames_u8: np.ndarray) -> torch.Tensor:
    """Eq. (1): mu* = (1/K) sum_k T_emo(phi_{pi_k}) over the K given frames -> (d_emo,) on the CPU."""
    x = frames_to_tensor(frames_u8, module_device(emotion_teacher))
    return emotion_teacher.features(x).mean(0).cpu()


@torch.no_grad()
def identity_target(identity_teacher, first_frame_u8: np.ndarray) -> torch.Tensor:
    """nu* = T_id(phi_0): the identity teacher's embedding of the clip's first frame -> (d_id,) on the CPU."""
    x = frames_to_tensor(first_frame_u8[None], module_device(identity_teacher))
    return identity_teacher.embed(x)[0].cpu()


@torch.no_grad()
def teacher_fingerprint(id_teacher, emo_teacher, size: int) -> str:
    """A hash of what the teachers output on a fixed probe: a retrained teacher changes the key."""
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(4, 3, size, size, generator=g)
    parts = [id_teacher.embed(x.to(module_device(id_teacher))), emo_teacher.features(x.to(module_device(emo_teacher)))]
    parts.append(emo_teacher.head(parts[1]))
    h = hashlib.sha1(str(list(emo_teacher.classes)).encode())
    for p in parts:
        h.update(np.round(p.detach().cpu().double().numpy(), 4).tobytes())
    return h.hexdigest()[:12]


@torch.no_grad()
def clip_inputs(data, cpc: CPC, id_teacher, emo_teacher, k_frames: int = 5, seed: int = 0,
                progress: bool = True) -> dict:
    """One pass over every clip -> arrays in manifest order, all on the CPU:
    clip_id, c (list of (T, D) float16 at 25 fps), w_last (N, D) = c_T, w_mean (N, D), logmel (N, 80),
    nu_teacher (N, d_id) = identity of the first frame, mu_teacher (N, d_emo) = Eq. (1) over K frames.
    One clip at a time: batch-1 ops run best on one thread, and padding clips into batches would change c_t."""
    cpc.eval()
    ids = list(data.manifest["clip_id"])
    out = {"clip_id": ids, "c": [], "w_last": [], "w_mean": [], "logmel": [], "nu_teacher": [], "mu_teacher": []}
    with at_most_threads(1 if module_device(cpc).type == "cpu" else torch.get_num_threads()):
        for cid in tqdm(ids, desc="speech features + teacher targets", disable=not progress, leave=False):
            frames, audio = data.load(cid)
            c100 = context(cpc, audio, len(frames))
            out["c"].append(pool_to_frames(c100).cpu().half())
            out["w_last"].append(c100[-1].cpu())
            out["w_mean"].append(c100.mean(0).cpu())
            out["logmel"].append(audio_features.logmel_utterance(audio))
            out["nu_teacher"].append(identity_target(id_teacher, frames[0]))
            out["mu_teacher"].append(emotion_target_eq1(emo_teacher, frames[eq1_frames(len(frames), k_frames, seed, cid)]))
    for k in ("w_last", "w_mean", "logmel", "nu_teacher", "mu_teacher"):
        out[k] = torch.stack(out[k]).float()
    return out
