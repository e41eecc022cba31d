"""SDFA(mismatch): each test clip animated from the still image of another test speaker."""
import numpy as np
import pandas as pd

from ..atomic import write_csv


def mismatch_pairs(data, seed: int = 0, split: str = "test", write_to=None) -> pd.DataFrame:
    """Each test clip's still image for SDFA(mismatch): the first test clip (sorted) of ANOTHER test
    speaker of the same sex. The actor pairing is a seeded cyclic shuffle within each sex (a
    derangement: no actor gets itself). Saved to results/<profile>/mismatch_pairs.csv."""
    clips = data.clips(split)
    actors = clips.groupby("actor")["sex"].first()
    rng = np.random.default_rng(seed)
    partner = {}
    for sex, group in actors.groupby(actors):
        order = list(rng.permutation(sorted(group.index)))
        if len(order) < 2:   # one speaker of this sex: pair across sexes, and say so in the table
            others = sorted(set(actors.index) - {order[0]})
            partner[order[0]] = others[int(rng.integers(len(others)))] if others else order[0]
            continue
        for i, a in enumerate(order):
            partner[a] = order[(i + 1) % len(order)]
    first_clip = clips.sort_values("clip_id").groupby("actor")["clip_id"].first()
    rows = [{"clip_id": r.clip_id, "actor": r.actor, "sex": r.sex, "still_actor": partner[r.actor],
             "still_sex": actors[partner[r.actor]], "still_clip_id": first_clip[partner[r.actor]]}
            for r in clips.sort_values("clip_id").itertuples()]
    df = pd.DataFrame(rows)
    if write_to is not None:
        write_csv(write_to, df)
    return df
