"""DAVS's losses, numbered as in the paper (Zhou et al., AAAI 2019).

Feature sequences are (B, T, dim); frames (B, T, 3, S, S) in [0, 1]. The paper's sums are means
here (their scale then does not depend on batch or frame size); the weights live in DAVSConfig.
"""
import torch
import torch.nn.functional as F

from ..losses import bce_d, bce_g


def normalise_sequence(F_w: torch.Tensor) -> torch.Tensor:
    """"All features used in this loss are normalized first": each frame's feature to unit length, the
    sequence scaled by 1/sqrt(T), so a sequence has norm 1 and every distance lies in [0, 2]."""
    return F.normalize(F_w, dim=-1).flatten(1) / F_w.shape[1] ** 0.5


def pair_distances(F_v: torch.Tensor, F_a: torch.Tensor) -> torch.Tensor:
    """d_mn = ||F_w(m)^v - F_w(n)^a||_2 over every video m and audio n of the batch: (B, B)."""
    return torch.cdist(normalise_sequence(F_v), normalise_sequence(F_a))


def contrastive(F_v: torch.Tensor, F_a: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Eq. (1): sum_mn l_mn d_mn + (1 - l_mn) max(margin - d_mn, 0), l_mn = 1 for the paired (m = n),
    divided by the batch size (one video's term, on average)."""
    d = pair_distances(F_v, F_a)
    paired = torch.eye(len(d), dtype=torch.bool, device=d.device)
    return (torch.where(paired, d, F.relu(margin - d))).sum() / len(d)


def word_classification(logits_v: torch.Tensor, logits_a: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """L_w: softmax cross-entropy of both modalities' word logits (from the shared C_w under SC)."""
    return F.cross_entropy(logits_v, words) + F.cross_entropy(logits_a, words)


def uniform_euclidean(logits: torch.Tensor) -> torch.Tensor:
    """Eq. (3) / (5): sum_j || softmax(C(F))_j - 1/N ||_2^2, mean over the batch. Unlike cross-entropy
    against 1/N it has zero gradient once the prediction is uniform (the paper's reason for it)."""
    p = logits.float().softmax(-1)
    return ((p - 1.0 / p.shape[-1]) ** 2).sum(-1).mean()


def classifier_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. (2) / (4): the adversary's softmax cross-entropy (its features detached by the caller)."""
    return F.cross_entropy(logits.float(), labels)


def domain_labels(b: int, t: int, device) -> torch.Tensor:
    """Per-frame source labels for [video frames; audio frames]: video 0, audio 1."""
    return torch.cat([torch.zeros(b * t, dtype=torch.long, device=device),
                      torch.ones(b * t, dtype=torch.long, device=device)])


def domain_classifier_loss(D_dom, F_v: torch.Tensor, F_a: torch.Tensor) -> torch.Tensor:
    """L_adv^D, the classifier's side: tell video from audio wid features (features detached)."""
    b, t = F_v.shape[:2]
    x = torch.cat([F_v.detach().flatten(0, 1), F_a.detach().flatten(0, 1)])
    return F.cross_entropy(D_dom(x), domain_labels(b, t, x.device))


def domain_confusion_loss(D_dom, F_v: torch.Tensor, F_a: torch.Tensor) -> torch.Tensor:
    """L_adv^D, the encoders' side: "a simple version of the adversarial training of section 3.2",
    so the same Euclidean-to-uniform form as Eq. (3), with the two-class domain classifier fixed."""
    return uniform_euclidean(D_dom(torch.cat([F_v.flatten(0, 1), F_a.flatten(0, 1)])))


def l1(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Eq. (6): ||S^v - G(f_p(k), F_w)||_1 (mean over pixels)."""
    return (real - fake).abs().mean()


def gan_d(D_seq, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Eq. (7), the discriminator's side: maximise log D(S^v) + log(1 - D(G(.))) (BCE with logits)."""
    return bce_d(D_seq(real), D_seq(fake.detach()))


def gan_g(D_seq, fake: torch.Tensor) -> torch.Tensor:
    """Eq. (7), the generator's side, in the usual non-saturating form: maximise log D(G(.))."""
    return bce_g(D_seq(fake))


def reconstruction(D_seq, real: torch.Tensor, fake: torch.Tensor, alpha: float, w_gan: float = 1.0,
                   gan: bool = True) -> tuple[torch.Tensor, dict]:
    """Eq. (8): L_Re = L_GAN + alpha L_L1 (gan=False: alpha L_L1 alone, the paper's "L_L1" column)."""
    rec = l1(real, fake)
    adv = gan_g(D_seq, fake) if gan else torch.zeros((), device=real.device)
    return w_gan * adv + alpha * rec, {"l1": float(rec.detach()), "gan_g": float(adv.detach())}
