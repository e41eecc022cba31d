"""Frame metrics with exact conventions (docs/design.md §7), and what the teachers say about generated faces.

SSIM  scikit-image `structural_similarity(gen, ref, data_range=255, channel_axis=-1)` on RGB uint8
      (7x7 uniform window, sample covariance, K1 0.01, K2 0.03, mean over channels), per frame; a clip's
      SSIM is the mean over its frames, a method's the mean over clips.
PSNR  two conventions, both reported:
      psnr_frame: mean over frames of 10 log10(255^2 / MSE_frame)   (skimage.metrics.peak_signal_noise_ratio)
      psnr_video: SDFA's per-video -10 log10(mean_frames(MSE) / 255^2)
      A frame identical to its reference has infinite PSNR; we floor MSE at 1e-10 (about 148 dB), which
      only a copy of the ground truth reaches.
Identity  the identity teacher's embedding of K evenly spaced frames, averaged (and re-normalised), against
      each seen actor's centroid (mean of L2-normalised embeddings of K frames per training clip);
      cosine similarity; rank 1 = the true actor is the nearest (top-1), rank <= 5 = top-5.
Emotion   the emotion teacher's logits averaged over the same K frames (K = 5, docs/design.md §10.5); argmax over
      the teacher's classes against the clip's emotion label.
"""
from dataclasses import dataclass

import numba
import numpy as np
import torch
from skimage.metrics import structural_similarity

from .device import module_device
from .frames import frames_to_tensor

K_FRAMES = 5          # frames per clip for the teachers (the paper's K, unspecified; ours 5)
MSE_FLOOR = 1e-10
WIN_SSIM = 7          # scikit-image's default uniform window

_R = 255.0


def _check_pair(gen: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if gen.dtype != np.uint8 or ref.dtype != np.uint8:
        raise ValueError(f"metrics take uint8 frames, got {gen.dtype} and {ref.dtype}")
    t = min(len(gen), len(ref))
    gen, ref = gen[:t], ref[:t]
    if gen.shape != ref.shape or gen.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, 3) of equal size, got {gen.shape} and {ref.shape}")
    return gen, ref


def ssim_frames_skimage(gen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(T,) SSIM per frame, one scikit-image call per frame: the reference `ssim_frames` is tested against."""
    gen, ref = _check_pair(gen, ref)
    return np.array([structural_similarity(g, r, data_range=_R, channel_axis=-1) for g, r in zip(gen, ref)])


@numba.njit(cache=True)
def _ssim_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:   # pragma: no cover (compiled)
    """(T,) SSIM of uint8 (T, H, W, C) clips: per frame and channel, integral images of x, y, x^2, y^2, xy
    (int64: exact) give every 7x7 window's sums; the window means, sample (co)variances and SSIM follow
    scikit-image's float64 formulas; the map's mean over the windows inside the frame (its 3-pixel crop),
    then over channels."""
    t_n, h, w, c_n = x.shape
    k, n = WIN_SSIM, WIN_SSIM * WIN_SSIM
    cov_norm, c1, c2 = n / (n - 1.0), (0.01 * _R) ** 2, (0.03 * _R) ** 2
    ho, wo = h - k + 1, w - k + 1
    out = np.zeros(t_n)
    ii = np.zeros((5, h + 1, w + 1), np.int64)
    for t in range(t_n):
        acc = 0.0
        for c in range(c_n):
            for i in range(h):
                r0 = r1 = r2 = r3 = r4 = 0
                for j in range(w):
                    a, b = np.int64(x[t, i, j, c]), np.int64(y[t, i, j, c])
                    r0 += a
                    r1 += b
                    r2 += a * a
                    r3 += b * b
                    r4 += a * b
                    ii[0, i + 1, j + 1] = ii[0, i, j + 1] + r0
                    ii[1, i + 1, j + 1] = ii[1, i, j + 1] + r1
                    ii[2, i + 1, j + 1] = ii[2, i, j + 1] + r2
                    ii[3, i + 1, j + 1] = ii[3, i, j + 1] + r3
                    ii[4, i + 1, j + 1] = ii[4, i, j + 1] + r4
            s = 0.0
            for i in range(ho):
                for j in range(wo):
                    ux = (ii[0, i + k, j + k] - ii[0, i, j + k] - ii[0, i + k, j] + ii[0, i, j]) / n
                    uy = (ii[1, i + k, j + k] - ii[1, i, j + k] - ii[1, i + k, j] + ii[1, i, j]) / n
                    uxx = (ii[2, i + k, j + k] - ii[2, i, j + k] - ii[2, i + k, j] + ii[2, i, j]) / n
                    uyy = (ii[3, i + k, j + k] - ii[3, i, j + k] - ii[3, i + k, j] + ii[3, i, j]) / n
                    uxy = (ii[4, i + k, j + k] - ii[4, i, j + k] - ii[4, i + k, j] + ii[4, i, j]) / n
                    vx = cov_norm * (uxx - ux * ux)
                    vy = cov_norm * (uyy - uy * uy)
                    vxy = cov_norm * (uxy - ux * uy)
                    s += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
            acc += s / (ho * wo)
        out[t] = acc / c_n
    return out


def ssim_frames(gen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(T,) SSIM per frame, scikit-image's structural_similarity(gen, ref, data_range=255, channel_axis=-1),
    computed by one compiled pass over the clip (_ssim_kernel): its window sums are exact integers, so
    it differs from scikit-image's float filters by rounding only (~1e-15, tests/test_metrics.py) and
    runs ~6x faster (scikit-image makes 15 small filter calls per frame)."""
    gen, ref = _check_pair(gen, ref)
    if min(gen.shape[1:3]) < WIN_SSIM:
        raise ValueError(f"SSIM needs frames of at least {WIN_SSIM}x{WIN_SSIM} pixels, got {gen.shape[1:3]}")
    return _ssim_kernel(np.ascontiguousarray(gen), np.ascontiguousarray(ref))


def mse_frames(gen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(T,) mean squared error per frame. Squared differences of uint8 are integers and their per-frame
    sums stay far below 2^53, so int64 sums divided once give exactly the float64 means, faster."""
    gen, ref = _check_pair(gen, ref)
    d = gen.astype(np.int32) - ref.astype(np.int32)
    return (d * d).reshape(len(d), -1).sum(axis=1, dtype=np.int64) / float(d[0].size if len(d) else 1)


def psnr_frames(gen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(T,) per-frame PSNR in dB (skimage peak_signal_noise_ratio with data_range=255)."""
    return 10 * np.log10(_R ** 2 / np.maximum(mse_frames(gen, ref), MSE_FLOOR))


def psnr_video(gen: np.ndarray, ref: np.ndarray) -> float:
    """SDFA's per-video PSNR: -10 log10(mean MSE over the video / 255^2)."""
    return float(-10 * np.log10(max(mse_frames(gen, ref).mean(), MSE_FLOOR) / _R ** 2))


def clip_quality(gen: np.ndarray, ref: np.ndarray) -> dict:
    """{"ssim", "psnr_frame", "psnr_video"} of one generated clip against its ground truth."""
    return {"ssim": float(ssim_frames(gen, ref).mean()), "psnr_frame": float(psnr_frames(gen, ref).mean()),
            "psnr_video": psnr_video(gen, ref)}


# ----------------------------------------------------------------------------- teachers on generated faces

def frame_positions(n_frames: int, k: int = K_FRAMES) -> np.ndarray:
    """k evenly spaced frame indices (deterministic: a generated clip and its truth use the same frames)."""
    return np.unique(np.linspace(0, n_frames - 1, min(k, n_frames)).round().astype(int))


@torch.no_grad()
def clip_embeddings(identity_teacher, clips_frames: list, k: int = K_FRAMES, batch: int = 256) -> np.ndarray:
    """(n_clips, dim): mean of the L2-normalised embeddings of k frames per clip, re-normalised."""
    picked = [f[frame_positions(len(f), k)] for f in clips_frames]
    owner = np.repeat(np.arange(len(picked)), [len(p) for p in picked])
    x = np.concatenate(picked)
    dev = module_device(identity_teacher)
    emb = torch.cat([identity_teacher.embed(frames_to_tensor(x[i:i + batch], dev)).float().cpu()
                     for i in range(0, len(x), batch)])
    emb = torch.nn.functional.normalize(emb, dim=1).numpy()
    out = np.stack([emb[owner == i].mean(0) for i in range(len(picked))])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@torch.no_grad()
def clip_emotion_logits(emotion_teacher, clips_frames: list, k: int = K_FRAMES, batch: int = 256) -> np.ndarray:
    """(n_clips, n_classes): the teacher's logits averaged over k frames per clip."""
    picked = [f[frame_positions(len(f), k)] for f in clips_frames]
    owner = np.repeat(np.arange(len(picked)), [len(p) for p in picked])
    x = np.concatenate(picked)
    dev = module_device(emotion_teacher)
    logits = torch.cat([emotion_teacher.logits(frames_to_tensor(x[i:i + batch], dev)).float().cpu()
                        for i in range(0, len(x), batch)]).numpy()
    return np.stack([logits[owner == i].mean(0) for i in range(len(picked))])


@dataclass
class ActorGallery:
    """Seen actors' identity centroids (rows L2-normalised) and their demographics."""
    actors: np.ndarray          # (A,)
    centroids: np.ndarray       # (A, dim)

    def ranks(self, emb: np.ndarray, true_actor: np.ndarray) -> np.ndarray:
        """1-based rank of each clip's true actor among the gallery (1 = nearest; A + 1 when it is not in
        the gallery): 1 + the number of actors strictly more similar than the true one."""
        sim = emb @ self.centroids.T
        col = {a: j for j, a in enumerate(self.actors)}
        out = np.full(len(emb), len(self.actors) + 1)
        for i, a in enumerate(true_actor):
            if a in col:
                out[i] = 1 + int((sim[i] > sim[i, col[a]]).sum())
        return out

    def nearest(self, emb: np.ndarray) -> np.ndarray:
        return self.actors[(emb @ self.centroids.T).argmax(1)]


def actor_gallery(identity_teacher, data, split: str = "train", k: int = K_FRAMES, progress: bool = False) -> ActorGallery:
    """Centroid per actor of the clip embeddings of its real `split` clips."""
    from tqdm.auto import tqdm
    clips = data.clips(split)
    frames = [data.load(c)[0] for c in tqdm(clips["clip_id"], desc="actor gallery", disable=not progress, leave=False)]
    emb = clip_embeddings(identity_teacher, frames, k)
    actors = np.array(sorted(clips["actor"].unique()))
    cent = np.stack([emb[clips["actor"].to_numpy() == a].mean(0) for a in actors])
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    return ActorGallery(actors, cent)


def emotion_predictions(emotion_teacher, logits: np.ndarray) -> np.ndarray:
    return np.asarray(emotion_teacher.classes)[logits.argmax(1)]
