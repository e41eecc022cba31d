"""Lip2Speech (s2v_lib/lip2speech): shapes, learning, resume, vocoder and metric sanity."""
import dataclasses

import numpy as np
import pytest
import torch

from s2v_lib.config import get_profile
from s2v_lib.lip2speech import metrics as SM
from s2v_lib.lip2speech.config import Lip2SpeechConfig, MelConfig, ModelConfig
from s2v_lib.lip2speech.data import Batches, ClipArrays, LogMel, mel_stats, mouth_crops
from s2v_lib.lip2speech.model import Lip2Speech, mel_loss
from s2v_lib.lip2speech.recogniser import VOCAB, transcript, wer, word_errors
from s2v_lib.lip2speech.speaker import info_nce
from s2v_lib.lip2speech.vocoder import GriffinLimVocoder

HW = (12, 24)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """As the stage runs on CPU (lip2speech.data.one_thread): small ops on two busy cores crawl."""
    from s2v_lib.lip2speech.data import one_thread
    with one_thread("cpu"):
        yield
TINY = ModelConfig(mouth_hw=HW, stages_out=(24, 16, 16, 16, 32), enc_hidden=16, dec_hidden=32, prenet=16, attn_dim=16)


def speechlike(n=16000, f0=140.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    ph = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 1.5 * t))) / 16000
    x = sum(np.sin(k * ph) / k for k in range(1, 15)) * (0.2 + np.abs(np.sin(2 * np.pi * 3 * t)))
    return (0.2 * x / np.abs(x).max() + 0.002 * rng.standard_normal(n)).astype(np.float32)


def toy_arrays(n_clips=6, t=12, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"{1001 + i}_DFA_NEU_XX" for i in range(n_clips)]
    mouths = {c: rng.integers(0, 255, (t, *HW), dtype=np.uint8) for c in ids}
    # a learnable target: the mel follows the mean brightness of the mouth per frame
    logmel = {c: np.repeat(mouths[c].mean((1, 2))[:, None] / 64.0, 4, 0)[:, [0] * 80].astype(np.float32)
              + np.linspace(-1, 1, 80, dtype=np.float32) for c in ids}
    wav = {c: speechlike(t * 640, seed=i) for i, c in enumerate(ids)}
    return ClipArrays(ids, mouths, logmel, wav)


@pytest.mark.parametrize("decoder", ["parallel", "autoregressive"])
def test_shapes_keep_time_and_give_4_mel_frames_per_video_frame(decoder):
    torch.manual_seed(0)
    for use_speaker in (True, False):
        m = Lip2Speech(dataclasses.replace(TINY, decoder=decoder, use_speaker=use_speaker))
        x = torch.rand(2, 1, 10, *HW)
        feats = m.video(x)
        assert feats.shape == (2, 10, TINY.stages_out[-1])
        mel, stop = m(x, torch.randn(2, 256), target=torch.randn(2, 40, 80))
        assert mel.shape == (2, 40, 80)
        assert (stop is None) == (decoder == "parallel")
        if stop is not None:
            assert stop.shape == (2, 10)
        m.eval()
        with torch.no_grad():
            assert m(x, torch.randn(2, 256))[0].shape == (2, 40, 80)    # free running, no target


def test_mouth_crop_is_the_lower_half_in_gray():
    frames = np.zeros((3, 48, 48, 3), np.uint8)
    frames[:, 24:] = 200
    m = mouth_crops(frames, (24, 48))
    assert m.shape == (3, 24, 48) and m.dtype == np.uint8 and (m == 200).all()


@pytest.mark.parametrize("decoder", ["parallel", "autoregressive"])
def test_training_steps_reduce_the_loss(decoder):
    torch.manual_seed(0)
    arrays = toy_arrays()
    stats = (np.zeros(80, np.float32), np.ones(80, np.float32))
    b = Batches(arrays, stats, None, window=8, batch=4, hflip=False, rng=np.random.default_rng(0))
    x, y, s, ends = b.sample()
    m = Lip2Speech(dataclasses.replace(TINY, decoder=decoder, use_speaker=False, prenet_dropout=0.0))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        pred, stop = m(x, s, target=y)
        loss, _ = mel_loss(pred, y, stop, ends)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def _train(monkeypatch, cache, steps, interrupt_at=None):
    from s2v_lib.lip2speech import data as D
    from s2v_lib.lip2speech.train import train_condition
    monkeypatch.setenv("S2V_CACHE", str(cache))
    cfg = Lip2SpeechConfig(model=TINY)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps, batch=3, window=6, save_every=2,
                                                             log_every=1))
    arrays = toy_arrays()
    spk = {c: np.random.default_rng(i).standard_normal(256).astype(np.float32) for i, c in enumerate(arrays.ids)}
    stats = (np.zeros(80, np.float32), np.ones(80, np.float32))
    if interrupt_at is not None:
        calls = {"n": 0}
        orig = D.Batches.sample

        def flaky(self):
            calls["n"] += 1
            if calls["n"] > interrupt_at:
                raise KeyboardInterrupt("killed")
            return orig(self)
        monkeypatch.setattr(D.Batches, "sample", flaky)
        with pytest.raises(KeyboardInterrupt):
            train_condition(get_profile("smoke"), "face", cfg, arrays, arrays, stats, spk, spk, "toy", progress=False)
        monkeypatch.setattr(D.Batches, "sample", orig)
    return train_condition(get_profile("smoke"), "face", cfg, arrays, arrays, stats, spk, spk, "toy", progress=False)


def test_resume_equals_uninterrupted(monkeypatch, tmp_path):
    straight = _train(monkeypatch, tmp_path / "a", steps=6)
    resumed = _train(monkeypatch, tmp_path / "b", steps=6, interrupt_at=3)     # killed in step 4, saved at 2
    assert list(straight.history["mse"]) == pytest.approx(list(resumed.history["mse"]), abs=1e-6)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k
    again = _train(monkeypatch, tmp_path / "a", steps=6)                        # finished: loaded, not retrained
    assert again.history.equals(straight.history)


def test_vocoder_round_trip_keeps_the_speech():
    cfg = MelConfig()
    wav = speechlike(16000)
    logmel = LogMel(cfg)(torch.from_numpy(wav)).numpy()
    assert logmel.shape == (100, 80)
    out = GriffinLimVocoder(cfg, n_iter=16)(logmel)
    assert out.shape == (16000,) and np.isfinite(out).all()
    again = LogMel(cfg)(torch.from_numpy(out)).numpy()
    assert np.corrcoef(again.ravel(), logmel.ravel())[0, 1] > 0.9
    assert SM.stoi(wav, out) > 0.4


def test_stoi_pesq_of_a_signal_with_itself_and_with_noise():
    wav = speechlike(32000)
    assert SM.stoi(wav, wav) == pytest.approx(1.0, abs=1e-3)
    assert SM.stoi(wav, wav, extended=True) == pytest.approx(1.0, abs=1e-3)
    noise = np.random.default_rng(1).standard_normal(32000).astype(np.float32) * 0.2
    assert SM.stoi(wav, noise) < 0.3
    assert SM.pesq_wb(wav, wav) > 4.0
    assert np.isnan(SM.pesq_wb(wav, np.zeros(100, np.float32)))     # too short to score: NaN, not a crash


def test_eer_of_separable_and_random_embeddings():
    rng = np.random.default_rng(0)
    centres = {a: rng.standard_normal(32) for a in range(5)}
    emb = {f"{a}_{i}": centres[a] + 0.05 * rng.standard_normal(32) for a in range(5) for i in range(4)}
    actor_of = {c: int(c.split("_")[0]) for c in emb}
    enrol = {a: v / np.linalg.norm(v) for a, v in centres.items()}
    s, lab = SM.verification_trials(emb, actor_of, enrol)
    assert SM.eer(s, lab) < 0.01
    rand = {c: rng.standard_normal(32) for c in emb}
    s, lab = SM.verification_trials(rand, actor_of, enrol)
    assert 0.2 < SM.eer(s, lab) < 0.8
    assert SM.cosine([1, 0], [1, 0]) == pytest.approx(1.0)


def test_word_error_rate():
    ref = transcript("DFA")
    assert ref == ["don't", "forget", "a", "jacket"] and all(w in VOCAB for w in ref)
    assert word_errors(ref, ref) == 0
    assert word_errors(ref, ["don't", "a", "jacket", "jacket"]) == 2
    assert wer([ref], [[]]) == 1.0


def test_info_nce_prefers_matched_pairs():
    rng = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(8, 16, generator=rng), dim=1)
    matched, _ = info_nce(v, v, 0.1)
    shuffled, _ = info_nce(v, v.roll(1, 0), 0.1)
    assert matched < 0.1 < shuffled


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu"])
def test_profile_configs_build_a_model_for_their_frame_size(name):
    profile = get_profile(name)
    cfg = Lip2SpeechConfig.for_profile(profile)
    assert cfg.model.mouth_hw == (profile.frame_size // 2, profile.frame_size)
    m = Lip2Speech(cfg.model).eval()
    with torch.no_grad():
        mel, _ = m(torch.rand(1, 1, 3, *cfg.model.mouth_hw), torch.randn(1, 256))
    assert mel.shape == (1, 12, 80)


def test_oracle_conditioning_uses_the_actors_other_clips():
    import pandas as pd
    from s2v_lib.lip2speech.speaker import actor_voice_embeddings
    man = pd.DataFrame({"clip_id": ["a1", "a2", "b1"], "actor": [1, 1, 2]})
    e = {"a1": np.array([1.0, 0.0]), "a2": np.array([0.0, 1.0]), "b1": np.array([1.0, 1.0]) / np.sqrt(2)}
    out = actor_voice_embeddings(man, e)
    assert np.allclose(out["a1"], [0, 1]) and np.allclose(out["a2"], [1, 0])    # never the clip itself...
    assert np.allclose(out["b1"], e["b1"])                                         # ...unless it is the only one


def test_actor_bootstrap_interval_brackets_the_mean():
    from s2v_lib.lip2speech.evaluate import actor_bootstrap
    v = np.r_[np.ones(10), np.zeros(10), np.nan]
    g = np.r_[np.arange(20) % 5, 0]
    r = actor_bootstrap(v, g)
    assert r["n"] == 20 and r["lo"] <= r["mean"] == 0.5 <= r["hi"]


# -- the word recogniser (CTC)

TONE_WORDS = {"ba": (300, 1200), "di": (520, 2100), "gu": (800, 3000), "ko": (420, 2600)}


def tone_sentence(word_list, rng):
    """A 'sentence' of tone words: each word 0.3 s of two partials (its own pair), 0.12-0.25 s gaps (at
    12.5 CTC frames/s a repeated word needs a gap of at least one frame for its blank)."""
    sr, parts = 16000, [np.zeros(int(rng.integers(800, 3200)), np.float32)]
    for w in word_list:
        t = np.arange(int(0.3 * sr)) / sr
        f1, f2 = TONE_WORDS[w]
        env = np.sin(np.pi * t / t[-1])
        parts.append((0.3 * env * (np.sin(2 * np.pi * f1 * t) + 0.5 * np.sin(2 * np.pi * f2 * t))).astype(np.float32))
        parts.append(np.zeros(int(rng.integers(1900, 4000)), np.float32))
    x = np.concatenate(parts)
    x = np.pad(x, (0, -len(x) % 640))                       # whole video frames, as the prepared clips
    return x + 0.003 * rng.standard_normal(len(x)).astype(np.float32)


def tone_corpus(n, seed):
    rng = np.random.default_rng(seed)
    vocab = sorted(TONE_WORDS)
    clips, texts = {}, {}
    for i in range(n):
        ws = [vocab[k] for k in rng.integers(0, len(vocab), int(rng.integers(2, 5)))]
        clips[f"c{i}"], texts[f"c{i}"] = tone_sentence(ws, rng), ws
    logmel = LogMel(MelConfig())
    mels = {c: logmel(torch.from_numpy(w)).numpy() for c, w in clips.items()}
    return ClipArrays(list(clips), {}, mels, clips), texts, vocab


def test_greedy_ctc_decoding_collapses_repeats_and_drops_blanks():
    from s2v_lib.lip2speech.recogniser import greedy_decode
    v = ["a", "b", "c"]
    assert greedy_decode([0, 1, 1, 1, 0, 0, 2, 2, 3, 0], v) == ["a", "b", "c"]
    assert greedy_decode([1, 1, 0, 1], v) == ["a", "a"]          # a blank separates a repeated word
    assert greedy_decode([1, 1, 1, 1], v) == ["a"]
    assert greedy_decode([0, 0, 0], v) == []


def test_recogniser_output_is_independent_of_batch_padding():
    """Packed sequences: a clip's log-probabilities do not depend on how much padding its batch adds
    (an unpacked BiGRU's backward direction would start in the padding)."""
    from s2v_lib.lip2speech.config import RecogniserConfig
    from s2v_lib.lip2speech.recogniser import WordRecogniser
    torch.manual_seed(0)
    m = WordRecogniser(RecogniserConfig(hidden=16), MelConfig(), (np.zeros(80, np.float32), np.ones(80, np.float32)),
                       vocab=["x", "y"]).eval()
    wav = torch.from_numpy(speechlike(9600))
    n = torch.tensor([9600])
    with torch.no_grad():
        a, la = m(torch.nn.functional.pad(wav, (0, 4800))[None], n)
        b, lb = m(torch.nn.functional.pad(wav, (0, 16000))[None], n)
    assert int(la) == int(lb) == 8 == int(m.out_lengths(n))      # 9600 samples = 60 mel frames -> ceil(60 / 8)
    assert torch.allclose(a[0, :8], b[0, :8], atol=1e-5)


def test_recogniser_learns_a_closed_vocabulary_of_tone_words(monkeypatch, tmp_path):
    from s2v_lib.lip2speech.config import RecogniserConfig
    from s2v_lib.lip2speech.recogniser import train_recogniser
    monkeypatch.setenv("S2V_CACHE", str(tmp_path))
    train, texts, vocab = tone_corpus(32, seed=0)
    mel = MelConfig()
    stats = mel_stats(train)
    cfg = RecogniserConfig(hidden=64, steps=80, batch=8, lr=5e-3)
    model, hist = train_recogniser(get_profile("smoke"), train, texts, stats, cfg, mel, "tones", vocab=vocab,
                                   progress=False)
    assert hist[-1]["ctc"] < 0.25 * hist[0]["ctc"]
    test, test_texts, _ = tone_corpus(16, seed=1)                # new sentences, never heard
    hyps = [model.transcribe(test.wav[c]) for c in test.ids]
    assert wer([test_texts[c] for c in test.ids], hyps) < 0.2
    again, hist2 = train_recogniser(get_profile("smoke"), train, texts, stats, cfg, mel, "tones", vocab=vocab,
                                    progress=False)                  # finished: loaded from its checkpoint
    assert hist2 == hist and [again.transcribe(test.wav[c]) for c in test.ids] == hyps


def test_verdicts_read_intervals_and_call_overlap_inconclusive():
    from s2v_lib.lip2speech.report import sign_of, verdicts, versus_level
    assert sign_of({"mean": 0.1, "lo": 0.02, "hi": 0.2}) == "above"
    assert sign_of({"mean": -0.1, "lo": -0.2, "hi": -0.01}) == "below"
    assert sign_of({"mean": 0.1, "lo": -0.01, "hi": 0.2}) == "inconclusive"
    assert sign_of({"mean": float("nan"), "lo": float("nan"), "hi": float("nan")}) == "inconclusive"
    assert versus_level({"mean": 0.3, "lo": 0.2, "hi": 0.4}, 0.1) == "above"
    assert versus_level({"mean": 0.3, "lo": 0.05, "hi": 0.4}, 0.1) == "inconclusive"

    def iv(m, lo, hi):
        return {"mean": m, "lo": lo, "hi": hi, "n": 10}
    paired = {f"{k}_{p}": iv(0.0, -0.1, 0.1) for k in ("ge2e_cos", "sex_agree", "age_group_agree")
              for p in ("face_minus_lips", "voice_minus_face", "voice_minus_lips")}
    paired["ge2e_cos_face_minus_lips"] = iv(0.2, 0.1, 0.3)
    cycle = {"chance": {"top1": 0.1}, "test": {"real": {"top1": iv(0.6, 0.5, 0.7)},
                                               "face": {"top1": iv(0.12, 0.05, 0.2),
                                                        "minus_real": {"top1": iv(-0.48, -0.6, -0.4)}}}}
    lines = verdicts({"test": {"paired": paired}}, cycle)
    assert "toward the speaker, vs lips only? yes" in lines[0]
    assert "inconclusive: face and oracle are not told apart" in lines[1]
    assert "inconclusive: even the oracle" in lines[2]
    assert "inconclusive against chance" in lines[3] and "worse than real speech" in lines[3]


def test_paired_actor_bootstrap_is_a_per_clip_difference():
    import pandas as pd
    from s2v_lib.lip2speech.evaluate import paired_actor_bootstrap
    rows = pd.DataFrame({"clip_id": ["a", "b", "c", "d"] * 2, "actor": [1, 1, 2, 2] * 2,
                         "method": ["x"] * 4 + ["y"] * 4, "m": [1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5, np.nan]})
    d = paired_actor_bootstrap(rows, "x", "y", "m")
    assert d["n"] == 3 and d["mean"] == pytest.approx(0.5) and d["lo"] == d["hi"] == pytest.approx(0.5)
    assert paired_actor_bootstrap(rows, "x", "z", "m") is None
