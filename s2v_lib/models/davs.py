"""DAVS (Zhou, Liu, Liu, Luo & Wang, "Talking face generation by adversarially disentangled
audio-visual representation", AAAI 2019), re-implemented small. Names as in the paper:

    E_p^v  PersonEncoder      one frame               -> f_p^v  (Person-ID, pid space)
    E_w^v  VideoWordEncoder   one frame (mouth half)  -> f_w^v  (Word-ID, wid space)
    E_w^a  AudioWordEncoder   12 x 20 MFCC per frame  -> f_w^a  (wid space, shared with f_w^v)
    G      Decoder            [f_p, f_w]              -> one frame
    D_seq  SequenceDiscriminator  a frame sequence    -> real / generated (Eq. 7)
    C_w    WordClassifier     F_w = (f_w(1..n))       -> N_w words (shared by both modalities: SC)
    C_p^w  WordClassifier     F_p^v                   -> N_w words (adversary of E_p^v, Eq. 2-3)
    C_w^p  mlp                f_w^v                   -> N_p persons (adversary of E_w^v, Eq. 4-5)
    D_dom  mlp                f_w                     -> {video, audio}: the domain classifier (L_adv^D)

The paper's backbones (VGG-M for E_p^v, a simple FAN for E_w^v, SyncNet's audio stream for E_w^a,
a 10-conv decoder with 6 bilinear upsamplings to 256 px) are scaled to our frame sizes: the
encoders read frames resized to `enc_size`, the decoder has 4 bilinear upsamplings (S/16 -> S) of
two 3x3 convs each plus two output convs (10 convs). No batch statistics anywhere (GroupNorm), so a
sample's output never depends on the rest of its batch.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .discriminators import down

N_MFCC, MFCC_STEPS = 12, 20      # the paper: "each image with a mfcc audio input with size of 12 * 20"


@dataclass
class DAVSNetConfig:
    frame_size: int = 64          # generated frames are frame_size x frame_size
    enc_size: int = 32            # encoders read frames resized to this
    dim: int = 128                # every latent (the paper: 256)
    ch: int = 32                  # base width of the convs
    n_words: int = 10             # N_w
    n_persons: int = 10           # N_p: training-split speakers (C_w^p's classes)
    n_pretrain_ids: int = 40      # identities of the teacher face set (E_p^v's pretraining head)


def conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.GroupNorm(min(8, cout // 2), cout),
                         nn.LeakyReLU(0.2, inplace=True))


def _to_enc(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, S, S) in [0, 1] -> (N, 3, size, size), centred to [-1, 1]."""
    if frames.shape[-1] != size:
        frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return frames * 2 - 1


class PersonEncoder(nn.Module):
    """E_p^v: a VGG-M-like stack (conv, conv-stride-2 x 3, fc) on the whole frame."""

    def __init__(self, cfg: DAVSNetConfig):
        super().__init__()
        c, s = cfg.ch, cfg.enc_size
        self.size = s
        self.net = nn.Sequential(conv_block(3, c), down(c, c), down(c, 2 * c), down(2 * c, 4 * c),
                                 conv_block(4 * c, 4 * c), nn.Flatten(),
                                 nn.Linear(4 * c * (s // 8) ** 2, cfg.dim))

    def forward(self, frames):
        return self.net(_to_enc(frames, self.size))


class VideoWordEncoder(nn.Module):
    """E_w^v: the lower (mouth) half of the frame -> f_w^v. The upper half carries no speech."""

    def __init__(self, cfg: DAVSNetConfig):
        super().__init__()
        c, s = cfg.ch, cfg.enc_size
        self.size = s
        self.net = nn.Sequential(conv_block(3, c), down(c, c), down(c, 2 * c), down(2 * c, 4 * c),
                                 nn.Flatten(), nn.Linear(4 * c * (s // 16) * (s // 8), cfg.dim))

    def forward(self, frames):
        x = _to_enc(frames, self.size)
        return self.net(x[..., self.size // 2:, :])


class AudioWordEncoder(nn.Module):
    """E_w^a: SyncNet's audio stream in small: 2-d convs over the (12 MFCC x 20 steps) window."""

    def __init__(self, cfg: DAVSNetConfig):
        super().__init__()
        c = cfg.ch
        self.net = nn.Sequential(conv_block(1, c), nn.MaxPool2d((1, 2)),                 # 12 x 10
                                 conv_block(c, 2 * c), nn.MaxPool2d(2),                  # 6 x 5
                                 conv_block(2 * c, 4 * c), nn.Flatten(), nn.Linear(4 * c * 6 * 5, cfg.dim))

    def forward(self, mfcc):
        """(N, 12, 20) standardised MFCC -> (N, dim)."""
        return self.net(mfcc[:, None].float())


class Decoder(nn.Module):
    """G(f_p, f_w) -> frame: fc to (8ch, S/16, S/16), 4 x (bilinear x2, conv, conv), 2 output convs."""

    def __init__(self, cfg: DAVSNetConfig):
        super().__init__()
        c, self.s0 = cfg.ch, cfg.frame_size // 16
        self.fc = nn.Sequential(nn.Linear(2 * cfg.dim, 8 * c * self.s0 ** 2), nn.LeakyReLU(0.2, inplace=True))
        widths = [8 * c, 4 * c, 2 * c, c, c]
        self.ups = nn.ModuleList(nn.Sequential(conv_block(a, b), conv_block(b, b)) for a, b in zip(widths, widths[1:]))
        self.out = nn.Sequential(conv_block(c, c), nn.Conv2d(c, 3, 3, 1, 1))

    def forward(self, f_p, f_w):
        """f_p, f_w (N, dim) -> frames (N, 3, S, S) in [0, 1]."""
        h = self.fc(torch.cat([f_p, f_w], -1)).view(len(f_p), -1, self.s0, self.s0)
        for block in self.ups:
            h = block(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
        return torch.sigmoid(self.out(h))


class SequenceDiscriminator(nn.Module):
    """D_seq: per-frame codes, then a temporal conv over them: is this sequence real (Eq. 7)?"""

    def __init__(self, cfg: DAVSNetConfig):
        super().__init__()
        c = cfg.ch
        self.frame = nn.Sequential(down(3, c, norm=False), down(c, 2 * c), down(2 * c, 4 * c),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.temporal = nn.Sequential(nn.Conv1d(4 * c, 4 * c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
                                      nn.Conv1d(4 * c, 1, 3, 1, 1))

    def forward(self, frames):
        """frames (B, T, 3, S, S) in [0, 1] -> logits (B,)."""
        b, t = frames.shape[:2]
        # full-resolution frames: sharpness is what the GAN loss is for (the paper's Table 1)
        h = self.frame(frames.flatten(0, 1) * 2 - 1).view(b, t, -1).transpose(1, 2)
        return self.temporal(h).mean((1, 2))


class WordClassifier(nn.Module):
    """C_w / C_p^w: a feature sequence (B, T, dim) -> N_w logits. Temporal conv, then max over time:
    the paper concatenates per-frame features at 1x1 spatial size and classifies the sequence."""

    def __init__(self, dim: int, n_classes: int, hidden: int = 128):
        super().__init__()
        self.temporal = nn.Sequential(nn.Conv1d(dim, hidden, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
                                      nn.Conv1d(hidden, hidden, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True))
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, seq):
        return self.out(self.temporal(seq.transpose(1, 2)).amax(-1))


def mlp(din: int, n_out: int, hidden: int = 128) -> nn.Sequential:
    return nn.Sequential(nn.Linear(din, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, n_out))


class DAVS(nn.Module):
    """Every network of DAVS. `shared_classifier=False` gives each modality its own word classifier
    (the paper's "normally they would be fed into different classifiers"), for the ablation rows."""

    def __init__(self, cfg: DAVSNetConfig, shared_classifier: bool = True):
        super().__init__()
        self.cfg = cfg
        self.shared_classifier = shared_classifier
        self.E_p = PersonEncoder(cfg)
        self.E_wv = VideoWordEncoder(cfg)
        self.E_wa = AudioWordEncoder(cfg)
        self.G = Decoder(cfg)
        self.C_w = WordClassifier(cfg.dim, cfg.n_words)
        self.C_w_audio = None if shared_classifier else WordClassifier(cfg.dim, cfg.n_words)
        self.D_dom = mlp(cfg.dim, 2)                            # video 0, audio 1
        self.C_pw = WordClassifier(cfg.dim, cfg.n_words)        # C_p^w
        self.C_wp = mlp(cfg.dim, cfg.n_persons)                 # C_w^p
        self.id_head = nn.Linear(cfg.dim, cfg.n_pretrain_ids)   # E_p^v's identity pretraining
        self.D_seq = SequenceDiscriminator(cfg)

    # ---- encoders over sequences: frames (B, T, 3, S, S), mfcc (B, T, 12, 20) -> (B, T, dim)
    def pid(self, frames):
        b, t = frames.shape[:2]
        return self.E_p(frames.flatten(0, 1)).view(b, t, -1)

    def wid_video(self, frames):
        b, t = frames.shape[:2]
        return self.E_wv(frames.flatten(0, 1)).view(b, t, -1)

    def wid_audio(self, mfcc):
        b, t = mfcc.shape[:2]
        return self.E_wa(mfcc.flatten(0, 1)).view(b, t, -1)

    def word_logits(self, F_w, modality: str):
        """C_w(F_w): the shared classifier, or the modality's own without SC."""
        if modality == "audio" and self.C_w_audio is not None:
            return self.C_w_audio(F_w)
        return self.C_w(F_w)

    def generate(self, f_p, F_w):
        """G(f_p(k), F_w) = {G(f_p(k), f_w(1)), ..., G(f_p(k), f_w(n))}: f_p (B, dim), F_w (B, T, dim)
        -> frames (B, T, 3, S, S) in [0, 1]."""
        b, t = F_w.shape[:2]
        frames = self.G(f_p[:, None].expand(-1, t, -1).reshape(b * t, -1), F_w.reshape(b * t, -1))
        return frames.view(b, t, *frames.shape[1:])
