"""Preparation: format, cache hits, resume, quarantine, splits, bad input.

A tiny fixture in the twin's layout (coloured square + sine tone, with sidecar boxes) keeps these fast.
"""
import json
import shutil
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from s2v_lib.config import get_profile
from s2v_lib.data.crema_meta import demographics
from s2v_lib.data.dataset import SAMPLES_PER_FRAME, PreparedData
from s2v_lib.data.prepare import prepare_dataset
from s2v_lib.data.splits import make_splits, save_splits
from s2v_lib.errors import UserError
from s2v_lib.paths import REPO_ROOT

SMOKE = get_profile("smoke")
ACTORS = (1001, 1002, 1003, 1005, 1006, 1011)          # 3 male, 3 female of the smoke profile's actors
CLIPS = [f"{a}_{s}_{e}_XX" for a in ACTORS for s in ("DFA", "TIE") for e in ("HAP", "NEU")]
CANVAS, SR, FPS_SRC = 64, 16000, 30
SQUARE = (220, 40, 40)


def square_track(n):
    """Face box per 30-fps frame: a 24-px square drifting right."""
    x0 = 12 + np.arange(n) * 0.3
    return np.stack([x0, np.full(n, 16.0), x0 + 24, np.full(n, 40.0)], axis=1)


def write_flv(path, n_frames, audio=True, seed=0):
    boxes = square_track(n_frames)
    with av.open(str(path), "w", format="flv") as c:
        vs = c.add_stream("flv", rate=FPS_SRC)
        vs.width = vs.height = CANVAS
        vs.pix_fmt = "yuv420p"
        aus = c.add_stream("aac", rate=SR, layout="mono") if audio else None
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            img = np.full((CANVAS, CANVAS, 3), 90, np.uint8)
            img[int(y0):int(y1), int(x0):int(x1)] = SQUARE
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, FPS_SRC)
            for p in vs.encode(f):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if aus is not None:
            a = av.AudioFrame.from_ndarray(tone(n_frames, seed)[None], format="s16", layout="mono")
            a.sample_rate, a.pts, a.time_base = SR, 0, Fraction(1, SR)
            for p in [*aus.encode(a), *aus.encode()]:
                c.mux(p)
    return boxes


def tone(n_frames, seed=0, seconds=None):
    n = int(round((seconds or n_frames / FPS_SRC) * SR))
    return (3000 * np.sin(2 * np.pi * (220 + 10 * seed) * np.arange(n) / SR)).astype(np.int16)


def write_fixture(root, clips=CLIPS, n_frames=45):
    for d in ("AudioWAV", "VideoFlash", "GroundTruth"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(clips):
        n = n_frames + 3 * (i % 4)     # durations differ a little, like real clips
        boxes = write_flv(root / "VideoFlash" / f"{name}.flv", n, seed=i)
        sf.write(root / "AudioWAV" / f"{name}.wav", tone(n, i), SR, subtype="PCM_16")
        lm = np.stack([boxes[:, :2] + 8, boxes[:, :2] + 16, boxes[:, 2:] - 8, boxes[:, 2:] - 4, boxes[:, 2:] - 2], 1)
        np.savez(root / "GroundTruth" / f"{name}.npz", face_box=boxes.astype(np.float32), landmarks5=lm.astype(np.float32))
    d = demographics()
    d[d.actor.isin(ACTORS)].rename(columns={"actor": "ActorID", "age": "Age", "sex": "Sex", "race": "Race",
                                            "ethnicity": "Ethnicity"}).drop(columns="age_group") \
        .to_csv(root / "VideoDemographics.csv", index=False)
    (root / "twin.json").write_text("{}")
    return root


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("twin"))


@pytest.fixture(scope="module")
def prepared(fixture_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return prepare_dataset("synthetic", fixture_root, SMOKE, cache=cache, workers=2, progress=False)


def test_manifest_and_npz_format(prepared, fixture_root):
    data = PreparedData(prepared)
    m = data.manifest
    assert list(m.columns) == ["clip_id", "actor", "sentence", "emotion", "level", "sex", "age", "age_group",
                               "race", "n_frames", "duration_s", "path", "source", "split"]
    assert sorted(m.clip_id) == sorted(CLIPS) and data.quarantine.empty
    assert prepared.name.startswith("synthetic-smoke-") and data.frame_size == SMOKE.frame_size
    for row in m.itertuples():
        with np.load(prepared / row.path) as z:
            frames, audio = z["frames"], z["audio"]
        n_src = 45 + 3 * (CLIPS.index(row.clip_id) % 4)
        assert frames.dtype == np.uint8 and frames.shape == (row.n_frames, 48, 48, 3)
        assert row.n_frames == int(n_src / FPS_SRC * 25 + 1e-6)          # 30 -> 25 fps
        assert audio.dtype == np.int16 and audio.shape == (row.n_frames * SAMPLES_PER_FRAME,)
        assert row.source == f"VideoFlash/{row.clip_id}.flv"
    frames, audio = data.load(CLIPS[0])
    # the audio of record is the WAV, bit for bit
    wav = sf.read(fixture_root / "AudioWAV" / f"{CLIPS[0]}.wav", dtype="int16")[0]
    assert np.array_equal((audio * 32768).astype(np.int16), wav[: len(audio)])
    # the crop follows the face box: the square's colour fills the centre of every frame, background the corners
    centre = frames[:, 20:28, 20:28].reshape(-1, 3).mean(0)
    assert np.abs(centre - SQUARE).max() < 25, centre
    assert np.abs(frames[:, :3, :3].reshape(-1, 3).mean(0) - 90).max() < 25


def test_cache_hit_is_a_noop(prepared, fixture_root):
    before = {p: p.stat().st_mtime_ns for p in prepared.rglob("*")}
    again = prepare_dataset("synthetic", fixture_root, SMOKE, cache=prepared.parent.parent, progress=False)
    assert again == prepared
    assert {p: p.stat().st_mtime_ns for p in prepared.rglob("*")} == before


def test_other_profile_or_seed_is_another_dir(prepared, fixture_root):
    from s2v_lib.data.prepare import config_key, content_listing, make_reader, prepared_dir, PrepareConfig
    listing = content_listing(fixture_root, make_reader("synthetic", fixture_root, SMOKE).listing())
    key = lambda seed: config_key("synthetic", fixture_root, SMOKE, PrepareConfig(48), seed, listing)
    assert prepared_dir(prepared.parent.parent, "synthetic", SMOKE, key(0)) == prepared
    assert prepared_dir(prepared.parent.parent, "synthetic", SMOKE, key(1)) != prepared


def test_resume_after_interruption_equals_clean_run(prepared, fixture_root, tmp_path):
    out = tmp_path / "cache" / "prepared" / prepared.name
    shutil.copytree(prepared, out)
    # what a kill leaves: no prepare.json, some clips missing, a half-written temp file
    (out / "prepare.json").unlink()
    for name in CLIPS[::3]:
        (out / "clips" / f"{name}.npz").unlink()
    (out / "clips" / f"{CLIPS[0]}.npz.tmp-x.npz").write_bytes(b"half")
    with pytest.raises(UserError, match="not a prepared dataset"):
        PreparedData(out)
    again = prepare_dataset("synthetic", fixture_root, SMOKE, cache=tmp_path / "cache", workers=1, progress=False)
    assert again == out
    for f in ("manifest.csv", "splits.csv", "quarantine.csv", "prepare.json"):
        assert (out / f).read_bytes() == (prepared / f).read_bytes(), f
    assert sorted(p.name for p in (out / "clips").iterdir()) == sorted(f"{c}.npz" for c in CLIPS)
    for name in CLIPS:
        a, b = np.load(out / "clips" / f"{name}.npz"), np.load(prepared / "clips" / f"{name}.npz")
        assert np.array_equal(a["frames"], b["frames"]) and np.array_equal(a["audio"], b["audio"])


def test_kill_mid_run_then_resume(fixture_root, tmp_path):
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "s2v_lib", "prepare", "--root", str(fixture_root), "--profile", "smoke",
           "--cache", str(cache), "--workers", "1"]
    p = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import time
    deadline = time.time() + 60
    while time.time() < deadline and len(list(cache.glob("prepared/*/clips/*.npz"))) < 3:
        time.sleep(0.05)
    p.kill()
    p.wait()
    out = next(cache.glob("prepared/*"))
    assert not (out / "prepare.json").exists(), "the run finished before it could be killed"
    r = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(out)
    assert len(PreparedData(out).manifest) == len(CLIPS)


def test_quarantine_catches_defects_and_keeps_healthy_clips(fixture_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(fixture_root, root)
    no_audio, truncated, long_clip = CLIPS[1], CLIPS[2], CLIPS[3]
    write_flv(root / "VideoFlash" / f"{no_audio}.flv", 45, audio=False)
    data = (root / "VideoFlash" / f"{truncated}.flv").read_bytes()
    (root / "VideoFlash" / f"{truncated}.flv").write_bytes(data[: len(data) // 3])
    sf.write(root / "AudioWAV" / f"{long_clip}.wav", tone(0, seconds=12.0), SR, subtype="PCM_16")
    no_wav, no_boxes = CLIPS[5], CLIPS[6]
    (root / "AudioWAV" / f"{no_wav}.wav").unlink()
    (root / "GroundTruth" / f"{no_boxes}.npz").unlink()
    out = prepare_dataset("synthetic", root, SMOKE, cache=tmp_path / "cache", workers=1, progress=False)
    data = PreparedData(out)
    q = data.quarantine.set_index("file")
    assert sorted(q.index) == sorted([f"VideoFlash/{no_audio}.flv", f"VideoFlash/{truncated}.flv",
                                      f"AudioWAV/{long_clip}.wav", f"AudioWAV/{no_wav}.wav",
                                      f"GroundTruth/{no_boxes}.npz"])
    assert q.loc[f"VideoFlash/{no_audio}.flv", "reason"] == "video has no audio stream"
    assert "durations differ" in q.loc[f"VideoFlash/{truncated}.flv", "reason"]
    assert float(q.loc[f"VideoFlash/{truncated}.flv", "value"]) > 0.5       # audio longer than what decodes
    assert "median" in q.loc[f"AudioWAV/{long_clip}.wav", "reason"]
    assert q.loc[f"AudioWAV/{no_wav}.wav", "reason"] == "missing audio file"
    assert q.loc[f"GroundTruth/{no_boxes}.npz", "reason"] == "missing face-box sidecar"
    assert sorted(data.manifest.clip_id) == sorted(set(CLIPS) - {no_audio, truncated, long_clip, no_wav, no_boxes})


def test_splits_stable_balanced_and_near_fractions(tmp_path):
    d = demographics()
    m = pd.DataFrame([{"clip_id": f"{a}_{s}_{e}_XX", "actor": a, "emotion": e}
                      for a in d.actor for s in ("DFA", "TIE", "TSI", "ITS") for e in ("ANG", "HAP", "NEU")])
    m = m.merge(d[["actor", "sex"]], on="actor")
    s = make_splits(m, n_unseen=10, seed=0)
    assert s.equals(make_splits(m.sample(frac=1, random_state=1), n_unseen=10, seed=0))   # order-free, seeded
    assert not s.equals(make_splits(m, n_unseen=10, seed=1))
    unseen = set(s[s.split == "unseen"].actor)
    assert len(unseen) == 10 and d[d.actor.isin(unseen)].sex.value_counts().to_dict() == {"Male": 5, "Female": 5}
    seen = s[s.split != "unseen"]
    assert not unseen & set(seen.actor)
    frac = seen.split.value_counts(normalize=True)
    assert abs(frac["train"] - 0.70) < 0.02 and abs(frac["val"] - 0.15) < 0.02 and abs(frac["test"] - 0.15) < 0.02
    strata = seen.merge(m[["clip_id", "emotion"]]).groupby(["actor", "emotion"]).split
    assert strata.apply(lambda x: (x == "train").any()).all()       # every actor x emotion trains
    # saved once, then reused; a different recomputation raises instead of replacing it
    path = tmp_path / "splits.csv"
    save_splits(path, s)
    before = path.read_bytes()
    save_splits(path, make_splits(m, n_unseen=10, seed=0))
    assert path.read_bytes() == before
    with pytest.raises(UserError, match="splits.csv exists"):
        save_splits(path, make_splits(m, n_unseen=10, seed=1))


def test_smoke_sized_splits_keep_every_actor_training():
    # the smoke profile's shape: 12 actors x 3 sentences x 2 emotions, 2 unseen
    d = demographics()
    actors = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1011, 1014, 1015, 1016]
    m = pd.DataFrame([{"clip_id": f"{a}_{s}_{e}_XX", "actor": a, "emotion": e}
                      for a in actors for s in ("DFA", "TIE", "TSI") for e in ("HAP", "NEU")]).merge(d[["actor", "sex"]])
    s = make_splits(m, n_unseen=2, seed=0).merge(m[["clip_id", "sex"]])
    assert sorted(s[s.split == "unseen"].drop_duplicates("actor").sex) == ["Female", "Male"]
    counts = s.split.value_counts().to_dict()
    assert counts == {"train": 42, "val": 9, "test": 9, "unseen": 12}
    assert (s[s.split != "unseen"].groupby("actor").split.apply(lambda x: (x == "train").sum()) >= 3).all()


def run_cli(*args):
    r = subprocess.run([sys.executable, "-m", "s2v_lib", "prepare", *args], cwd=REPO_ROOT,
                       capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def test_bad_input_gives_one_line_errors(fixture_root, tmp_path):
    rc, err = run_cli("--root", str(tmp_path / "nope"), "--cache", str(tmp_path))
    assert rc == 2 and "nope does not exist" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    rc, err = run_cli("--root", str(tmp_path / "empty"), "--cache", str(tmp_path))
    assert rc == 2 and "no VideoFlash/" in err and len(err.splitlines()) == 1
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    rc, err = run_cli("--root", str(fixture_root), "--cache", str(blocker))
    assert rc == 2 and "not writable" in err and str(blocker) in err and len(err.splitlines()) == 1
    rc, err = run_cli("--root", str(fixture_root), "--profile", "huge", "--cache", str(tmp_path))
    assert rc == 2 and "unknown profile" in err


def test_unfinished_twin_is_refused(fixture_root, tmp_path):
    root = tmp_path / "twin"
    shutil.copytree(fixture_root, root)
    (root / "twin.json").unlink()
    with pytest.raises(UserError, match="unfinished twin"):
        prepare_dataset("synthetic", root, SMOKE, cache=tmp_path / "cache", progress=False)


def test_real_data_without_face_boxes_goes_through_the_detector(fixture_root, tmp_path):
    # coloured squares are no faces: the detector path runs and quarantines every clip, saying why
    root = tmp_path / "crema"
    shutil.copytree(fixture_root, root, ignore=shutil.ignore_patterns("GroundTruth"))
    with pytest.raises(UserError, match="every clip .* was quarantined"):
        prepare_dataset("crema-d", root, SMOKE, cache=tmp_path / "cache", workers=1, progress=False)
    q = pd.read_csv(next((tmp_path / "cache").glob("prepared/*/quarantine.csv")))
    assert len(q) == len(CLIPS) and set(q.reason) == {"no face found"}


def test_prepare_json_is_written_last_and_complete(prepared):
    info = json.loads((prepared / "prepare.json").read_text())
    assert info["complete"] is True and info["n_clips"] == len(CLIPS) and info["n_quarantined"] == 0
    newest = max((p for p in prepared.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
    assert newest.name == "prepare.json"


def test_nearest_frame_resampling_and_border_crops():
    from s2v_lib.data.prepare import crop_faces, resample_indices
    src = resample_indices(np.arange(30) / 30, 25, 25)
    assert np.array_equal(src, np.round(np.arange(25) * 30 / 25).astype(int))   # 30 -> 25: one frame in six dropped
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    frames[:, :10, :10] = 255                      # the "face" sits in the corner
    crops = crop_faces(frames, np.tile([[0.0, 0.0, 10.0, 10.0]], (3, 1)), 48, 1.3, 1.5)
    assert crops.shape == (3, 48, 48, 3) and crops[:, 24, 24].min() == 255  # box centre -> crop centre


def test_get_prepared_builds_and_prepares_the_real_twin(tmp_cache):
    import dataclasses
    from s2v_lib.data.pipeline import get_prepared, twin_dir
    tiny = dataclasses.replace(SMOKE, name="tiny", n_actors=4, sentences=("DFA",))
    data = get_prepared(tiny, workers=1, progress=False)
    assert (twin_dir(tiny, 0) / "twin.json").exists() and str(data.root).startswith(str(tmp_cache))
    assert len(data.manifest) == 8 and data.quarantine.empty
    assert set(data.manifest.split) <= {"train", "val", "test", "unseen"}
    assert (data.manifest.split == "unseen").sum() == 4          # two whole actors, one of each sex
    frames, audio = data.load(data.manifest.clip_id[0])
    assert frames.shape[1:] == (48, 48, 3) and len(audio) == len(frames) * SAMPLES_PER_FRAME
    assert frames.std() > 10 and np.abs(audio).max() > 0.01     # a face and a voice, not blank arrays
    assert get_prepared(tiny, progress=False).root == data.root  # second call: cache hit
