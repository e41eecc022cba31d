"""DAVS training: the wid stage (associative training, Table 3's ablation) and the full stage
(adversarial disentangling + generation), each a resumable run of train/resumable.py.

One step of the full stage, in the order of the paper's Fig. 3 (b) (solid lines update, dashed do not):
  1. encode the batch of word windows: F_w^v = E_w^v(S^v), F_w^a = E_w^a(S^a), F_p^v = E_p^v(S^v)
  2. the adversaries learn with the encoders fixed: the domain classifier (L_adv^D), C_p^w on F_p^v
     (Eq. 2), C_w^p on f_w^v (Eq. 4)
  3. generation: identity from a random frame k of each window, G(f_p(k), F_w^a) and G(f_p(k), F_w^v)
     over `gen_frames` consecutive frames; D_seq learns (Eq. 7)
  4. encoders and G learn with the adversaries fixed: L_w (shared classifier) + L_C (Eq. 1) + the
     domain confusion + Eq. 3 + Eq. 5 (disentangling) + L_Re of both generations (Eq. 8)
The wid stage is steps 1, 2 (domain classifier only) and 4 (wid terms only).
"""
import dataclasses

import numpy as np
import torch

from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable
from . import losses as L


def _adam(params, lr, betas):
    return torch.optim.Adam([p for p in params], lr=lr, betas=betas)


def _f(x) -> float:
    return float(x.detach()) if torch.is_tensor(x) else float(x)


def wid_terms(model, b: dict, cfg) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """The wid space's supervisions for the encoders: L_w (shared or per-modality classifiers) and
    L_C. -> (loss, F_w^v, F_w^a, log row). The domain confusion comes after the domain classifier's
    own update (step 2), so it is computed by the caller."""
    F_v, F_a = model.wid_video(b["frames"]), model.wid_audio(b["mfcc"])
    lc = L.contrastive(F_v, F_a, cfg.margin)
    lv, la = model.word_logits(F_v, "video"), model.word_logits(F_a, "audio")
    lw = L.word_classification(lv, la, b["word"])
    loss = cfg.w_contrastive * lc + cfg.w_word * lw
    row = {"L_C": _f(lc), "L_w": _f(lw), "acc_v": _f((lv.argmax(1) == b["word"]).float().mean()),
           "acc_a": _f((la.argmax(1) == b["word"]).float().mean())}
    return loss, F_v, F_a, row


def _key(cfg, stage: str, net_cfg) -> dict:
    d = dataclasses.asdict(cfg)
    d["stage"], d["net"] = stage, vars(net_cfg)
    d.pop("max_eval_windows")   # evaluation only
    if stage == "wid":   # the wid stage does not depend on the generation variant or its weights
        for k in ("variant", "full_steps", "gen_frames", "w_gan", "alpha", "w_disentangle", "lr_d"):
            d.pop(k)
    return d


def make_step(model, windows, cfg, stage: str, rng: np.random.Generator, device):
    """-> (step_fn, optimisers): one optimiser step of the wid or the full stage."""
    full = stage == "full"
    gan = full and cfg.var["gan"]
    disentangle = full and cfg.var["disentangle"]
    enc = [model.E_wv, model.E_wa, model.C_w] + ([model.C_w_audio] if model.C_w_audio is not None else [])
    if full:
        enc += [model.E_p, model.G]
    opt = _adam((p for m in enc for p in m.parameters()), cfg.lr, cfg.betas)
    opt_adv = _adam(list(model.D_dom.parameters()) + list(model.C_pw.parameters()) + list(model.C_wp.parameters()),
                    cfg.lr, cfg.betas)
    opt_d = _adam(model.D_seq.parameters(), cfg.lr_d, cfg.betas)
    train_rows = windows.split("train")
    g = min(cfg.gen_frames, windows.length)

    def step(i):
        b = windows.batch(rng.choice(train_rows, cfg.batch, replace=len(train_rows) < cfg.batch), device)
        loss, F_v, F_a, row = wid_terms(model, b, cfg)
        # 2. the adversaries, on detached features
        adv = L.domain_classifier_loss(model.D_dom, F_v, F_a) if cfg.sup["domain_adv"] else 0.0
        if full:
            # E_p^v reads the generated sub-window (C_p^w classifies that F_p^v sequence, Eq. 2-3) and the
            # guidance frame k: on the CPU budget, the whole window's frames would cost more than G itself
            n, bt = len(F_v), F_v.shape[1]
            o = int(rng.integers(0, windows.length - g + 1))                            # generated sub-window
            k = torch.from_numpy(rng.integers(0, windows.length, n)).to(device)        # identity guidance frame
            F_p = model.pid(b["frames"][:, o:o + g])
            adv = adv + L.classifier_ce(model.C_pw(F_p.detach()), b["word"])
            adv = adv + L.classifier_ce(model.C_wp(F_v.detach().flatten(0, 1)), b["person"].repeat_interleave(bt))
        if torch.is_tensor(adv):
            opt_adv.zero_grad(set_to_none=True)
            adv.backward()
            opt_adv.step()
            row["adversaries"] = _f(adv)
        if cfg.sup["domain_adv"]:   # the encoders' side of L_adv^D, the domain classifier fixed
            conf = L.domain_confusion_loss(model.D_dom, F_v, F_a)
            loss = loss + cfg.w_domain * conf
            row["L_adv_D"] = _f(conf)
        if full:
            f_pk = model.E_p(b["frames"][torch.arange(n, device=device), k])
            real = b["frames"][:, o:o + g]
            fake_a = model.generate(f_pk, F_a[:, o:o + g])
            fake_v = model.generate(f_pk, F_v[:, o:o + g])
            if gan:   # 3. D_seq, Eq. (7)
                d = L.gan_d(model.D_seq, real, fake_a) + L.gan_d(model.D_seq, real, fake_v)
                opt_d.zero_grad(set_to_none=True)
                d.backward()
                opt_d.step()
                row["D_seq"] = _f(d)
            rec_a, ra = L.reconstruction(model.D_seq, real, fake_a, cfg.alpha, cfg.w_gan, gan)
            rec_v, rv = L.reconstruction(model.D_seq, real, fake_v, cfg.alpha, cfg.w_gan, gan)
            loss = loss + rec_a + rec_v
            row.update(l1_audio=ra["l1"], l1_video=rv["l1"], gan_g=ra["gan_g"] + rv["gan_g"])
            if disentangle:   # Eq. (3) and (5) with C_p^w and C_w^p fixed
                lpw = L.uniform_euclidean(model.C_pw(F_p))
                lwp = L.uniform_euclidean(model.C_wp(F_v.flatten(0, 1)))
                loss = loss + cfg.w_disentangle * (lpw + lwp)
                row.update(L_pw=_f(lpw), L_wp=_f(lwp))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        row["loss"] = _f(loss)
        return {"step": i, **row} if i % 10 == 0 or i + 1 == (cfg.full_steps if full else cfg.wid_steps) else None

    return step, {"opt": opt, "opt_adv": opt_adv, "opt_d": opt_d}


def train_stage(model, windows, cfg, stage: str, profile, device="cpu", force_retrain=False, progress=True,
                init_state: dict | None = None, save_every: int = 100):
    """Run (or resume, or load) one wid or full run. init_state: module name -> state_dict loaded
    before training starts (the previous stage's weights); a saved checkpoint overrides it."""
    from .config import net_config
    for name, sd in (init_state or {}).items():
        getattr(model, name).load_state_dict(sd)
    key = _key(cfg, stage, net_config(cfg, model.cfg.n_words, model.cfg.n_persons, model.cfg.n_pretrain_ids))
    name = cfg.supervision if stage == "wid" else cfg.variant
    folder = "".join(ch if ch.isalnum() else "_" for ch in name)
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "davs" / stage / folder, key)
    rng = np.random.default_rng([cfg.seed, 12 if stage == "wid" else 13])
    step, opts = make_step(model, windows, cfg, stage, rng, device)
    total = cfg.wid_steps if stage == "wid" else cfg.full_steps
    return run_resumable(ckpt, total, step, {"model": model, **opts}, {"batches": rng}, save_every=save_every,
                         force_retrain=force_retrain, progress=progress, desc=f"DAVS {stage}: {name}",
                         postfix=lambda r: {"loss": f"{r['loss']:.3f}"})
