"""Face crops of one decoded clip: nearest-frame resampling, face boxes (sidecar or detector), the crop.

The crop is a square of crop_scale x the face box's longer side, its centre and side smoothed over
time so that detector jitter never becomes apparent head motion, resized with antialiasing.
"""
from pathlib import Path

import numpy as np

from .checks import ClipProblem, PrepareConfig
from .faces import DetectConfig, NoFaceError, compare_boxes, detect_face_boxes
from .readers import ClipSource


def resample_indices(times: np.ndarray, n_out: int, fps: int) -> np.ndarray:
    """For each output frame t (at t / fps seconds) the source frame nearest in time.

    Nearest-frame resampling (not blending): 30 -> 25 fps repeats no frame and drops one in six,
    and every output frame is a real decoded frame, so mouth shapes are never averaged.
    (video_io.read_video_resampled makes the same choice while streaming.)
    """
    if len(times) == 1:
        return np.zeros(n_out, int)
    tau = np.arange(n_out) / fps
    j = np.clip(np.searchsorted(times, tau), 1, len(times) - 1)
    return np.where(tau - times[j - 1] <= times[j] - tau, j - 1, j)


def crop_boxes(boxes: np.ndarray, scale: float, sigma: float) -> np.ndarray:
    """Square crop boxes (T, 4) around the face boxes: centre and side smoothed over time."""
    from scipy.ndimage import gaussian_filter1d
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    side = scale * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    if len(boxes) > 1 and sigma > 0:   # steady crop: detector/box jitter must not become apparent head motion
        cx, cy, side = (gaussian_filter1d(v, sigma, mode="nearest") for v in (cx, cy, side))
    half = np.maximum(side, 2.0) / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], 1)


def crop_faces(frames: np.ndarray, boxes: np.ndarray, size: int, scale: float, sigma: float) -> np.ndarray:
    """Square crops around the (smoothed) box centres, resized to size x size with antialiasing."""
    from PIL import Image
    T, H, W, _ = frames.shape
    crops = crop_boxes(boxes, scale, sigma)
    # crops reaching past the border read replicated edge pixels
    pad = int(np.ceil(max(0.0, -crops[:, :2].min(), (crops[:, 2] - W).max(), (crops[:, 3] - H).max())))
    if pad:
        frames = np.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.empty((T, size, size, 3), np.uint8)
    for t in range(T):
        # PIL's resampling filters widen with the reduction factor: antialiased when shrinking
        out[t] = np.asarray(Image.fromarray(frames[t]).resize((size, size), Image.Resampling.BILINEAR,
                                                              box=tuple(crops[t] + pad)))
    return out


def sidecar_boxes(clip: ClipSource, root: Path) -> np.ndarray:
    """Ground-truth face boxes (T_src, 4) from the clip's sidecar; gaps filled from neighbours."""
    if not clip.boxes.exists():
        raise ClipProblem(clip.boxes.relative_to(root), "missing face-box sidecar", "")
    try:
        with np.load(clip.boxes) as z:
            boxes = np.asarray(z["face_box"], np.float64)
    except Exception as e:   # any damage to the sidecar is a defect of this clip
        raise ClipProblem(clip.boxes.relative_to(root), "unreadable face-box sidecar", type(e).__name__) from None
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ClipProblem(clip.boxes.relative_to(root), "face boxes have the wrong shape", str(boxes.shape))
    ok = np.isfinite(boxes).all(axis=1)
    if not ok.any():
        raise ClipProblem(clip.boxes.relative_to(root), "no face box in any frame", "")
    if not ok.all():   # fill frames without a box from their neighbours
        t = np.arange(len(boxes))
        boxes = np.stack([np.interp(t, t[ok], boxes[ok, k]) for k in range(4)], axis=1)
    return boxes


def face_boxes(video, clip: ClipSource, root: Path, cfg: PrepareConfig) -> tuple[np.ndarray, dict]:
    """Face boxes (n_out, 4) for the kept frames, and per-clip face statistics for faces.csv."""
    if not clip.detect:
        boxes = sidecar_boxes(clip, root)
        return boxes[np.minimum(video.src_index, len(boxes) - 1)], {"face_source": "sidecar"}
    try:
        boxes, _, stats = detect_face_boxes(video.frames, cfg.fps, cfg.detect or DetectConfig())
    except NoFaceError as e:
        raise ClipProblem(clip.video.relative_to(root), e.reason, e.value) from None
    stats["face_source"] = "detect"
    if clip.boxes is not None and clip.boxes.exists():   # the twin: how close is the detector to the truth?
        try:
            truth = sidecar_boxes(clip, root)
            stats.update(compare_boxes(boxes, truth[np.minimum(video.src_index, len(truth) - 1)]))
        except ClipProblem:
            pass   # a broken sidecar does not matter when detecting
    return boxes, stats
