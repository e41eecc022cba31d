"""Ingestion against a messy disk: out-of-sync or cut clips, stale caches, extension case, junk files,
metadata and CLI mistakes, LFS pointers, the right file blamed (issue 15).

The alignment tests damage copies of a tiny twin (real eSpeak voice, real talking face, ground truth
in sync by construction); the rest use test_prepare's fast square-and-tone fixture.
"""
import dataclasses
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from s2v_lib.config import get_profile
from s2v_lib.data import readers
from s2v_lib.data.dataset import SAMPLES_PER_FRAME, PreparedData
from s2v_lib.data.prepare import prepare_dataset
from s2v_lib.errors import UserError
from s2v_lib.paths import REPO_ROOT
from test_prepare import CLIPS, SR, write_fixture

SMOKE = get_profile("smoke")
TINY = dataclasses.replace(SMOKE, name="tiny", n_actors=4, sentences=("DFA",))   # 8 clips


@pytest.fixture(scope="module")
def square_root(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("square"))


@pytest.fixture(scope="module")
def twin_root(tmp_path_factory):
    from s2v_lib.data.twin.synth import synth_dataset
    return synth_dataset(TINY, tmp_path_factory.mktemp("twin"), workers=2, progress=False)


@pytest.fixture(scope="module")
def twin_prepared(twin_root, tmp_path_factory):
    return prepare_dataset("synthetic", twin_root, TINY, cache=tmp_path_factory.mktemp("c"), workers=2, progress=False)


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def prep(root, cache, profile=SMOKE, **kw):
    return prepare_dataset("synthetic", root, profile, cache=cache, workers=1, progress=False, **kw)


def wav_of(root, name):
    return sf.read(root / "AudioWAV" / f"{name}.wav", dtype="int16")[0]


# ------------------------------------------------------------------ 1. alignment by content

def alignment():
    from s2v_lib.data import alignment   # imported here: the module is new (this file also runs on old code)
    return alignment


def test_twin_is_in_sync_and_a_shift_of_its_audio_is_measured(twin_root, twin_prepared):
    from s2v_lib.data.video_io import read_audio
    A = alignment()
    data = PreparedData(twin_prepared)
    assert data.quarantine.empty and len(data.manifest) == 8
    confirmed = 0
    for cid in data.manifest.clip_id:
        # against the video's own track: exactly in sync (the truth), and 0.4 s late measured to the hop
        wav, _ = read_audio(twin_root / "AudioWAV" / f"{cid}.wav")
        track, _ = read_audio(twin_root / "VideoFlash" / f"{cid}.flv")
        assert A.track_offset(wav, track, SR)["offset_s"] == 0.0, cid
        late = np.concatenate([np.full(int(0.4 * SR), 1e-4, np.float32), wav])
        assert A.track_offset(late, track, SR)["offset_s"] == 0.4, cid
        # against the mouth: never a confirmed offset on a healthy clip; a 10-frame delay, when confirmed, is found
        with np.load(twin_prepared / "clips" / f"{cid}.npz") as z:
            frames, pcm = z["frames"], z["audio"]
        healthy = A.measure_offset(pcm, frames, SAMPLES_PER_FRAME)
        assert abs(healthy["offset_frames"]) <= 2 or not healthy["confirmed"], cid
        shifted = A.measure_offset(np.concatenate([np.ones(10 * SAMPLES_PER_FRAME, np.int16), pcm])[: len(pcm)],
                                   frames, SAMPLES_PER_FRAME)
        assert 7 <= shifted["offset_frames"] <= 13, cid
        confirmed += shifted["confirmed"]
    assert confirmed >= 2
    # a steady tone or a still mouth gives no verdict (never a false quarantine)
    assert A.measure_offset(np.full(len(pcm), 3000, np.int16), frames, SAMPLES_PER_FRAME) is None
    assert A.measure_offset(pcm, np.repeat(frames[:1], len(frames), 0), SAMPLES_PER_FRAME) is None
    assert A.track_offset(np.full(SR, 0.1, np.float32), np.full(SR, 0.1, np.float32), SR) is None


def _speech_end_s(wav):
    e = alignment().loudness_db(wav, SAMPLES_PER_FRAME)
    lo, hi = np.percentile(e, 5), np.percentile(e, 95)
    return (np.nonzero(e > lo + 0.5 * (hi - lo))[0][-1] + 1) * SAMPLES_PER_FRAME / SR


def _damage_twin(root):
    """0.4 s of noise floor before one WAV (audio 10 frames late); one FLV cut 0.35 s into the speech
    (its WAV's silent tail shortened too, so the durations still agree within 0.5 s)."""
    from s2v_lib.data.twin.mux import write_flv
    from s2v_lib.data.video_io import read_video
    names = sorted(p.stem for p in (root / "AudioWAV").iterdir())
    late, cut = names[1], names[4]
    wav = wav_of(root, late)
    noise = np.random.default_rng(0).normal(0, 2, int(0.4 * SR)).round().astype(np.int16)
    sf.write(root / "AudioWAV" / f"{late}.wav", np.concatenate([noise, wav]), SR, subtype="PCM_16")
    wav = wav_of(root, cut)
    tail = len(wav) / SR - _speech_end_s(wav)
    keep_frames = int(round((len(wav) / SR - tail - 0.35) * 30))
    frames = read_video(root / "VideoFlash" / f"{cut}.flv").frames[:keep_frames]
    write_flv(root / "VideoFlash" / f"{cut}.flv", frames, wav[: keep_frames * SR // 30], 30, SR)
    wav = wav[: int((keep_frames / 30 + 0.4) * SR)]      # 0.4 s longer than the video: under the 0.5 s tolerance
    sf.write(root / "AudioWAV" / f"{cut}.wav", wav, SR, subtype="PCM_16")
    return late, cut


def test_out_of_sync_audio_and_cut_video_are_quarantined_and_healthy_kept(twin_root, twin_prepared, tmp_path):
    root = copy(twin_root, tmp_path / "twin")
    late, cut = _damage_twin(root)
    data = PreparedData(prep(root, tmp_path / "c", TINY))
    q = data.quarantine.set_index("file")
    assert sorted(q.index) == sorted([f"AudioWAV/{late}.wav", f"VideoFlash/{cut}.flv"]), q
    assert q.loc[f"AudioWAV/{late}.wav", "reason"].startswith("audio out of sync with the video")
    assert q.loc[f"AudioWAV/{late}.wav", "value"] == "+0.40 s (+10 frames)"   # the 0.4 s of silence, measured
    assert q.loc[f"VideoFlash/{cut}.flv", "reason"].startswith("video ends before the speech does")
    assert 0.2 <= float(q.loc[f"VideoFlash/{cut}.flv", "value"]) <= 0.5
    healthy = PreparedData(twin_prepared)
    assert sorted(data.manifest.clip_id) == sorted(set(healthy.manifest.clip_id) - {late, cut})
    for cid in data.manifest.clip_id:                             # healthy clips: byte for byte the same arrays
        a, b = data.load(cid), healthy.load(cid)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_trim_flag_shifts_the_late_audio_back_and_keeps_the_cut_clip(twin_root, twin_prepared, tmp_path):
    root = copy(twin_root, tmp_path / "twin")
    late, cut = _damage_twin(root)
    data = PreparedData(prep(root, tmp_path / "c", TINY, trim=True))
    assert data.quarantine.empty and len(data.manifest) == 8
    t = pd.read_csv(data.root / "trimmed.csv").set_index("clip_id")
    assert sorted(t.index) == sorted([late, cut]) and t.loc[late, "av_trim_frames"] == 10
    assert 0.2 <= t.loc[cut, "speech_cut_s"] <= 0.5
    # the shift undoes the damage exactly: the kept clip is the healthy twin's, sample for sample
    assert all(np.array_equal(a, b) for a, b in zip(data.load(late), PreparedData(twin_prepared).load(late)))


# ------------------------------------------------------------------ 2. cache key from content

def test_a_fixed_file_is_picked_up_and_prune_removes_the_stale_dir(square_root, tmp_path):
    root = copy(square_root, tmp_path / "root")
    flv = root / "VideoFlash" / f"{CLIPS[2]}.flv"
    good = flv.read_bytes()
    flv.write_bytes(bytes(len(good)))                       # zero-filled, same size
    broken = prep(root, tmp_path / "c")
    assert list(PreparedData(broken).quarantine.file) == [f"VideoFlash/{CLIPS[2]}.flv"]
    flv.write_bytes(good)                                   # the good file back: same name, same size
    fixed = prep(root, tmp_path / "c")
    assert fixed != broken and PreparedData(fixed).quarantine.empty and len(PreparedData(fixed).manifest) == len(CLIPS)
    assert broken.exists()                                  # superseded, still on disk until pruned
    assert prep(root, tmp_path / "c", prune=True) == fixed
    assert not broken.exists() and sorted(p.name for p in fixed.parent.iterdir()) == [fixed.name]


def test_the_hash_memo_never_hides_a_rewrite(square_root, tmp_path):
    from s2v_lib.data import cache_key
    root = copy(square_root, tmp_path / "root")
    listing, memo = readers.make_reader("synthetic", root, SMOKE).listing(), tmp_path / "memo.json"
    first = cache_key.content_listing(root, listing, memo)
    assert memo.exists() and cache_key.content_listing(root, listing, memo) == first
    flv = root / "VideoFlash" / f"{CLIPS[0]}.flv"
    st, data = flv.stat(), flv.read_bytes()
    flv.write_bytes(data[:100] + bytes(len(data) - 100))      # same size, mtime put back: only ctime moves
    os.utime(flv, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache_key.content_listing(root, listing, memo) != first


def test_an_unreadable_file_made_readable_changes_the_key(square_root, monkeypatch):
    from s2v_lib.data import cache_key
    listing = readers.make_reader("synthetic", square_root, SMOKE).listing()
    readable = cache_key.content_listing(square_root, listing)
    real_open = open

    def denied(path, *a, **k):   # the tests run as root: simulate a file without read permission
        if str(path).endswith(f"{CLIPS[0]}.wav"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)
    monkeypatch.setattr(cache_key, "open", denied, raising=False)
    unreadable = cache_key.content_listing(square_root, listing)
    assert dict(unreadable)[f"AudioWAV/{CLIPS[0]}.wav"] == ["unreadable"] and unreadable != readable


def test_junk_files_never_change_the_key_nor_the_result(square_root, tmp_path):
    root = copy(square_root, tmp_path / "root")
    before = prep(root, tmp_path / "c")
    stamp = {p: p.stat().st_mtime_ns for p in before.rglob("*")}
    for d in ("AudioWAV", "VideoFlash", "GroundTruth"):
        for junk in (".DS_Store", "Thumbs.db", "desktop.ini", f"._{CLIPS[0]}.wav"):
            (root / d / junk).write_bytes(b"\x00\x05\x16\x07 junk")
        (root / d / "__MACOSX").mkdir()
        (root / d / "__MACOSX" / f"._{CLIPS[1]}.flv").write_bytes(b"junk")
    after = prep(root, tmp_path / "c")
    assert after == before and {p: p.stat().st_mtime_ns for p in before.rglob("*")} == stamp
    assert PreparedData(after).quarantine.empty


# ------------------------------------------------------------------ 3. extension case, stray files

def test_upper_and_mixed_case_extensions_are_clips_and_strays_are_named_once(square_root, tmp_path):
    root = copy(square_root, tmp_path / "root")
    reference = PreparedData(prep(square_root, tmp_path / "ref"))
    os.rename(root / "AudioWAV" / f"{CLIPS[0]}.wav", root / "AudioWAV" / f"{CLIPS[0]}.WAV")
    os.rename(root / "VideoFlash" / f"{CLIPS[1]}.flv", root / "VideoFlash" / f"{CLIPS[1]}.FLV")
    os.rename(root / "AudioWAV" / f"{CLIPS[2]}.wav", root / "AudioWAV" / f"{CLIPS[2]}.Wav")
    (root / "AudioWAV" / "notes.txt").write_text("where the files came from")
    shutil.copy(root / "AudioWAV" / f"{CLIPS[3]}.wav", root / "AudioWAV" / "take2.wav")
    data = PreparedData(prep(root, tmp_path / "c"))
    assert sorted(data.manifest.clip_id) == sorted(CLIPS)
    q = data.quarantine
    assert sorted(q.file) == ["AudioWAV/notes.txt", "AudioWAV/take2.wav"], q          # each once, folder and name
    assert q.set_index("file").loc["AudioWAV/take2.wav", "reason"] == "not a CREMA-D clip name"
    for cid in CLIPS[:3]:
        assert all(np.array_equal(a, b) for a, b in zip(data.load(cid), reference.load(cid)))


# ------------------------------------------------------------------ 4. mistakes: one line, exit 2, before work

def crema_copy(square_root, tmp_path):
    return copy(square_root, tmp_path / "crema")


def cli(*args, timeout=600):
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "s2v_lib", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stderr.strip(), time.perf_counter() - t0


def assert_one_line(rc, err, *needles):
    assert rc == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err


@pytest.mark.parametrize("damage, needle", [
    ("empty", "VideoDemographics.csv is empty"),
    ("blank_age", "Age is blank"),
    ("duplicate", "has more than one row"),
])
def test_bad_demographics_are_refused_before_any_clip_is_decoded(square_root, tmp_path, damage, needle):
    root = crema_copy(square_root, tmp_path)
    demo = root / "VideoDemographics.csv"
    d = pd.read_csv(demo)
    if damage == "empty":
        demo.write_text("")
    elif damage == "blank_age":
        d["Age"] = d["Age"].astype(object)
        d.loc[2, "Age"] = ""
        d.to_csv(demo, index=False)
    else:
        pd.concat([d, d.iloc[[1]]]).to_csv(demo, index=False)
    rc, err, _ = cli("prepare", "--dataset", "synthetic", "--root", str(root), "--cache", str(tmp_path / "c"),
                     "--workers", "1")
    assert_one_line(rc, err, str(demo), needle)
    assert not list((tmp_path / "c").glob("prepared/*/clips/*.npz"))          # nothing decoded first


def test_unreadable_folder_is_one_user_error(square_root, tmp_path, monkeypatch):
    real = os.scandir

    def denied(path):   # the tests run as root, who reads anything: simulate chmod 000
        if str(path).endswith("AudioWAV"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(readers.os, "scandir", denied)
    with pytest.raises(UserError, match=r"cannot read the folder .*AudioWAV \(Permission denied\); make it readable"):
        prep(square_root, tmp_path / "c")


def test_git_lfs_pointer_files_are_named_as_such(square_root, tmp_path):
    root = copy(square_root, tmp_path / "root")
    for name in CLIPS:
        (root / "AudioWAV" / f"{name}.wav").write_text(
            "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 84044\n")
    rc, err, _ = cli("prepare", "--root", str(root), "--cache", str(tmp_path / "c"), "--workers", "1")
    assert_one_line(rc, err, f"{len(CLIPS)} files", "Git LFS pointers", "git lfs pull")


@pytest.mark.parametrize("argv, needle", [
    (["reproduce", "--only", "abc"], "--only 'abc' is not a notebook number"),
    (["reproduce", "--from", "abc"], "--from 'abc' is not a notebook number"),
    (["reproduce", "--from", "99"], "--from 99 is past the last notebook"),
    (["reproduce", "--only", "01", "--from", "03"], "--only and --from together"),
    (["reproduce", "--dataset", "crema-d", "--data-root", "/nowhere/crema"], "/nowhere/crema does not exist"),
    (["reproduce", "--dataset", "crema-d", "--data-root", str(REPO_ROOT / "tests")], "--data-root"),
    (["reproduce", "--dataset", "crema-d"], "needs --data-root"),
    (["reproduce", "--dataset", "cremad"], "--dataset 'cremad' is unknown"),
    (["bench", "--only", "zzz"], "no bench named zzz"),
    (["prepare", "--workers", "0"], "--workers 0: give a whole number >= 1"),
    (["prepare", "--workers", "-1"], "--workers -1"),
    (["synth", "--out", "/tmp/never-written", "--workers", "0"], "--workers 0"),
])
def test_cli_mistakes_are_one_line_before_any_work(argv, needle):
    results = REPO_ROOT / "results"
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*")} if results.exists() else {}
    rc, err, _ = cli(*argv)
    assert_one_line(rc, err, needle)
    # refused up front: no notebook kernel ran (it would write results/<profile>/notebooks/), no twin written
    assert ({p: p.stat().st_mtime_ns for p in results.rglob("*")} if results.exists() else {}) == before
    assert not os.path.exists("/tmp/never-written")


# ------------------------------------------------------------------ 5. the damaged file is blamed

def test_truncated_wav_is_blamed_not_the_intact_flv(square_root, tmp_path):
    root = copy(square_root, tmp_path / "root")
    wav = root / "AudioWAV" / f"{CLIPS[4]}.wav"
    wav.write_bytes(wav.read_bytes()[: wav.stat().st_size // 3])
    q = PreparedData(prep(root, tmp_path / "c")).quarantine
    assert list(q.file) == [f"AudioWAV/{CLIPS[4]}.wav"], q
    assert q.reason[0].startswith("audio and video durations differ") and float(q.value[0]) < -0.5
