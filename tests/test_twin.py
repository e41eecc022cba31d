"""The CREMA-D twin generator: layout, formats, determinism, visemes, emotions, resume, bad input."""
import dataclasses
import json
import os

import av
import numpy as np
import pytest
import soundfile as sf

from s2v_lib.config import get_profile
from s2v_lib.data import crema_meta
from s2v_lib.data.twin import face as F
from s2v_lib.data.twin.synth import FOLDERS, clip_paths, synth_dataset
from s2v_lib.errors import UserError

TINY = dataclasses.replace(get_profile("smoke"), name="tiny", n_actors=2, sentences=("IOM",),
                           emotions=("HAP", "SAD"), levels=("XX",))


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_dataset(TINY, tmp_path_factory.mktemp("twin"), workers=1, progress=False)


def names():
    return sorted(c.name for c in crema_meta.select_clips(TINY))


def decode(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def luma(img):
    return img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_names_and_counts_match_select_clips(twin):
    assert len(names()) == 4
    for key, folder in FOLDERS.items():
        assert sorted(p.stem for p in (twin / folder).glob(f"*.{key}")) == names()
    meta = json.loads((twin / "twin.json").read_text())
    assert meta["clips"] == 4 and meta["canvas"] == 64 and meta["profile"] == "tiny" and meta["seed"] == 0
    assert (twin / "VideoDemographics.csv").read_bytes().startswith(b'"ActorID","Age","Sex","Race","Ethnicity"')


def test_formats(twin):
    name = names()[0]
    p = clip_paths(twin, name)
    info = sf.info(str(p["wav"]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    truth = np.load(p["npz"])
    n_frames = len(truth["blink"])
    for key, vcodec in (("mp4", {"h264"}), ("flv", {"flv", "flv1"})):   # FFmpeg's flv1 decoder is named "flv"
        with av.open(str(p[key])) as c:
            vs, aus = c.streams.video[0], c.streams.audio[0]
            assert vs.codec_context.name in vcodec and aus.codec_context.name == "aac"
            assert float(vs.average_rate) == 30 and aus.codec_context.sample_rate == 16000
            assert vs.codec_context.pix_fmt == "yuv420p" and (vs.width, vs.height) == (64, 64)
        assert len(decode(p[key])) == n_frames
    # sidecar shapes
    assert truth["viseme"].shape == (n_frames, 5) and truth["landmarks5"].shape == (n_frames, 5, 2)
    assert truth["expression"].shape == (n_frames, len(truth["expr_names"])) and truth["pose"].shape == (n_frames, 4)
    assert truth["face_box"].shape == (n_frames, 4) and truth["phon_sample"].dtype == np.int32
    x0, y0, x1, y1 = truth["face_box"][0]
    assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64 and (x1 - x0) > 32   # the face fills most of the canvas


def test_audio_aligned_in_flv_and_mp4(twin):
    p = clip_paths(twin, names()[0])
    wav = sf.read(str(p["wav"]), dtype="float32")[0]
    for key in ("mp4", "flv"):
        with av.open(str(p[key])) as c:
            aud = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
        a, b = wav[4000:20000], aud[4000:20000]
        lags = range(-300, 301, 1)
        best = max(lags, key=lambda k: float(np.dot(a[300:-300], b[300 + k:len(b) - 300 + k])))
        assert abs(best) <= 2, (key, best)


def test_deterministic_across_workers(twin, tmp_path):
    other = synth_dataset(TINY, tmp_path / "w2", workers=2, progress=False)
    for name in names():
        a, b = clip_paths(twin, name), clip_paths(other, name)
        assert a["wav"].read_bytes() == b["wav"].read_bytes()
        for key in ("mp4", "flv"):
            assert np.array_equal(decode(a[key]), decode(b[key]))
        ta, tb = np.load(a["npz"]), np.load(b["npz"])
        assert np.array_equal(ta["landmarks5"], tb["landmarks5"]) and np.array_equal(ta["viseme"], tb["viseme"])


def _bilabial_frames(truth):
    """Frames in the middle of p/b/m phonemes, and the frame of the widest open vowel."""
    fps, sr = int(truth["fps"]), int(truth["sample_rate"])
    onsets = truth["phon_sample"].tolist() + [None]
    mids = []
    for s, e, ph in zip(onsets[:-1], onsets[1:], truth["phon_ipa"]):
        if F.strip_ipa(str(ph)) in F.BILABIALS and e is not None:
            mids.append(int(((s + e) / 2 / sr - 0.03) * fps))   # the mouth leads the sound by 30 ms
    return mids


def _dark_mouth_pixels(frame, truth, i):
    lm, box = truth["landmarks5"][i], truth["face_box"][i]
    cx, nose_y, chin_y = lm[4, 0], lm[4, 1], box[3]
    half_w = 0.15 * (box[2] - box[0])                      # inside the jaw line: no hair or beard sides
    region = frame[int(nose_y) + 2:int(nose_y + 0.75 * (chin_y - nose_y)), int(cx - half_w):int(cx + half_w) + 1]
    return int((luma(region) < 70).sum())


def test_viseme_closes_lips_on_bilabials(twin):
    checked = 0
    for name in names():
        p = clip_paths(twin, name)
        truth = np.load(p["npz"])
        frames = decode(p["mp4"])
        mids = _bilabial_frames(truth)
        assert len(mids) >= 2, name                             # I'm, my, meeting
        for i in mids:
            assert truth["viseme"][i, 0] < 0.05, (name, i, truth["viseme"][i])
        open_i = int(np.argmax(truth["viseme"][:, 0]))
        assert truth["viseme"][open_i, 0] > 0.4
        closed_dark = min(_dark_mouth_pixels(frames[i], truth, i) for i in mids)
        open_dark = _dark_mouth_pixels(frames[open_i], truth, open_i)
        assert open_dark >= closed_dark + 4, (name, closed_dark, open_dark)
        checked += 1
    assert checked == 4


def _f0_median(wav, sr=16000):
    """Median F0 (Hz) of voiced 40 ms frames by autocorrelation (60-400 Hz)."""
    n, hop = 640, 160
    f0 = []
    for s in range(0, len(wav) - n, hop):
        x = wav[s:s + n] - wav[s:s + n].mean()
        if np.sqrt((x ** 2).mean()) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[n - 1:]
        lo, hi = sr // 400, sr // 60
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            f0.append(sr / k)
    return float(np.median(f0))


def test_emotion_changes_prosody_and_expression(twin):
    actor = crema_meta.select_clips(TINY)[0].actor
    p_hap, p_sad = clip_paths(twin, f"{actor}_IOM_HAP_XX"), clip_paths(twin, f"{actor}_IOM_SAD_XX")
    t_hap, t_sad = np.load(p_hap["npz"]), np.load(p_sad["npz"])
    span = lambda t: t["phon_sample"][-1] - t["phon_sample"][0]
    assert span(t_sad) > 1.2 * span(t_hap)                       # sad speech is slower
    f_hap = _f0_median(sf.read(str(p_hap["wav"]), dtype="float32")[0])
    f_sad = _f0_median(sf.read(str(p_sad["wav"]), dtype="float32")[0])
    assert f_hap > 1.1 * f_sad, (f_hap, f_sad)                  # and lower
    # expression parameters: smile vs frown, inner brows
    names_ = list(t_hap["expr_names"])
    smile, inner = names_.index("smile"), names_.index("brow_inner")
    assert t_hap["expression"][:, smile].mean() > 0.4 and t_sad["expression"][:, smile].mean() < -0.4
    assert t_sad["expression"][:, inner].mean() > t_hap["expression"][:, inner].mean() + 0.4
    # pixels in the brow and mouth regions (same identity, closed mouth, no pose)
    d = crema_meta.demographics().set_index("actor").loc[actor]
    ident = F.sample_identity(d.sex, int(d.age), d.race, actor)
    hap, sad = (F.render_still(ident, e, size=64).astype(np.float32) for e in ("HAP", "SAD"))
    lm = F.FaceRenderer(ident, "NEU", 1.0, 64).landmarks5()
    eye_y, nose_y, cx = int(lm[0, 1]), int(lm[4, 1]), int(lm[4, 0])
    brows = np.s_[eye_y - 9:eye_y - 1, cx - 16:cx + 17]
    mouth = np.s_[nose_y + 2:nose_y + 14, cx - 12:cx + 13]
    assert np.abs(hap[brows] - sad[brows]).mean() > 4
    assert np.abs(hap[mouth] - sad[mouth]).mean() > 4


def test_resume_rewrites_only_missing(twin):
    name = names()[1]
    p = clip_paths(twin, name)
    wav_bytes, mp4_frames = p["wav"].read_bytes(), decode(p["mp4"])
    p["wav"].unlink()
    p["mp4"].unlink()
    before = {f: f.stat().st_mtime_ns for f in twin.rglob("*") if f.is_file() and f.name != "twin.json"}
    synth_dataset(TINY, twin, workers=1, progress=False)
    assert p["wav"].read_bytes() == wav_bytes and np.array_equal(decode(p["mp4"]), mp4_frames)
    after = {f: f.stat().st_mtime_ns for f in before}
    assert after == before                                       # nothing else was rewritten
    assert not list(twin.rglob("*.tmp-*"))


def test_bad_input(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unknown profile"):
        synth_dataset("nope", tmp_path / "a", progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="not writable"):
        synth_dataset(TINY, blocker / "sub", progress=False)
    import espeakng_loader
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "missing.so"))
    with pytest.raises(UserError, match="espeak|eSpeak"):
        synth_dataset(TINY, tmp_path / "b", progress=False)


def test_cli_reports_bad_profile(tmp_path, capsys):
    from s2v_lib.__main__ import main
    assert main(["synth", "--profile", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_other_twin_in_out_dir_is_refused(twin):
    with pytest.raises(UserError, match="another twin"):
        synth_dataset(TINY, twin, seed=1, progress=False)


def test_render_still_api():
    a = F.sample_identity("Female", 30, "Asian", F.OTHER_IDENTITY_SEED0)
    b = F.sample_identity("Female", 30, "Asian", F.OTHER_IDENTITY_SEED0 + 1)
    img_a = F.render_still(a, "NEU", size=64)
    img_b = F.render_still(b, "NEU", size=64)
    assert img_a.shape == (64, 64, 3) and img_a.dtype == np.uint8
    assert np.abs(img_a.astype(int) - img_b).mean() > 3          # distinct identities
    assert np.array_equal(img_a, F.render_still(a, "NEU", size=64))
    talking = F.render_still(a, "NEU", mouth=F.VISEMES["AA"], blink=1.0, pose=(0.01, 0, 0.03, 1.0), size=128)
    assert talking.shape == (128, 128, 3) and not np.array_equal(talking[::2, ::2], img_a)


@pytest.mark.slow
def test_defects_are_written_and_listed(tmp_path):
    root = synth_dataset(TINY, tmp_path / "d", workers=1, progress=False, defects=True)
    listed = json.loads((root / "defects.json").read_text())
    kinds = {v["kind"] for v in listed.values()}
    assert {"flv_no_audio", "zero_duration", "all_displays_one_minute", "truncated"} <= kinds
    for name, v in listed.items():
        for f in v["files"]:
            assert (root / f).exists(), f
    with av.open(str(root / "VideoFlash/1005_IWW_DIS_XX.flv")) as c:
        assert len(c.streams.audio) == 0 and len(c.streams.video) == 1
    assert sf.info(str(root / "AudioWAV/1064_IEO_DIS_MD.wav")).duration > 50
    assert sf.info(str(root / "AudioWAV/1064_TIE_SAD_XX.wav")).frames == 0
    truncated = next(n for n, v in listed.items() if v["kind"] == "truncated")
    n_frames = len(np.load(clip_paths(root, truncated)["npz"])["blink"])
    assert len(decode(root / listed[truncated]["files"][0])) < n_frames     # cut short: frames missing
    assert json.loads((root / "twin.json").read_text())["defects"] is True


def _identity(actor):
    d = crema_meta.demographics().set_index("actor").loc[actor]
    return F.sample_identity(d.sex, int(d.age), d.race, actor)


@pytest.mark.parametrize("actor", [1011, 1040, 1051])   # stubble; buzz cut + full beard + glasses; bald + moustache
def test_cached_patches_match_a_full_render(actor):
    """Per frame only the eye and mouth patches are redrawn; any mismatch with the static layer under
    them (beard, stubble, hair, glasses, wrinkles, shading) would show as a seam around the patch."""
    ident = _identity(actor)
    assert ident["beard"] != "none"
    states = [(1.0, F.VISEMES["REST"], 0.0, (0, 0, 0, 1)), (1.1, F.VISEMES["AA"], 0.0, (0.01, -0.01, 0.04, 1.02)),
              (0.7, F.VISEMES["I"], 1.0, (-0.02, 0.0, -0.03, 0.98)), (1.3, F.VISEMES["O"], 0.5, (0, 0, 0, 1))]
    for emotion in ("NEU", "HAP", "ANG", "FEA"):
        r = F.FaceRenderer(ident, emotion, 1.0, 64)
        frames = [r.frame(g, m, b, p) for g, m, b, p in states]
        for (g, m, b, p), cached in zip(states, frames):
            assert np.array_equal(cached, r.frame(g, m, b, p, patches=False)), (actor, emotion, m)
        # a different mouth changes pixels only around the mouth: nothing at the patch borders
        closed, open_ = frames[0].astype(int), r.frame(1.0, F.VISEMES["AA"], 0.0, (0, 0, 0, 1)).astype(int)
        ys, xs = np.nonzero(np.abs(closed - open_).max(-1))
        lm = r.landmarks5()
        assert ys.min() > lm[4, 1] and xs.min() > lm[2, 0] and xs.max() < lm[0, 0], (actor, emotion)


def test_lips_enclose_the_open_mouth():
    """The opening and teeth sit inside the lips: above them is lip colour, not skin or beard."""
    ident = _identity(1011)                                     # stubble: exposed teeth read as a light patch
    lip_red = lambda px: px[..., 0].astype(int) - px[..., 1] > 70     # lips are far redder than skin
    for emotion, mouth in (("HAP", (0.6, 0.66, 0.05, 0.6, 0.2)), ("NEU", F.VISEMES["AA"]), ("HAP", F.VISEMES["E"]),
                           ("SAD", F.VISEMES["O"])):
        img = F.render_still(ident, emotion, mouth=mouth, size=256)
        r = F.FaceRenderer(ident, emotion, 1.0, 256)
        cx, nose_y = (int(v) for v in r.landmarks5()[4])
        dark = np.abs(img.astype(int) - (56, 15, 18)).max(-1) < 20            # the opening
        teeth = np.abs(img.astype(int) - (235, 230, 214)).max(-1) < 20
        hole = dark | teeth
        hole[:nose_y] = False
        cols = [x for x in range(cx - 12, cx + 13) if hole[:, x].any()]
        assert len(cols) == 25, emotion
        for x in cols:
            top = int(np.argmax(hole[:, x]))
            assert lip_red(img[top - 3, x]), (emotion, mouth, x, img[top - 6:top + 1, x])
