"""Training clips of the composer stage as ClipBank dicts, and the fixed batch of the sample grids.

A split's decoded clips are kept for the life of the process (one split at a time): notebook 04 trains
speech2video, SDFA, the S2F voice encoder, S2F+SDFA and the ablations from the same training split, and
decoding it (about 13 GB of npz at 128 px) once instead of once per model is most of their start-up time.
The arrays are read-only, so no stage can change another's data.
"""
import numpy as np

from ..data.dataset import SAMPLES_PER_FRAME
from ..errors import UserError
from ..train.windows import ClipBank, LoopConfig, WindowSampler, audio_window_array, collate


def data_key(data) -> str:
    return data.root.name


_DECODED: dict = {}      # (root, split, splits.csv mtime) -> {clip_id: (frames, audio)}; one entry


def decoded_split(data, split: str, ids: list) -> dict:
    """{clip_id: (frames, audio)} of a whole split, decoded once per process (read-only arrays)."""
    key = (str(data.root), split, (data.root / "splits.csv").stat().st_mtime_ns)
    if key not in _DECODED:
        _DECODED.clear()                                  # one split held at a time
        decoded = {}
        for cid in ids:
            frames, audio = data.load(cid)
            frames.flags.writeable = audio.flags.writeable = False
            decoded[cid] = (frames, audio)
        _DECODED[key] = decoded
    return _DECODED[key]


def load_clips(data, split: str, features=None, feature_source="student", limit=None) -> tuple[list, list]:
    """Clips of a split as ClipBank dicts; with features: per-frame c and the chosen nu, mu. A whole
    split comes from decoded_split (shared); a few clips (limit) are read directly."""
    ids = list(data.clips(split)["clip_id"])
    if limit is not None:
        ids = ids[:limit]
    if not ids:
        raise UserError(f"{data.root}/splits.csv has no '{split}' clips; re-prepare the dataset with more actors")
    decoded = decoded_split(data, split, ids) if limit is None else {cid: data.load(cid) for cid in ids}
    clips = []
    for cid in ids:
        frames, audio = decoded[cid]
        clip = {"frames": frames, "audio": audio}
        if features is not None:
            f = features[cid]
            t = min(len(frames), len(f["c"]))
            clip.update(frames=frames[:t], audio=audio[:t * SAMPLES_PER_FRAME], c=np.asarray(f["c"], np.float32)[:t])
            sfx = "" if feature_source == "student" else "_teacher"
            clip["nu"] = np.asarray(f["nu" + sfx], np.float32)
            clip["mu"] = np.asarray(f["mu" + sfx], np.float32)
        clips.append(clip)
    return clips, ids


def sample_batch(data, split="test", features=None, n_clips=3, window=8, face_vecs=None, seed=0):
    """A fixed batch of the first frames of a few clips (for grids): nu, mu are always the students'
    (what the composer sees at test time)."""
    clips, ids = load_clips(data, split, features, "student", limit=n_clips)
    if face_vecs is not None:
        for clip, cid in zip(clips, ids):
            clip["face_vec"] = face_vecs[cid]
    cfg = LoopConfig(window=window, seed=seed)
    sampler = WindowSampler(ClipBank(clips, ids), cfg, vector_keys=("nu", "mu", "face_vec"))
    items = []
    for clip in clips:
        item = sampler.draw(np.random.default_rng(seed), clip)
        idx = np.minimum(np.arange(window), len(clip["frames"]) - 1)      # the clip's first frames
        item.update(frames=clip["frames"][idx], audio=audio_window_array(clip["audio"], 0, window))
        if "c" in clip:
            item["c"] = clip["c"][idx]
        items.append(item)
    return collate(items)
