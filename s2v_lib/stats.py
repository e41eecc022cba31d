"""Bootstrap confidence intervals over clips (docs/design.md §7: every metric with a 95% interval).

    mean, lo, hi = bootstrap_ci(per_clip_values)                # percentile interval of the mean
    diff, lo, hi = paired_bootstrap(a, b)                       # mean(a - b) over the same clips
    mean, lo, hi = cluster_bootstrap_ci(values, actors)         # resampling whole actors, not clips
"""
import numpy as np


def bootstrap_ci(values, n: int = 1000, seed: int = 0, stat=np.mean, alpha: float = 0.05):
    """(stat(values), lo, hi): the point value and the percentile bootstrap interval (resampling items)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n, v.size))
    boots = np.array([stat(v[i]) for i in idx]) if stat is not np.mean else v[idx].mean(1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(stat(v)), float(lo), float(hi)


def paired_bootstrap(a, b, n: int = 1000, seed: int = 0, stat=np.mean, alpha: float = 0.05):
    """(stat(a - b), lo, hi, p) for paired per-item values a, b (same items, same order).

    p is the two-sided bootstrap p-value of "no difference": twice the smaller share of resampled
    differences on either side of 0 (clipped to 1).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap needs equal shapes, got {a.shape} and {b.shape}")
    d = a - b
    if d.size == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(n, d.size))
    boots = np.array([stat(d[i]) for i in idx]) if stat is not np.mean else d[idx].mean(1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, 2 * min((boots <= 0).mean(), (boots >= 0).mean()))
    return float(stat(d)), float(lo), float(hi), float(p)


def cluster_bootstrap_ci(values, groups, n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over items; 95% interval from resampling whole groups (actors), since clips of one actor are
    not independent. NaN items are left out (the mean and every resample are over the scored items)."""
    values, groups = np.asarray(values, float), np.asarray(groups)
    ok = ~np.isnan(values)
    values, groups = values[ok], groups[ok]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    uniq = np.unique(groups)
    sums = np.array([values[groups == g].sum() for g in uniq])
    counts = np.array([(groups == g).sum() for g in uniq])
    idx = np.random.default_rng(seed).integers(0, len(uniq), size=(n, len(uniq)))
    boots = sums[idx].sum(1) / counts[idx].sum(1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(values.mean()), float(lo), float(hi)


def ci_dict(values, **kw) -> dict:
    """{"mean": m, "lo": l, "hi": h} (the results/*.json format)."""
    m, lo, hi = bootstrap_ci(values, **kw)
    return {"mean": m, "lo": lo, "hi": hi}
