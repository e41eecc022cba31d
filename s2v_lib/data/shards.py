"""Shards: prepare a big dataset as n disjoint parts (on n machines), then merge them into one.

`shard=(i, n)` keeps the clips whose id hashes to i mod n (independent of listing order and of the
machine); `merge_prepared` combines every shard's output and draws the splits once, over all of it.
"""
import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from ..atomic import write_csv, write_json
from ..config import Profile, get_profile
from ..errors import UserError
from ..paths import ensure_dir
from .cache_key import is_complete
from .splits import make_splits, save_splits


def parse_shard(shard) -> tuple[int, int] | None:
    """'i/n' (or (i, n)) -> (i, n) with 0 <= i < n; None stays None."""
    if shard is None or shard == "":
        return None
    try:
        i, n = (int(x) for x in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError):
        raise UserError(f"--shard {shard!r} is not of the form i/n (e.g. 0/4 for the first of four parts)") from None
    if not (n >= 1 and 0 <= i < n):
        raise UserError(f"--shard {i}/{n}: need 0 <= i < n (shards are numbered from 0)")
    return i, n


def in_shard(clip_id: str, shard) -> bool:
    """A stable split of clip ids into n parts (independent of listing order and of the machine)."""
    if shard is None:
        return True
    return int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16) % shard[1] == shard[0]


def merge_prepared(dirs, out, profile=None) -> Path:
    """Combine the prepared shards `dirs` (one run's i/n for every i) into the dataset `out`.

    Clips are hard-linked (copied across file systems); manifests, quarantine and face reports are
    concatenated; splits are drawn once over the merged manifest. Refuses incomplete or missing shards.
    """
    dirs = [Path(d).expanduser().resolve() for d in dirs]
    infos = []
    for d in dirs:
        if not is_complete(d):
            raise UserError(f"{d} is not a finished prepare run (no complete prepare.json); rerun its "
                            "`python -m s2v_lib prepare ... --shard i/n` to finish it before merging")
        infos.append(json.loads((d / "prepare.json").read_text()))
    if any(not i.get("shard") for i in infos):
        raise UserError(f"{dirs[[not i.get('shard') for i in infos].index(True)]} is not a shard; merge only "
                        "the outputs of `prepare --shard i/n`")
    base = lambda i: {k: v for k, v in i["config"].items() if k not in ("shard",)}
    if any(base(i) != base(infos[0]) for i in infos):
        raise UserError("the shards were prepared with different settings (dataset, profile, seed, data or code); "
                        "rerun them all with the same command and --shard i/n")
    n = infos[0]["shard"][1]
    have = sorted(i["shard"][0] for i in infos)
    if have != list(range(n)):
        missing = sorted(set(range(n)) - set(have))
        raise UserError(f"merging needs each of the {n} shards exactly once; missing {missing}, got {have}; "
                        "pass every shard's prepared dir")
    out = ensure_dir(Path(out).expanduser().resolve(), "merge output dir")
    if is_complete(out):
        raise UserError(f"{out} already holds a prepared dataset; choose an empty --out")
    ensure_dir(out / "clips", "merge output dir")
    frames = {name: [] for name in ("manifest", "quarantine", "faces")}
    for d in dirs:
        for name in frames:
            frames[name].append(pd.read_csv(d / f"{name}.csv"))
        for f in (d / "clips").iterdir():
            if f.suffix == ".npz" and not (out / "clips" / f.name).exists():
                try:
                    os.link(f, out / "clips" / f.name)
                except OSError:
                    import shutil
                    shutil.copy2(f, out / "clips" / f.name)
    manifest = pd.concat(frames["manifest"]).sort_values("clip_id").reset_index(drop=True)
    if manifest.clip_id.duplicated().any():
        raise UserError("two shards hold the same clip; were they prepared from different roots or shard counts?")
    write_csv(out / "manifest.csv", manifest)
    write_csv(out / "quarantine.csv", pd.concat(frames["quarantine"]).sort_values(["file", "reason"]))
    write_csv(out / "faces.csv", pd.concat(frames["faces"]).sort_values("clip_id"))
    i0 = infos[0]
    profile = get_profile(profile or i0["profile"]) if not isinstance(profile, Profile) else profile
    unseen = sorted({a for i in infos for a in (i.get("unseen_actors") or [])}) if i0.get("unseen_actors") else None
    save_splits(out / "splits.csv", make_splits(manifest, profile.n_unseen, profile.split_fractions, i0["seed"],
                                                unseen_actors=unseen))
    write_json(out / "prepare.json", {
        **{k: i0[k] for k in ("dataset", "profile", "root", "seed", "frame_size", "fps", "sample_rate", "version",
                              "face_source")},
        "complete": True, "config": base(i0), "shard": None, "merged_from": [str(d) for d in dirs],
        "unseen_actors": unseen, "n_clips": len(manifest), "n_quarantined": sum(len(q) for q in frames["quarantine"]),
        "n_outside_profile": sum(i["n_outside_profile"] for i in infos)})
    return out
