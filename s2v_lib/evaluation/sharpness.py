"""Sharpness and texture of generated frames: CPBD (the measure SDFA's paper reports) and hf_ratio.

CPBD  Narvekar & Karam's cumulative probability of blur detection, ported from the `cpbd` package
      (1.0.7, PyPI; itself a port of the authors' Matlab code). The package no longer imports (it needs
      `scipy.ndimage.imread`, removed in SciPy 1.2), so this is a line-by-line port with the per-pixel
      loops vectorised; tests/test_metrics.py checks parity with the package's own functions.
hf_ratio  high-frequency energy of the generated frames over the real frames' (see `hf_ratio`).
grid_ratio  how much of that energy sits on an upsampling grid, over the real frames' share (`grid_ratio`).
"""
import numpy as np
from scipy.ndimage import convolve
from skimage.feature import canny

from ..metrics import frame_positions

THRESHOLD = 0.002                     # share of canny edge pixels that makes a block an edge block
BETA = 3.6                            # fitting parameter of the blur-detection probability
BLOCK = 64                            # block height and width
WIDTH_JNB = np.concatenate([5 * np.ones(51), 3 * np.ones(205)])   # just-noticeable blur width per contrast
MAX_MARGIN = 100                      # the package walks at most 101 pixels to each side of an edge
_HSOBEL = np.array([[0.25, 0.5, 0.25], [0.0, 0.0, 0.0], [-0.25, -0.5, -0.25]])   # skimage HSOBEL_WEIGHTS
HF_CUTOFF = 0.25                      # half Nyquist, in cycles per pixel (Nyquist = 0.5)
GRID_PERIOD = 16                      # pixels: the period four x2 upsamplings can leave (grid_ratio)


def grayscale(frames: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB -> float64 (...) luma on 0..255 (ITU-R 601: PIL's mode "L", which cpbd reads)."""
    return np.round(frames[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]))


def _sobel_edges(image: np.ndarray) -> np.ndarray:
    """cpbd.octave.sobel: vertical-edge Sobel strength, Octave's threshold, simple thinning."""
    h = _HSOBEL / np.abs(_HSOBEL).sum()
    s = np.square(convolve(image, h.T))
    s[s <= 2 * np.sqrt(np.mean(s))] = 0
    z_col, z_row = np.zeros((s.shape[0], 1)), np.zeros((1, s.shape[1]))
    x = (s > np.c_[z_col, s[:, :-1]]) & (s > np.c_[s[:, 1:], z_col])
    y = (s > np.r_[z_row, s[:-1, :]]) & (s > np.r_[s[1:, :], z_row])
    return x | y


def _runs(mask: np.ndarray, leftward: bool) -> np.ndarray:
    """Per row, the length of the run of True that ends (leftward) or starts (rightward) at each column:
    the distance to the nearest False at or before (after) it, found with a running max of indices."""
    if not leftward:
        return _runs(mask[:, ::-1], leftward=True)[:, ::-1]
    cols = np.arange(mask.shape[1])
    last_false = np.maximum.accumulate(np.where(mask, -1, cols[None, :]), axis=1)
    return (cols[None, :] - last_false).astype(np.int64)


def _edge_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """cpbd.compute.marziliano_method, vectorised: at each Sobel edge pixel with a horizontal gradient
    (quantised angle 0 or +-180), the width of the intensity ramp through it, walking left and right
    while the intensity keeps rising (angle 0) or falling (+-180); 0 elsewhere."""
    h, w = image.shape
    gy, gx = np.gradient(image)
    # the package's angle rule, quirks kept: gx == 0 gives angle 0 unless gy is exactly pi/2 (then 90)
    angles = np.where(gx != 0, np.arctan2(gy, gx) * (180 / np.pi), np.where(gy == np.pi / 2, 90.0, 0.0))
    widths = np.zeros(image.shape)
    if not np.any(angles):
        return widths
    q = 45 * np.round(angles / 45)
    e = image[:, 1:] - image[:, :-1]                          # e[:, c] = I[c + 1] - I[c], (h, w - 1)
    inner = np.zeros((h, w), bool)
    inner[1:-1, 1:-1] = edges[1:-1, 1:-1].astype(bool)
    for rising, sel in ((True, q == 0), (False, (q == 180) | (q == -180))):
        mask = (e > 0) if rising else (e < 0)
        left, right = _runs(mask, leftward=True), _runs(mask, leftward=False)
        rows_i, cols_i = np.nonzero(inner & sel)
        # left walk from col - 2 (outer) / col - 1 (inner); right walk from col + 1 / col + 2
        lc, rc = cols_i - 2, cols_i + 1
        wl = np.where(lc >= 0, left[rows_i, np.clip(lc, 0, w - 2)], 0)
        wr = np.where(rc <= w - 2, right[rows_i, np.clip(rc, 0, w - 2)], 0)
        widths[rows_i, cols_i] = np.minimum(wl, MAX_MARGIN) + 1 + np.minimum(wr, MAX_MARGIN) + 1
    return widths


def cpbd_image(image: np.ndarray) -> float:
    """CPBD sharpness of one grayscale image on 0..255 (float): the share of edge pixels, in 64x64 edge
    blocks, whose probability of blur detection 1 - exp(-(width / JNB width)^3.6) is at most 0.63
    (histogram buckets 0..63 of 101). Higher = sharper; 0 when no block has edges.
    Images smaller than 64 px (the smoke profile's 48 px) are one block of their own size (the package
    would find no block and return 0)."""
    image = np.asarray(image, np.float64)
    edges_canny = canny(image)
    widths = _edge_widths(_sobel_edges(image), image)
    bh, bw = min(BLOCK, image.shape[0]), min(BLOCK, image.shape[1])
    hist = np.zeros(101)
    for i in range(image.shape[0] // bh):
        for j in range(image.shape[1] // bw):
            rows, cols = slice(bh * i, bh * (i + 1)), slice(bw * j, bw * (j + 1))
            if np.count_nonzero(edges_canny[rows, cols]) <= edges_canny[rows, cols].size * THRESHOLD:
                continue
            block_w = widths[rows, cols]
            block_w = block_w[block_w != 0]
            block = image[rows, cols]
            jnb = WIDTH_JNB[int(np.max(block) - np.min(block))]
            p_blur = 1 - np.exp(-np.abs(block_w / jnb) ** BETA)
            hist += np.bincount(np.round(p_blur * 100).astype(int), minlength=101)
    total = hist.sum()
    return float(hist[:64].sum() / total) if total > 0 else 0.0


def clip_cpbd(frames: np.ndarray) -> float:
    """A clip's CPBD: mean over its K evenly spaced frames (metrics.frame_positions) of `cpbd_image` of
    the grayscale frame (uint8 RGB (T, H, W, 3) in)."""
    gray = grayscale(np.asarray(frames)[frame_positions(len(frames))])
    return float(np.mean([cpbd_image(g) for g in gray]))


def hf_energy(frames: np.ndarray, cutoff: float = HF_CUTOFF) -> float:
    """Sum over frames of |2-D FFT|^2 of the grayscale frame (0..255, no window) at radial frequencies
    above `cutoff` cycles per pixel (default half Nyquist)."""
    gray = grayscale(np.asarray(frames))
    fy, fx = np.fft.fftfreq(gray.shape[-2]), np.fft.fftfreq(gray.shape[-1])
    high = np.hypot(fy[:, None], fx[None, :]) > cutoff
    return float((np.abs(np.fft.fft2(gray)) ** 2)[..., high].sum())


def hf_ratio(gen: np.ndarray, real: np.ndarray) -> float:
    """A clip's hf_ratio: hf_energy of the generated frames over that of its real frames (both cut to
    the shorter length). 1.0 = real-like texture, below = blur, above = noise / checkerboard; the ground
    truth scores 1.0 by construction. A method's value is the mean over test clips."""
    t = min(len(gen), len(real))
    return hf_energy(gen[:t]) / max(hf_energy(real[:t]), 1e-12)


def grid_spectrum_share(frames: np.ndarray, period: int, cutoff: float = HF_CUTOFF) -> float:
    """Share of the high-frequency power (radial frequency above `cutoff`) that sits on the frequency grid
    of a pattern repeating every `period` pixels (horizontal and vertical frequencies both multiples of
    1 / period), from the frames' summed grayscale power spectrum."""
    gray = grayscale(np.asarray(frames))
    power = (np.abs(np.fft.fft2(gray)) ** 2).sum(0)
    h, w = power.shape
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)                  # cycles per pixel
    high = np.hypot(fy[:, None], fx[None, :]) > cutoff
    # k cycles per frame of n pixels is on the grid when k / n is a multiple of 1 / period
    on_grid = ((np.round(fy * h) * period) % h == 0)[:, None] & ((np.round(fx * w) * period) % w == 0)[None, :]
    return float(power[high & on_grid].sum() / max(power[high].sum(), 1e-12))


def grid_ratio(gen: np.ndarray, real: np.ndarray, period: int = GRID_PERIOD) -> float:
    """A clip's grid_ratio: grid_spectrum_share of the generated frames over the real frames'. Four x2
    upsamplings that each treat the two phases of their output differently (the checkerboard of
    transposed convolutions, Odena et al. 2016) leave a pattern repeating every 2^4 = 16 pixels, whose
    power sits on that grid; real texture does not prefer it. 1.0 = no more periodic than real; above
    1 = a grid pattern, whatever the total high-frequency energy (which hf_ratio measures)."""
    t = min(len(gen), len(real))
    return grid_spectrum_share(gen[:t], period) / max(grid_spectrum_share(real[:t], period), 1e-12)
