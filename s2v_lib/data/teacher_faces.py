"""The teachers' own face set: the twin's stand-in for VGGFace / FERplus.

Still images from the twin's face renderer, of identities that are NOT the 91 CREMA-D actors
(seeds from 1_000_000 on; sex, race and age drawn like CREMA-D's demographics), showing every
emotion at varied intensities, talking (random visemes) and closed mouths, blinks, head pose, and
lighting/colour/blur jitter. A fixed share of the identities is held out, so the teachers are
validated on faces they never saw, as they will be used on the twin's actors.

Cached as one .npz under cache_root()/teacher_faces/, keyed by the config and the renderer's source.
"""
import hashlib
import inspect
import json
import multiprocessing as mp
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import save_npz
from ..config import EMOTIONS
from ..device import available_cpus
from ..paths import cache_root

FIRST_SEED = 1_000_000   # the twin keeps seeds below this for its actors


@dataclass(frozen=True)
class FaceSetConfig:
    n_identities: int
    frames_per_emotion: int           # per identity: 6 emotions x this many frames
    size: int                         # output size (the profile's frame size)
    render_size: int = 64             # the twin's raw video size for this profile
    crop_scale: float = 1.3           # square crop side / face-box side, as the prepare step crops
    crop_jitter: tuple = (0.03, 0.08) # |centre shift| (fraction of the side), |side scale - 1|
    seed: int = 0
    heldout_fraction: float = 0.2     # identities kept out of training (validation on unseen faces)
    intensity: tuple = (0.6, 1.1)     # clip-level expression intensity (the twin: 0.6-1.0 by level)
    frame_gain: tuple = (0.7, 1.1)    # per-frame multiplier (the twin: 0.55 -> 1 over the first 0.4 s)
    p_talking: float = 0.7            # share of frames with a random viseme (else mouth at rest)
    p_blink: float = 0.15
    pose_jitter: tuple = (0.03, 0.03, 0.10, 0.06)   # |tx|, |ty| (image fractions), |roll| (rad), |zoom - 1|
    colour_jitter: float = 0.12       # brightness / per-channel gain / gamma spread
    max_blur: float = 0.7             # Gaussian sigma in px (codec and resize softness)
    workers: int = 0                  # 0: all cores (the result does not depend on it)


def face_set_config(profile, seed: int = 0) -> FaceSetConfig:
    """Size of the face set for a profile (CPU budget: generation takes ~30 s of the cpu profile's 6 min)."""
    from .prepare import PrepareConfig
    from .twin.synth import canvas_size
    n_ids, per_emotion = {"smoke": (40, 3), "cpu": (300, 4), "gpu": (1200, 6), "paper": (1200, 6)}[profile.scale]
    return FaceSetConfig(n_identities=n_ids, frames_per_emotion=per_emotion, size=profile.frame_size,
                         render_size=canvas_size(profile), crop_scale=PrepareConfig(profile.frame_size).crop_scale,
                         seed=seed)


def _renderer_fingerprint() -> str:
    from .twin import face
    return hashlib.sha1(inspect.getsource(face).encode()).hexdigest()[:10]


def cache_path(cfg: FaceSetConfig) -> Path:
    key = json.dumps({**asdict(cfg), "workers": None, "renderer": _renderer_fingerprint()}, sort_keys=True)
    return cache_root() / "teacher_faces" / f"faces_{cfg.size}px_{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"


def identity_demographics(cfg: FaceSetConfig) -> list[dict]:
    """Sex and race drawn from CREMA-D's actor table, age from its range with jitter."""
    from .crema_meta import demographics
    d = demographics()
    rng = np.random.default_rng([cfg.seed, 1])
    rows = d.iloc[rng.integers(0, len(d), cfg.n_identities)]
    ages = np.clip(rows["age"].to_numpy() + rng.integers(-6, 7, cfg.n_identities), d["age"].min(), d["age"].max())
    return [dict(sex=s, race=r, age=int(a), seed=FIRST_SEED + cfg.seed * 100_000 + i)
            for i, (s, r, a) in enumerate(zip(rows["sex"], rows["race"], ages))]


def _jitter(img: np.ndarray, rng, cfg: FaceSetConfig) -> np.ndarray:
    """Lighting / white balance / gamma / blur / sensor noise, so the teachers do not key on exact colours."""
    from scipy.ndimage import gaussian_filter
    x = img.astype(np.float32) / 255.0
    cj = cfg.colour_jitter
    x = x * rng.uniform(1 - cj, 1 + cj) * rng.normal(1.0, cj / 3, 3).astype(np.float32)
    x = np.clip(x, 0, 1) ** rng.uniform(1 - cj, 1 + cj)
    sigma = rng.uniform(0, cfg.max_blur)
    if sigma > 0.2:
        x = gaussian_filter(x, (sigma, sigma, 0))
    x = x + rng.normal(0, 0.01, x.shape).astype(np.float32)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def _crop(frame: np.ndarray, box: np.ndarray, rng, cfg: FaceSetConfig) -> np.ndarray:
    """The prepare step's face crop (scale x the face box, resized), with a little box jitter standing
    in for a face detector's."""
    from .prepare import crop_faces
    shift, scale = cfg.crop_jitter
    w = max(box[2] - box[0], box[3] - box[1])
    c = (box[:2] + box[2:]) / 2 + rng.uniform(-shift, shift, 2) * w
    half = w * rng.uniform(1 - scale, 1 + scale) / 2
    jittered = np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half])
    return crop_faces(frame[None], jittered[None], cfg.size, cfg.crop_scale, 0.0)[0]


def _render_identity(args):
    """All frames of one identity: one FaceRenderer per emotion, frames with varied gain/mouth/blink/pose."""
    index, demo, cfg = args
    from .twin import face
    rng = np.random.default_rng([cfg.seed, 2, index])
    identity = face.sample_identity(demo["sex"], demo["age"], demo["race"], demo["seed"])
    visemes = [v for k, v in face.VISEMES.items() if k != "REST"]
    tx, ty, rot, zoom = cfg.pose_jitter
    images, emotions, gains, talking = [], [], [], []
    for e, emotion in enumerate(EMOTIONS):
        intensity = rng.uniform(*cfg.intensity)
        renderer = face.FaceRenderer(identity, emotion, intensity, cfg.render_size)
        for _ in range(cfg.frames_per_emotion):
            gain = intensity * rng.uniform(*cfg.frame_gain)
            talk = rng.random() < cfg.p_talking
            if talk:   # a blend of two visemes, as in coarticulated speech
                a, b = rng.choice(len(visemes), 2, replace=False)
                w = rng.random()
                mouth = tuple(w * np.array(visemes[a]) + (1 - w) * np.array(visemes[b]))
            else:
                mouth = face.VISEMES["REST"]
            blink = float(rng.uniform(0.3, 1.0)) if rng.random() < cfg.p_blink else 0.0
            pose = (rng.uniform(-tx, tx), rng.uniform(-ty, ty), rng.uniform(-rot, rot), 1 + rng.uniform(-zoom, zoom))
            frame = renderer.frame(gain, mouth, blink, pose)
            images.append(_jitter(_crop(frame, renderer.face_box(pose), rng, cfg), rng, cfg))
            emotions.append(e)
            gains.append(gain)
            talking.append(talk)
    return np.stack(images), emotions, gains, talking


def make_face_set(cfg: FaceSetConfig, progress: bool = True) -> dict:
    """Render (or load from cache) the face set. Returns arrays: images uint8 (N, S, S, 3), identity,
    emotion (index into config.EMOTIONS), gain, talking, heldout (identity not used for training),
    and the identities' sex / race / age."""
    path = cache_path(cfg)
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    demos = identity_demographics(cfg)
    jobs = [(i, d, cfg) for i, d in enumerate(demos)]
    workers = cfg.workers or available_cpus()
    bar = tqdm(total=len(jobs), desc=f"teacher face set ({cfg.size}px)", disable=not progress, unit="id")
    results = []
    if workers > 1 and len(jobs) >= 4 * workers:
        # workers render with numpy/PIL only, so fork is safe (and works from notebooks and stdin);
        # each identity's rng depends only on its index, so the result does not depend on `workers`
        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        with ctx.Pool(workers) as pool:
            for r in pool.imap(_render_identity, jobs, chunksize=4):
                results.append(r)
                bar.update()
    else:
        for job in jobs:
            results.append(_render_identity(job))
            bar.update()
    bar.close()
    n_held = int(round(cfg.heldout_fraction * cfg.n_identities))
    heldout_ids = np.random.default_rng([cfg.seed, 3]).choice(cfg.n_identities, n_held, replace=False)
    per_id = len(results[0][1])
    identity = np.repeat(np.arange(cfg.n_identities), per_id)
    out = dict(
        images=np.concatenate([r[0] for r in results]),
        identity=identity.astype(np.int64),
        emotion=np.concatenate([r[1] for r in results]).astype(np.int64),
        gain=np.concatenate([r[2] for r in results]).astype(np.float32),
        talking=np.concatenate([r[3] for r in results]).astype(bool),
        heldout=np.isin(identity, heldout_ids),
        sex=np.array([d["sex"] for d in demos]), race=np.array([d["race"] for d in demos]),
        age=np.array([d["age"] for d in demos], np.int64),
    )
    save_npz(path, **out)
    return out
