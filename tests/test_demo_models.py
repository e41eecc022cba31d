"""Which models the demos show: the best trained profile in the cache (gpu > cpu > smoke), said on screen."""
import pytest

from s2v_lib import demo_models, own_voice
from s2v_lib import metrics as M
from s2v_lib.data.dataset import PreparedData
from s2v_lib.demo_models import DemoStudy, best_demo_study, demo_widget, note_html
from s2v_lib.errors import UserError
from s2v_lib.evaluation.context import EvalContext
from s2v_lib.own_voice import TrainedStudy, best_trained_profile, load_trained, profile_note
from toy_av import ToyEmotionTeacher, ToyIdentityTeacher, make_toy_prepared


def fake_cache(monkeypatch, trained: set):
    def load(profile, device="cpu"):
        if profile not in trained:
            raise UserError(f"profile {profile}: no twin in the cache")
        return TrainedStudy(profile, None, {}, None)
    monkeypatch.setattr(own_voice, "load_trained", load)


@pytest.mark.parametrize("trained, best", [({"smoke"}, "smoke"), ({"smoke", "cpu"}, "cpu"),
                                           ({"cpu", "gpu"}, "gpu"), ({"gpu", "cpu", "smoke"}, "gpu")])
def test_best_trained_profile_prefers_gpu_then_cpu_then_smoke(monkeypatch, trained, best):
    fake_cache(monkeypatch, trained)
    assert best_trained_profile().profile == best


def test_no_trained_profile_says_how_to_train_one(monkeypatch):
    fake_cache(monkeypatch, set())
    with pytest.raises(UserError, match=r"no trained speech2video.*make reproduce"):
        best_trained_profile()


def test_load_trained_trains_nothing_in_an_empty_cache(tmp_cache):
    for name in ("gpu", "cpu", "smoke"):
        with pytest.raises(UserError, match=f"profile {name}: no"):
            load_trained(name)
    assert not tmp_cache.exists() or not any(tmp_cache.rglob("*.pt"))


def test_the_smoke_message_says_what_smoke_models_are_and_how_to_get_real_ones():
    note = profile_note("smoke")
    assert note.startswith("models: profile smoke") and "only prove the plumbing" in note
    assert "make reproduce" in note and "40-60 min" in note
    assert profile_note("cpu") == "models: profile cpu"
    html = note_html("smoke", "smoke")
    assert "profile <b>smoke</b>" in html and "only prove the plumbing" in html and "make reproduce" in html
    other = note_html("cpu", "smoke")
    assert "profile <b>cpu</b>" in other and "profile smoke's" in other and "plumbing" not in other


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    data = PreparedData(make_toy_prepared(tmp_path_factory.mktemp("toy"), n_actors=4, clips_per_actor=8, n_unseen=1))
    ctx = EvalContext(data, None, ToyIdentityTeacher(), ToyEmotionTeacher(),
                      M.actor_gallery(ToyIdentityTeacher(), data, "train"))
    return data, ctx


def here(toy, profile="smoke"):
    data, ctx = toy
    return DemoStudy(profile, data, ctx, None, {"truth": lambda cid: data.load(cid)[0]})


def test_the_demo_reuses_the_notebooks_models_when_they_are_the_best(monkeypatch, toy):
    import s2v_lib.generate
    trained = TrainedStudy("smoke", toy[0], {"inputs": {}}, None)
    monkeypatch.setattr(demo_models, "best_trained_profile", lambda device, order: trained)
    monkeypatch.setattr(s2v_lib.generate, "speech_encoder", lambda *a, **k: "encoder")
    current = here(toy)
    demo = best_demo_study("cpu", current=current)
    assert demo is current and demo.trained is trained and demo.encoder == "encoder"
    assert "only prove the plumbing" in demo.note
    box = demo_widget(demo)
    assert box.children[0].value == demo.note and len(box.children) == 3          # note, clip panel, upload
    assert any(getattr(c, "description", "") == "Run on my voice" for c in box.children[2].children[1].children)


def test_the_demo_keeps_the_notebooks_models_without_a_finished_chain_or_off_the_twin(monkeypatch, toy):
    def none(device, order):
        raise UserError("no trained speech2video in this cache (profile smoke: no twin in the cache)")
    monkeypatch.setattr(demo_models, "best_trained_profile", none)
    demo = best_demo_study("cpu", current=here(toy))
    assert demo.trained is None and "no twin in the cache" in demo.note and "plumbing" in demo.note
    assert len(demo_widget(demo).children) == 2                                   # no upload without stage one
    with pytest.raises(UserError, match="no trained speech2video"):
        best_demo_study("cpu")
    off = best_demo_study("cpu", current=here(toy, "cpu"), dataset="crema-d")
    assert off.trained is None and "on crema-d" in off.note and "profile <b>cpu</b>" in off.note
