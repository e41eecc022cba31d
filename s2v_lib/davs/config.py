"""DAVS's training configuration, sized by profile.scale.

Three stages, each one resumable run (train/resumable.py) with its own checkpoint:
  pretrain   E_p^v on the teacher face set's identities (the paper: MS-Celeb-1M)
  wid        E_w^v, E_w^a and the word classifier(s) on word windows: the supervision ablation of
             the paper's Table 3 trains one such run per row (L_C, L_C + SC, L_C + L_adv^D, all three)
  full       everything end to end: the wid losses, adversarial disentangling (Eq. 2-5) and the
             generation loss L_Re = L_GAN + alpha L_L1 (Eq. 6-8); variants without disentanglement
             (Table 4) and without the GAN loss (the paper's Table 1)
Budget: smoke adds under a minute to CI; cpu adds about 8 minutes to the 60-minute chain on 2 cores.
"""
from dataclasses import dataclass, field, replace

WORD_LABELS = ("twin_words", "sentence_id")

# the paper's Table 3 rows: which wid supervisions each ablation run uses
SUPERVISIONS = {
    "L_C": dict(shared_classifier=False, domain_adv=False),
    "L_C + SC": dict(shared_classifier=True, domain_adv=False),
    "L_C + L_adv^D": dict(shared_classifier=False, domain_adv=True),
    "L_C + SC + L_adv^D": dict(shared_classifier=True, domain_adv=True),
}
FULL_SUPERVISION = "L_C + SC + L_adv^D"

# the generation variants: (disentangle, GAN loss)
VARIANTS = {
    "DAVS": dict(disentangle=True, gan=True),                      # the method
    "without disentanglement": dict(disentangle=False, gan=True),  # Table 4's middle row; the probe's "before"
    "without GAN loss": dict(disentangle=True, gan=False),         # the paper's Table 1: L_L1 instead of L_Re
}


@dataclass(frozen=True)
class WindowConfig:
    """The LRW-like set: 1-second windows centred on a word (or, for sentence_id, on the utterance)."""
    word_labels: str = "twin_words"   # "twin_words": the twin's word spans; "sentence_id": CREMA-D's 12 sentences
    window_frames: int = 25           # LRW: one word per second of video (25 frames at 25 fps)
    min_word_frames: int = 2          # words shorter than this (after rounding to frames) are dropped
    max_train_clips: int = 0          # 0: every training clip; else a seeded subset (the CPU budget)


@dataclass(frozen=True)
class DAVSConfig:
    frame_size: int
    enc_size: int
    dim: int
    ch: int
    windows: WindowConfig
    seed: int = 0
    data_key: str = ""                  # which prepared dataset (a checkpoint never crosses datasets)
    # stage sizes (optimiser steps)
    pretrain_steps: int = 200
    wid_steps: int = 300
    full_steps: int = 300
    batch: int = 16                     # word windows per step
    gen_frames: int = 8                 # consecutive frames of each window generated per step (G's memory)
    max_eval_windows: int = 0           # 0: every test window; else a seeded subset for Table 4 and the
                                        # generation scores (the CPU budget; Table 3 always uses every window)
    pretrain_batch: int = 64
    lr: float = 2e-4                    # Adam (the paper gives no optimiser; SDFA's and DCGAN's choice)
    lr_d: float = 2e-4
    betas: tuple = (0.5, 0.999)
    # loss weights
    margin: float = 1.0                 # Eq. 1's max(1 - d, 0)
    w_contrastive: float = 1.0
    w_word: float = 1.0                 # L_w, the (shared) word classification loss
    w_domain: float = 0.5               # L_adv^D (encoders' side)
    w_disentangle: float = 10.0         # Eq. 3 and 5: squared distances of probabilities, small numbers
    w_gan: float = 1.0                  # Eq. 8: L_Re = L_GAN + alpha L_L1
    alpha: float = 10.0
    # which run
    supervision: str = FULL_SUPERVISION
    variant: str = "DAVS"
    extra: dict = field(default_factory=dict)

    @property
    def sup(self) -> dict:
        return SUPERVISIONS[self.supervision]

    @property
    def var(self) -> dict:
        return VARIANTS[self.variant]


SIZES = {   # measured per step (1 thread): smoke wid 0.1 s, full 0.5 s; cpu sized to ~8 min of the chain
    "smoke": dict(enc_size=24, dim=32, ch=8, pretrain_steps=20, wid_steps=30, full_steps=16, batch=6,
                  gen_frames=4, window_frames=15, max_train_clips=0, max_eval_windows=60),
    "cpu": dict(enc_size=32, dim=64, ch=8, pretrain_steps=120, wid_steps=150, full_steps=200, batch=8,
                gen_frames=4, window_frames=25, max_train_clips=600, max_eval_windows=400),
    "gpu": dict(enc_size=64, dim=256, ch=32, pretrain_steps=2000, wid_steps=3000, full_steps=6000, batch=32,
                gen_frames=8, window_frames=25, max_train_clips=0, max_eval_windows=0),
    "paper": dict(enc_size=64, dim=256, ch=32, pretrain_steps=10000, wid_steps=20000, full_steps=40000, batch=32,
                  gen_frames=8, window_frames=25, max_train_clips=0, max_eval_windows=0),
}


def davs_config(profile, seed: int = 0, word_labels: str = "twin_words", data_key: str = "", **overrides) -> DAVSConfig:
    from ..errors import UserError
    if word_labels not in WORD_LABELS:
        raise UserError(f"word_labels={word_labels!r}; choose one of {WORD_LABELS} "
                        "(twin_words needs the twin's GroundTruth sidecars; real CREMA-D uses sentence_id)")
    s = dict(SIZES[profile.scale])
    windows = WindowConfig(word_labels=word_labels, window_frames=s.pop("window_frames"),
                           max_train_clips=s.pop("max_train_clips"))
    cfg = DAVSConfig(frame_size=profile.frame_size, windows=windows, seed=seed, data_key=data_key, **s)
    return replace(cfg, **overrides) if overrides else cfg


def net_config(cfg: DAVSConfig, n_words: int, n_persons: int, n_pretrain_ids: int):
    from ..models.davs import DAVSNetConfig
    return DAVSNetConfig(frame_size=cfg.frame_size, enc_size=cfg.enc_size, dim=cfg.dim, ch=cfg.ch,
                         n_words=n_words, n_persons=n_persons, n_pretrain_ids=n_pretrain_ids)
