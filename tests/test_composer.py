"""The composer, the baselines, their losses, the shared training loop and the generation API."""
import dataclasses
import av
import numpy as np
import pytest
import torch

from s2v_lib import composer as cs
from s2v_lib.composer.clips import load_clips
from s2v_lib.composer.configs import _steps, sdfa_config, speech2video_config, voice_config
from s2v_lib.composer.s2f_voice import VoiceTask
from s2v_lib.composer.sdfa_task import SDFATask
from s2v_lib.composer.speech2video_task import Speech2VideoTask
from s2v_lib.composer.training import teacher_channels
from s2v_lib.config import get_profile
from s2v_lib import losses
from s2v_lib.data.dataset import PreparedData
from s2v_lib.errors import UserError
from s2v_lib.generate import generate, write_mp4
from s2v_lib.models.composer import Composer, ComposerConfig
from s2v_lib.models.discriminators import (FrameDiscriminator, IdentityDiscriminator, SequenceDiscriminator,
                                           SyncDiscriminator)
from s2v_lib.models.identity_teacher import IdentityNet, IdentityNetConfig
from s2v_lib.models.s2f import VoiceEncoder, VoiceEncoderConfig
from s2v_lib.models.sdfa import RawAudioEncoder, SDFAConfig, SDFAGenerator
from s2v_lib.train.checkpoint import Checkpoint
from s2v_lib.train.loop import StepContext, train
from s2v_lib.train.windows import ClipBank, LoopConfig, Prefetcher, WindowSampler, audio_window_array, to_device

from toy_av import make_toy_prepared

C_DIM, NU_DIM, MU_DIM = 16, 128, 8
TINY = dict(ch=16, id_ch=16)


class StandInTeacher:
    """The identity teacher's interface (embed, feature_maps) on a random VGG-style net."""

    def __init__(self):
        torch.manual_seed(0)
        self.net = IdentityNet(IdentityNetConfig(stages=((8,), (8,), (16,), (16,)), embed_dim=NU_DIM)).eval()

    @torch.no_grad()
    def embed(self, x):
        return self.net(x)

    @torch.no_grad()
    def feature_maps(self, x):
        return self.net(x, return_maps=True)[1]


def stand_in_features(data, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for r in data.manifest.itertuples():
        nu = rng.standard_normal(NU_DIM)
        out[r.clip_id] = {"c": rng.standard_normal((r.n_frames, C_DIM)).astype(np.float16),
                          "nu": nu / np.linalg.norm(nu), "mu": rng.standard_normal(MU_DIM),
                          "nu_teacher": nu / np.linalg.norm(nu), "mu_teacher": rng.standard_normal(MU_DIM)}
    return out


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = make_toy_prepared(tmp_path_factory.mktemp("toy"), n_actors=4, clips_per_actor=8, size=48, n_frames=30)
    data = PreparedData(root)
    return data, stand_in_features(data), StandInTeacher()


# --- shapes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [48, 64])
def test_composer_and_discriminator_shapes(size):
    cfg = ComposerConfig(frame_size=size, c_dim=C_DIM, nu_dim=NU_DIM, mu_dim=MU_DIM, teacher_channels=(16, 8, 8), **TINY)
    g = Composer(cfg)
    frames, maps = g(torch.randn(2, 3, C_DIM), torch.randn(2, NU_DIM), torch.randn(2, MU_DIM))
    assert frames.shape == (2, 3, 3, size, size)
    with torch.no_grad():                                   # at test time the linear output is clamped to [0, 1]
        shown = g.eval()(torch.randn(2, 3, C_DIM), torch.randn(2, NU_DIM), torch.randn(2, MU_DIM))[0]
    g.train()
    assert 0 <= shown.min() and shown.max() <= 1 and shown.shape == frames.shape
    assert [tuple(m.shape) for m in maps] == [(2, 16, size // 8, size // 8), (2, 8, size // 4, size // 4),
                                              (2, 8, size // 2, size // 2)]
    assert g(torch.randn(2, 3, C_DIM), torch.randn(2, NU_DIM), torch.randn(2, MU_DIM), aligned=False)[1] is None
    assert IdentityDiscriminator((16, 8, 8), 16)(maps).shape[0] == 2
    flat = frames.flatten(0, 1)
    assert FrameDiscriminator(16)(flat).shape[0] == 6
    assert SyncDiscriminator(C_DIM, 16)(torch.randn(6, C_DIM), flat).shape == (6, 1)
    # the identity teacher's maps have the sizes the composer aligns to
    teacher = StandInTeacher()
    assert [m.shape[-1] for m in teacher.feature_maps(flat)] == [size // 8, size // 4, size // 2]


@pytest.mark.parametrize("size", [48, 64])
def test_sdfa_and_s2f_shapes(size):
    audio = torch.randn(2, 5, 3200)
    g = SDFAGenerator(SDFAConfig(frame_size=size, ch=16))
    out = g(audio, still=torch.rand(2, 3, size, size))
    assert out.shape == (2, 5, 3, size, size)
    g2 = SDFAGenerator(SDFAConfig(frame_size=size, ch=16, id_from_vector=NU_DIM))
    assert not hasattr(g2, "enc")                             # S2F+SDFA: no image encoder, no skips
    assert g2(audio, face_vec=torch.randn(2, NU_DIM)).shape == (2, 5, 3, size, size)
    d = FrameDiscriminator(16, cond_ch=3)(out.flatten(0, 1), torch.rand(10, 3, size, size))
    assert d.shape[0] == 10
    assert SequenceDiscriminator(RawAudioEncoder(32), 32, 16)(out, audio).shape == (2, 1)
    enc = VoiceEncoder(VoiceEncoderConfig(out_dim=NU_DIM, ch=16))
    assert enc(torch.randn(3, 16000)).shape == (3, NU_DIM)
    assert enc(torch.randn(1, 4000)).shape == (1, NU_DIM)     # any utterance length
    # the utterance-mean normalisation removes a recording's gain (and its long-term spectrum); without it both stay
    from s2v_lib.models.s2f import LogMel
    voice = torch.randn(1, 16000)
    normed, raw = LogMel(utterance_norm=True), LogMel(utterance_norm=False)
    torch.testing.assert_close(normed(4 * voice), normed(voice), atol=1e-3, rtol=0)
    assert (raw(4 * voice) - raw(voice)).mean() == pytest.approx(2 * np.log(4), abs=1e-2)


def test_audio_windows_are_centred_on_frames():
    audio = np.arange(10 * 640, dtype=np.float32)
    w = audio_window_array(audio, 2, 3)
    assert w.shape == (3, 3200)
    centre = 2 * 640 + 320
    assert w[0, 1600] == audio[centre]
    assert w[1, 1600] == audio[centre + 640]
    assert (audio_window_array(audio, 0, 1)[0, :100] == 0).all()   # zero-padded before the clip


# --- losses -----------------------------------------------------------------------------------------

def test_half_frame_l1_selects_the_half():
    real = torch.rand(2, 3, 8, 8)
    fake = real.clone()
    fake[..., 4:, :] += 0.5                     # differs only in the lower half (rows H/2..H)
    assert losses.half_frame_l1(fake, real, "upper") == 0
    assert losses.half_frame_l1(fake, real, "lower") == pytest.approx(0.5, abs=1e-6)
    assert losses.half_frame_l1(fake, real, "full") == pytest.approx(0.25, abs=1e-6)
    with pytest.raises(ValueError):
        losses.half_frame_l1(fake, real, "left")


def test_gradient_loss_zero_for_identical_and_positive_for_edges():
    img = torch.rand(2, 3, 16, 16)
    assert losses.gradient_loss(img, img.clone()) == 0
    assert losses.gradient_loss(img + 0.3, img) < 1e-6       # a constant offset has no gradient
    edge = torch.zeros(1, 3, 16, 16)
    edge[..., 8:] = 1
    assert losses.gradient_loss(edge, torch.zeros_like(edge)) > 0.01


def test_lsgan_labels():
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert losses.lsgan_d(ones, zeros) == 0                  # D: real -> 1, fake -> 0
    assert losses.lsgan_g(ones) == 0                         # G: fake -> 1
    assert losses.lsgan_d(zeros, ones) == 1
    assert losses.lsgan_sync_d(ones, zeros, zeros) == 0      # synced 1, shifted 0, generated 0
    assert losses.lsgan_sync_d(zeros, ones, ones) == 2


# --- training ---------------------------------------------------------------------------------------

def _steps_on_one_batch(task, batch, n=4):
    from s2v_lib.train.loop import StepContext
    ctx = StepContext("cpu", False, 0)
    return [task.train_step(batch, ctx.at(0)) for _ in range(n)]


def _bank(data, feats, **vectors):
    clips, ids = load_clips(data, "train", feats)
    for key, per_clip in vectors.items():
        for clip, cid in zip(clips, ids):
            clip[key] = per_clip[cid]
    return ClipBank(clips, ids)


def test_training_steps_reduce_reconstruction_losses(toy):
    data, feats, teacher = toy
    loop = LoopConfig(batch_clips=2, window=3)
    smoke = get_profile("smoke")
    torch.manual_seed(0)
    s2v = Speech2VideoTask(speech2video_config(smoke, C_DIM, NU_DIM, MU_DIM,
                                                     teacher_channels(teacher, 48, "cpu"), ch=16, warmup=0), teacher)
    batch = to_device(WindowSampler(_bank(data, feats), loop).sample(0), "cpu")
    logs = _steps_on_one_batch(s2v, batch)
    assert logs[-1]["sim_l1"] < logs[0]["sim_l1"]
    assert all(np.isfinite(float(v)) for v in logs[-1].values())

    sdfa = SDFATask(sdfa_config(smoke, ch=16, warmup=0))
    sdfa_loop = dataclasses.replace(sdfa.cfg.loop, batch_clips=2)      # 5-frame chunks with sync negatives
    logs = _steps_on_one_batch(sdfa, to_device(WindowSampler(_bank(data, None), sdfa_loop).sample(0), "cpu"))
    assert logs[-1]["mouth_l1"] < logs[0]["mouth_l1"]
    assert np.isfinite(float(logs[-1]["loss_D_sync"])) and float(logs[-1]["adv_sync"]) > 0

    vec = {cid: np.random.default_rng(0).standard_normal(NU_DIM).astype(np.float32) for cid in data.manifest.clip_id}
    s2f = SDFATask(sdfa_config(smoke, id_from_vector=NU_DIM, ch=16, warmup=0))
    batch = to_device(WindowSampler(_bank(data, None, face_vec=vec), sdfa_loop, vector_keys=("face_vec",)).sample(0),
                      "cpu")
    logs = _steps_on_one_batch(s2f, batch)
    assert logs[-1]["mouth_l1"] < logs[0]["mouth_l1"]

    voice = VoiceTask(voice_config(smoke, NU_DIM))
    vloop = LoopConfig(batch_clips=4, window=1, voice_crop_s=1.0)
    batch = to_device(WindowSampler(_bank(data, None, nu_target=vec), vloop, vector_keys=("nu_target",)).sample(0),
                      "cpu")
    logs = _steps_on_one_batch(voice, batch)
    assert logs[-1]["loss"] < logs[0]["loss"]


def test_sampler_is_a_function_of_the_step(toy):
    data, feats, _ = toy
    s = WindowSampler(_bank(data, feats), LoopConfig(batch_clips=4, window=4, seed=3))
    a, b = s.sample(5), s.sample(5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["frames"], s.sample(6)["frames"])
    halves = [s.sample(5, rank=r, world=2) for r in range(2)]
    assert torch.equal(torch.cat([h["frames"] for h in halves]), a["frames"])
    assert not torch.equal(a["c"], a["c_shift"])            # D_sync's negatives are shifted in time


def test_a_split_is_decoded_once_per_process_and_shared_read_only(toy, monkeypatch):
    data, feats, _ = toy
    first, ids = load_clips(data, "train", feats)
    calls, real_load = [], type(data).load
    monkeypatch.setattr(type(data), "load", lambda self, cid: calls.append(cid) or real_load(self, cid))
    again, _ = load_clips(data, "train")                      # another stage, same split: no decoding
    assert calls == [] and np.shares_memory(again[0]["frames"], first[0]["frames"])
    with pytest.raises(ValueError):
        again[0]["frames"][0, 0, 0, 0] = 1                    # read-only: no stage changes another's data
    load_clips(data, "test", limit=1)                         # a few clips: read directly, cache kept
    assert len(calls) == 1 and np.shares_memory(load_clips(data, "train")[0][0]["frames"], first[0]["frames"])


def test_host_batches_carry_uint8_frames_and_the_device_gets_floats(toy):
    data, feats, _ = toy
    host = WindowSampler(_bank(data, feats), LoopConfig(batch_clips=2, window=3)).sample(0)
    assert host["frames"].dtype == torch.uint8 and host["frames"].shape[-1] == 3     # (B, W, S, S, 3)
    assert host["still"].dtype == torch.uint8 and host["c"].dtype == torch.float32
    dev = to_device(host, "cpu")
    assert dev["frames"].shape == (*host["frames"].shape[:2], 3, *host["frames"].shape[2:4])
    assert torch.equal(dev["frames"], host["frames"].float().div(255).movedim(-1, -3))
    assert dev["frames"].dtype == torch.float32 and 0 <= dev["frames"].min() and dev["frames"].max() <= 1


def test_prefetched_batches_are_the_sampler_batches_also_after_a_resume(toy):
    data, feats, _ = toy
    sampler = WindowSampler(_bank(data, feats), LoopConfig(batch_clips=2, window=3, seed=4))
    pre = Prefetcher(sampler)
    for step in [0, 1, 2, 7, 8]:                              # 7: a resumed run's first step (nothing prefetched)
        got, want = pre.get(step, last_step=8), sampler.sample(step)
        assert all(torch.equal(got[k], want[k]) for k in want), step
    assert pre._next is None                                  # nothing drawn past the last step
    pre.close()

    class Broken:
        def sample(self, step, rank=0, world=1):
            if step == 1:
                raise ValueError("bad clip")
            return sampler.sample(step)
    pre = Prefetcher(Broken())
    pre.get(0)
    with pytest.raises(ValueError, match="bad clip"):         # raised in the training thread, not lost
        pre.get(1)


def _s2v_task(teacher, steps):
    torch.manual_seed(0)
    cfg = speech2video_config(get_profile("smoke"), C_DIM, NU_DIM, MU_DIM, (16, 8, 8), steps=steps)
    cfg.loop.batch_clips, cfg.loop.window, cfg.loop.ckpt_every, cfg.loop.log_every = 2, 2, 2, 1
    cfg.model.ch = cfg.model.id_ch = cfg.d_ch = 16
    return Speech2VideoTask(cfg, teacher), cfg


def test_checkpoint_resume_after_a_kill_matches_an_uninterrupted_run(toy, tmp_path):
    data, feats, teacher = toy
    bank = _bank(data, feats)
    task, cfg = _s2v_task(teacher, steps=4)
    train(task, WindowSampler(bank, cfg.loop), cfg.loop, Checkpoint(tmp_path / "a", cfg), progress=False)
    reference = {k: v.clone() for k, v in task.nets["G"].state_dict().items()}

    task, cfg = _s2v_task(teacher, steps=4)
    step_fn, calls = task.train_step, []

    def dies_at_step_3(batch, ctx):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return step_fn(batch, ctx)
    task.train_step = dies_at_step_3
    ckpt = Checkpoint(tmp_path / "b", cfg)
    with pytest.raises(KeyboardInterrupt):
        train(task, WindowSampler(bank, cfg.loop), cfg.loop, ckpt, progress=False)
    assert ckpt.load()["unit"] == 2 and not ckpt.load()["done"]

    task, cfg = _s2v_task(teacher, steps=4)                   # a fresh process resumes from step 2
    hist = train(task, WindowSampler(bank, cfg.loop), cfg.loop, ckpt, progress=False)
    assert list(hist["step"]) == [1, 2, 3, 4]
    for k, v in task.nets["G"].state_dict().items():
        torch.testing.assert_close(v, reference[k], rtol=1e-5, atol=1e-6)
    assert ckpt.load()["done"]
    task2, cfg = _s2v_task(teacher, steps=4)                  # finished: loads, trains nothing
    task2.train_step = None
    train(task2, WindowSampler(bank, cfg.loop), cfg.loop, ckpt, progress=False)
    torch.testing.assert_close(task2.nets["G"].state_dict(), task.nets["G"].state_dict())
    with pytest.raises(UserError):                            # load-only of an untrained config
        train(task2, WindowSampler(bank, cfg.loop), cfg.loop, Checkpoint(tmp_path / "c", cfg), require_done=True)


def test_warmup_trains_the_generator_alone_then_the_full_objective(toy, tmp_path):
    data, feats, teacher = toy
    torch.manual_seed(0)
    cfg = speech2video_config(get_profile("smoke"), C_DIM, NU_DIM, MU_DIM, (16, 8, 8), steps=2, warmup=2)
    cfg.loop.batch_clips, cfg.loop.window, cfg.loop.ckpt_every, cfg.loop.log_every = 2, 2, 2, 1
    cfg.model.ch = cfg.model.id_ch = cfg.d_ch = 16
    assert cfg.loop.steps == 4 and cfg.warmup_steps == 2
    task = Speech2VideoTask(cfg, teacher)
    d_before = {k: v.clone() for k, v in task.nets["D_fr"].state_dict().items()}
    g_before = {k: v.clone() for k, v in task.nets["G"].state_dict().items()}
    sampler = WindowSampler(_bank(data, feats), cfg.loop)
    with torch.no_grad():
        first = to_device(sampler.sample(0), "cpu")
        l1_before = (task.nets["G"](*(first[k] for k in ("c", "nu", "mu")))[0] - first["frames"]).abs().mean()
    cfg.loop.steps = 2                                         # the warm-up alone
    hist = train(task, sampler, cfg.loop, Checkpoint(tmp_path / "w", cfg), progress=False)
    assert (hist["warmup"] == 1).all() and "loss_D_fr" not in hist
    assert all(torch.equal(v, d_before[k]) for k, v in task.nets["D_fr"].state_dict().items())
    assert any(not torch.equal(v, g_before[k]) for k, v in task.nets["G"].state_dict().items())
    assert hist["l1_full"].iloc[0] == pytest.approx(float(l1_before), rel=1e-4)
    cfg.loop.steps = 4                                         # then the paper's objective
    task.train_step(to_device(sampler.sample(2), "cpu"), StepContext("cpu", False, 0).at(2))
    assert any(not torch.equal(v, d_before[k]) for k, v in task.nets["D_fr"].state_dict().items())
    # SDFA's warm-up too: the generator moves, its discriminators do not
    sdfa = SDFATask(sdfa_config(get_profile("smoke"), ch=16, steps=1, warmup=1))
    sdfa_d = {k: v.clone() for k, v in sdfa.nets["D_fr"].state_dict().items()}
    first = to_device(WindowSampler(_bank(data, None), cfg.loop).sample(0), "cpu")
    logs = sdfa.train_step(first, StepContext("cpu", False, 0).at(0))
    assert logs["warmup"] == 1.0 and np.isfinite(float(logs["l1_full"]))
    assert all(torch.equal(v, sdfa_d[k]) for k, v in sdfa.nets["D_fr"].state_dict().items())
    # the profile's default: WARMUP[scale] warm-up steps, none when the adversarial steps are given
    assert _steps("cpu", None, None) == (cs.STEPS["cpu"] + cs.WARMUP["cpu"], cs.WARMUP["cpu"])
    assert _steps("cpu", 7, None) == (7, 0) and cs.WARMUP["paper"] == 0


# --- stage functions, generation, MP4 ---------------------------------------------------------------

def test_train_models_generate_and_write_mp4(toy, tmp_cache, tmp_path, monkeypatch):
    data, feats, teacher = toy
    import s2v_lib.composer.s2f_voice as voice_stage
    import s2v_lib.composer.training as stage
    for module in (stage, voice_stage):
        monkeypatch.setattr(module, "results_dir", lambda p: tmp_path / "results" / p)
    monkeypatch.setattr(stage, "figures_dir", lambda p: tmp_path / "figures" / p)
    small = {"batch_clips": 2, "window": 3}
    models = {name: cs.train_model(name, "smoke", data=data, features=feats, teacher=teacher, device="cpu",
                                   steps=2, voice_steps=2, progress=False, ch=16, loop_overrides=small)
              for name in cs.MODELS}
    assert (tmp_path / "results" / "smoke" / "train_speech2video.csv").exists()
    assert (tmp_path / "figures" / "smoke" / "samples_sdfa.png").exists()
    voice_log = tmp_path / "results" / "smoke" / "train_s2f_voice.csv"
    seed0_log = voice_log.read_bytes()
    voice_stage.train_voice_encoder("smoke", data, teacher, "cpu", seed=1, steps=2, progress=False)
    # another seed's voice encoder keeps its own training log (it overwrote seed 0's before)
    assert voice_log.read_bytes() == seed0_log and voice_log.with_name("train_s2f_voice_seed1.csv").exists()
    # the default is Speech2Face's input (unnormalised log-mel); the first reading's row has its own encoder and log
    assert not models["s2f_sdfa"].voice_encoder.logmel.utterance_norm
    enc, _, key = voice_stage.train_voice_encoder("smoke", data, teacher, "cpu", steps=2, progress=False,
                                                  utterance_norm=True, tag="uttnorm")
    assert enc.cfg.utterance_norm is True and enc.logmel.utterance_norm
    assert voice_log.with_name("train_s2f_voice_uttnorm.csv").exists() and voice_log.read_bytes() == seed0_log
    again = cs.load_model("speech2video", "smoke", data=data, features=feats, teacher=teacher, device="cpu",
                          steps=2, ch=16, loop_overrides=small)
    torch.testing.assert_close(again.net.state_dict(), models["speech2video"].net.state_dict())

    cid = data.clips("test")["clip_id"][0]
    frames, wav = data.load(cid)
    outs = {"speech2video": generate(models["speech2video"], wav, features=feats[cid]),
            "sdfa": generate(models["sdfa"], wav, still=frames[0]),
            "s2f_sdfa": generate(models["s2f_sdfa"], wav)}
    for name, out in outs.items():
        assert out.shape == frames.shape and out.dtype == np.uint8, name
    assert np.array_equal(generate(models["sdfa"], wav, still=frames[0]), outs["sdfa"])   # seeded noise
    with pytest.raises(UserError):
        generate(models["sdfa"], wav)                          # SDFA needs a still image
    with pytest.raises(UserError):
        generate(models["speech2video"], wav)                  # and speech2video the stage-1 encoder

    scores = cs.quick_scores(models["sdfa"], data, list(data.clips("test")["clip_id"][:2]), teacher=teacher)
    assert len(scores) == 2 and (scores["psnr"] > 0).all() and scores["id_cos"].between(-1, 1).all()

    path = tmp_path / "clip.mp4"
    write_mp4(path, outs["speech2video"], wav)
    with av.open(str(path)) as f:
        assert {s.type for s in f.streams} == {"video", "audio"}
        n_video = sum(1 for _ in f.decode(video=0))
    with av.open(str(path)) as f:
        n_audio = sum(fr.samples for fr in f.decode(audio=0))
    assert n_video == len(frames)
    assert abs(n_audio - len(wav)) <= 2048                     # AAC pads to whole 1024-sample frames


def test_mismatch_pairs_same_sex_other_speaker(toy, tmp_path):
    data, _, _ = toy
    pairs = cs.mismatch_pairs(data, seed=0, write_to=tmp_path / "pairs.csv")
    assert len(pairs) == len(data.clips("test"))
    assert (pairs["actor"] != pairs["still_actor"]).all()
    assert (pairs["sex"] == pairs["still_sex"]).all()
    assert pairs.equals(cs.mismatch_pairs(data, seed=0))      # fixed, seeded
    assert (tmp_path / "pairs.csv").exists()


def test_every_task_trains_under_bf16_autocast_with_fp32_rnns(toy):
    """What the gpu profile runs (bf16 autocast), on the CPU: losses finite, every trainable parameter group
    gets a gradient, and the recurrent layers (SDFA's audio and noise GRUs, D_seq) stay in float32."""
    from s2v_lib.models import fp32_rnn
    data, feats, teacher = toy
    loop, smoke = LoopConfig(batch_clips=2, window=3), get_profile("smoke")
    gru = torch.nn.GRU(4, 4, batch_first=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = fp32_rnn(gru, torch.randn(1, 3, 4).bfloat16())
    assert out.dtype == torch.float32
    torch.manual_seed(0)
    tasks = {"speech2video": (Speech2VideoTask(speech2video_config(smoke, C_DIM, NU_DIM, MU_DIM,
                                                                    teacher_channels(teacher, 48, "cpu"), ch=16,
                                                                    warmup=0), teacher), _bank(data, feats), ("nu", "mu")),
             "sdfa": (SDFATask(sdfa_config(smoke, ch=16, warmup=0)), _bank(data, None), ())}
    ctx = StepContext("cpu", True, 0)
    for name, (task, bank, keys) in tasks.items():
        task_loop = loop if name == "speech2video" else dataclasses.replace(task.cfg.loop, batch_clips=2)
        batch = to_device(WindowSampler(bank, task_loop, vector_keys=keys).sample(0), "cpu")
        logs = task.train_step(batch, ctx.at(0))
        assert all(np.isfinite(float(v)) for v in logs.values()), name
        for net_name, net in task.nets.items():
            if net_name == "G_ema":             # the generator's moving average: no gradients by design
                continue
            grads = [p.grad for p in net.parameters() if p.requires_grad]
            assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), (name, net_name)
            assert any(g.abs().sum() > 0 for g in grads), (name, net_name)


def test_deterministic_cuda_stand_ins_compute_the_usual_ops():
    """The slice / index_select forms used on CUDA (deterministic backward) equal torch's ops."""
    from s2v_lib.models.deterministic import adaptive_avg_pool_by_slices, replicate_pad_by_index
    x = torch.randn(2, 3, 8, 11, requires_grad=True)
    for size in (1, 3, (2, 5)):
        torch.testing.assert_close(adaptive_avg_pool_by_slices(x, size), torch.nn.functional.adaptive_avg_pool2d(x, size))
    torch.testing.assert_close(replicate_pad_by_index(x, (2, 1, 3, 2)),
                               torch.nn.functional.pad(x, (2, 1, 3, 2), mode="replicate"))
    replicate_pad_by_index(x, (1, 1, 1, 1)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.sum() > x.numel()    # border pixels counted more than once
    from s2v_lib.models.deterministic import upsample2x_by_slices
    y = torch.randn(2, 3, 5, 7, dtype=torch.float64, requires_grad=True)
    for mode in ("nearest", "bilinear"):
        torch.testing.assert_close(upsample2x_by_slices(y, mode), torch.nn.functional.interpolate(y, scale_factor=2, mode=mode))
        g_slices, = torch.autograd.grad((upsample2x_by_slices(y, mode) ** 2).sum(), y)
        g_torch, = torch.autograd.grad((torch.nn.functional.interpolate(y, scale_factor=2, mode=mode) ** 2).sum(), y)
        torch.testing.assert_close(g_slices, g_torch)


def test_every_upsampling_choice_gives_the_frame_size_and_refuses_unknown_ones():
    from s2v_lib.models.composer import Composer, ComposerConfig
    for how in ("transposed", "resize_conv", "bilinear_conv"):
        torch.manual_seed(0)
        frames, inflated = Composer(ComposerConfig(frame_size=48, upsample=how))(torch.randn(2, 3, 256),
                                                                                  torch.randn(2, 128), torch.randn(2, 64))
        assert frames.shape == (2, 3, 3, 48, 48) and [m.shape[-1] for m in inflated] == [6, 12, 24]
    with pytest.raises(ValueError, match="upsample must be"):
        Composer(ComposerConfig(upsample="pixelshuffle"))


def test_sdfa_sync_negatives_are_the_same_clips_audio_3_to_10_frames_away():
    """SDFA's D_sync pairs: the in-sync window is the one around the chunk's centre frame; the
    off-sync one is the same clip's audio 3..10 frames away (never the in-sync window)."""
    from s2v_lib.data.dataset import SAMPLES_PER_FRAME
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(60 * SAMPLES_PER_FRAME).astype(np.float32)
    clip = {"frames": np.zeros((60, 8, 8, 3), np.uint8), "audio": audio}
    loop = LoopConfig(batch_clips=16, window=5, audio_negatives=True)
    batch = WindowSampler(ClipBank([clip]), loop, vector_keys=()).sample(3)
    windows = audio_window_array(audio, 0, 60)                 # every frame's 0.2 s window
    for a_sync, a_shift, a in zip(batch["audio_sync"].numpy(), batch["audio_shift"].numpy(), batch["audio"].numpy()):
        np.testing.assert_array_equal(a_sync, a[2])            # the centre frame of the 5-frame chunk
        centre = int(np.flatnonzero((windows == a_sync).all(1))[0])
        shifted = int(np.flatnonzero((windows == a_shift).all(1))[0])
        assert 3 <= abs(shifted - centre) <= 10


def test_sdfa_sync_loss_rewards_in_sync_and_penalises_off_sync_and_generated():
    big, small = torch.full((4, 1), 6.0), torch.full((4, 1), -6.0)
    assert losses.sdfa_sync_d(big, small, small) < 0.01          # a D that is right: near-zero loss
    assert losses.sdfa_sync_d(small, big, big) > 5.0


def test_generator_ema_starts_at_the_generator_and_then_lags_it():
    """g_ema: the first adversarial step copies the generator (decay ramps from 0); later steps move
    the average only part of the way toward the new weights."""
    from s2v_lib.composer.common import ema_copy, ema_update
    net = torch.nn.Linear(3, 2)
    ema = ema_copy(net)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema_update(ema, net, 0.999, adversarial_step=0)
    assert torch.equal(ema.weight, net.weight)
    before = ema.weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema_update(ema, net, 0.999, adversarial_step=1000)
    assert (ema.weight - before).abs().max() < 0.01 and not any(p.requires_grad for p in ema.parameters())


def test_spectral_norm_leaves_one_element_weights_learnable():
    """Spectral norm pins a 1x1 weight to +-1 (its own sigma): SDFA's D_sync scores a distance through
    Linear(1, 1), which must keep its gradient; every larger layer is normalised."""
    from s2v_lib.models.discriminators import spectral_normed
    from s2v_lib.models.sdfa import SDFASyncDiscriminator
    d = spectral_normed(SDFASyncDiscriminator(5, 8))
    assert not hasattr(d.out, "parametrizations") and hasattr(d.video[-1], "parametrizations")
    out = d(torch.rand(2, 5, 3, 32, 32), torch.randn(2, 3200))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


def test_d_sync_real_pair_ranking_reads_the_discriminator_the_right_way_round(toy):
    """An oracle that knows each chunk's own speech ranks every triple right (1.0), its mirror none
    (0.0), an untrained SDFA D_sync about half: the score says what D_sync knows about sync."""
    from s2v_lib.evaluation.sync_discriminator import real_pair_ranking
    from s2v_lib.models.sdfa import SDFASyncDiscriminator
    data, _, _ = toy
    clips, ids = load_clips(data, "train")
    sampler = WindowSampler(ClipBank(clips, ids), LoopConfig(batch_clips=8, window=5, audio_negatives=True, seed=0),
                            vector_keys=())
    own = {}
    for i in range(2):                                        # the triples real_pair_ranking will draw
        b = to_device(sampler.sample(i), "cpu")
        own.update({f.numpy().tobytes(): a for f, a in zip(b["frames"], b["audio_sync"])})

    class Oracle(torch.nn.Module):
        def __init__(self, sign):
            super().__init__()
            self.sign = sign

        def forward(self, frames, audio):
            truth = torch.stack([own[f.numpy().tobytes()] for f in frames])
            return -self.sign * (audio - truth).abs().mean(1, keepdim=True)

    kw = dict(split="train", n_batches=2, batch_clips=8, seed=0)
    assert real_pair_ranking(Oracle(1), data, **kw)["pair_accuracy"] == 1.0
    assert real_pair_ranking(Oracle(-1), data, **kw)["pair_accuracy"] == 0.0
    torch.manual_seed(0)
    untrained = real_pair_ranking(SDFASyncDiscriminator(5, ch=8, dim=16), data, **kw)
    assert untrained["n"] == 16 and 0.0 < untrained["pair_accuracy"] < 1.0 and untrained["chance"] == 0.5


def test_every_model_names_its_evaluation_weights_and_the_other_choice_is_an_ablation_row():
    from s2v_lib.composer.ablations import ABLATIONS
    from s2v_lib.composer.configs import DEPARTURES, EVAL_WEIGHTS, MODELS
    assert set(EVAL_WEIGHTS) == set(MODELS) and set(EVAL_WEIGHTS.values()) <= {"ema", "raw"}
    assert EVAL_WEIGHTS["sdfa"] == "raw"                      # SDFA as published: its last weights
    for name, weights in EVAL_WEIGHTS.items():
        assert DEPARTURES[name].get("g_ema", 0) > 0           # every run keeps the shadow for the other row
    other = {ab.model: ab.overrides["weights"] for ab in ABLATIONS if "weights" in ab.overrides}
    assert other == {"speech2video": "raw", "sdfa": "ema"}
    assert all(other[m] != EVAL_WEIGHTS[m] for m in other)
    with pytest.raises(UserError, match="weights must be"):
        from s2v_lib.composer.training import train_model
        train_model("sdfa", get_profile("smoke"), weights="last")
