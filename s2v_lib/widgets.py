"""Interactive widgets: the clip browser (notebook 01) and the demo (notebook 06).

ClipBrowser: actor, sentence, emotion (and level) dropdowns that only ever offer what the profile's
manifest holds: each choice narrows the next, so every combination shown exists.

DemoPanel: pick a test clip or an unseen voice, pick a model, press Generate;
the generated video plays with its speech beside the ground truth, with what the teachers read
from the generated face (emotion, nearest seen actor, sex / age group).

OwnVoicePanel: upload a recording (WAV / FLAC / MP3, any rate), press "Run on my voice": speech2video
treats it as one more unseen voice (own_voice.read_voice_bytes, own_voice.voice_video, as the CLI does).

    panel = DemoPanel(data, gens, readout=face_readout(ctx, probes))
    display(panel.widget)

Everything the callbacks need is passed in (generators, readout, video encoder), so tests drive the
panel without a browser: set .value on the dropdowns and call panel.button.click().
"""
import html

import ipywidgets as W
import numpy as np

from . import metrics as M
from .errors import UserError
from .media import video_html
from .own_voice import MAX_SECONDS

SOURCES = {"test clip": "test", "unseen voice": "unseen"}
WIDE = W.Layout(width="36em")                       # "1001_DFA_ANG_XX (actor 1001, male, adult, ANG)" fits
LABEL_STYLE = {"description_width": "5em"}


class ClipBrowser:
    """Cascading dropdowns over data.manifest; .video shows the chosen clip with its speech.
    Tests drive it like the demo: set .value on a dropdown, read .clip_id and .video.value."""
    KEYS = ("actor", "sentence", "emotion", "level")

    def __init__(self, data, encode=video_html, width: int | None = None):
        self.data, self.encode = data, encode
        self.width = width or 2 * data.frame_size + 64
        self.manifest = data.manifest.sort_values(list(self.KEYS)).reset_index(drop=True)
        self.dropdowns = {k: W.Dropdown(description=k, style=LABEL_STYLE) for k in self.KEYS}
        self.actor, self.sentence, self.emotion, self.level = (self.dropdowns[k] for k in self.KEYS)
        self.actor.layout = W.Layout(width="22em")
        self.caption, self.video = W.HTML(), W.HTML()
        self.clip_id: str | None = None
        self._busy = False
        self._narrow(0)
        for i, k in enumerate(self.KEYS):
            self.dropdowns[k].observe(lambda change, i=i: self._on_change(i), names="value")
        self.widget = W.VBox([W.HBox([self.actor, self.sentence]), W.HBox([self.emotion, self.level]),
                              self.caption, self.video])

    def _rows(self, upto: int):
        m = self.manifest
        for k in self.KEYS[:upto]:
            m = m[m[k].astype(str) == str(self.dropdowns[k].value)]
        return m

    def _options(self, i: int, rows) -> list:
        key = self.KEYS[i]
        if key == "actor":
            first = rows.drop_duplicates("actor")
            return [(f"{r.actor} ({r.sex}, {r.age})", r.actor) for r in first.itertuples()]
        return [(str(v), v) for v in dict.fromkeys(rows[key])]

    def _narrow(self, start: int):
        """Refill the dropdowns from index `start` on, each from the rows the earlier choices leave,
        keeping a choice that is still possible; then show the clip once."""
        self._busy = True
        try:
            for i in range(start, len(self.KEYS)):
                dd, opts = self.dropdowns[self.KEYS[i]], self._options(i, self._rows(i))
                keep = dd.value
                dd.options = opts
                values = [v for _, v in opts]
                dd.value = keep if keep in values else values[0]
        finally:
            self._busy = False
        self._show()

    def _on_change(self, i: int):
        if not self._busy:
            self._narrow(i + 1)

    def _show(self):
        r = self._rows(len(self.KEYS)).iloc[0]
        self.clip_id = r["clip_id"]
        frames, audio = self.data.load(self.clip_id)
        self.caption.value = (f"<b>{html.escape(self.clip_id)}</b>: {r['split']} split, {r['sex']}, age {r['age']} "
                              f"({r['age_group']}), {len(frames)} frames")
        self.video.value = self.encode(frames, audio, width=self.width, label=self.clip_id)



def read_face(ctx, probes: dict | None, frames) -> dict:
    """What the teachers and probes read from one generated clip: emotion, nearest seen actor (identity-teacher
    centroid), and with probes its sex and age group."""
    picked = [frames[M.frame_positions(len(frames))]]
    emb = M.clip_embeddings(ctx.identity_teacher, picked)
    out = {"emotion": M.emotion_predictions(ctx.emotion_teacher, M.clip_emotion_logits(ctx.emotion_teacher, picked))[0],
           "actor": ctx.gallery.nearest(emb)[0]}
    if probes:
        out |= {k: probes[k].predict(emb)[0] for k in ("sex", "age_group")}
    return out


def face_readout(ctx, probes: dict | None = None):
    """readout(frames, clip_id) -> {label: text}: emotion teacher, nearest seen actor, probes' sex / age group."""
    man = ctx.data.manifest.set_index("clip_id")

    def readout(frames, clip_id):
        face, row = read_face(ctx, probes, frames), man.loc[clip_id]
        out = {"emotion (teacher on generated face)": f"{face['emotion']} (spoken: {row['emotion']})",
               "nearest seen actor": f"{face['actor']} (voice owner: {row['actor']})"}
        if probes:
            out["sex (probe)"] = f"{face['sex']} (voice owner: {row['sex']})"
            out["age group (probe)"] = f"{face['age_group']} (voice owner: {row['age_group']})"
        return out

    return readout


def facts_table(facts: dict) -> str:
    return "<table>" + "".join(f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(str(v))}</b></td></tr>"
                               for k, v in facts.items()) + "</table>"


class DemoPanel:
    def __init__(self, data, generators: dict, readout=None, encode=video_html, width: int = 192):
        """generators: model name -> generate_fn(clip_id) -> frames uint8 (T, S, S, 3)."""
        if not generators:
            raise UserError("DemoPanel needs at least one model; pass generators={'speech2video': fn, ...}")
        self.data, self.generators, self.readout, self.encode, self.width = data, generators, readout, encode, width
        self.source = W.Dropdown(options=list(SOURCES), value="test clip", description="speech", style=LABEL_STYLE)
        self.clip = W.Dropdown(options=self._clip_options("test clip"), description="clip", layout=WIDE,
                               style=LABEL_STYLE)
        self.model = W.Dropdown(options=list(generators), description="model", style=LABEL_STYLE)
        self.button = W.Button(description="Generate", button_style="primary", icon="play")
        self.status = W.HTML()
        self.videos = W.HTML()
        self.facts = W.HTML()
        self.last: dict | None = None        # what the last Generate produced (for tests and the curious)
        self.source.observe(self._on_source, names="value")
        self.button.on_click(self._on_generate)
        self.widget = W.VBox([W.HBox([self.source, self.clip]), W.HBox([self.model, self.button]),
                              self.status, self.videos, self.facts])

    def _clip_options(self, source: str) -> list:
        clips = self.data.clips(SOURCES[source])
        return [(f"{r.clip_id} (actor {r.actor}, {r.sex}, {r.age_group}, {r.emotion})", r.clip_id)
                for r in clips.itertuples()]

    def _on_source(self, change):
        self.clip.options = self._clip_options(change["new"])
        self.clip.value = self.clip.options[0][1] if self.clip.options else None

    def _on_generate(self, _button=None):
        clip_id, model = self.clip.value, self.model.value
        if clip_id is None:
            self.status.value = "<b>no clip in this split</b>"
            return
        self.status.value = f"generating {html.escape(clip_id)} with {html.escape(model)} ..."
        try:
            truth, wav = self.data.load(clip_id)
            frames = np.asarray(self.generators[model](clip_id))
            facts = self.readout(frames, clip_id) if self.readout else {}
        except (UserError, ValueError, KeyError) as e:      # show the message, keep the panel alive
            self.status.value = f"<b>error:</b> {html.escape(str(e))}"
            self.last = {"error": str(e)}
            return
        self.videos.value = (self.encode(frames, wav, width=self.width, label=f"{model} (generated)")
                             + self.encode(truth, wav, width=self.width, label="ground truth"))
        self.facts.value = facts_table(facts)
        self.status.value = f"{html.escape(model)} on {html.escape(clip_id)}: {len(frames)} frames"
        self.last = {"clip_id": clip_id, "model": model, "frames": frames, "facts": facts}


class OwnVoicePanel:
    """Upload a recording, press the button: the video speech2video imagines for it, with the audio, and what
    the teachers / probes read from that face plus the seen actor nearest to the voice itself.
    speak(wav 16 kHz) -> (frames, {label: text}); readout(frames) -> {label: text}."""
    ACCEPT = ".wav,.flac,.mp3"

    def __init__(self, speak, readout=None, encode=video_html, width: int = 192, max_seconds: float = MAX_SECONDS):
        self.speak, self.readout, self.encode, self.width, self.max_seconds = speak, readout, encode, width, max_seconds
        self.upload = W.FileUpload(accept=self.ACCEPT, multiple=False, description="your voice")
        self.button = W.Button(description="Run on my voice", icon="microphone")
        self.status = W.HTML(f"Upload a WAV, FLAC or MP3 recording (any sample rate; the first {max_seconds:.0f} s "
                             "are used), then press <b>Run on my voice</b>.")
        self.video, self.facts = W.HTML(), W.HTML()
        self.last: dict | None = None
        self.upload.observe(self._on_upload, names="value")
        self.button.on_click(self._on_run)
        self.widget = W.VBox([W.HTML("<b>Your own voice</b>"), W.HBox([self.upload, self.button]),
                              self.status, self.video, self.facts])

    @classmethod
    def for_study(cls, demo, **kw):
        """From a demo_models.DemoStudy: its speech2video and stage-one encoder, teachers and probes."""
        from .own_voice import nearest_seen_actor, voice_video
        sex_age = demo.data.manifest.drop_duplicates("actor").set_index("actor")[["sex", "age_group"]]

        def speak(wav):
            frames, features = voice_video(demo.trained, wav, demo.encoder)
            near = nearest_seen_actor(demo.trained, features["nu"])
            return frames, {"nearest seen actor to the voice (students)":
                            f"{near['actor']} ({near['sex']}, {near['age_group']}; cosine {near['cosine']:.2f})"}

        def readout(frames):
            face = read_face(demo.ctx, demo.probes, frames)
            out = {"emotion (teacher on generated face)": face["emotion"]}
            a = face["actor"]
            out["nearest seen actor to the face"] = (f"{a} ({sex_age.at[a, 'sex']}, {sex_age.at[a, 'age_group']})"
                                                     if a in sex_age.index else str(a))
            if demo.probes:
                out["sex (probe on generated face)"] = face["sex"]
                out["age group (probe on generated face)"] = face["age_group"]
            return out

        return cls(speak, readout, width=kw.pop("width", max(192, 3 * demo.data.frame_size)), **kw)

    def _file(self):
        return self.upload.value[0] if self.upload.value else None

    def _on_upload(self, _change=None):
        f = self._file()
        if f is not None:
            self.status.value = (f"{html.escape(f['name'])} ({f['size'] / 1024:.0f} KB) uploaded; "
                                 "press <b>Run on my voice</b>.")

    def _on_run(self, _button=None):
        from .own_voice import read_voice_bytes
        f = self._file()
        if f is None:
            self.status.value = "<b>no recording yet:</b> upload a WAV, FLAC or MP3 file first"
            return
        self.status.value = f"reading {html.escape(f['name'])} ..."
        self.video.value = self.facts.value = ""
        try:
            wav, note = read_voice_bytes(bytes(f["content"]), f["name"], self.max_seconds)
            self.status.value = f"{html.escape(note)}; generating ..."
            frames, facts = self.speak(wav)
            facts = {**(self.readout(frames) if self.readout else {}), **facts}
        except (UserError, ValueError) as e:           # one line in the panel, no traceback
            self.status.value = f"<b>error:</b> {html.escape(str(e))}"
            self.last = {"error": str(e)}
            return
        self.video.value = self.encode(frames, wav, width=self.width, label=f"speech2video on {html.escape(f['name'])}")
        self.facts.value = facts_table(facts)
        self.status.value = f"{html.escape(note)}; {len(frames)} frames at 25 fps"
        self.last = {"name": f["name"], "wav": wav, "frames": frames, "facts": facts, "note": note}
