"""SDFA's training step (and S2F+SDFA's, when the identity comes from a voice vector)."""
import torch

from .. import losses
from ..models.discriminators import FrameDiscriminator, SequenceDiscriminator
from ..models.sdfa import RawAudioEncoder, SDFAGenerator
from ..train.ddp import frozen, raw
from .common import flat, warmup_l1_step
from .configs import SDFATrainConfig
from .report import grid_figure


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
        return warmup_l1_step(self.optims["G"], fake_seq, batch["frames"])

    def train_step(self, batch, ctx):
        cfg, n = self.cfg, self.nets
        if ctx.step < cfg.warmup_steps:
            return self.warmup_step(batch, ctx)
        real_seq, audio = batch["frames"], batch["audio"]
        t = real_seq.shape[1]
        real = flat(real_seq)
        still = batch["still"].repeat_interleave(t, 0)
        with ctx.autocast():
            fake_seq = self.generate(n["G"], batch, ctx.generator)
        fake = flat(fake_seq)
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
        return grid_figure(batch["frames"], fake, f"{name}: real (top) / generated (bottom)")
