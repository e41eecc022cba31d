"""Real-data paths: CREMA-D and VoxCeleb2 layouts, the face detector, defect quarantine, shards, bad input.

Fast fixtures render the twin's faces (no speech synthesis: a tone stands in for the voice) into the
real layouts; two slow tests run the twin generator's own --defects output through the detector.
"""
import dataclasses
import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from s2v_lib.config import get_profile
from s2v_lib.data import faces
from s2v_lib.data.crema_meta import demographics, select_clips
from s2v_lib.data.dataset import SAMPLES_PER_FRAME, PreparedData
from s2v_lib.data.prepare import merge_prepared, prepare_dataset, resample_indices
from s2v_lib.data.twin import face as F
from s2v_lib.data.twin.motion import pose_track
from s2v_lib.data.twin.mux import write_flv, write_mp4
from s2v_lib.data.twin.voxceleb2 import write_m4a
from s2v_lib.data.video_io import read_video, read_video_resampled
from s2v_lib.errors import UserError

SMOKE = get_profile("smoke")
SR = 16000
ACTORS = (1001, 1002, 1003, 1005)                     # 2 male, 2 female of the smoke profile's actors
HEALTHY = [f"{a}_{s}_{e}_XX" for a in ACTORS for s in ("DFA", "TIE") for e in ("HAP", "NEU")]


def talking_face(seed: int, n: int, fps: float, size: int = 64, amp: float = 1.0):
    """(frames uint8 (n, size, size, 3), sidecar face boxes (n, 4)): a twin face moving its head and jaw."""
    rng = np.random.default_rng(seed)
    ident = F.sample_identity("Male" if seed % 2 else "Female", 25 + seed % 40, "Caucasian", 3_000_000 + seed)
    r = F.FaceRenderer(ident, "NEU", 0.9, size)
    pose = pose_track(n, fps, rng, amp=amp)
    rest, aa = np.array(F.VISEMES["REST"]), np.array(F.VISEMES["AA"])
    open_ = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * np.arange(n) / fps)
    frames = np.stack([r.frame(0.9, rest + o * (aa - rest), 0.0, pose[t]) for t, o in enumerate(open_)])
    return frames, np.stack([r.face_box(p) for p in pose])


def tone(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (3000 * np.sin(2 * np.pi * (180 + 20 * seed) * t)).astype(np.int16)


def write_crema_clip(root: Path, name: str, seed: int, n: int = 45, fps: int = 30, video_audio=True, face=True):
    frames, boxes = talking_face(seed, n, fps)
    if not face:
        frames = np.full_like(frames, 120)
    wav = tone(n / fps, seed)
    write_flv(root / "VideoFlash" / f"{name}.flv", frames, wav if video_audio else None, fps, SR)
    sf.write(root / "AudioWAV" / f"{name}.wav", wav, SR, subtype="PCM_16")
    np.savez(root / "GroundTruth" / f"{name}.npz", face_box=boxes.astype(np.float32))


def write_mp3(path: Path, wav: np.ndarray) -> None:
    from fractions import Fraction

    import av
    with av.open(str(path), "w") as c:
        s = c.add_stream("mp3", rate=SR, layout="mono")
        fr = av.AudioFrame.from_ndarray(wav[None], format="s16", layout="mono")
        fr.sample_rate, fr.pts, fr.time_base = SR, 0, Fraction(1, SR)
        c.mux(s.encode(fr))
        c.mux(s.encode())


def write_crema_root(root: Path, clips=HEALTHY) -> Path:
    for d in ("VideoFlash", "AudioWAV", "GroundTruth"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(clips):
        write_crema_clip(root, name, seed=i, n=45 + 3 * (i % 4))
    d = demographics()
    d.rename(columns={"actor": "ActorID", "age": "Age", "sex": "Sex", "race": "Race", "ethnicity": "Ethnicity"}) \
        .drop(columns="age_group").to_csv(root / "VideoDemographics.csv", index=False)
    return root


@pytest.fixture(scope="module")
def crema_root(tmp_path_factory):
    return write_crema_root(tmp_path_factory.mktemp("crema"))


@pytest.fixture(scope="module")
def crema_prepared(crema_root, tmp_path_factory):
    return prepare_dataset("crema-d", crema_root, SMOKE, cache=tmp_path_factory.mktemp("cache"), workers=2,
                           progress=False)


# ------------------------------------------------------------------ detector

def test_detector_finds_twin_faces_close_to_the_sidecar_boxes():
    frames, truth = talking_face(7, 40, 25)
    boxes, marks, stats = faces.detect_face_boxes(frames, 25)
    assert stats["found"] == stats["sampled"] == 21
    cmp = faces.compare_boxes(boxes, truth)
    assert cmp["iou"] > 0.65 and cmp["centre_err"] < 0.1, cmp
    # a short gap is interpolated; a long one, or no face at all, is refused with its measured value
    blank = frames.copy()
    blank[16:20] = 128
    assert np.isfinite(faces.detect_face_boxes(blank, 25)[0]).all()
    blank[12:28] = 128                     # 0.64 s without a face
    with pytest.raises(faces.NoFaceError, match="long gap"):
        faces.detect_face_boxes(blank, 25)
    with pytest.raises(faces.NoFaceError, match="no face found"):
        faces.detect_face_boxes(np.full_like(frames, 128), 25)


def test_similarity_box_is_rotation_and_scale_equivariant():
    pts = faces.TEMPLATE_5 * 50 + 10
    box = faces.box_from_landmarks(pts)
    assert np.allclose(box, [10, 10, 60, 60], atol=1e-6)
    c, s = np.cos(0.3), np.sin(0.3)
    rot = (pts - 35) @ np.array([[c, -s], [s, c]]).T * 2 + 100
    b2 = faces.box_from_landmarks(rot)
    assert np.allclose([b2[2] - b2[0], (b2[0] + b2[2]) / 2, (b2[1] + b2[3]) / 2], [100, 100, 100], atol=1e-6)


def test_streaming_decode_keeps_the_frames_nearest_resampling_keeps(crema_root):
    path = crema_root / "VideoFlash" / f"{HEALTHY[1]}.flv"
    full, streamed = read_video(path), read_video_resampled(path, 25)
    src = resample_indices(full.times, len(streamed.frames), 25)
    assert streamed.n_src == len(full.frames) and len(streamed.frames) == int(len(full.frames) / 30 * 25 + 1e-6)
    assert np.array_equal(streamed.src_index, src) and np.array_equal(streamed.frames, full.frames[src])


# ------------------------------------------------------------------ CREMA-D layout

def test_crema_layout_through_the_detector(crema_prepared, crema_root):
    data = PreparedData(crema_prepared)
    m = data.manifest
    assert sorted(m.clip_id) == sorted(HEALTHY) and data.quarantine.empty
    assert data.info["face_source"] == "detect" and crema_prepared.name.startswith("crema-d-smoke-")
    assert (m.source.str.startswith("VideoFlash/")).all() and set(m.sex) == {"Male", "Female"}
    f = pd.read_csv(crema_prepared / "faces.csv")
    assert (f.found == f.sampled).all() and f.iou.min() > 0.6 and (f.face_source == "detect").all()
    frames, audio = data.load(HEALTHY[0])
    assert frames.shape[1:] == (48, 48, 3) and len(audio) == len(frames) * SAMPLES_PER_FRAME
    wav = sf.read(crema_root / "AudioWAV" / f"{HEALTHY[0]}.wav", dtype="int16")[0]
    assert np.array_equal((audio * 32768).astype(np.int16), wav[: len(audio)])   # the WAV is the audio of record


def test_crema_defects_are_each_caught_and_healthy_clips_kept(crema_root, tmp_path):
    root = tmp_path / "crema"
    shutil.copytree(crema_root, root)
    bad = {   # clip -> (file that gets the blame, reason)
        "1001_TSI_HAP_XX": ("VideoFlash/1001_TSI_HAP_XX.flv", "video has no audio stream"),
        "1002_TSI_HAP_XX": ("VideoFlash/1002_TSI_HAP_XX.flv", "audio and video durations differ"),   # truncated
        "1003_TSI_HAP_XX": ("AudioWAV/1003_TSI_HAP_XX.wav", "zero duration"),
        "1005_TSI_HAP_XX": ("AudioWAV/1005_TSI_HAP_XX.wav", "clip longer than 5x the median"),
        "1001_TSI_NEU_XX": ("VideoFlash/1001_TSI_NEU_XX.flv", "no face found"),
        "1002_TSI_NEU_XX": ("VideoFlash/1002_TSI_NEU_XX.flv", "frame rate unlike the dataset's"),
        "1003_TSI_NEU_XX": ("VideoFlash/1003_TSI_NEU_XX.flv", "undecodable video"),
        "1005_TSI_NEU_XX": ("AudioWAV/1005_TSI_NEU_XX.wav", "missing audio file"),
        "1001_IEO_SAD_XX": ("VideoFlash/1001_IEO_SAD_XX.flv", "video has no audio stream"),   # outside the profile
    }
    for i, name in enumerate(bad):
        write_crema_clip(root, name, seed=20 + i, n=60, video_audio=name not in ("1001_TSI_HAP_XX", "1001_IEO_SAD_XX"),
                         face=name != "1001_TSI_NEU_XX", fps=25 if name == "1002_TSI_NEU_XX" else 30)
    flv = root / "VideoFlash" / "1002_TSI_HAP_XX.flv"
    flv.write_bytes(flv.read_bytes()[: flv.stat().st_size // 3])
    sf.write(root / "AudioWAV" / "1003_TSI_HAP_XX.wav", np.zeros(0, np.int16), SR, subtype="PCM_16")
    sf.write(root / "AudioWAV" / "1005_TSI_HAP_XX.wav", tone(30.0), SR, subtype="PCM_16")
    (root / "VideoFlash" / "1003_TSI_NEU_XX.flv").write_bytes(b"FLV\x01 not really a video" * 20)
    (root / "AudioWAV" / "1005_TSI_NEU_XX.wav").unlink()
    # the MP3 stands in for a missing WAV: that clip stays healthy
    (root / "AudioMP3").mkdir()
    wav_path = root / "AudioWAV" / f"{HEALTHY[3]}.wav"
    write_mp3(root / "AudioMP3" / f"{HEALTHY[3]}.mp3", sf.read(wav_path, dtype="int16")[0])
    wav_path.unlink()

    out = prepare_dataset("crema-d", root, SMOKE, cache=tmp_path / "cache", workers=2, progress=False)
    data = PreparedData(out)
    q = data.quarantine
    assert sorted(q.file) == sorted(f for f, _ in bad.values()), q
    for f, reason in bad.values():
        assert q.set_index("file").loc[f, "reason"].startswith(reason), (f, q)
    qv = q.set_index("file")["value"]
    assert float(qv["AudioWAV/1005_TSI_HAP_XX.wav"]) == 30.0 and float(qv["VideoFlash/1002_TSI_NEU_XX.flv"]) == 25.0
    in_profile_bad = {n for n in bad if n.split("_")[2] in SMOKE.emotions}
    assert sorted(data.manifest.clip_id) == sorted(HEALTHY), "every healthy clip is kept"
    assert data.info["n_outside_profile"] == 1 and len(in_profile_bad) == 8


# ------------------------------------------------------------------ VoxCeleb2 layout

VOX = {   # identity -> set
    "id00011": "dev", "id00012": "dev", "id00015": "dev", "id00020": "test",
}


def write_vox_root(root: Path, meta=True, aac=True, defects=True) -> dict:
    """3 dev + 1 test identities x 2 videos x 2 clips (25 fps mp4, m4a beside), and three defects."""
    expected = {}
    seed = 0
    for ident, split in VOX.items():
        for video in ("aBc-12_XyZ0", "Q9w8E7r6T5y"):
            for clip in ("00001", "00002"):
                seed += 1
                frames, boxes = talking_face(seed, 50, 25, amp=2.0)
                wav = tone(2.0, seed)
                rel = Path(ident) / video / clip
                kind = None
                if defects and ident == "id00012" and video.startswith("Q9"):
                    kind = "no_audio_stream" if clip == "00001" else "no_face"
                if defects and ident == "id00020" and video.startswith("Q9") and clip == "00002":
                    kind = "audio_short"
                if kind == "no_face":
                    frames = np.full_like(frames, 90)
                mp4 = root / split / "mp4" / f"{rel}.mp4"
                mp4.parent.mkdir(parents=True, exist_ok=True)
                write_mp4(mp4, frames, None if kind == "no_audio_stream" else wav, 25, SR)
                if aac and kind != "no_audio_stream":
                    write_m4a(root / split / "aac" / f"{rel}.m4a", wav[: len(wav) // 2] if kind == "audio_short" else wav, SR)
                if kind:
                    expected[f"{ident}_{video}_{clip}"] = kind
    if meta:
        (root / "vox2_meta.csv").write_text("VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set \n" + "".join(
            f"{i} ,n{i[2:]} ,{'m' if k % 2 else 'f'} ,{s} \n" for k, (i, s) in enumerate(VOX.items())))
    return expected


@pytest.fixture(scope="module")
def vox_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("vox")
    write_vox_root(root)
    return root


def test_voxceleb2_layout_splits_sex_and_defects(vox_root, tmp_path):
    out = prepare_dataset("voxceleb2", vox_root, SMOKE, cache=tmp_path, workers=2, progress=False)
    data = PreparedData(out)
    m, q = data.manifest, data.quarantine.set_index("file")
    assert q.loc["dev/mp4/id00012/Q9w8E7r6T5y/00001.mp4", "reason"] == "video has no audio stream"
    assert q.loc["dev/mp4/id00012/Q9w8E7r6T5y/00002.mp4", "reason"] == "no face found"
    # the half-length m4a is the damaged file, not the intact mp4 beside it
    assert q.loc["test/aac/id00020/Q9w8E7r6T5y/00002.m4a", "reason"].startswith("audio and video durations differ")
    assert float(q.loc["test/aac/id00020/Q9w8E7r6T5y/00002.m4a", "value"]) == pytest.approx(-1.0, abs=0.1)
    assert len(q) == 3 and len(m) == 16 - 3
    assert list(m.columns[:14]) == ["clip_id", "actor", "sentence", "emotion", "level", "sex", "age", "age_group",
                                    "race", "n_frames", "duration_s", "path", "source", "split"]
    assert set(m.emotion) == {"NEU"} and set(m.actor) == {11, 12, 15, 20} and m.age.isna().all()
    assert m.set_index("actor").sex.to_dict() == {11: "Female", 12: "Male", 15: "Female", 20: "Male"}
    # the dataset's own split: test identities are the unseen voices, dev identities train/val/test
    assert set(m[m.split == "unseen"].actor) == {20} and set(m[m.split == "train"].actor) == {11, 12, 15}
    assert m.loc[m.clip_id == "id00011_aBc-12_XyZ0_00001", "sentence"].item() == "aBc-12_XyZ0"
    frames, audio = data.load(m.clip_id[0])
    assert frames.shape == (50, 48, 48, 3) and len(audio) == 50 * SAMPLES_PER_FRAME and np.abs(audio).max() > 0.05


def test_voxceleb2_without_meta_or_aac_uses_the_mp4_track_and_unknown_sex(tmp_path):
    root = tmp_path / "vox"
    write_vox_root(root, meta=False, aac=False, defects=False)
    shutil.rmtree(root / "test")          # only dev downloaded: the profile's n_unseen identities are held out
    data = PreparedData(prepare_dataset("voxceleb2", root, SMOKE, cache=tmp_path / "c", workers=2, progress=False))
    m = data.manifest
    assert len(m) == 12 and set(m.sex) == {"Unknown"} and (m.split == "unseen").sum() == 2 * 4
    assert data.info["unseen_actors"] is None


# ------------------------------------------------------------------ shards

def test_shards_merge_into_the_unsharded_dataset(crema_root, crema_prepared, tmp_path):
    shards = [prepare_dataset("crema-d", crema_root, SMOKE, cache=tmp_path / "c", workers=1, progress=False,
                              shard=f"{i}/2") for i in range(2)]
    sizes = [len(pd.read_csv(s / "manifest.csv")) for s in shards]
    assert sum(sizes) == len(HEALTHY) and min(sizes) > 0
    with pytest.raises(UserError, match="shard 0/2 of a dataset"):
        PreparedData(shards[0])
    with pytest.raises(UserError, match=r"missing \[1\]"):
        merge_prepared(shards[:1], tmp_path / "merged")
    merged = PreparedData(merge_prepared(shards, tmp_path / "merged"))
    whole = PreparedData(crema_prepared)
    assert merged.manifest.equals(whole.manifest)              # same clips, same splits
    for cid in HEALTHY[:3]:
        assert all(np.array_equal(a, b) for a, b in zip(merged.load(cid), whole.load(cid)))


# ------------------------------------------------------------------ bad input

def test_bad_input_messages_name_the_path_and_the_fix(crema_root, tmp_path, monkeypatch):
    no_demo = tmp_path / "nodemo"
    shutil.copytree(crema_root, no_demo)
    (no_demo / "VideoDemographics.csv").unlink()
    with pytest.raises(UserError, match=r"VideoDemographics.csv is missing.*copy it there"):
        prepare_dataset("crema-d", no_demo, SMOKE, cache=tmp_path / "c", progress=False)
    (tmp_path / "junk").mkdir()
    with pytest.raises(UserError, match=r"junk has no dev/mp4/ or test/mp4/ folder"):
        prepare_dataset("voxceleb2", tmp_path / "junk", SMOKE, cache=tmp_path / "c", progress=False)
    with pytest.raises(UserError, match="does not exist"):
        prepare_dataset("crema-d", tmp_path / "nowhere", SMOKE, cache=tmp_path / "c", progress=False)
    with pytest.raises(UserError, match="need 0 <= i < n"):
        prepare_dataset("crema-d", crema_root, SMOKE, cache=tmp_path / "c", progress=False, shard="2/2")
    # a read-only cache (simulated: the tests may run as root, who can write anywhere)
    real_write = Path.write_bytes
    ro = tmp_path / "ro"

    def refuse(self, data):
        if str(self).startswith(str(ro)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_write(self, data)
    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(UserError, match=rf"prepare cache dir {ro}.* is not writable \(Read-only file system\)"):
        prepare_dataset("crema-d", crema_root, SMOKE, cache=ro, progress=False)


# ------------------------------------------------------------------ the twin generator's own defects (slow)

@pytest.mark.slow
def test_twin_defects_crema_layout_quarantine_exactly_the_defects(tmp_path):
    from s2v_lib.data.twin.synth import synth_dataset
    tiny = dataclasses.replace(SMOKE, name="tiny", n_actors=4, sentences=("DFA",))
    root = synth_dataset(tiny, tmp_path / "twin", workers=2, progress=False, defects=True)
    listed = json.loads((root / "defects.json").read_text())
    data = PreparedData(prepare_dataset("crema-d", root, tiny, cache=tmp_path / "c", workers=2, progress=False))
    q = data.quarantine
    blamed = {Path(f).stem for f in q.file}
    assert blamed == set(listed), q                    # every injected defect, and nothing else
    for r in q.itertuples():
        assert r.file in listed[Path(r.file).stem]["files"]
    f = pd.read_csv(data.root / "faces.csv")
    assert (f.found == f.sampled).all() and f.iou.mean() > 0.65
    expected = {c.name for c in select_clips(tiny)} - set(listed)
    assert set(data.manifest.clip_id) == expected and len(expected) == 7     # 8 selected, 1 truncated


@pytest.mark.slow
def test_twin_voxceleb2_layout_defects(tmp_path):
    from s2v_lib.data.twin.voxceleb2 import VoxTwinConfig, synth_voxceleb2
    root = synth_voxceleb2(SMOKE, tmp_path / "vox", workers=1, defects=True, progress=False,
                           config=VoxTwinConfig(n_dev=2, n_test=1, videos=3, clips=1))
    listed = json.loads((root / "defects.json").read_text())
    data = PreparedData(prepare_dataset("voxceleb2", root, SMOKE, cache=tmp_path / "c", workers=2, progress=False))
    q = data.quarantine
    kinds = {listed[n]["kind"]: r for r in q.itertuples() for n in listed if r.file in listed[n]["files"]}
    assert len(q) == len(listed) == 6 and set(kinds) == set(listed[n]["kind"] for n in listed)
    assert kinds["no_face"].reason == "no face found" and kinds["long"].reason.startswith("clip longer")
    assert kinds["no_audio_stream"].reason == "video has no audio stream"
    assert len(data.manifest) == 3 and set(data.manifest.emotion) == {"NEU"}
