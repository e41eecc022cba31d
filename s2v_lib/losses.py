"""Losses of the composer and the baselines (paper Eq. 4-10; docs/design.md §10).

Images are float tensors (N, 3, H, W) in [0, 1]. All losses are means, so their scale does not
depend on the frame size; the weights that turn eq. (10)'s sum into a balanced objective live in
each model's config.
"""
import torch
import torch.nn.functional as F

from .models.deterministic import replicate_pad


# --- LSGAN (docs/design.md §10.1: D real -> 1, fake -> 0; G wants fake -> 1) -------------------------------

def lsgan_d(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Eqs. (4)-(5) for the discriminator: 1/2 E[(D(real) - 1)^2] + 1/2 E[D(fake)^2]."""
    return 0.5 * ((real_out.float() - 1) ** 2).mean() + 0.5 * (fake_out.float() ** 2).mean()


def lsgan_g(fake_out: torch.Tensor) -> torch.Tensor:
    """The generator's side: 1/2 E[(D(fake) - 1)^2]."""
    return 0.5 * ((fake_out.float() - 1) ** 2).mean()


def lsgan_sync_d(synced: torch.Tensor, shifted: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """Eq. (6) with the labels of docs/design.md §10.1: synced real pair 1, shifted real pair 0, (c, generated) 0."""
    return (((synced.float() - 1) ** 2).mean() + 0.5 * (shifted.float() ** 2).mean()
            + 0.5 * (generated.float() ** 2).mean())


# --- SDFA's original (non-saturating BCE) adversarial losses --------------------------------------

def bce_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def bce_g(fake_logits: torch.Tensor) -> torch.Tensor:
    fake_logits = fake_logits.float()
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def sdfa_sync_d(synced: torch.Tensor, off_sync: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """SDFA's synchronisation D: real in-sync chunks 1; real off-sync chunks and generated chunks (with
    their own audio) 0, half weight each (SDFA's L_adv^sync, the D side)."""
    synced, off_sync, generated = synced.float(), off_sync.float(), generated.float()
    return (F.binary_cross_entropy_with_logits(synced, torch.ones_like(synced))
            + 0.5 * F.binary_cross_entropy_with_logits(off_sync, torch.zeros_like(off_sync))
            + 0.5 * F.binary_cross_entropy_with_logits(generated, torch.zeros_like(generated)))


def sdfa_generator_objective(l1: torch.Tensor, adv_img: torch.Tensor, adv_seq: torch.Tensor,
                             adv_sync: torch.Tensor, w_l1: float, w_img: float, w_seq: float,
                             w_sync: float) -> torch.Tensor:
    """SDFA's generator loss: lambda_L1 L_L1 + lambda_img L_adv^img + lambda_seq L_adv^seq + lambda_sync L_adv^sync."""
    return w_l1 * l1 + w_img * adv_img + w_seq * adv_seq + w_sync * adv_sync


# --- reconstruction --------------------------------------------------------------------------------

def half_mask_rows(height: int, half: str) -> slice:
    """Rows of the half frame. 'upper' = rows [0, H/2) (nose up, what the paper's text means);
    'lower' = rows [H/2, H) (what eq. (8)'s index set literally says, and SDFA's mouth half);
    'full' = every row."""
    if half == "upper":
        return slice(0, height // 2)
    if half == "lower":
        return slice(height // 2, height)
    if half == "full":
        return slice(0, height)
    raise ValueError(f"half must be 'upper', 'lower' or 'full', not {half!r}")


def half_frame_l1(fake: torch.Tensor, real: torch.Tensor, half: str = "upper") -> torch.Tensor:
    """Eq. (8): L1 between generated and real frames over one half of the frame (mean per pixel)."""
    rows = half_mask_rows(fake.shape[-2], half)
    return (fake[..., rows, :].float() - real[..., rows, :].float()).abs().mean()


def _gaussian_kernel(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def image_gradients(img: torch.Tensor, smooth_size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """nabla psi(img) of eq. (9): Gaussian smoothing psi, then Sobel x and y, per channel.
    (N, C, H, W) -> (N, 2C, H, W)."""
    n, c, h, w = img.shape
    img = img.float()
    k = _gaussian_kernel(smooth_size, sigma).to(img.device)[None, None].expand(c, 1, -1, -1)
    smooth = F.conv2d(replicate_pad(img, [smooth_size // 2] * 4), k, groups=c)
    sx = _SOBEL_X.to(img.device)
    sobel = torch.stack([sx, sx.t()])[:, None].repeat(c, 1, 1, 1)           # (2C, 1, 3, 3)
    return F.conv2d(replicate_pad(smooth, [1] * 4), sobel, groups=c)


def gradient_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Eq. (9): |nabla psi(F) - nabla psi(phi)|, mean over pixels (zero for identical images)."""
    return (image_gradients(fake) - image_gradients(real)).abs().mean()


# --- the paper's equations, one function each (docs/equations.md) --------------------------------

def identity_adversarial_d_eq4(d_teacher_maps: torch.Tensor, d_inflated: torch.Tensor) -> torch.Tensor:
    """Eq. (4), D_ID's side: the teacher's maps of a still of the speaker are real, the inflated nu fake."""
    return lsgan_d(d_teacher_maps, d_inflated)


def frame_adversarial_d_eq5(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. (5), D_fr's side: real frames against generated ones."""
    return lsgan_d(d_real, d_fake)


def sync_adversarial_d_eq6(synced: torch.Tensor, shifted: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """Eq. (6), D_sync's side: (c_t, phi_t) synced 1; shifted and (c_t, generated) 0."""
    return lsgan_sync_d(synced, shifted, generated)


def generator_adversarial_eq7(adv_id: torch.Tensor, adv_fr: torch.Tensor, adv_sync: torch.Tensor,
                              w_id: float = 1.0) -> torch.Tensor:
    """Eq. (7): the generator's adversarial term, summed over the three discriminators (each lsgan_g)."""
    return w_id * adv_id + adv_fr + adv_sync


def generator_objective_eq10(adversarial: torch.Tensor, sim: torch.Tensor, grad: torch.Tensor,
                             w_adv: float, w_sim: float, w_grad: float) -> torch.Tensor:
    """Eq. (10): adversarial (7) + similarity (8) + gradient (9); ours are means, hence the weights."""
    return w_adv * adversarial + w_sim * sim + w_grad * grad


# --- voice -> face feature (Speech2Face; the same form as Eq. 2-3) -------------------------------

def normalized_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x/|x| - y/|y|||^2, mean over the batch."""
    return ((F.normalize(pred.float(), dim=-1) - F.normalize(target.float(), dim=-1)) ** 2).sum(-1).mean()
