"""SSIM and PSNR of whole clips on the run's device, in the tables' convention (metrics.py).

scikit-image's structural_similarity(gen, ref, data_range=255, channel_axis=-1) is, per channel: local
means, variances and covariance over a 7x7 uniform window with sample covariance (N / (N - 1)),
C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, the SSIM map's mean over the pixels whose window lies inside
the frame (it crops (7 - 1) / 2 pixels at each border), then the mean over channels. A 7x7 average pool
without padding computes exactly those windows, for every frame of a clip at once. Matches scikit-image
to within 1e-4 per frame (tests/test_metrics.py; in float64 the difference is rounding, ~1e-15). On the
CPU the tables use metrics.ssim_frames (compiled, faster than torch there); a CUDA run scores with this
on the device (evaluation/per_clip.py).
"""
import numpy as np
import torch
import torch.nn.functional as F

WIN = 7
_R = 255.0


def _as_float(frames, device) -> torch.Tensor:
    x = torch.as_tensor(np.ascontiguousarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    return x.to(device).permute(0, 3, 1, 2).double()        # (T, 3, S, S); float64 like scikit-image


@torch.no_grad()
def ssim_frames_device(gen, ref, device="cpu") -> torch.Tensor:
    """(T,) SSIM per frame of uint8 (T, S, S, 3) clips, computed on `device`."""
    x, y = _as_float(gen, device), _as_float(ref, device)
    n = WIN * WIN
    cov_norm = n / (n - 1)
    pool = lambda t: F.avg_pool2d(t, WIN, stride=1)         # noqa: E731  (valid windows = scikit-image's crop)
    ux, uy = pool(x), pool(y)
    vx = cov_norm * (pool(x * x) - ux * ux)
    vy = cov_norm * (pool(y * y) - uy * uy)
    vxy = cov_norm * (pool(x * y) - ux * uy)
    c1, c2 = (0.01 * _R) ** 2, (0.03 * _R) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).cpu()


@torch.no_grad()
def psnr_frames_device(gen, ref, device="cpu", mse_floor: float = 1e-10) -> torch.Tensor:
    """(T,) per-frame PSNR in dB, as metrics.psnr_frames."""
    mse = (_as_float(gen, device) - _as_float(ref, device)).pow(2).mean(dim=(1, 2, 3)).clamp_min(mse_floor)
    return (10 * torch.log10(_R ** 2 / mse)).cpu()
