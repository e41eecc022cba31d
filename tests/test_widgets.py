"""The demo panel's callbacks, driven without a browser (set .value, press .click())."""
import numpy as np
import pytest

from s2v_lib import metrics as M
from s2v_lib.data.dataset import PreparedData
from s2v_lib.evaluation.context import EvalContext
from s2v_lib.errors import UserError
from s2v_lib.widgets import ClipBrowser, DemoPanel, OwnVoicePanel, face_readout
from elsewhere_voice import elsewhere_wav_bytes, upload
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


def test_clip_browser_offers_only_clips_the_profile_has(data):
    b = ClipBrowser(data, encode=fake_encode)
    m = data.manifest
    combos = set(zip(m.actor, m.sentence, m.emotion, m.level))
    assert b.clip_id in set(m.clip_id) and f"data-frames=" in b.video.value
    for actor in [v for _, v in b.actor.options]:
        b.actor.value = actor
        offered = {v for _, v in b.sentence.options}
        assert offered == set(m[m.actor == actor].sentence)       # each choice narrows the next
        for sentence in sorted(offered):
            b.sentence.value = sentence
            for emotion in [v for _, v in b.emotion.options]:
                b.emotion.value = emotion
                assert (actor, sentence, emotion, b.level.value) in combos
                row = m[m.clip_id == b.clip_id].iloc[0]
                assert (row.actor, row.sentence, row.emotion) == (actor, sentence, emotion)
                assert b.clip_id in b.video.value
    assert "(" in b.actor.options[0][0] and b.actor.options[0][0].startswith(str(b.actor.options[0][1]))


def test_clip_browser_keeps_a_choice_that_stays_possible(data):
    b = ClipBrowser(data, encode=fake_encode)
    b.sentence.value = "S03"
    emotion = b.emotion.value
    actors = [v for _, v in b.actor.options]
    b.actor.value = actors[1]                   # every toy actor has S03 with the same emotion
    assert b.sentence.value == "S03" and b.emotion.value == emotion
    assert b.clip_id == f"{actors[1]}_S03_{emotion}_XX"


def test_demo_clip_dropdown_is_wide_enough(data):
    panel, _ = make_panel(data)
    longest = max(len(label) for label, _ in panel.clip.options)
    assert panel.clip.layout.width.endswith("em") and float(panel.clip.layout.width[:-2]) * 1.6 >= longest


# --- your own voice: the upload ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def elsewhere_wav():
    """WAV bytes at 44.1 kHz of a voice none of the twin's (eSpeak's 22.05 kHz resampled: the reader resamples again)."""
    return elsewhere_wav_bytes(44100)


def make_voice_panel(**kw):
    heard = []

    def speak(wav):
        heard.append(wav)
        n = len(wav) // 640
        return np.full((n, 16, 16, 3), 128, np.uint8), {"nearest seen actor to the voice (students)": "1001"}

    def readout(frames):
        return {"sex (probe on generated face)": "male", "age group (probe on generated face)": "adult"}

    return OwnVoicePanel(speak, readout, **kw), heard


def test_upload_of_a_voice_recorded_elsewhere_makes_a_video_and_the_readout(elsewhere_wav):
    content, seconds = elsewhere_wav
    panel, heard = make_voice_panel()
    panel.button.click()                                        # nothing uploaded yet: a hint, nothing run
    assert "no recording yet" in panel.status.value and not heard
    upload(panel, "my voice.wav", content)
    assert "uploaded" in panel.status.value and not heard     # the heavy work waits for the button
    panel.button.click()
    assert len(heard) == 1 and heard[0].dtype == np.float32
    assert abs(len(heard[0]) - seconds * 16000) <= 16          # resampled from 44.1 kHz to 16 kHz, not trimmed
    assert "44100 Hz, resampled to 16 kHz" in panel.status.value and "trimmed" not in panel.status.value
    assert panel.video.value.count("data:video/mp4;base64,") == 1 and "<video" in panel.video.value
    assert "my voice.wav" in panel.video.value
    for key in ("sex (probe on generated face)", "age group (probe on generated face)",
                "nearest seen actor to the voice (students)"):
        assert key in panel.facts.value
    assert f"{len(heard[0]) // 640} frames" in panel.status.value


def test_a_long_upload_is_trimmed_with_a_message(elsewhere_wav):
    panel, heard = make_voice_panel(max_seconds=1.0, encode=fake_encode)
    upload(panel, "long.wav", elsewhere_wav[0])
    panel.button.click()
    assert len(heard[0]) == 16000 and "trimmed to the first 1 s" in panel.status.value
    assert "data-frames='25'" in panel.video.value


@pytest.mark.parametrize("name, content", [("broken.wav", b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 20),
                                           ("broken.mp3", b"\xff\xfb\x90\x00" + bytes(500)),
                                           ("empty.flac", b"")])
def test_a_corrupt_upload_gives_one_clear_line(name, content):
    panel, heard = make_voice_panel(encode=fake_encode)
    upload(panel, name, content)
    panel.button.click()
    msg = panel.last["error"]
    assert not heard and panel.video.value == "" and panel.facts.value == ""
    assert msg.startswith(f"{name}: ") and "WAV, FLAC or MP3" in msg and "\n" not in msg
    assert "Traceback" not in panel.status.value and "error" in panel.status.value
