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


def _local_means(a: np.ndarray, squares: bool) -> tuple:
    """scikit-image's uniform_filter (size 7, reflect mode) of a float64 (T, H, W, 3) clip, every frame and
    channel on its own, cropped by 3 pixels as its SSIM crops the map; optionally also that of a * a."""
    from scipy.ndimage import uniform_filter
    size, pad = (1, WIN_SSIM, WIN_SSIM, 1), (WIN_SSIM - 1) // 2
    inner = (slice(None), slice(pad, a.shape[1] - pad), slice(pad, a.shape[2] - pad))
    u = uniform_filter(a, size)[inner]
    return (u, uniform_filter(a * a, size)[inner]) if squares else (u,)


@dataclass
class SSIMReference:
    """The reference clip's share of SSIM (its frames as float64, local means and local means of squares),
    computed once when several generated clips are scored against the same truth."""
    frames: np.ndarray           # float64 (T, H, W, 3)
    mean: np.ndarray             # (T, H - 6, W - 6, 3)
    mean_sq: np.ndarray

    @classmethod
    def of(cls, ref: np.ndarray) -> "SSIMReference":
        y = np.asarray(ref).astype(np.float64)
        return cls(y, *_local_means(y, squares=True))


def ssim_frames(gen: np.ndarray, ref: np.ndarray, reference: SSIMReference | None = None) -> np.ndarray:
    """(T,) SSIM per frame, scikit-image's structural_similarity(gen, ref, data_range=255, channel_axis=-1)
    computed for a whole clip at once: its float64 arithmetic (uniform_filter of size 7 in reflect mode
    per frame and channel, sample covariance, the map cropped by 3 pixels, its mean over pixels, then
    over channels), with one filter call per quantity and clip instead of 15 per frame. It differs from
    the per-frame calls by float rounding only (~1e-15, tests/test_metrics.py). `reference`
    (SSIMReference.of(ref)) skips the reference's share when many methods are scored against one truth."""
    gen, ref = _check_pair(gen, ref)
    t = len(gen)
    r = reference or SSIMReference.of(ref)
    if r.frames.shape[1:] != ref.shape[1:] or len(r.frames) < t:
        raise ValueError(f"SSIM reference of shape {r.frames.shape} does not match the clip {ref.shape}")
    n = WIN_SSIM * WIN_SSIM
    cov_norm, c1, c2 = n / (n - 1), (0.01 * _R) ** 2, (0.03 * _R) ** 2
    x = gen.astype(np.float64)
    ux, uxx = _local_means(x, squares=True)
    x *= r.frames[:t]
    uxy = _local_means(x, squares=False)[0]
    uy, uyy = r.mean[:t], r.mean_sq[:t]
    # the same expressions as scikit-image's, in place where it saves a pass
    uxuy = ux * uy
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - uxuy)
    num = 2 * uxuy + c1
    num *= 2 * vxy + c2
    den = ux ** 2 + uy ** 2 + c1
    vx += vy
    vx += c2
    den *= vx
    num /= den
    return num.reshape(t, -1, num.shape[-1]).mean(axis=1).mean(axis=1)     # over pixels, then channels


def mse_frames(gen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    gen, ref = _check_pair(gen, ref)
    d = gen.astype(np.float64) - ref.astype(np.float64)
    return (d * d).mean(axis=(1, 2, 3))


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
