"""SDFA's training step (and S2F+SDFA's, when the identity comes from a voice vector)."""
import torch

from .. import losses
from ..models.discriminators import FrameDiscriminator, SequenceDiscriminator, spectral_normed
from ..models.sdfa import RawAudioEncoder, SDFAGenerator, SDFASyncDiscriminator
from ..train.ddp import frozen, raw
from .common import ema_copy, ema_update, flat, warmup_l1_step
from .configs import SDFATrainConfig
from .report import grid_figure


class SDFATask:
    """SDFA (Vougioukas et al., IJCV 2019), or S2F+SDFA when cfg.model.id_from_vector > 0: the frame D
    conditioned on the still image, the sequence D on the audio, and (sync_discriminator) the
    synchronisation D on 0.2 s audio / mouth chunks with in-sync and off-sync real pairs; BCE
    adversarial losses; L1 on the mouth (lower) half; the published loss weights and Adam rates."""

    def __init__(self, cfg: SDFATrainConfig):
        self.cfg = cfg
        m = cfg.model
        d = {"D_fr": FrameDiscriminator(cfg.d_ch, cond_ch=3),
             "D_seq": SequenceDiscriminator(RawAudioEncoder(64, norm=m.audio_norm), 64, cfg.d_ch)}
        if cfg.sync_discriminator:
            d["D_sync"] = SDFASyncDiscriminator(cfg.loop.window, cfg.d_ch)
        if cfg.d_spectral_norm:
            d = {k: spectral_normed(v) for k, v in d.items()}
        self.nets = {"G": SDFAGenerator(m), **d}
        lrs = {"G": cfg.lr_g, "D_fr": cfg.lr_d_fr, "D_seq": cfg.lr_d_seq, "D_sync": cfg.lr_d_sync}
        self.optims = {k: torch.optim.Adam(self.nets[k].parameters(), lrs[k], betas=(0.5, 0.999)) for k in self.nets}
        if cfg.g_ema:
            self.nets["G_ema"] = ema_copy(self.nets["G"])
        self.discriminators = tuple(d)

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
        logs = {}
        with ctx.autocast():
            d_fr = n["D_fr"](torch.cat([real, fake.detach()]), torch.cat([still, still]))
            d_seq = n["D_seq"](torch.cat([real_seq, fake_seq.detach()]), torch.cat([audio, audio]))
        loss_d_fr, loss_d_seq = losses.bce_d(d_fr[:nf], d_fr[nf:]), losses.bce_d(d_seq[:b], d_seq[b:])
        loss_d = loss_d_fr + loss_d_seq
        logs["loss_D_fr"], logs["loss_D_seq"] = loss_d_fr.detach(), loss_d_seq.detach()
        if cfg.sync_discriminator:
            a_sync, a_shift = batch["audio_sync"], batch["audio_shift"]
            with ctx.autocast():
                d_sync = n["D_sync"](torch.cat([real_seq, real_seq, fake_seq.detach()]),
                                     torch.cat([a_sync, a_shift, a_sync]))
            loss_d_sync = losses.sdfa_sync_d(d_sync[:b], d_sync[b:2 * b], d_sync[2 * b:])
            loss_d = loss_d + loss_d_sync
            logs["loss_D_sync"] = loss_d_sync.detach()
        for k in self.discriminators:
            self.optims[k].zero_grad(set_to_none=True)
        loss_d.backward()
        for k in self.discriminators:
            self.optims[k].step()

        with ctx.autocast(), frozen(*(n[k] for k in self.discriminators)):
            adv_fr = losses.bce_g(raw(n["D_fr"])(fake, still))
            adv_seq = losses.bce_g(raw(n["D_seq"])(fake_seq, audio))
            adv_sync = losses.bce_g(raw(n["D_sync"])(fake_seq, batch["audio_sync"])) if cfg.sync_discriminator \
                else torch.zeros((), device=fake.device)
        l1 = losses.half_frame_l1(fake, real, cfg.l1_half)
        loss_g = losses.sdfa_generator_objective(l1, adv_fr, adv_seq, adv_sync, cfg.w_l1, cfg.w_img, cfg.w_seq,
                                                 cfg.w_sync)
        self.optims["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optims["G"].step()
        if cfg.g_ema:
            ema_update(n["G_ema"], raw(n["G"]), cfg.g_ema, ctx.step - cfg.warmup_steps + 1)
        logs.update(loss_G=loss_g, adv_fr=adv_fr, adv_seq=adv_seq, adv_sync=adv_sync, mouth_l1=l1,
                    l1_full=(fake - real).abs().mean())
        return {k: v.detach() for k, v in logs.items()}

    @torch.no_grad()
    def sample_figure(self, batch):
        g = torch.Generator(device=batch["audio"].device).manual_seed(0)
        fake = self.generate(self.nets["G_ema" if self.cfg.g_ema else "G"], batch, g)
        name = "S2F+SDFA (voice -> face feature)" if self.cfg.model.id_from_vector else "SDFA (still image + speech)"
        return grid_figure(batch["frames"], fake, f"{name}: real (top) / generated (bottom)")
