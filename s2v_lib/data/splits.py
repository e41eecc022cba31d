"""Train/val/test/unseen splits (docs/design.md §5 and §10.7).

- unseen: `n_unseen` whole actors held out as unseen voices, balanced by sex, drawn with the seed.
- the other ("observed") actors' clips go 70/15/15 to train/val/test, stratified by actor x emotion.
  Strata are tiny (the smoke profile has 3 clips per actor x emotion), so counts are allocated with
  error diffusion: each stratum gets its share plus the rounding left over by earlier strata, which
  keeps the overall fractions close to the target; every stratum keeps at least one training clip.
Splits are saved as splits.csv and never change silently: `save_splits` raises if a file already
there differs from what the code computes now.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_csv
from ..errors import UserError

SPLIT_NAMES = ("train", "val", "test")


def pick_unseen(actors: pd.DataFrame, n_unseen: int, rng: np.random.Generator) -> list[int]:
    """n_unseen actors balanced by sex (the odd one out goes to a random sex); actors has actor, sex."""
    actors = actors.drop_duplicates("actor").sort_values("actor")
    if n_unseen >= len(actors):
        raise UserError(f"cannot hold out {n_unseen} unseen actors from only {len(actors)}; "
                        "use a profile with fewer unseen actors or a dataset with more actors")
    by_sex = {s: g["actor"].tolist() for s, g in actors.groupby("sex", sort=True)}
    sexes = sorted(by_sex)
    want = {s: n_unseen // len(sexes) for s in sexes}
    for s in rng.permutation(sexes)[: n_unseen - sum(want.values())]:
        want[s] += 1
    # a sex with too few actors gives its remaining share to the others
    short = sum(max(0, want[s] - len(by_sex[s])) for s in sexes)
    want = {s: min(want[s], len(by_sex[s])) for s in sexes}
    for s in sexes:
        extra = min(short, len(by_sex[s]) - want[s])
        want[s] += extra
        short -= extra
    out = []
    for s in sexes:
        out += rng.choice(by_sex[s], size=want[s], replace=False).tolist()
    return sorted(int(a) for a in out)


def _allocate(n: int, target: np.ndarray) -> np.ndarray:
    """Integer counts summing to n, close to `target` (largest remainder, ties to the earlier split)."""
    t = np.clip(target, 0, None)
    t = t * (n / t.sum()) if t.sum() > 0 else np.array([n, 0, 0], float)
    counts = np.floor(t).astype(int)
    for i in np.argsort(-(t - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    if n > 0 and counts[0] == 0:       # every stratum trains on at least one clip
        counts[int(np.argmax(counts))] -= 1
        counts[0] += 1
    return counts


def make_splits(manifest: pd.DataFrame, n_unseen: int, fractions=(0.7, 0.15, 0.15), seed: int = 0,
                unseen_actors=None) -> pd.DataFrame:
    """DataFrame[clip_id, actor, split], sorted by clip_id. manifest needs clip_id, actor, sex, emotion.

    unseen_actors: a dataset's own held-out identities (VoxCeleb2's test set) instead of n_unseen drawn ones.
    """
    fractions = np.asarray(fractions, float)
    if len(fractions) != 3 or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, not {fractions.tolist()}")
    rng = np.random.default_rng(seed)
    m = manifest.sort_values("clip_id").reset_index(drop=True)
    if unseen_actors is None:
        unseen = set(pick_unseen(m[["actor", "sex"]], n_unseen, rng))
    else:
        unseen = set(unseen_actors) & set(m["actor"])
    split = pd.Series("unseen", index=m.index, dtype=object)

    seen = m[~m["actor"].isin(unseen)]
    strata = sorted(seen.groupby(["actor", "emotion"]).groups.items())
    carry = np.zeros(3)
    for i in rng.permutation(len(strata)):    # random order: the rounding carry favours no actor
        idx = np.asarray(strata[i][1])
        target = len(idx) * fractions + carry
        counts = _allocate(len(idx), target)
        carry = target - counts
        idx = rng.permutation(idx)
        for name, part in zip(SPLIT_NAMES, np.split(idx, np.cumsum(counts)[:2])):
            split[part] = name
    return pd.DataFrame({"clip_id": m["clip_id"], "actor": m["actor"], "split": split})


def save_splits(path, splits: pd.DataFrame) -> pd.DataFrame:
    """Write splits.csv, or check that an existing one equals `splits` (and return it)."""
    path = Path(path)
    if path.exists():
        old = pd.read_csv(path)
        same = (list(old.columns) == list(splits.columns) and len(old) == len(splits)
                and (old.astype(str).values == splits.astype(str).values).all())
        if not same:
            raise UserError(f"{path} exists but the splits computed now differ from it; splits never change "
                            "silently: delete that file to accept the new splits, or restore the old code/data")
        return old
    write_csv(path, splits)
    return splits
