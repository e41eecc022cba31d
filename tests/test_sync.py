"""Sync expert: syncnet_python's scoring reproduced exactly; a trained expert finds offsets."""
import dataclasses

import numpy as np
import pytest
import torch

from s2v_lib.config import get_profile
from s2v_lib.data.dataset import PreparedData
from s2v_lib.models.syncnet import SyncNet, SyncNetConfig, lower_face
from s2v_lib.evaluation import sync_expert as S
from s2v_lib.evaluation.sync_expert import (SyncExpert, calc_pdist, n_windows, score_from_features, sync_config,
                                            sync_inputs, train_sync_expert)
from toy_av import make_toy_prepared


def syncnet_python_reference(feat1, feat2, vshift):
    """SyncNetInstance.calc_pdist + evaluate's scoring, copied loop for loop from syncnet_python."""
    win_size = vshift * 2 + 1
    feat2p = torch.nn.functional.pad(feat2, (0, 0, vshift, vshift))
    dists = []
    for i in range(0, len(feat1)):
        dists.append(torch.nn.functional.pairwise_distance(feat1[[i], :].repeat(win_size, 1), feat2p[i:i + win_size, :]))
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    offset = vshift - minidx
    conf = torch.median(mdist) - minval
    return dists, int(offset), float(minval), float(conf)


def test_scoring_matches_syncnet_python():
    g = torch.Generator().manual_seed(0)
    v, a = torch.randn(47, 16, generator=g), torch.randn(47, 16, generator=g)
    dists, offset, minval, conf = syncnet_python_reference(v, a, 15)
    assert torch.allclose(calc_pdist(v, a, 15), torch.stack(dists, 0))
    s = score_from_features(v, a, 15)
    assert (s.offset, s.min_dist, s.confidence) == (offset, pytest.approx(minval, abs=1e-6), pytest.approx(conf, abs=1e-6))


@pytest.mark.parametrize("d", [-6, 0, 3])
def test_offset_and_confidence_on_synthetic_features(d):
    """Audio features that equal the video features d windows later: offset -d; unrelated audio: low confidence."""
    g = torch.Generator().manual_seed(1)
    walk = torch.randn(80, 8, generator=g).cumsum(0)
    v = walk[20:60]
    a = walk[20 - d:60 - d]                     # a[j] = v[j - d]: video window i matches audio window i + d
    s = score_from_features(v, a)
    assert s.offset == -d
    noise = score_from_features(v, torch.randn(40, 8, generator=g) * walk.std())
    assert s.confidence > 2 * noise.confidence
    assert s.mean_dists.shape == (31,)


def test_windows_see_exactly_their_frames_and_steps():
    """Window v of each stream depends on video frames [v, v+5) and MFCC steps [4v, 4v+20) only."""
    torch.manual_seed(0)
    net = SyncNet(SyncNetConfig(width=4)).eval()
    lips, mfcc = torch.rand(1, 30, 32, 64), torch.randn(1, 13, 120)
    with torch.no_grad():
        v, a = net.forward_lip(lips), net.forward_aud(mfcc)
        lips2, mfcc2 = lips.clone(), mfcc.clone()
        lips2[:, 12] += 1.0
        mfcc2[:, :, 48] += 5.0
        dv = (net.forward_lip(lips2) - v).abs().sum(-1)[0]
        da = (net.forward_aud(mfcc2) - a).abs().sum(-1)[0]
    assert v.shape[1] == 26 and a.shape[1] == 26
    assert torch.nonzero(dv > 1e-6).flatten().tolist() == [8, 9, 10, 11, 12]
    assert torch.nonzero(da > 1e-6).flatten().tolist() == [8, 9, 10, 11, 12]


def test_sync_inputs_cut_to_common_length():
    frames = np.zeros((20, 48, 48, 3), np.uint8)
    lips, mfcc = sync_inputs(frames, np.zeros(18 * 640 + 100, np.float32))
    assert lips.shape == (18, 32, 64) and mfcc.shape == (13, 72)
    assert n_windows(18) == 13
    assert lower_face(torch.zeros(2, 64, 64, 3, dtype=torch.uint8)).shape == (2, 32, 64)


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)        # tiny convs: one thread is faster, and immune to a busy machine
    yield
    torch.set_num_threads(n)


def test_trained_expert_finds_shifts_and_resumes(tmp_path, tmp_cache, one_thread, monkeypatch):
    data = PreparedData(make_toy_prepared(tmp_path / "toy", n_actors=3, clips_per_actor=8))
    profile = get_profile("smoke")
    cfg = dataclasses.replace(sync_config(profile, data), steps=40, clips_per_step=8, ckpt_every=20)
    expert = train_sync_expert(profile, data, cfg=cfg, progress=False)
    assert expert.summary["val_offset0"] >= 0.5 and expert.summary["val_clips"] == 3
    assert [r["step"] for r in expert.history] == list(range(40)) and expert.train_seconds > 0
    import matplotlib
    matplotlib.use("Agg")
    from s2v_lib.evaluation.figures import sync_training_plot
    assert len(sync_training_plot(expert.history).axes) == 2

    hits, confs = 0, []
    test_ids = data.clips("test")["clip_id"]
    for cid in test_ids:
        frames, wav = data.load(cid)
        base = expert.score(frames, wav)
        hits += base.offset == 0
        for k in (-4, 4):                       # video delayed by k frames -> syncnet_python offset +k
            hits += expert.score(np.roll(frames, k, axis=0), wav).offset == k
        confs.append((base.confidence, expert.score(np.roll(frames, 25, axis=0), wav).confidence))
    assert hits >= 0.8 * 3 * len(test_ids)
    confs = np.array(confs)
    assert confs[:, 0].mean() > 1.5 * confs[:, 1].mean()   # out of the search range: sync is lost

    # a finished checkpoint is loaded, not retrained
    again = train_sync_expert(profile, data, cfg=cfg, progress=False)
    for p, q in zip(expert.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(p, q)
    assert [r["loss"] for r in again.history] == [r["loss"] for r in expert.history]
    assert again.summary == expert.summary

    # killed after the checkpoint at step 20 and resumed: the same draws, the same weights as uninterrupted
    monkeypatch.setenv("S2V_CACHE", str(tmp_path / "cache-killed"))
    real, calls = S._matching_loss, []

    def killed_at_30(*args):
        calls.append(1)
        if len(calls) == 31:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(S, "_matching_loss", killed_at_30)
    with pytest.raises(KeyboardInterrupt):
        train_sync_expert(profile, data, cfg=cfg, progress=False)
    calls.clear()
    resumed = train_sync_expert(profile, data, cfg=cfg, progress=False)
    assert len(calls) == 20                                  # steps 20..39 only
    for p, q in zip(expert.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(p, q)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in expert.history]
    assert resumed.summary == expert.summary


def test_sync_expert_rejects_too_short_clip():
    expert = SyncExpert(SyncNet(SyncNetConfig(width=4)))
    with pytest.raises(ValueError, match="too short"):
        expert.score(np.zeros((5, 48, 48, 3), np.uint8), np.zeros(5 * 640, np.float32))
