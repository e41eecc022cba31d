"""Where a prepared dataset lives: a hash of the settings and of the identity of every file it reads.

A file's identity is its size, its mtime and a hash of its first and last 4 KiB (cheap: two small
reads per file, whatever the dataset's size), or "unreadable": overwriting a broken file with the
good one, or making an unreadable file readable again, changes the key and so re-prepares. The
readers list media and metadata files only; junk (.DS_Store, Thumbs.db, ._*, desktop.ini, __MACOSX,
hidden files) never enters the key, and a stray file enters by its name only (it is reported in
quarantine.csv, so it is part of the result). `prune_superseded` removes the dirs an older key left.
"""
import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

from ..atomic import write_json
from ..errors import UserError

PREPARE_VERSION = 2            # bump when the code changes what a prepared clip contains
HEAD_TAIL = 4096
LFS_MAGIC = b"version https://git-lfs.github.com/spec/"


def file_identity(path: Path, memo: dict | None = None, rel: str = "") -> tuple[list, bool]:
    """([size, mtime_ns, head+tail hash] or ["unreadable"], is this a Git LFS pointer file).

    memo (rel -> [size, mtime_ns, ctime_ns, inode, hash, lfs]) skips the reads for files whose stat is
    unchanged: any write or chmod moves ctime, which no copy tool can set back."""
    try:
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        if memo is not None and memo.get(rel, [None])[:4] == stamp:
            return [st.st_size, st.st_mtime_ns, memo[rel][4]], memo[rel][5]
        with open(path, "rb") as f:
            head = f.read(HEAD_TAIL)
            if st.st_size > 2 * HEAD_TAIL:
                f.seek(-HEAD_TAIL, os.SEEK_END)
            tail = f.read(HEAD_TAIL)
    except OSError:
        return ["unreadable"], False
    digest, lfs = hashlib.sha1(head + b"|" + tail).hexdigest()[:16], head.startswith(LFS_MAGIC)
    if memo is not None:
        memo[rel] = stamp + [digest, lfs]
    return [st.st_size, st.st_mtime_ns, digest], lfs


def content_listing(root: Path, files, memo_file: Path | None = None) -> list:
    """[(relative path, identity)] for the reader's (path, kind) files; kind "stray" counts by name only.

    memo_file keeps the hashes between runs (see file_identity). Refuses a dataset holding Git LFS
    pointer files (a clone fetched without `git lfs pull`)."""
    memo = None
    if memo_file is not None:
        try:
            memo = json.loads(Path(memo_file).read_text())
        except (OSError, ValueError):
            memo = {}
    before = dict(memo) if memo is not None else None
    out, pointers = [], []
    for rel, kind in sorted(files):
        if kind == "stray":
            out.append((rel, "stray"))
            continue
        ident, lfs = file_identity(root / rel, memo, rel)
        out.append((rel, ident))
        if lfs:
            pointers.append(rel)
    if memo is not None and memo != before:
        try:
            write_json(memo_file, memo)
        except OSError:
            pass   # only a speed-up; an unwritable cache is reported where the dataset is written
    if pointers:
        raise UserError(f"{len(pointers)} files under {root} are Git LFS pointers, not media (e.g. {pointers[0]}); "
                        "run `git lfs pull` in that clone (or download the release files) and prepare again")
    return out


def memo_path(cache, root: Path) -> Path:
    """Where the file hashes of dataset `root` are kept between runs."""
    h = hashlib.sha1(str(root).encode()).hexdigest()[:12]
    return Path(cache).expanduser().resolve() / "file-identity" / f"{root.name}-{h}.json"


def config_key(dataset: str, root: Path, profile, cfg, seed: int, listing, shard=None) -> dict:
    key = {"version": PREPARE_VERSION, "dataset": dataset, "root": str(root), "profile": profile.data_key(),
           "n_unseen": profile.n_unseen, "split_fractions": list(profile.split_fractions), "seed": seed,
           "prepare": dataclasses.asdict(cfg),
           "listing": hashlib.sha1(json.dumps(listing).encode()).hexdigest()}
    if shard is not None:
        key["shard"] = list(shard)
    return key


def prepared_dir(cache, dataset: str, profile, key: dict) -> Path:
    h = hashlib.sha1(json.dumps(key, sort_keys=True, default=list).encode()).hexdigest()[:10]
    shard = f"-shard{key['shard'][0]}of{key['shard'][1]}" if key.get("shard") else ""
    return Path(cache).expanduser().resolve() / "prepared" / f"{dataset}-{profile.name}-{h}{shard}"


def is_complete(out: Path) -> bool:
    try:
        return json.loads((out / "prepare.json").read_text()).get("complete") is True
    except (OSError, ValueError):
        return False


def _identity(info: dict) -> tuple:
    """What makes two prepared dirs versions of one dataset: same data root, dataset, profile, seed, shard."""
    shard = info.get("shard")
    return info.get("dataset"), info.get("root"), info.get("profile"), info.get("seed"), tuple(shard) if shard else None


def _dir_info(d: Path) -> dict | None:
    for name in ("key.json", "prepare.json"):   # key.json: written when a run starts; prepare.json: when done
        try:
            return json.loads((d / name).read_text())
        except (OSError, ValueError):
            continue
    return None


def prune_superseded(out: Path) -> list[Path]:
    """Delete the other prepared dirs of the same root, dataset, profile, seed and shard as `out`
    (what older keys, code versions or data states left); returns the deleted dirs."""
    mine = _dir_info(out)
    if mine is None:
        return []
    gone = []
    for d in sorted(out.parent.iterdir()):
        if d == out or not d.is_dir() or d.name.startswith("."):
            continue
        info = _dir_info(d)
        if info is not None and _identity(info) == _identity(mine):
            shutil.rmtree(d)
            gone.append(d)
    return gone
