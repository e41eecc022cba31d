"""The demo panel's callbacks, driven without a browser (set .value, press .click())."""
import numpy as np
import pytest

from s2v_lib import metrics as M
from s2v_lib.data.dataset import PreparedData
from s2v_lib.evaluation.context import EvalContext
from s2v_lib.errors import UserError
from s2v_lib.widgets import DemoPanel, face_readout
from toy_av import ToyEmotionTeacher, ToyIdentityTeacher, make_toy_prepared


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return PreparedData(make_toy_prepared(tmp_path_factory.mktemp("toy"), n_actors=4, clips_per_actor=8, n_unseen=1))


def fake_encode(frames, wav, width=192, label=""):
    return f"<video data-frames='{len(frames)}' data-samples='{len(wav)}'>{label}</video>"


def make_panel(data, readout=None):
    calls = []

    def speech2video(cid):
        calls.append(("speech2video", cid))
        return data.load(cid)[0][:, ::-1].copy()           # a stand-in: the mirrored true face

    def broken(cid):
        raise UserError(f"no checkpoint for {cid}; train it in notebook 04")

    panel = DemoPanel(data, {"speech2video": speech2video, "SDFA": broken}, readout=readout, encode=fake_encode)
    return panel, calls


def test_generate_button_runs_the_chosen_model_on_the_chosen_clip(data):
    ctx = EvalContext(data, None, ToyIdentityTeacher(), ToyEmotionTeacher(),
                      M.actor_gallery(ToyIdentityTeacher(), data, "train"))
    panel, calls = make_panel(data, face_readout(ctx))
    test_ids = list(data.clips("test")["clip_id"])
    assert [v for _, v in panel.clip.options] == test_ids
    panel.clip.value = test_ids[1]
    panel.model.value = "speech2video"
    panel.button.click()
    assert calls == [("speech2video", test_ids[1])]
    n = data.manifest.set_index("clip_id").at[test_ids[1], "n_frames"]
    assert panel.videos.value.count("<video") == 2 and f"data-frames='{n}'" in panel.videos.value
    assert "ground truth" in panel.videos.value and "speech2video (generated)" in panel.videos.value
    assert panel.last["clip_id"] == test_ids[1]
    assert "emotion (teacher on generated face)" in panel.facts.value
    emotion = data.manifest.set_index("clip_id").at[test_ids[1], "emotion"]
    assert f"spoken: {emotion}" in panel.facts.value


def test_switching_to_unseen_voices_and_errors(data):
    panel, calls = make_panel(data)
    panel.source.value = "unseen voice"
    unseen = list(data.clips("unseen")["clip_id"])
    assert [v for _, v in panel.clip.options] == unseen and panel.clip.value == unseen[0]
    panel.button.click()
    assert calls == [("speech2video", unseen[0])] and panel.facts.value == "<table></table>"
    panel.model.value = "SDFA"
    panel.button.click()                                      # a failing model shows its message, panel survives
    assert "error" in panel.status.value and "notebook 04" in panel.status.value
    assert panel.last == {"error": f"no checkpoint for {unseen[0]}; train it in notebook 04"}


def test_panel_needs_a_model(data):
    with pytest.raises(UserError, match="at least one model"):
        DemoPanel(data, {})


def test_real_encoder_makes_playable_html(data):
    panel = DemoPanel(data, {"truth": lambda c: data.load(c)[0]})
    panel.button.click()
    assert panel.videos.value.count("data:video/mp4;base64,") == 2
    assert isinstance(panel.last["frames"], np.ndarray)
