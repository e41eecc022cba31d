"""Stage 2 of the study (notebook 04): train or load the speech2video composer and the baselines.

    model = train_model("speech2video", profile, data=data, features=feats, teacher=teacher)
    model = train_model("sdfa", profile, data=data)
    model = train_model("s2f_sdfa", profile, data=data, teacher=teacher)     # trains the voice encoder first
    model = load_model("sdfa", profile, data=data)                           # a finished checkpoint, or an error

Each model's training is a *task* for the shared loop (s2v_lib/train/loop.py): its nets, optimisers and
one adversarial step. Hyper-parameters live in one config dataclass per model, sized by profile.scale.
"""
import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from . import losses
from .config import Profile, as_profile, get_profile
from .device import resolve_device
from .errors import UserError
from .models.composer import Composer, ComposerConfig
from .models.discriminators import FrameDiscriminator, IdentityDiscriminator, SequenceDiscriminator, SyncDiscriminator
from .models.s2f import VoiceEncoder, VoiceEncoderConfig
from .models.sdfa import RawAudioEncoder, SDFAConfig, SDFAGenerator
from .paths import checkpoint_dir, figures_dir, results_dir
from .train.checkpoint import Checkpoint
from .train.loop import ClipBank, LoopConfig, WindowSampler, audio_window_array, collate, frozen, raw, train

MODELS = ("speech2video", "sdfa", "s2f_sdfa")
FEATURE_SOURCES = ("student", "teacher")

# steps per scale: sized so that the three models train in ~1.5 min (smoke, 48 px) and ~30 min
# (cpu, 64 px) on 2 cores; gpu / paper scale up.
STEPS = {"smoke": 40, "cpu": 800, "gpu": 6000, "paper": 40000}
# Reconstruction warm-up before those steps (speech2video, SDFA, S2F+SDFA alike): the generator alone
# on full-frame L1. Each model's own objective leaves half the frame to its discriminators (speech2video:
# the lower half; SDFA: the upper half), and from scratch on a CPU budget the adversarial terms paint that
# half with noise (notebook 04 shows it); a warm-up step costs about a quarter of an adversarial one.
# Not in the paper; "paper" keeps 0.
WARMUP = {"smoke": 20, "cpu": 1000, "gpu": 1000, "paper": 0}
VOICE_STEPS = {"smoke": 30, "cpu": 400, "gpu": 2000, "paper": 10000}


def loop_for_scale(scale: str, seed: int, steps: int | None = None, **kw) -> LoopConfig:
    batch = {"smoke": 8, "cpu": 8, "gpu": 32, "paper": 32}[scale]
    n = steps if steps is not None else STEPS[scale]
    return LoopConfig(steps=n, batch_clips=batch, window=kw.pop("window", 4), log_every=max(1, n // 100),
                      sample_every=0, ckpt_every=max(10, n // 10), seed=seed, **kw)


# --- configs ------------------------------------------------------------------------------------------

@dataclass
class Speech2VideoConfig:
    model: ComposerConfig
    loop: LoopConfig
    d_ch: int = 32
    lr_g: float = 3e-4            # paper section 3.1, RMSProp for everything
    lr_d_id: float = 3e-4
    lr_d_fr: float = 1e-4
    lr_d_sync: float = 1e-5       # the "naturalness discriminator" (DESIGN 10.4)
    w_adv: float = 1.0
    w_id: float = 1.0             # D_ID's share of the adversarial term (Eq. 7)
    w_sim: float = 100.0          # eq. (10) sums eq. (8) over pixels; our losses are means, so weighted
    w_grad: float = 100.0
    sim_half: str = "upper"       # DESIGN 10.2: "upper" (nose up, the text) or "lower" (eq. 8's index set)
    feature_source: str = "student"   # nu, mu at training time: the students' outputs or the teachers' targets
    warmup_steps: int = 0         # first steps: generator alone on full-frame L1 (WARMUP above)
    data_key: str = ""


@dataclass
class SDFATrainConfig:
    model: SDFAConfig
    loop: LoopConfig
    d_ch: int = 32
    lr_g: float = 1e-4            # SDFA's Adam rates: generator, frame D, sequence D
    lr_d_fr: float = 1e-3
    lr_d_seq: float = 1e-5
    w_adv: float = 1.0
    w_l1: float = 100.0           # mouth-half L1, weighted like w_sim above (SDFA: reconstruction dominates)
    l1_half: str = "lower"        # SDFA's mouth half; "full" is an option for short budgets
    voice_key: str = ""           # S2F+SDFA: the voice encoder's checkpoint hash
    warmup_steps: int = 0         # first steps: generator alone on full-frame L1 (WARMUP above)
    data_key: str = ""


@dataclass
class VoiceTrainConfig:
    model: VoiceEncoderConfig
    loop: LoopConfig
    lr: float = 1e-3
    w_norm_l2: float = 1.0
    w_distill: float = 1.0
    data_key: str = ""


# --- tasks --------------------------------------------------------------------------------------------

def _flat(x):
    return x.flatten(0, 1)


def _warmup_l1_step(optim, fake_seq, frames, also_in_graph=()) -> dict:
    """One reconstruction warm-up step (WARMUP): the generator alone on full-frame L1.
    also_in_graph: outputs that must get a (zero) gradient so DDP sees their parameters used."""
    l1 = (fake_seq.float() - frames).abs().mean()
    loss = l1 + 0.0 * sum(m.float().mean() for m in also_in_graph)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    optim.step()
    return {"loss_G": l1.item(), "l1_full": l1.item(), "warmup": 1.0}


def _grid_figure(real, fake, title, n_frames=8):
    """real, fake (B, T, 3, S, S) -> figure: per clip a row of real frames above generated ones."""
    import matplotlib.pyplot as plt
    b, t = real.shape[:2]
    t = min(t, n_frames)
    fig, axes = plt.subplots(2 * b, t, figsize=(t * 0.9, 2 * b * 0.9), squeeze=False)
    for i in range(b):
        for j in range(t):
            for r, (src, lab) in enumerate(((real, "real"), (fake, "gen"))):
                ax = axes[2 * i + r, j]
                ax.imshow(src[i, j].permute(1, 2, 0).float().clamp(0, 1).cpu().numpy())
                ax.set_xticks([]), ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(lab, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.1)
    return fig


class Speech2VideoTask:
    """F(c_t, nu, mu) against D_ID, D_fr, D_sync (eqs. 4-10)."""

    def __init__(self, cfg: Speech2VideoConfig, teacher):
        self.cfg, self.teacher = cfg, teacher
        m = cfg.model
        self.nets = {"G": Composer(m), "D_id": IdentityDiscriminator(m.teacher_channels, cfg.d_ch),
                     "D_fr": FrameDiscriminator(cfg.d_ch), "D_sync": SyncDiscriminator(m.c_dim, cfg.d_ch)}
        lrs = {"G": cfg.lr_g, "D_id": cfg.lr_d_id, "D_fr": cfg.lr_d_fr, "D_sync": cfg.lr_d_sync}
        self.optims = {k: torch.optim.RMSprop(self.nets[k].parameters(), lr=lr) for k, lr in lrs.items()}

    def warmup_step(self, batch, ctx):
        with ctx.autocast():
            fake_seq, inflated = self.nets["G"](batch["c"], batch["nu"], batch["mu"])
        # the alignment convs get a zero gradient, so DDP sees every parameter used
        return _warmup_l1_step(self.optims["G"], fake_seq, batch["frames"], also_in_graph=inflated)

    def train_step(self, batch, ctx):
        cfg, n = self.cfg, self.nets
        if ctx.step < cfg.warmup_steps:
            return self.warmup_step(batch, ctx)
        real = _flat(batch["frames"])
        c, c_shift = _flat(batch["c"]), _flat(batch["c_shift"])
        with torch.no_grad():
            teacher_maps = [m.float() for m in self.teacher.feature_maps(batch["still"])]
        with ctx.autocast():
            fake_seq, inflated = n["G"](batch["c"], batch["nu"], batch["mu"])
        fake = _flat(fake_seq)

        # discriminators: one forward of real and fake together each (DDP: one forward per backward)
        b = batch["still"].shape[0]
        with ctx.autocast():
            d_id = n["D_id"]([torch.cat([t, f.detach()]) for t, f in zip(teacher_maps, inflated)])
            d_fr = n["D_fr"](torch.cat([real, fake.detach()]))
            d_sync = n["D_sync"](torch.cat([c, c_shift, c]), torch.cat([real, real, fake.detach()]))
        nf = real.shape[0]
        loss_d_id = losses.lsgan_d(d_id[:b], d_id[b:])
        loss_d_fr = losses.lsgan_d(d_fr[:nf], d_fr[nf:])
        loss_d_sync = losses.lsgan_sync_d(d_sync[:nf], d_sync[nf:2 * nf], d_sync[2 * nf:])
        for k in ("D_id", "D_fr", "D_sync"):
            self.optims[k].zero_grad(set_to_none=True)
        (loss_d_id + loss_d_fr + loss_d_sync).backward()
        for k in ("D_id", "D_fr", "D_sync"):
            self.optims[k].step()

        # generator: eq. (10) = adversarial (7) + half-frame L1 (8) + gradient loss (9)
        with ctx.autocast(), frozen(n["D_id"], n["D_fr"], n["D_sync"]):
            adv_id = losses.lsgan_g(raw(n["D_id"])(inflated))
            adv_fr = losses.lsgan_g(raw(n["D_fr"])(fake))
            adv_sync = losses.lsgan_g(raw(n["D_sync"])(c, fake))
        sim = losses.half_frame_l1(fake, real, cfg.sim_half)
        grad = losses.gradient_loss(fake, real)
        loss_g = cfg.w_adv * (cfg.w_id * adv_id + adv_fr + adv_sync) + cfg.w_sim * sim + cfg.w_grad * grad
        self.optims["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optims["G"].step()
        return {"loss_G": loss_g.item(), "adv_id": adv_id.item(), "adv_fr": adv_fr.item(),
                "adv_sync": adv_sync.item(), "sim_l1": sim.item(), "grad": grad.item(),
                "loss_D_id": loss_d_id.item(), "loss_D_fr": loss_d_fr.item(), "loss_D_sync": loss_d_sync.item(),
                "l1_full": (fake.detach() - real).abs().mean().item()}

    @torch.no_grad()
    def sample_figure(self, batch):
        fake, _ = self.nets["G"](batch["c"], batch["nu"], batch["mu"], aligned=False)
        return _grid_figure(batch["frames"], fake, "speech2video: real (top) / generated from speech (bottom)")


class SDFATask:
    """SDFA (or S2F+SDFA when cfg.model.id_from_vector > 0): frame D conditioned on the still image,
    sequence D conditioned on the audio, BCE adversarial losses, L1 on the mouth (lower) half."""

    def __init__(self, cfg: SDFATrainConfig):
        self.cfg = cfg
        m = cfg.model
        self.nets = {"G": SDFAGenerator(m), "D_fr": FrameDiscriminator(cfg.d_ch, cond_ch=3),
                     "D_seq": SequenceDiscriminator(RawAudioEncoder(64), 64, cfg.d_ch)}
        self.optims = {"G": torch.optim.Adam(self.nets["G"].parameters(), cfg.lr_g, betas=(0.5, 0.999)),
                       "D_fr": torch.optim.Adam(self.nets["D_fr"].parameters(), cfg.lr_d_fr, betas=(0.5, 0.999)),
                       "D_seq": torch.optim.Adam(self.nets["D_seq"].parameters(), cfg.lr_d_seq, betas=(0.5, 0.999))}

    def generate(self, G, batch, generator=None):
        if self.cfg.model.id_from_vector:
            return G(batch["audio"], face_vec=batch["face_vec"], generator=generator)
        return G(batch["audio"], still=batch["still"], generator=generator)

    def warmup_step(self, batch, ctx):
        with ctx.autocast():
            fake_seq = self.generate(self.nets["G"], batch, ctx.generator)
        return _warmup_l1_step(self.optims["G"], fake_seq, batch["frames"])

    def train_step(self, batch, ctx):
        cfg, n = self.cfg, self.nets
        if ctx.step < cfg.warmup_steps:
            return self.warmup_step(batch, ctx)
        real_seq, audio = batch["frames"], batch["audio"]
        t = real_seq.shape[1]
        real = _flat(real_seq)
        still = batch["still"].repeat_interleave(t, 0)
        with ctx.autocast():
            fake_seq = self.generate(n["G"], batch, ctx.generator)
        fake = _flat(fake_seq)
        nf, b = real.shape[0], real_seq.shape[0]
        with ctx.autocast():
            d_fr = n["D_fr"](torch.cat([real, fake.detach()]), torch.cat([still, still]))
            d_seq = n["D_seq"](torch.cat([real_seq, fake_seq.detach()]), torch.cat([audio, audio]))
        loss_d_fr = losses.bce_d(d_fr[:nf], d_fr[nf:])
        loss_d_seq = losses.bce_d(d_seq[:b], d_seq[b:])
        for k in ("D_fr", "D_seq"):
            self.optims[k].zero_grad(set_to_none=True)
        (loss_d_fr + loss_d_seq).backward()
        for k in ("D_fr", "D_seq"):
            self.optims[k].step()

        with ctx.autocast(), frozen(n["D_fr"], n["D_seq"]):
            adv_fr = losses.bce_g(raw(n["D_fr"])(fake, still))
            adv_seq = losses.bce_g(raw(n["D_seq"])(fake_seq, audio))
        l1 = losses.half_frame_l1(fake, real, cfg.l1_half)
        loss_g = cfg.w_adv * (adv_fr + adv_seq) + cfg.w_l1 * l1
        self.optims["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optims["G"].step()
        return {"loss_G": loss_g.item(), "adv_fr": adv_fr.item(), "adv_seq": adv_seq.item(),
                "mouth_l1": l1.item(), "loss_D_fr": loss_d_fr.item(), "loss_D_seq": loss_d_seq.item(),
                "l1_full": (fake.detach() - real).abs().mean().item()}

    @torch.no_grad()
    def sample_figure(self, batch):
        g = torch.Generator(device=batch["audio"].device).manual_seed(0)
        fake = self.generate(self.nets["G"], batch, g)
        name = "S2F+SDFA (voice -> face feature)" if self.cfg.model.id_from_vector else "SDFA (still image + speech)"
        return _grid_figure(batch["frames"], fake, f"{name}: real (top) / generated (bottom)")


class VoiceTask:
    """Speech2Face voice encoder: normalised L2 + distillation loss to the identity teacher's feature."""

    def __init__(self, cfg: VoiceTrainConfig):
        self.cfg = cfg
        self.nets = {"E": VoiceEncoder(cfg.model)}
        self.optims = {"E": torch.optim.Adam(self.nets["E"].parameters(), cfg.lr)}

    def train_step(self, batch, ctx):
        pred = self.nets["E"](batch["voice"])
        l2 = losses.normalized_l2(pred, batch["nu_target"])
        kd = losses.softmax_distill(pred, batch["nu_target"])
        loss = self.cfg.w_norm_l2 * l2 + self.cfg.w_distill * kd
        self.optims["E"].zero_grad(set_to_none=True)
        loss.backward()
        self.optims["E"].step()
        cos = torch.nn.functional.cosine_similarity(pred.detach(), batch["nu_target"], dim=-1).mean()
        return {"loss": loss.item(), "norm_l2": l2.item(), "distill": kd.item(), "cos": cos.item()}


# --- data -----------------------------------------------------------------------------------------------

def _data_key(data) -> str:
    return data.root.name


def _load_clips(data, split: str, features=None, feature_source="student", limit=None) -> tuple[list, list]:
    """Clips of a split as ClipBank dicts; with features: per-frame c and the chosen nu, mu."""
    ids = list(data.clips(split)["clip_id"])
    if limit is not None:
        ids = ids[:limit]
    if not ids:
        raise UserError(f"{data.root}/splits.csv has no '{split}' clips; re-prepare the dataset with more actors")
    clips = []
    for cid in ids:
        frames, audio = data.load(cid)
        clip = {"frames": frames, "audio": audio}
        if features is not None:
            f = features[cid]
            t = min(len(frames), len(f["c"]))
            clip.update(frames=frames[:t], audio=audio[:t * 640], c=np.asarray(f["c"], np.float32)[:t])
            sfx = "" if feature_source == "student" else "_teacher"
            clip["nu"] = np.asarray(f["nu" + sfx], np.float32)
            clip["mu"] = np.asarray(f["mu" + sfx], np.float32)
        clips.append(clip)
    return clips, ids


def sample_batch(data, split="test", features=None, n_clips=3, window=8, face_vecs=None, seed=0):
    """A fixed batch of the first frames of a few clips (for grids): nu, mu are always the students'
    (what the composer sees at test time)."""
    clips, ids = _load_clips(data, split, features, "student", limit=n_clips)
    if face_vecs is not None:
        for clip, cid in zip(clips, ids):
            clip["face_vec"] = face_vecs[cid]
    cfg = LoopConfig(window=window, seed=seed)
    sampler = WindowSampler(ClipBank(clips, ids), cfg, vector_keys=("nu", "mu", "face_vec"))
    items = []
    for clip in clips:
        item = sampler.draw(np.random.default_rng(seed), clip)
        idx = np.minimum(np.arange(window), len(clip["frames"]) - 1)      # the clip's first frames
        item.update(frames=clip["frames"][idx], audio=audio_window_array(clip["audio"], 0, window))
        if "c" in clip:
            item["c"] = clip["c"][idx]
        items.append(item)
    return collate(items)


# --- trained models -------------------------------------------------------------------------------------

@dataclass
class TrainedModel:
    name: str
    profile: str
    config: object
    net: torch.nn.Module                      # the generator (eval mode)
    history: pd.DataFrame
    voice_encoder: torch.nn.Module | None = None    # S2F+SDFA only
    extra: dict = field(default_factory=dict)

    @property
    def frame_size(self) -> int:
        return self.config.model.frame_size


def _teacher_channels(teacher, frame_size: int, device) -> tuple:
    with torch.no_grad():
        maps = teacher.feature_maps(torch.zeros(1, 3, frame_size, frame_size, device=device))
    sizes = [m.shape[-1] for m in maps]
    want = [frame_size // 8, frame_size // 4, frame_size // 2]
    if sizes != want:
        raise UserError(f"the identity teacher's feature_maps give sizes {sizes}, the composer needs {want} "
                        "(S/8, S/4, S/2); retrain the teacher for this frame size")
    return tuple(int(m.shape[1]) for m in maps)


def _steps(scale: str, steps, warmup) -> tuple[int, int]:
    """(total loop steps, warm-up steps): the profile's, or `steps` adversarial steps with no warm-up
    unless `warmup` says otherwise."""
    w = warmup if warmup is not None else (WARMUP[scale] if steps is None else 0)
    return (steps if steps is not None else STEPS[scale]) + w, w


def speech2video_config(profile: Profile, c_dim: int, nu_dim: int, mu_dim: int, teacher_channels,
                        seed=0, steps=None, data_key="", warmup=None, **overrides) -> Speech2VideoConfig:
    ch = overrides.pop("ch", 64 if profile.scale in ("gpu", "paper") else 32)
    model = ComposerConfig(frame_size=profile.frame_size, c_dim=c_dim, nu_dim=nu_dim, mu_dim=mu_dim,
                           teacher_channels=tuple(teacher_channels), ch=ch, id_ch=ch,
                           output=overrides.pop("output", "linear"))
    total, w = _steps(profile.scale, steps, warmup)
    return Speech2VideoConfig(model=model, loop=loop_for_scale(profile.scale, seed, total), warmup_steps=w,
                              data_key=data_key, **{"d_ch": ch // 2, **overrides})


def sdfa_config(profile: Profile, seed=0, steps=None, data_key="", id_from_vector=0, warmup=None,
                **overrides) -> SDFATrainConfig:
    ch = overrides.pop("ch", 64 if profile.scale in ("gpu", "paper") else 32)
    model = SDFAConfig(frame_size=profile.frame_size, ch=ch, id_from_vector=id_from_vector)
    total, w = _steps(profile.scale, steps, warmup)
    return SDFATrainConfig(model=model, loop=loop_for_scale(profile.scale, seed, total), warmup_steps=w,
                           data_key=data_key, **{"d_ch": ch // 2, **overrides})


def voice_config(profile: Profile, out_dim: int, seed=0, steps=None, data_key="") -> VoiceTrainConfig:
    n = steps if steps is not None else VOICE_STEPS[profile.scale]
    loop = LoopConfig(steps=n, batch_clips=16, window=1, voice_crop_s=2.0, log_every=max(1, n // 100),
                      ckpt_every=max(10, n // 5), seed=seed)
    return VoiceTrainConfig(model=VoiceEncoderConfig(out_dim=out_dim), loop=loop, data_key=data_key)


def _run_dir_name(name: str, feature_source: str = "student", tag: str = "", seed: int = 0) -> str:
    out = name if feature_source == "student" else f"{name}_{feature_source}"
    return out + (f"_{tag}" if tag else "") + (f"_seed{seed}" if seed else "")


def _identity_targets(data, ids, teacher, device) -> dict:
    """nu* = T_id(phi_0): the identity teacher's embedding of each clip's first frame."""
    out = {}
    with torch.no_grad():
        for i in range(0, len(ids), 64):
            chunk = ids[i:i + 64]
            firsts = np.stack([data.load(c)[0][0] for c in chunk])
            x = torch.from_numpy(firsts).to(device).float().div(255).permute(0, 3, 1, 2)
            emb = teacher.embed(x).float().cpu().numpy()
            out.update(zip(chunk, emb))
    return out


def train_voice_encoder(profile, data, teacher, device="cpu", seed=0, steps=None, force_retrain=False,
                        progress=True, require_done=False):
    """The Speech2Face voice encoder (first half of S2F+SDFA); returns (encoder, history, ckpt hash)."""
    profile = as_profile(profile)
    clips, ids = _load_clips(data, "train")
    targets = _identity_targets(data, ids, teacher, device)
    for clip, cid in zip(clips, ids):
        clip["nu_target"] = targets[cid]
    out_dim = len(next(iter(targets.values())))
    cfg = voice_config(profile, out_dim, seed, steps, _data_key(data))
    task = VoiceTask(cfg)
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "s2f_voice", cfg)
    hist = train(task, WindowSampler(ClipBank(clips, ids), cfg.loop, vector_keys=("nu_target",)), cfg.loop, ckpt,
                 device=device, log_path=results_dir(profile.name) / "train_s2f_voice.csv",
                 force_retrain=force_retrain, progress=progress, desc="S2F voice encoder", require_done=require_done)
    return task.nets["E"].eval(), hist, ckpt.hash


@torch.no_grad()
def voice_face_vectors(encoder, data, ids, device="cpu") -> dict:
    """The voice encoder's face feature for each clip, from the whole utterance."""
    return {cid: encoder(torch.from_numpy(data.load(cid)[1]).to(device)[None]).float().cpu().numpy()[0]
            for cid in ids}


def train_model(name: str, profile, data=None, features=None, teacher=None, device="auto", seed=0,
                force_retrain=False, feature_source="student", steps=None, tag="", progress=True,
                dataset="synthetic", data_root="", require_done=False, voice_steps=None, loop_overrides=None,
                warmup=None, **overrides) -> TrainedModel:
    """Train (or resume, or load when finished) one of MODELS. Logs to results/<profile>/train_<run>.csv,
    the final sample grid to figures/<profile>/samples_<run>.png, the checkpoint to the cache.

    steps: adversarial steps (default STEPS[scale]); warmup: reconstruction warm-up steps before them
    (default WARMUP[scale], or 0 when steps is given).
    feature_source (speech2video): where nu, mu come from at training time, "student" (default; what
    the composer sees at test time) or "teacher" (the teachers' targets). tag names a side run.
    overrides: config fields (e.g. ch=16, w_sim=...); loop_overrides: LoopConfig fields (batch_clips=...)."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of {MODELS}")
    if feature_source not in FEATURE_SOURCES:
        raise UserError(f"feature_source must be one of {FEATURE_SOURCES}, not {feature_source!r}")
    profile = as_profile(profile)
    device = resolve_device(device)
    torch.manual_seed(seed)
    if data is None:
        from .data.pipeline import get_prepared
        data = get_prepared(profile, dataset, data_root, seed)
    run = _run_dir_name(name, feature_source, tag, seed)
    if name == "speech2video":
        teacher = teacher if teacher is not None else _load_teacher(profile, device)
        if features is None:
            from .features import speech_features
            features = speech_features(profile, data, device)
        clips, ids = _load_clips(data, "train", features, feature_source)
        any_f = features[ids[0]]
        cfg = speech2video_config(profile, np.shape(any_f["c"])[1], len(any_f["nu"]), len(any_f["mu"]),
                                  _teacher_channels(teacher, profile.frame_size, device), seed, steps,
                                  _data_key(data), warmup=warmup, feature_source=feature_source, **overrides)
        cfg.loop = dataclasses.replace(cfg.loop, **(loop_overrides or {}))
        task = Speech2VideoTask(cfg, teacher)
        grid_batch = sample_batch(data, "test", features, seed=seed)
        voice = None
    else:
        voice, face_vecs, voice_key = None, None, ""
        clips, ids = _load_clips(data, "train")
        test_ids = list(data.clips("test")["clip_id"])[:3]
        if name == "s2f_sdfa":
            teacher = teacher if teacher is not None else _load_teacher(profile, device)
            voice, _, voice_key = train_voice_encoder(profile, data, teacher, device, seed, voice_steps,
                                                      force_retrain=force_retrain, progress=progress,
                                                      require_done=require_done)
            face_vecs = voice_face_vectors(voice, data, ids + test_ids, device)
            for clip, cid in zip(clips, ids):
                clip["face_vec"] = face_vecs[cid]
        cfg = sdfa_config(profile, seed, steps, _data_key(data),
                          id_from_vector=voice.cfg.out_dim if voice is not None else 0,
                          voice_key=voice_key, warmup=warmup, **overrides)
        cfg.loop = dataclasses.replace(cfg.loop, **(loop_overrides or {}))
        task = SDFATask(cfg)
        grid_batch = sample_batch(data, "test", None, face_vecs=face_vecs, seed=seed)
    ckpt = Checkpoint(checkpoint_dir(profile.name) / run, cfg)
    sampler = WindowSampler(ClipBank(clips, ids), cfg.loop, vector_keys=("nu", "mu", "face_vec"))
    hist = train(task, sampler, cfg.loop, ckpt, device=device, log_path=results_dir(profile.name) / f"train_{run}.csv",
                 grid_path=figures_dir(profile.name) / f"samples_{run}.png", sample_batch=grid_batch,
                 force_retrain=force_retrain, progress=progress, desc=run, require_done=require_done)
    return TrainedModel(name, profile.name, cfg, task.nets["G"].eval(), hist, voice,
                        {"run": run, "checkpoint": str(ckpt.path), "ckpt_hash": ckpt.hash})


def _load_teacher(profile, device):
    from .teachers import load_identity_teacher
    return load_identity_teacher(profile, device=device)


def load_model(name: str, profile, data=None, features=None, teacher=None, device="auto", seed=0,
               feature_source="student", tag="", **kw) -> TrainedModel:
    """A finished model from its checkpoint (same arguments as train_model); trains nothing and
    raises a UserError when that configuration has not been trained."""
    return train_model(name, profile, data, features, teacher, device, seed, False, feature_source,
                       tag=tag, progress=False, require_done=True, **kw)


# --- SDFA(mismatch) -------------------------------------------------------------------------------------

def mismatch_pairs(data, seed: int = 0, split: str = "test", write_to=None) -> pd.DataFrame:
    """Each test clip's still image for SDFA(mismatch): the first test clip (sorted) of ANOTHER test
    speaker of the same sex. The actor pairing is a seeded cyclic shuffle within each sex (a
    derangement: no actor gets itself). Saved to results/<profile>/mismatch_pairs.csv."""
    clips = data.clips(split)
    actors = clips.groupby("actor")["sex"].first()
    rng = np.random.default_rng(seed)
    partner = {}
    for sex, group in actors.groupby(actors):
        order = list(rng.permutation(sorted(group.index)))
        if len(order) < 2:   # one speaker of this sex: pair across sexes, and say so in the table
            others = sorted(set(actors.index) - {order[0]})
            partner[order[0]] = others[int(rng.integers(len(others)))] if others else order[0]
            continue
        for i, a in enumerate(order):
            partner[a] = order[(i + 1) % len(order)]
    first_clip = clips.sort_values("clip_id").groupby("actor")["clip_id"].first()
    rows = [{"clip_id": r.clip_id, "actor": r.actor, "sex": r.sex, "still_actor": partner[r.actor],
             "still_sex": actors[partner[r.actor]], "still_clip_id": first_clip[partner[r.actor]]}
            for r in clips.sort_values("clip_id").itertuples()]
    df = pd.DataFrame(rows)
    if write_to is not None:
        from .atomic import write_csv
        write_csv(write_to, df)
    return df


@torch.no_grad()
def quick_scores(model: TrainedModel, data, clip_ids, features=None, teacher=None, stills=None) -> pd.DataFrame:
    """Per clip: full-frame L1 and PSNR (per-video MSE) of the generated video against the real one,
    identity cosine (teacher embedding of generated vs real first frames) when a teacher is given, and
    mouth motion (mean temporal std of the lower half, generated and real). A quick look for notebook
    04; Table 1 is notebook 05's."""
    from .generate import generate
    rows = []
    for cid in clip_ids:
        frames, wav = data.load(cid)
        still = frames[0] if stills is None else stills[cid]
        gen = generate(model, wav, still=still, features=None if features is None else features[cid])
        real, fake = frames.astype(np.float32), gen.astype(np.float32)
        mse = float(((real - fake) ** 2).mean())
        half = real.shape[1] // 2
        row = {"clip_id": cid, "l1": float(np.abs(real - fake).mean() / 255), "psnr": 10 * np.log10(255 ** 2 / max(mse, 1e-9)),
               "mouth_motion_gen": float(fake[:, half:].std(0).mean()), "mouth_motion_real": float(real[:, half:].std(0).mean())}
        if teacher is not None:
            x = torch.from_numpy(np.stack([frames[0], gen[0]])).float().div(255).permute(0, 3, 1, 2)
            dev = next(iter(teacher.parameters())).device if hasattr(teacher, "parameters") else "cpu"
            e = teacher.embed(x.to(dev)).float()
            row["id_cos"] = float(torch.nn.functional.cosine_similarity(e[:1], e[1:]).item())
        rows.append(row)
    return pd.DataFrame(rows)


def config_table(model: TrainedModel) -> pd.DataFrame:
    """The model's configuration flattened to (key, value) rows, for the notebook."""
    flat = pd.json_normalize(dataclasses.asdict(model.config), sep=".").T.reset_index()
    flat.columns = ["key", "value"]
    return flat


# --- more than one process ------------------------------------------------------------------------------

def main(argv=None) -> int:
    """Train one model, on one process or under torchrun with DistributedDataParallel:

        python -m s2v_lib.composer_stage --model speech2video --profile gpu
        torchrun --nproc_per_node 4 -m s2v_lib.composer_stage --model speech2video --profile gpu

    The global batch (LoopConfig.batch_clips) is split across the ranks, so N processes follow the
    single-process run; rank 0 writes the checkpoint, the loss log and the grid. Stage 1 (notebook 03)
    must have run first: every rank reads its cached speech features."""
    import argparse
    import os

    import torch.distributed as dist
    p = argparse.ArgumentParser(prog="python -m s2v_lib.composer_stage", description=main.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--profile", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--data-root", default="")
    p.add_argument("--feature-source", default="student", choices=FEATURE_SOURCES)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--force-retrain", action="store_true")
    args = p.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device("auto")
    if world > 1:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
    rank = dist.get_rank() if world > 1 else 0
    try:
        model = train_model(args.model, args.profile, device=device, seed=args.seed, dataset=args.dataset,
                            data_root=args.data_root, feature_source=args.feature_source, steps=args.steps,
                            force_retrain=args.force_retrain, progress=rank == 0)
        if rank == 0:
            print(f"{model.extra['run']}: {len(model.history)} log rows, checkpoint {model.extra['checkpoint']}")
    except UserError as e:
        print(f"error: {e}")
        return 2
    finally:
        if world > 1:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- bench ---------------------------------------------------------------------------------------------

def bench_composer(profile_name: str) -> dict:
    """train_fps_<model>: training frames per second of each model at the profile's size and batch;
    infer_rtf_speech2video / infer_rtf_sdfa: seconds of video generated per wall second from a 4 s
    utterance (speech2video including CPC + students), measured in the same run. Weights are freshly
    initialised (speed does not depend on them), so this needs no trained stage."""
    import time

    from .generate import SpeechEncoder, generate
    from .models.cpc import CPC, CPCConfig
    from .models.identity_teacher import IdentityNet, IdentityNetConfig
    from .models.students import StudentConfig, Students

    profile = get_profile(profile_name)
    device = resolve_device("auto")
    size, rng = profile.frame_size, np.random.default_rng(0)
    cpc_cfg = CPCConfig.for_scale(profile.scale)
    c_dim, nu_dim, mu_dim = cpc_cfg.hidden, 128, 64
    torch.manual_seed(0)
    teacher_net = IdentityNet(IdentityNetConfig()).to(device).eval()

    class Teacher:   # the identity teacher's interface on the VGG-style architecture notebook 02 trains
        embed = staticmethod(lambda x: teacher_net(x))
        feature_maps = staticmethod(lambda x: teacher_net(x, return_maps=True)[1])

    clips = [{"frames": rng.integers(0, 255, (50, size, size, 3), dtype=np.uint8),
              "audio": rng.standard_normal(50 * 640).astype(np.float32) * 0.1,
              "c": rng.standard_normal((50, c_dim)).astype(np.float32),
              "nu": rng.standard_normal(nu_dim).astype(np.float32), "mu": rng.standard_normal(mu_dim).astype(np.float32),
              "face_vec": rng.standard_normal(nu_dim).astype(np.float32)} for _ in range(8)]
    bank = ClipBank(clips)
    # warmup=0: time the adversarial steps (a reconstruction warm-up step costs far less)
    tasks = {"speech2video": Speech2VideoTask(speech2video_config(profile, c_dim, nu_dim, mu_dim,
                                                                  _teacher_channels(Teacher, size, device), warmup=0),
                                              Teacher),
             "sdfa": SDFATask(sdfa_config(profile, warmup=0)),
             "s2f_sdfa": SDFATask(sdfa_config(profile, id_from_vector=nu_dim, warmup=0))}
    out = {}
    from .train.loop import StepContext, to_device
    for name, task in tasks.items():
        for net in task.nets.values():
            net.to(device).train()
        sampler = WindowSampler(bank, task.cfg.loop, vector_keys=("nu", "mu", "face_vec"))
        ctx = StepContext(device, device == "cuda", 0)
        task.train_step(to_device(sampler.sample(0), device), ctx.at(0))          # first step: allocations
        n_steps = 3 if device == "cpu" else 10
        t0 = time.perf_counter()
        for s in range(1, n_steps + 1):
            task.train_step(to_device(sampler.sample(s), device), ctx.at(s))
        if device == "cuda":
            torch.cuda.synchronize()
        out[f"train_fps_{name}"] = n_steps * task.cfg.loop.batch_clips * task.cfg.loop.window / (time.perf_counter() - t0)

    wav = rng.standard_normal(4 * 16000).astype(np.float32) * 0.1
    encoder = SpeechEncoder(CPC(cpc_cfg).to(device).eval(),
                            Students(c_dim, nu_dim, mu_dim, StudentConfig()).to(device).eval())
    models = {"speech2video": TrainedModel("speech2video", profile.name, tasks["speech2video"].cfg,
                                           tasks["speech2video"].nets["G"].eval(), pd.DataFrame()),
              "sdfa": TrainedModel("sdfa", profile.name, tasks["sdfa"].cfg, tasks["sdfa"].nets["G"].eval(), pd.DataFrame())}
    still = clips[0]["frames"][0]
    for name, model in models.items():
        run = (lambda: generate(model, wav, encoder=encoder)) if name == "speech2video" else \
              (lambda: generate(model, wav, still=still))
        run()
        t0, reps = time.perf_counter(), 5
        for _ in range(reps):
            run()
        out[f"infer_rtf_{name}"] = reps * 4.0 / (time.perf_counter() - t0)
    out["composer_bench_threads"] = torch.get_num_threads()
    return out
