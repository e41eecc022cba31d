"""The intervals every verdict rests on: the clip bootstrap, and the hierarchical (seeds, then clips)
bootstrap that reduces to it with one seed."""
import numpy as np
import pytest

from s2v_lib.stats import (bootstrap_ci, hierarchical_bootstrap_ci, paired_bootstrap,
                           paired_hierarchical_bootstrap)


def clips(n=60, seed=0):
    return np.random.default_rng(seed).normal(0.5, 0.1, n)


def test_one_seed_is_the_clip_bootstrap_to_the_bit():
    x, y = clips(seed=1), clips(seed=2)
    assert hierarchical_bootstrap_ci(x) == bootstrap_ci(x)
    assert hierarchical_bootstrap_ci(x[None], n=300, seed=5) == bootstrap_ci(x, n=300, seed=5)
    assert paired_hierarchical_bootstrap(x, y) == paired_bootstrap(x, y)
    assert paired_hierarchical_bootstrap(x[None], y[None], seed=3) == paired_bootstrap(x, y, seed=3)
    x_nan = x.copy()
    x_nan[[3, 10]] = np.nan                                   # NaN clips dropped, as the table drops them
    assert hierarchical_bootstrap_ci(x_nan) == bootstrap_ci(x_nan[~np.isnan(x_nan)])


def test_seed_variance_widens_the_interval():
    """Three seeds whose means differ (training variance): the interval over clips of the seed-averaged
    values ignores that spread; the hierarchical one covers it."""
    base = clips(200)
    v = np.stack([base + off for off in (-0.05, 0.0, 0.05)])
    m, lo, hi = hierarchical_bootstrap_ci(v)
    m1, lo1, hi1 = bootstrap_ci(v.mean(0))
    assert m == pytest.approx(m1)
    assert (hi - lo) > 2 * (hi1 - lo1)
    assert lo < base.mean() - 0.03 and hi > base.mean() + 0.03     # the seed means' spread is inside


def test_paired_detects_a_real_shift_and_not_a_null():
    rng = np.random.default_rng(0)
    clip_effect = rng.normal(0.5, 0.2, 80)                    # shared by both methods: the pairing removes it
    a = np.stack([clip_effect + 0.03 + rng.normal(0, 0.02, 80) for _ in range(3)])
    b = np.stack([clip_effect + rng.normal(0, 0.02, 80) for _ in range(3)])
    d, lo, hi, p = paired_hierarchical_bootstrap(a, b)
    assert lo > 0 and d == pytest.approx(0.03, abs=0.01) and p < 0.05
    null = np.stack([clip_effect + rng.normal(0, 0.02, 80) for _ in range(3)])
    d0, lo0, hi0, p0 = paired_hierarchical_bootstrap(null, b)
    assert lo0 < 0 < hi0 and p0 > 0.05
    # one seed against three (the single model of a baseline): still detected
    d1, lo1, hi1, _ = paired_hierarchical_bootstrap(a[:1], b)
    assert lo1 > 0
    # seeds resampled independently: a method whose seeds disagree makes the difference uncertain
    wild = np.stack([clip_effect + off for off in (-0.2, 0.03, 0.26)])
    _, lo2, hi2, _ = paired_hierarchical_bootstrap(wild, b)
    assert lo2 < 0 < hi2


def test_paired_hierarchical_needs_the_same_clips():
    with pytest.raises(ValueError, match="same clips"):
        paired_hierarchical_bootstrap(np.zeros((2, 5)), np.zeros((2, 6)))
    assert np.isnan(hierarchical_bootstrap_ci(np.full((2, 3), np.nan))[0])
