"""CPC, students, the speech-feature cache and the distillation report (stage 1).

Teachers here are small frozen random nets with the teachers' interface, so these tests do not
depend on trained teachers; the data is a tiny prepared set of tones written by the fixture.
"""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from s2v_lib import audio as audio_features
from s2v_lib import stage_one
from s2v_lib.stage_one import cpc_training, features
from s2v_lib.data.dataset import PreparedData
from s2v_lib.models.cpc import (CPC, CPCConfig, frame_features, infonce_loss, pool_to_frames,
                                utterance_feature)
from s2v_lib.models.students import StudentConfig, Students, l_distill, students_loss
from s2v_lib.stats import bootstrap_ci, paired_bootstrap

EMOS = ("HAP", "NEU")


class StandInIdentity:
    """Frozen random conv net with the identity teacher's interface: embed -> L2-normalised (N, 16)."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(8, 16)).eval()
        self.device = "cpu"

    @torch.no_grad()
    def embed(self, x):
        return F.normalize(self.net(x), dim=-1)


class StandInEmotion:
    classes = EMOS

    def __init__(self, seed=1):
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
        self.head = nn.Linear(8, len(EMOS))
        self.device = "cpu"

    @torch.no_grad()
    def features(self, x):
        return self.net(x)


def tiny_cpc_config(steps=6):
    return CPCConfig(channels=16, hidden=16, enc_channels=(8, 8, 16, 16), crop_samples=3200, n_positions=4,
                     batch_size=4, steps=steps)


def tiny_distill_config():
    return stage_one.DistillConfig(cpc=tiny_cpc_config(), students=StudentConfig(hidden=16, epochs=3, batch_size=8))


@pytest.fixture
def tiny_data(tmp_path):
    """4 actors x 2 emotions x 3 sentences of 8-frame clips: tones whose pitch is the actor's."""
    root = tmp_path / "prepared"
    (root / "clips").mkdir(parents=True)
    rows, splits = [], []
    rng = np.random.default_rng(0)
    t = np.arange(8 * 640) / 16000
    for a, (actor, sex) in enumerate([(1001, "Male"), (1002, "Female"), (1003, "Male"), (1004, "Female")]):
        for e, emo in enumerate(EMOS):
            for s, sent in enumerate(("DFA", "TIE", "TSI")):
                cid = f"{actor}_{sent}_{emo}_XX"
                audio = (0.2 + 0.2 * e) * np.sin(2 * np.pi * (120 + 60 * a) * t) + 0.01 * rng.normal(size=t.size)
                frames = np.full((8, 24, 24, 3), 40 * a + 20 * e, np.uint8)
                np.savez(root / "clips" / f"{cid}.npz", frames=frames, audio=(audio * 32767).astype(np.int16))
                rows.append(dict(clip_id=cid, actor=actor, sentence=sent, emotion=emo, level="XX", sex=sex, age=30,
                                 age_group="20-34", race="x", n_frames=8, duration_s=0.32,
                                 path=f"clips/{cid}.npz", source="test"))
                split = "unseen" if actor == 1004 else ("train", "val", "test")[s]
                splits.append(dict(clip_id=cid, actor=actor, split=split))
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    pd.DataFrame(splits).to_csv(root / "splits.csv", index=False)
    pd.DataFrame(columns=["file", "reason", "value"]).to_csv(root / "quarantine.csv", index=False)
    (root / "prepare.json").write_text(json.dumps({"complete": True, "frame_size": 24}))
    return PreparedData(root)


# ------------------------------------------------------------------ CPC ------------------------------------

def test_cpc_downsamples_to_100hz_and_pools_to_25fps():
    model = CPC(tiny_cpc_config()).eval()
    T = 7
    z, c = model(torch.randn(2, T * 640) * 0.1)
    assert z.shape == (2, 4 * T, 16) and c.shape == (2, 4 * T, 16)          # 160x: 100 Hz at 16 kHz
    audio = np.random.default_rng(0).normal(size=T * 640).astype(np.float32) * 0.1
    f = frame_features(model, audio)
    assert f.shape == (T, 16)                                                # 4 steps per video frame
    _, c1 = model(torch.from_numpy(audio)[None])
    assert torch.allclose(f[0], c1[0, :4].mean(0), atol=1e-6)
    assert torch.allclose(utterance_feature(model, audio), c1[0, -1], atol=1e-6)   # w = c_T
    assert torch.allclose(utterance_feature(model, audio, "mean"), c1[0].mean(0), atol=1e-6)
    assert pool_to_frames(torch.arange(12.0)[:, None]).squeeze(1).tolist() == [1.5, 5.5, 9.5]
    # a short waveform is padded to the frame count it is asked for
    assert frame_features(model, audio[:1000], n_frames=3).shape == (3, 16)


def test_infonce_decreases_on_tiny_synthetic_audio():
    torch.manual_seed(0)
    cfg = CPCConfig(channels=16, hidden=16, enc_channels=(8, 8, 16, 16), crop_samples=4800, n_positions=4,
                    batch_size=8, lr=3e-3)
    model = CPC(cfg)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    t = torch.arange(cfg.crop_samples) / 16000
    g = torch.Generator().manual_seed(0)
    f0 = 100 + 300 * torch.rand(cfg.batch_size, 1, generator=g)
    x = 0.1 * torch.sin(2 * np.pi * f0 * t * (1 + 3 * t))                 # chirps: predictable futures
    losses = []
    for _ in range(25):
        loss, acc = infonce_loss(model, x, generator=torch.Generator().manual_seed(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert acc.shape == (cfg.n_predict,)
    assert np.mean(losses[-5:]) < losses[0] - 0.3, losses


# --------------------------------------------------------------- students ----------------------------------

def test_l_distill_both_directions():
    s = torch.tensor([[2.0, 0.0, -1.0]])
    t = torch.tensor([[0.0, 1.0, 0.0]])
    want_written = -(F.softmax(s, -1) * F.log_softmax(t, -1)).sum()
    want_standard = -(F.softmax(t, -1) * F.log_softmax(s, -1)).sum()
    assert torch.isclose(l_distill(s, t, "as_written"), want_written)
    assert torch.isclose(l_distill(s, t, "standard"), want_standard)
    assert not torch.isclose(want_written, want_standard)
    # as written, the student is pushed toward the teacher's top class; standard: toward its distribution
    for direction in ("as_written", "standard"):
        x = s.clone().requires_grad_()
        l_distill(x, t, direction).backward()
        assert x.grad[0, 1] < 0                     # raising the teacher's top class lowers the loss
    with pytest.raises(ValueError):
        l_distill(s, t, "sideways")
    with pytest.raises(ValueError):
        StudentConfig(kd_direction="sideways")


def test_students_loss_eq2_terms():
    cfg = StudentConfig(lam=0.025)
    torch.manual_seed(0)
    head = nn.Linear(4, 3)
    nu, nu_t = torch.randn(5, 6), torch.randn(5, 6)
    mu, mu_t = torch.randn(5, 4), torch.randn(5, 4)
    loss, parts = students_loss(nu, mu, nu_t, mu_t, head, cfg)
    l2 = (F.normalize(nu, dim=-1) - F.normalize(nu_t, dim=-1)).pow(2).sum(-1).mean()
    assert parts["l2_id"] == pytest.approx(0.025 * float(l2), rel=1e-5)
    assert parts["kd_emo"] == pytest.approx(float(l_distill(head(mu), head(mu_t), cfg.kd_direction).detach()), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(sum(parts.values()), rel=1e-5)
    # identical student and teacher: the L2 terms vanish
    _, same = students_loss(nu_t, mu_t, nu_t, mu_t, head, cfg)
    assert same["l2_id"] == pytest.approx(0, abs=1e-6) and same["l2_emo"] == pytest.approx(0, abs=1e-6)
    # the students standardise their input with training statistics
    st = Students(3, 6, 4, cfg)
    w = torch.randn(10, 3) * 5 + 2
    st.set_input_stats(w)
    assert torch.allclose(st.w_mean, w.mean(0))


# ------------------------------------------------------------------- stats ---------------------------------

def test_bootstrap_ci():
    m, lo, hi = bootstrap_ci(np.ones(20))
    assert (m, lo, hi) == (1.0, 1.0, 1.0)
    x = np.random.default_rng(0).normal(3.0, 1.0, 400)
    m, lo, hi = bootstrap_ci(x, n=2000, seed=1)
    assert m == pytest.approx(x.mean())
    assert lo < m < hi
    half = 1.96 * x.std() / np.sqrt(x.size)                  # normal-theory half width
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    assert bootstrap_ci(x, seed=1) == bootstrap_ci(x, seed=1)   # seeded
    med, lo, hi = bootstrap_ci(x, stat=np.median)
    assert med == pytest.approx(np.median(x)) and lo <= med <= hi
    d, lo, hi, p = paired_bootstrap(x + 1.0, x)
    assert d == pytest.approx(1.0) and lo == pytest.approx(1.0) and hi == pytest.approx(1.0) and p == 0.0
    y = x + np.random.default_rng(2).normal(0, 1, x.size)     # same mean: the interval must cover 0
    d, lo, hi, p = paired_bootstrap(x, y)
    assert lo < 0 < hi and p > 0.05
    d, lo, hi, p = paired_bootstrap(x + 0.5, y)                # a real shift of 0.5 sd: detected
    assert 0 < lo < 0.5 < hi and p < 0.01


def test_eq1_emotion_target_is_the_mean_over_k_frames():
    """Eq. (1): mu* = (1/K) sum_k T_emo(phi_{pi_k}), over K distinct frames chosen per clip (stable)."""
    from s2v_lib.stage_one.targets import emotion_target_eq1, eq1_frames
    emo = StandInEmotion()
    frames = np.random.default_rng(0).integers(0, 255, (20, 24, 24, 3), dtype=np.uint8)
    idx = eq1_frames(len(frames), 5, seed=0, clip_id="1001_DFA_HAP_XX")
    assert len(set(idx.tolist())) == 5 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, eq1_frames(20, 5, 0, "1001_DFA_HAP_XX"))        # stable per clip
    assert not np.array_equal(idx, eq1_frames(20, 5, 0, "1002_DFA_HAP_XX"))    # but not the same for every clip
    per_frame = [emo.features(torch.from_numpy(frames[i:i + 1]).permute(0, 3, 1, 2).float() / 255)[0] for i in idx]
    torch.testing.assert_close(emotion_target_eq1(emo, frames[idx]), torch.stack(per_frame).mean(0))
    assert np.array_equal(eq1_frames(3, 5, 0, "x"), [0, 1, 2])                   # short clip: every frame


def test_log_mel_and_mfcc_rates():
    a = np.random.default_rng(0).normal(size=5 * 640).astype(np.float32) * 0.1
    assert audio_features.log_mel(a).shape == (20, 40)         # 100 Hz
    assert audio_features.mfcc(a).shape == (20, 13)
    assert audio_features.logmel_utterance(a).shape == (80,)


# --------------------------------------------------- cache, report (tiny end to end) ------------------------

def test_speech_features_cache_reuse_and_report(tiny_data, tmp_cache, tmp_path, monkeypatch):
    cfg = tiny_distill_config()
    id_t, emo_t = StandInIdentity(), StandInEmotion()
    kw = dict(cfg=cfg, progress=False)
    stage = features.speech_stage("smoke", tiny_data, id_t, emo_t, **kw)
    feats = stage["clips"]
    assert set(feats) == set(tiny_data.manifest["clip_id"])              # every clip of every split
    f = feats["1001_DFA_HAP_XX"]
    assert f["c"].shape == (8, 16) and f["c"].dtype == torch.float16
    assert f["w"].shape == (16,) and f["nu"].shape == (16,) and f["mu"].shape == (8,)
    assert torch.allclose(f["nu"].norm(), torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(f["nu_teacher"], id_t.embed(torch.zeros(1, 3, 24, 24))[0], atol=1e-5)
    files = list((tmp_cache / "features" / "smoke").glob("*.pt"))
    assert len(files) == 1

    # a second call reads the cache: no training, same numbers
    def boom(*a, **k):
        raise AssertionError("retrained although the cache exists")
    with monkeypatch.context() as mp:
        mp.setattr(features, "train_cpc", boom)
        again = features.speech_stage("smoke", tiny_data, id_t, emo_t, **kw)["clips"]
    assert torch.equal(again["1001_DFA_HAP_XX"]["nu"], f["nu"])

    # the cache holds the trained weights: the encoder built from them gives the cached nu, mu
    from s2v_lib.generate import speech_encoder
    enc = speech_encoder("smoke", tiny_data, stage=stage)
    frames, wav = tiny_data.load("1001_DFA_HAP_XX")
    out = enc.encode(wav, len(frames))
    torch.testing.assert_close(out["nu"], f["nu"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out["mu"], f["mu"], atol=1e-5, rtol=1e-4)
    # without the feature file, a rebuild reuses the finished CPC and student checkpoints (no training step)
    for p in files:
        p.unlink()
    with monkeypatch.context() as mp:
        mp.setattr(cpc_training, "infonce_loss", boom)
        rebuilt = features.speech_stage("smoke", tiny_data, id_t, emo_t, **kw)["clips"]
    assert torch.equal(rebuilt["1001_DFA_HAP_XX"]["nu"], f["nu"])

    out = tmp_path / "distillation.json"
    report = stage_one.evaluate_stage_one("smoke", tiny_data, stage, emo_t, write=True, out_path=out, progress=False)
    js = json.loads(out.read_text())
    for key in ("identity_teacher_1nn", "emotion_teacher_acc", "identity_top1_seen", "identity_top5_seen",
                "emotion_acc_seen", "emotion_acc_unseen", "sex_agreement_unseen", "identity_top1_seen_logmel",
                "emotion_acc_seen_logmel"):
        assert set(js[key]) == {"mean", "lo", "hi"}, key
        assert 0 <= js[key]["lo"] <= js[key]["mean"] <= js[key]["hi"] <= 1, key
    assert js["kd_direction"] == "standard"
    assert set(js["emotion_acc_seen_kd_as_written"]) == {"mean", "lo", "hi"}   # the other reading, beside it
    assert js["dims"]["nu"] == 16 and js["dims"]["mu"] == 8 and js["dims"]["c"] == 16
    # the JSON's numbers are the per-clip outcomes' means
    test = report["scored"]["cpc_mean"].query("split == 'test'")
    assert js["identity_top1_seen"]["mean"] == pytest.approx((test["id_rank"] == 1).mean())
    assert js["emotion_acc_seen"]["mean"] == pytest.approx((test["emo_pred"] == test["emotion"]).mean())
    assert js["chance"]["identity_top1"] == pytest.approx(1 / js["n_seen_actors"])
    assert test["id_rank"].between(1, js["n_seen_actors"]).all()               # ranks are 1-based
    assert report["confusion"].to_numpy().sum() == (tiny_data.manifest["split"] == "test").sum()


def test_checkpoint_resume_continues_training(tiny_data, tmp_cache):
    """A run stopped after 4 of 8 CPC steps resumes there and ends where an uninterrupted run ends."""
    cfg = tiny_cpc_config(steps=8)
    full, _ = cpc_training.train_cpc("smoke", tiny_data, cfg=cfg, progress=False, save_every=4, force_retrain=True)
    half_cfg = tiny_cpc_config(steps=8)
    # simulate a kill: train the first 4 steps, keep that checkpoint as "not done"
    import s2v_lib.train.checkpoint as ck
    saved = []
    real_save = ck.Checkpoint.save

    def save_then_stop(self, state, done=False):
        real_save(self, state, done)
        saved.append(state["unit"])
        if state["unit"] == 4:
            raise KeyboardInterrupt
    ck.Checkpoint.save = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            cpc_training.train_cpc("smoke", tiny_data, cfg=half_cfg, progress=False, save_every=4, force_retrain=True)
    finally:
        ck.Checkpoint.save = real_save
    resumed, hist = cpc_training.train_cpc("smoke", tiny_data, cfg=half_cfg, progress=False, save_every=4)
    assert hist["step"] == list(range(8))
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), k
