"""The speech2video composer's training step: F(c_t, nu, mu) against D_ID, D_fr, D_sync (Eq. 4-10)."""
import torch

from .. import losses
from ..models.composer import Composer
from ..models.discriminators import FrameDiscriminator, IdentityDiscriminator, SyncDiscriminator, spectral_normed
from ..train.ddp import frozen, raw
from .common import ema_copy, ema_update, flat, warmup_l1_step
from .configs import Speech2VideoConfig
from .report import grid_figure


class Speech2VideoTask:
    """F(c_t, nu, mu) against D_ID, D_fr, D_sync (eqs. 4-10)."""

    def __init__(self, cfg: Speech2VideoConfig, teacher):
        self.cfg, self.teacher = cfg, teacher
        m = cfg.model
        d = {"D_id": IdentityDiscriminator(m.teacher_channels, cfg.d_ch), "D_fr": FrameDiscriminator(cfg.d_ch),
             "D_sync": SyncDiscriminator(m.c_dim, cfg.d_ch)}
        if cfg.d_spectral_norm:
            d = {k: spectral_normed(v) for k, v in d.items()}
        self.nets = {"G": Composer(m), **d}
        lrs = {"G": cfg.lr_g, "D_id": cfg.lr_d_id, "D_fr": cfg.lr_d_fr, "D_sync": cfg.lr_d_sync}
        self.optims = {k: torch.optim.RMSprop(self.nets[k].parameters(), lr=lr) for k, lr in lrs.items()}
        if cfg.g_ema:
            self.nets["G_ema"] = ema_copy(self.nets["G"])

    def warmup_step(self, batch, ctx):
        with ctx.autocast():
            fake_seq, inflated = self.nets["G"](batch["c"], batch["nu"], batch["mu"])
        # the alignment convs get a zero gradient, so DDP sees every parameter used
        return warmup_l1_step(self.optims["G"], fake_seq, batch["frames"], also_in_graph=inflated)

    def train_step(self, batch, ctx):
        cfg, n = self.cfg, self.nets
        if ctx.step < cfg.warmup_steps:
            return self.warmup_step(batch, ctx)
        real = flat(batch["frames"])
        c, c_shift = flat(batch["c"]), flat(batch["c_shift"])
        with torch.no_grad():
            teacher_maps = [m.float() for m in self.teacher.feature_maps(batch["still"])]
        with ctx.autocast():
            fake_seq, inflated = n["G"](batch["c"], batch["nu"], batch["mu"])
        fake = flat(fake_seq)

        # discriminators: one forward of real and fake together each (DDP: one forward per backward)
        b = batch["still"].shape[0]
        with ctx.autocast():
            d_id = n["D_id"]([torch.cat([t, f.detach()]) for t, f in zip(teacher_maps, inflated)])
            d_fr = n["D_fr"](torch.cat([real, fake.detach()]))
            d_sync = n["D_sync"](torch.cat([c, c_shift, c]), torch.cat([real, real, fake.detach()]))
        nf = real.shape[0]
        loss_d_id = losses.identity_adversarial_d_eq4(d_id[:b], d_id[b:])
        loss_d_fr = losses.frame_adversarial_d_eq5(d_fr[:nf], d_fr[nf:])
        loss_d_sync = losses.sync_adversarial_d_eq6(d_sync[:nf], d_sync[nf:2 * nf], d_sync[2 * nf:])
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
        adversarial = losses.generator_adversarial_eq7(adv_id, adv_fr, adv_sync, cfg.w_id)
        loss_g = losses.generator_objective_eq10(adversarial, sim, grad, cfg.w_adv, cfg.w_sim, cfg.w_grad)
        self.optims["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optims["G"].step()
        if cfg.g_ema:
            ema_update(n["G_ema"], raw(n["G"]), cfg.g_ema, ctx.step - cfg.warmup_steps + 1)
        logs = {"loss_G": loss_g, "adv_id": adv_id, "adv_fr": adv_fr, "adv_sync": adv_sync, "sim_l1": sim,
                "grad": grad, "loss_D_id": loss_d_id, "loss_D_fr": loss_d_fr, "loss_D_sync": loss_d_sync,
                "l1_full": (fake - real).abs().mean()}
        return {k: v.detach() for k, v in logs.items()}   # tensors: read by the loop at log steps only

    @torch.no_grad()
    def sample_figure(self, batch):
        fake, _ = self.nets["G_ema" if self.cfg.g_ema else "G"](batch["c"], batch["nu"], batch["mu"], aligned=False)
        return grid_figure(batch["frames"], fake, "speech2video: real (top) / generated from speech (bottom)")
