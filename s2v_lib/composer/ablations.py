"""Ablation rows for every departure from the papers (docs/design.md §10.12-10.13): each is the
default model with one choice put back as published (or, for resize-conv, one more departure).
Notebook 04 trains them; notebook 05 scores them on the test clips like Table 1
(results/<profile>/ablations.csv / .md).

    for ab in ABLATIONS: model = train_ablation(ab, profile, data, features, teacher)
"""
from dataclasses import dataclass, field

from .training import TrainedModel, load_model, train_model


@dataclass(frozen=True)
class Ablation:
    label: str                  # the row's name in the ablation table
    model: str                  # one of configs.MODELS
    changes: str                # what differs from the default, in words
    overrides: dict = field(default_factory=dict)   # train_model keyword arguments
    tag: str = ""               # its own checkpoint ("" : the default run, e.g. raw weights)


ABLATIONS = (
    Ablation("speech2video, raw weights", "speech2video", "no generator EMA: the last step's weights of the default run",
             {"weights": "raw"}),
    Ablation("speech2video, paper training", "speech2video", "no EMA, no spectral norm in D (the paper's procedure)",
             {"g_ema": 0.0, "d_spectral_norm": False}, "paper"),
    Ablation("SDFA, EMA weights", "sdfa", "the generator's moving average (our departure for the other two) "
             "instead of the last step's weights, from the default run", {"weights": "ema"}),
    Ablation("S2F+SDFA, as SDFA", "s2f_sdfa", "mouth-half L1, no spectral norm, no EMA (SDFA's settings unchanged)",
             {"l1_half": "lower", "d_spectral_norm": False, "g_ema": 0.0}, "sdfa_settings"),
)
# Measured only on request (`python -m s2v_lib ablate --row LABEL`: results/<profile>/optional_ablations.md):
# each costs a full composer run, and the default cpu chain has no room for them (docs/design.md §10.13).
OPTIONAL_ABLATIONS = (
    Ablation("speech2video + resize-conv", "speech2video", "nearest x2 + 3x3 conv instead of transposed convs",
             {"upsample": "resize_conv"}, "resizeconv"),
    Ablation("speech2video + bilinear resize-conv", "speech2video", "bilinear x2 + 3x3 conv instead of transposed convs",
             {"upsample": "bilinear_conv"}, "bilinearconv"),
    Ablation("S2F+SDFA, utterance-normalised voice", "s2f_sdfa", "our first reading: the voice encoder subtracts "
             "each utterance's mean log-mel (removing the voice's long-term spectrum), 2000 voice steps",
             {"voice_utterance_norm": True, "voice_steps": 2000}, "uttnorm"),
    Ablation("SDFA, two discriminators", "sdfa", "no synchronisation D, raw-amplitude audio encoder (our first reading)",
             {"sync_discriminator": False, "audio_norm": False}, "twod"),
)


def train_ablation(ab: Ablation, profile, data, features=None, teacher=None, device="auto", seed=0,
                   force_retrain=False, progress=True, require_done=False) -> TrainedModel:
    kw = dict(device=device, seed=seed, tag=ab.tag, **ab.overrides)
    if require_done:
        return load_model(ab.model, profile, data, features, teacher, **kw)
    return train_model(ab.model, profile, data, features, teacher, force_retrain=force_retrain and bool(ab.tag),
                       progress=progress, **kw)
