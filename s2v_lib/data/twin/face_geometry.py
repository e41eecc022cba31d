"""Geometry and drawing helpers of the twin's face renderer (face.py): Bezier curves, ellipses, strokes."""
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw


@lru_cache(maxsize=None)
def _bez_basis(n, cubic):
    t = np.linspace(0, 1, n)[:, None]
    if cubic:
        return np.concatenate([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3], 1)
    return np.concatenate([(1 - t) ** 2, 2 * (1 - t) * t, t ** 2], 1)


def bez(p0, p1, p2, n=12):
    """Quadratic Bezier curve, (n, 2)."""
    return _bez_basis(n, False) @ np.array((p0, p1, p2), np.float64)


def bez3(p0, p1, p2, p3, n=16):
    """Cubic Bezier curve, (n, 2)."""
    return _bez_basis(n, True) @ np.array((p0, p1, p2, p3), np.float64)


@lru_cache(maxsize=None)
def _unit_arc(n, a0, a1):
    a = np.linspace(a0, a1, n, endpoint=(a1 - a0) < 2 * np.pi - 1e-6)
    return np.cos(a), np.sin(a)


def ell_pts(cx, cy, rx, ry, rot=0.0, n=28, a0=0.0, a1=2 * np.pi):
    """Points on an ellipse (arc a0..a1), rotated by `rot`."""
    ca, sa = _unit_arc(n, a0, a1)
    x, y = rx * ca, ry * sa
    if rot == 0.0:
        return np.stack([cx + x, cy + y], 1)
    c, s = np.cos(rot), np.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def stroke(pts, w0, w1=None):
    """Polygon of a polyline with width tapering from w0 to w1."""
    pts = np.asarray(pts, np.float64)
    d = np.empty_like(pts)
    d[1:-1] = pts[2:] - pts[:-2]
    d[0], d[-1] = pts[1] - pts[0], pts[-1] - pts[-2]
    nrm = np.stack([-d[:, 1], d[:, 0]], 1)
    nrm /= np.sqrt((nrm ** 2).sum(1, keepdims=True)) + 1e-9
    w = (np.full(len(pts), 0.5 * w0) if w1 is None else np.linspace(0.5 * w0, 0.5 * w1, len(pts)))[:, None]
    return np.concatenate([pts + nrm * w, (pts - nrm * w)[::-1]])


def _rgb(col) -> tuple:
    return tuple(min(255, max(0, int(float(c) * 255 + 0.5))) for c in col)


class _Painter:
    """Draws face-space polygons on a PIL image whose pixel (0, 0) sits at hi-res pixel `origin`."""

    def __init__(self, img, scale, offset, origin=(0, 0)):
        self.img, self.scale = img, scale
        self.off = np.asarray(offset, np.float64) - np.asarray(origin, np.float64)
        self.draw = ImageDraw.Draw(img)

    def px(self, pts):
        return np.asarray(pts, np.float64) * self.scale + self.off

    def _ink(self, col):
        rgb = _rgb(col)
        return rgb[0] if self.img.mode == "L" else (*rgb, 255) if self.img.mode == "RGBA" else rgb

    def poly(self, pts, col, alpha=1.0, clip=None):
        p = self.px(pts)
        if alpha >= 1.0 and clip is None:
            self.draw.polygon(p.ravel().tolist(), fill=self._ink(col))
            return
        x0, y0 = np.floor(p.min(0)).astype(int) - 1
        x1, y1 = np.ceil(p.max(0)).astype(int) + 2
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.img.width), min(y1, self.img.height)
        if x1 <= x0 or y1 <= y0:
            return
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(mask).polygon((p - (x0, y0)).ravel().tolist(), fill=int(round(255 * alpha)))
        if clip is not None:
            from PIL import ImageChops
            mask = ImageChops.multiply(mask, clip.crop((x0, y0, x1, y1)))
        self.img.paste(self._ink(col), (x0, y0, x1, y1), mask)


# Mouth curves are quadratic Beziers from corner to corner with the control point at x = 0; such a
# curve is linear in x, so it is sampled at x = hw * u as y(u) = corner + (1 - u^2) / 2 * (control - corner),
# and a lip is the curve offset by its thickness profile (thin at the corners, cupid's bow on top).
_LIP_U = np.linspace(-1.0, 1.0, 17)
_LIP_ARC = 0.5 * (1 - _LIP_U ** 2)
_LIP_UPPER = (1 - _LIP_U ** 2) ** 0.6 * (1 - 0.15 * np.exp(-(_LIP_U / 0.25) ** 2))
_LIP_LOWER = (1 - _LIP_U ** 2) ** 0.8
