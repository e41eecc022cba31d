"""Bootstrap confidence intervals over clips (docs/design.md §7: every metric with a 95% interval).

    mean, lo, hi = bootstrap_ci(per_clip_values)                # percentile interval of the mean
    diff, lo, hi = paired_bootstrap(a, b)                       # mean(a - b) over the same clips
    mean, lo, hi = hierarchical_bootstrap_ci(values)            # values (seeds, clips): over seeds and clips
    diff, lo, hi, p = paired_hierarchical_bootstrap(a, b)       # a (seeds_a, clips), b (seeds_b, clips)
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


def _seed_clip_matrix(values) -> np.ndarray:
    """(n_seeds, n_clips) float array; a 1-D input is one seed."""
    v = np.asarray(values, dtype=np.float64)
    return v[None] if v.ndim == 1 else v


def _seed_weights(rng, n_seeds: int, n: int) -> np.ndarray:
    """(n, n_seeds): per resample, how often each seed was drawn (with replacement), over n_seeds."""
    draws = rng.integers(0, n_seeds, size=(n, n_seeds))
    return np.stack([np.bincount(d, minlength=n_seeds) for d in draws]).astype(np.float64) / n_seeds


def _resampled_means(v: np.ndarray, clip_idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n, n_clips): per resample and resampled clip, the mean over the resampled seeds. One seed:
    weight 1.0 times the value, exactly the value (what makes the one-seed case the clip bootstrap)."""
    return np.einsum("ns,snc->nc", weights, v[:, clip_idx])


def hierarchical_bootstrap_ci(values, n: int = 1000, seed: int = 0, alpha: float = 0.05):
    """(mean, lo, hi) of a method's mean over seeds and test clips together.

    values: (n_seeds, n_clips), row s = seed s's per-clip values, the same clips in the same order
    in every row (1-D = one seed). Each resample draws the seeds with replacement, then the test
    clips with replacement, the same clip indices for every seed (all seeds are scored on the same
    clips), and takes the mean over both. The interval is the percentile interval of those means, so
    it holds both sources of variance: training (seeds) and the test sample (clips). Clips with a
    NaN in any seed are dropped first. With one seed it is bootstrap_ci (the same numbers: the clip
    indices are drawn first, from the same generator).
    """
    v = _seed_clip_matrix(values)
    v = v[:, ~np.isnan(v).any(0)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    clip_idx = rng.integers(0, v.shape[1], size=(n, v.shape[1]))
    weights = _seed_weights(np.random.default_rng([seed, 1]), v.shape[0], n)
    boots = _resampled_means(v, clip_idx, weights).mean(1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(v.mean(0).mean()), float(lo), float(hi)


def paired_hierarchical_bootstrap(a, b, n: int = 1000, seed: int = 0, alpha: float = 0.05):
    """(mean(a) - mean(b), lo, hi, p) for two methods scored on the same test clips, over seeds and clips.

    a: (n_seeds_a, n_clips), b: (n_seeds_b, n_clips), columns = the same clips in the same order
    (1-D = one seed). Each resample draws a's seeds and b's seeds independently with replacement
    (separately trained models), then the clips with replacement jointly for both (the pairing: both
    are scored on the same clips), and takes the difference of the two means. p as in
    paired_bootstrap. Clips with a NaN in either are dropped first. With one seed each it is
    paired_bootstrap (the same numbers).
    """
    a, b = _seed_clip_matrix(a), _seed_clip_matrix(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired_hierarchical_bootstrap needs the same clips, got {a.shape[1]} and {b.shape[1]}")
    keep = ~(np.isnan(a).any(0) | np.isnan(b).any(0))
    a, b = a[:, keep], b[:, keep]
    if a.shape[1] == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    clip_idx = rng.integers(0, a.shape[1], size=(n, a.shape[1]))
    wa = _seed_weights(np.random.default_rng([seed, 1]), a.shape[0], n)
    wb = _seed_weights(np.random.default_rng([seed, 2]), b.shape[0], n)
    boots = (_resampled_means(a, clip_idx, wa) - _resampled_means(b, clip_idx, wb)).mean(1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, 2 * min((boots <= 0).mean(), (boots >= 0).mean()))
    return float((a.mean(0) - b.mean(0)).mean()), float(lo), float(hi), float(p)
