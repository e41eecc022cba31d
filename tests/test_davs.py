"""DAVS (notebook 04b): word spans from the twin's sidecars, the losses, training, resume, retrieval."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from s2v_lib.config import get_profile
from s2v_lib.data.dataset import PreparedData
from s2v_lib.davs import evaluate as E
from s2v_lib.davs import losses as L
from s2v_lib.davs.config import davs_config
from s2v_lib.davs.generate import TrainedDAVS, davs_generate_fn, table1_generators
from s2v_lib.davs.study import new_model
from s2v_lib.davs.train import train_stage
from s2v_lib.davs.word_windows import build_windows, load_sidecar, word_spans
from s2v_lib.errors import UserError
from toy_av import make_toy_prepared

SMOKE = get_profile("smoke")
TINY_TWIN = dataclasses.replace(SMOKE, name="tiny", n_actors=2, sentences=("IOM", "DFA"), emotions=("HAP",),
                                levels=("XX",), n_unseen=0)


@pytest.fixture(scope="module")
def twin_data(tmp_path_factory):
    from s2v_lib.data.prepare import prepare_dataset
    from s2v_lib.data.twin.synth import synth_dataset
    root = synth_dataset(TINY_TWIN, tmp_path_factory.mktemp("twin"), workers=1, progress=False)
    return PreparedData(prepare_dataset("synthetic", root, TINY_TWIN, cache=tmp_path_factory.mktemp("prep"),
                                        workers=1, progress=False))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return PreparedData(make_toy_prepared(tmp_path_factory.mktemp("toy"), n_actors=3, clips_per_actor=8,
                                          size=48, n_frames=40))


def tiny_cfg(**kw):
    base = dict(enc_size=16, dim=16, ch=8, batch=4, gen_frames=3, wid_steps=12, full_steps=6)
    return davs_config(SMOKE, 0, "sentence_id", **{**base, **kw})


def test_word_spans_from_a_twin_sidecar_are_plausible_and_inside_the_clip(twin_data):
    expected = {"IOM": ["i'm", "on", "my", "way", "to", "the", "meeting"], "DFA": ["don't", "forget", "a", "jacket"]}
    for r in twin_data.manifest.itertuples():
        truth = load_sidecar(twin_data, r.clip_id)
        spans = word_spans(truth)
        assert [s["word"] for s in spans] == expected[r.sentence]
        duration = r.n_frames / 25
        starts = np.array([s["start_s"] for s in spans])
        ends = np.array([s["end_s"] for s in spans])
        assert starts[0] >= 0.2 and ends[-1] <= duration              # the twin's silent lead-in and tail
        assert np.all(ends > starts) and np.all(np.diff(starts) > 0)
        assert np.allclose(ends[:-1], starts[1:])                     # a word ends where the next one starts
        assert np.all(ends - starts < 1.0)                            # no word of these sentences lasts a second
        onsets = truth["phon_sample"] / 16000
        assert all(np.isclose(onsets, s).any() for s in starts)       # every word starts on a phoneme event
    w = build_windows(twin_data, davs_config(TINY_TWIN).windows, splits=("train", "val", "test"))
    assert len(w.table) and w.length == 15
    for t in w.table.itertuples():
        n = len(w.frames[t.clip_id])
        assert 0 <= t.start and t.start + w.length <= n
        centre = (t.word_start_s + t.word_end_s) / 2 * 25
        assert t.start <= centre <= t.start + w.length
    assert set(w.classes) <= set(expected["IOM"] + expected["DFA"])


def test_sentence_labels_without_sidecars_and_a_clear_error_for_word_labels(toy):
    w = build_windows(toy, tiny_cfg().windows)
    assert len(w.table) == len(toy.clips("train")) + len(toy.clips("test"))     # one window per clip
    used = toy.manifest[toy.manifest["split"].isin(["train", "test"])]
    assert w.classes == sorted(used["sentence"].unique())
    assert w.batch([0, 1])["mfcc"].shape == (2, w.length, 12, 20)
    with pytest.raises(UserError, match="sentence_id"):
        build_windows(toy, davs_config(SMOKE, 0, "twin_words").windows)
    with pytest.raises(UserError, match="word_labels"):
        davs_config(SMOKE, 0, "words")


def test_losses_behave():
    torch.manual_seed(0)
    F_v = torch.randn(6, 5, 8)
    assert L.contrastive(F_v, F_v) < 1e-4 + L.contrastive(F_v, F_v[torch.randperm(6)])   # pairs closer -> lower
    far = torch.zeros(4, 3, 4)
    for i in range(4):
        far[i, :, i] = 1.0          # orthogonal unit features: unpaired distance sqrt(2) > margin 1
    assert float(L.contrastive(far, far)) == pytest.approx(0.0, abs=1e-5)
    assert float(L.contrastive(far, far.roll(1, 0))) == pytest.approx(2 ** 0.5 + 1, rel=1e-4)   # paired far, unpaired at 0
    uniform = torch.zeros(3, 5, requires_grad=True)
    loss = L.uniform_euclidean(uniform)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.all(uniform.grad == 0)      # Eq. (3): no gradient at the optimum
    confident = torch.tensor([[10.0, 0, 0, 0, 0]])
    assert float(L.uniform_euclidean(confident)) == pytest.approx((1 - 0.2) ** 2 + 4 * 0.2 ** 2, rel=1e-3)
    real, fake = torch.rand(2, 3, 3, 16, 16), torch.rand(2, 3, 3, 16, 16)
    total, parts = L.reconstruction(None, real, fake, alpha=10.0, gan=False)
    assert float(total) == pytest.approx(10 * float((real - fake).abs().mean()), rel=1e-5) and parts["gan_g"] == 0


def test_retrieval_metrics_on_a_toy_case():
    d = np.array([[0.1, 0.5, 0.9], [0.2, 0.3, 0.05], [0.4, 0.1, 0.6]])
    assert E.ranks_of_pairs(d).tolist() == [1, 3, 3]
    s = E.rank_summary(np.array([1, 3, 3]), n_boot=200)
    assert s["R@1"]["mean"] == pytest.approx(100 / 3) and s["R@10"]["mean"] == 100 and s["MedR"]["mean"] == 3
    assert s["chance"] == {"R@1": 100 / 3, "R@10": 100.0, "MedR": 2.0}
    F = torch.randn(20, 4, 8)
    r = E.retrieval({"F_v": F, "F_a": F + 0.01 * torch.randn_like(F)}, n_boot=100)
    assert r["video_to_audio"]["R@1"]["mean"] == 100 and r["audio_to_video"]["MedR"]["mean"] == 1
    r = E.retrieval({"F_v": F, "F_a": F.roll(1, 0)}, n_boot=100)
    assert r["video_to_audio"]["R@1"]["mean"] < 20


def test_table4_guidance_frame_is_the_speaker_outside_the_source_window(toy):
    """Table 4's identity guidance (and the replication baseline S_r^v) is a frame of the same speaker
    that no gallery window of the source clip contains: the replication row tests appearance alone, so a
    pixel-level evaluator cannot find the source window by an exact frame (the paper's 2.5%, not 54.5%)."""
    cfg = tiny_cfg()
    w = build_windows(toy, cfg.windows)
    test = w.split("test")
    guide = E.guidance_frames(w, test, seed=0)
    assert guide == E.guidance_frames(w, test, seed=0) and guide != E.guidance_frames(w, test, seed=1)
    t = w.table
    for r, (cid, k) in zip(test, guide):
        assert cid != t["clip_id"].iloc[r] and t.loc[t["clip_id"] == cid, "actor"].iloc[0] == t["actor"].iloc[r]
        assert 0 <= k < len(w.frames[cid])
    trained = TrainedDAVS(new_model(cfg, w, n_ids=4).eval(), w.mfcc_mean, w.mfcc_std)
    rep = E.generated_windows(trained, w, test, "replication")
    for (cid, k), v in zip(guide, rep):
        assert v.shape == (w.length, *w.frames[cid].shape[1:]) and (v == w.frames[cid][k].numpy()).all()
    gen = E.generated_windows(trained, w, test[:2], "audio")
    assert gen[0].dtype == np.uint8 and gen[0].shape == rep[0].shape

    class PixelEvaluator(torch.nn.Module):   # E_w^v = the frame itself: retrieval by exact pixels
        def E_wv(self, x):
            return torch.nn.functional.avg_pool2d(x, 4).flatten(1)

        def wid_video(self, frames):
            return self.E_wv(frames.flatten(0, 1)).unflatten(0, frames.shape[:2])

        def wid_audio(self, mfcc):
            return mfcc.flatten(2)

        def pid(self, frames):
            return frames.mean((2, 3, 4))[..., None]

        def word_logits(self, F, modality):
            return F.mean(1)[:, :2]
    ours = E.generated_retrieval(PixelEvaluator(), w, test, rep, n_boot=50)
    inside = [w.batch([r])["frames"][0, 3].permute(1, 2, 0).mul(255).add(0.5).byte().numpy()[None]
              .repeat(w.length, 0) for r in test]                  # the old baseline: a frame of the window
    old = E.generated_retrieval(PixelEvaluator(), w, test, inside, n_boot=50)
    assert old["R@1"]["mean"] >= 50 and ours["R@1"]["mean"] <= old["R@1"]["mean"] - 30


def test_a_training_run_reduces_the_loss(toy, tmp_cache):
    cfg = tiny_cfg(wid_steps=40, full_steps=40, lr=1e-3)
    w = build_windows(toy, cfg.windows)
    m = new_model(cfg, w, n_ids=4)
    wid = train_stage(m, w, cfg, "wid", SMOKE, progress=False).history
    assert np.mean([r["L_w"] for r in wid[-2:]]) < wid[0]["L_w"]
    full = train_stage(m, w, cfg, "full", SMOKE, progress=False).history
    assert full[-1]["l1_audio"] < full[0]["l1_audio"] and full[-1]["l1_video"] < full[0]["l1_video"]
    assert {"L_pw", "L_wp", "D_seq", "L_adv_D"} <= set(full[-1])


def test_resume_after_a_kill_equals_an_uninterrupted_run(toy, tmp_path, monkeypatch):
    cfg = tiny_cfg(full_steps=6)
    w = build_windows(toy, cfg.windows)

    def run(cache, die_at=None):
        monkeypatch.setenv("S2V_CACHE", str(cache))
        m = new_model(cfg, w, n_ids=4)
        calls = {"n": 0}
        real_batch = w.batch

        def batch(rows, device="cpu"):
            calls["n"] += 1
            if die_at is not None and calls["n"] > die_at:
                raise KeyboardInterrupt
            return real_batch(rows, device)
        monkeypatch.setattr(w, "batch", batch)
        try:
            train_stage(m, w, cfg, "full", SMOKE, progress=False, save_every=2)
        finally:
            monkeypatch.setattr(w, "batch", real_batch)
        return m

    straight = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", die_at=5)            # killed in step 5, after the checkpoint of step 4
    resumed = run(tmp_path / "b")
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_generate_fn_gives_the_study_frames_and_mismatch_stills(toy):
    cfg = tiny_cfg()
    w = build_windows(toy, cfg.windows)
    trained = TrainedDAVS(new_model(cfg, w, n_ids=4).eval(), w.mfcc_mean, w.mfcc_std)
    test = sorted(toy.clips("test")["clip_id"])
    mismatch = pd.DataFrame({"clip_id": test, "still_clip_id": test[::-1]})
    gens = table1_generators(trained, toy, mismatch)
    frames, _ = toy.load(test[0])
    for fn in gens.values():
        out = fn(test[0])
        assert out.dtype == np.uint8 and out.shape == frames.shape
    assert not np.array_equal(gens["DAVS"](test[0]), gens["DAVS(mismatch)"](test[0]))   # another face
    assert davs_generate_fn(trained, toy, source="video", frame="random")(test[0]).shape == frames.shape


def test_the_davs_chapter_sorts_between_04_and_05_and_is_selectable(tmp_path):
    from s2v_lib.reproduce import list_notebooks
    for name in ("05_e", "04_d", "04b_davs", "03_c"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    names = lambda nbs: [p.stem for p in nbs]
    assert names(list_notebooks(folder=tmp_path)) == ["03_c", "04_d", "04b_davs", "05_e"]
    assert names(list_notebooks(only="04b", folder=tmp_path)) == ["04b_davs"]
    assert names(list_notebooks(only="4", folder=tmp_path)) == ["04_d"]
    assert names(list_notebooks(start="04b", folder=tmp_path)) == ["04b_davs", "05_e"]
    with pytest.raises(UserError, match="not a notebook number"):
        list_notebooks(only="b4", folder=tmp_path)
