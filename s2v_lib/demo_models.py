"""Which models the interactive demos show: the best trained in the cache (gpu over cpu over smoke).

A notebook run at profile P computes its results from P's models; only its interactive demo (notebook 06's
panel and upload) switches to the best profile trained in this cache, and says on screen which one it
shows and, for smoke, that those models only prove the plumbing.

    demo = best_demo_study(device, seed=SEED, current=DemoStudy(profile.name, data, ctx, probes, gens))
    display(demo_widget(demo))
"""
import html
import re
from dataclasses import dataclass, field

from .errors import UserError
from .own_voice import ORDER, SMOKE_NOTE, TrainedStudy, best_trained_profile


@dataclass
class DemoStudy:
    profile: str
    data: object                   # PreparedData
    ctx: object                    # evaluation.context.EvalContext (teachers, gallery)
    probes: dict | None            # {"sex": ..., "age_group": ...} from evaluation.unseen.fit_demographic_probes
    generators: dict               # model name -> generate_fn(clip_id) -> frames
    trained: TrainedStudy | None = None   # the own-voice upload needs stage one's encoder and speech2video
    encoder: object = None                # generate.SpeechEncoder
    note: str = field(default="")         # why these models (shown above the panel)


def demo_generators(models: dict, data, features: dict, seed: int = 0) -> dict:
    """The demo's menu: speech2video, SDFA animating the clip's own still, S2F+SDFA."""
    from .evaluation.methods import generators
    gens = generators(models, data, features, mismatch=None, ground_truth=False)
    return {"speech2video": gens["speech2video"][seed], "SDFA (own still)": gens["SDFA"][seed],
            "S2F+SDFA": gens["S2F+SDFA"][seed]}


def note_html(profile: str, current: str | None, reason: str = "") -> str:
    head = f"Models shown: profile <b>{html.escape(profile)}</b>"
    if current and profile != current:
        head += f" (the best trained in this cache; this notebook's results above are profile {html.escape(current)}'s)"
    elif not reason:
        head += " (the best trained in this cache: gpu over cpu over smoke)"
    if reason:
        head += f" ({html.escape(reason)})"
    if profile == "smoke":
        head += "<br><b>Smoke models:</b> " + re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(SMOKE_NOTE)) + "."
    return head


def best_demo_study(device: str = "cpu", seed: int = 0, current: DemoStudy | None = None,
                    dataset: str = "synthetic", order=ORDER, progress: bool = True) -> DemoStudy:
    """The demo's models: the best trained profile (own_voice.best_trained_profile; nothing is trained here).
    `current` (the notebook's own objects) is reused when it is that profile, and returned as it is when
    the notebook runs on a dataset other than the twin (the other profiles' models know only the twin)."""
    from .evaluation.context import build_context
    from .evaluation.methods import load_models
    from .evaluation.unseen import fit_demographic_probes
    from .generate import speech_encoder
    if current is not None and dataset != "synthetic":
        current.note = note_html(current.profile, None, f"this notebook's, on {dataset}; the upload needs the twin's")
        return current
    try:
        trained = best_trained_profile(device, order)
    except UserError as e:
        if current is None:
            raise
        current.note = note_html(current.profile, None, f"this notebook's; no finished chain to upload to: {e}")
        return current
    encoder = speech_encoder(trained.profile, trained.data, device, stage=trained.stage)
    if current is not None and current.profile == trained.profile:
        current.trained, current.encoder = trained, encoder
        current.note = note_html(trained.profile, current.profile)
        return current
    if progress:
        print(f"the demo shows profile {trained.profile}'s models: loading them (gallery and probes) ...")
    ctx = build_context(trained.profile, trained.data, device, seed=seed, progress=progress, with_sync=False,
                        id_teacher=trained.identity_teacher, emo_teacher=trained.emotion_teacher)
    probes = fit_demographic_probes(ctx.identity_teacher, trained.data, seed=seed, progress=progress)
    features = trained.stage["clips"]
    models = load_models(trained.profile, trained.data, features, ctx.identity_teacher, device, [seed], progress=False,
                         extra_seeds=False)
    return DemoStudy(trained.profile, trained.data, ctx, probes, demo_generators(models, trained.data, features, seed),
                     trained, encoder, note_html(trained.profile, current.profile if current else None))


def demo_widget(demo: DemoStudy):
    """The note, the clip panel (widgets.DemoPanel) and, when the chain is finished, the upload
    (widgets.OwnVoicePanel), one below the other."""
    import ipywidgets as W

    from .widgets import DemoPanel, OwnVoicePanel, face_readout
    panel = DemoPanel(demo.data, demo.generators, readout=face_readout(demo.ctx, demo.probes))
    parts = [W.HTML(demo.note), panel.widget]
    if demo.trained is not None:
        parts.append(OwnVoicePanel.for_study(demo).widget)
    return W.VBox(parts)
