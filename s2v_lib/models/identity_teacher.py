"""VGG-style identity network: the twin's stand-in for the paper's VGGFace VGGNet.

Plain 3x3 conv + BN + ReLU stages, each closed by a 2x2 max-pool, then global average pooling and
a linear embedding. Trained as a cosine-softmax classifier with an additive margin (CosFace) over
the identities of the generated teacher face set, so that the L2-normalised embedding separates
identities it has never seen (the twin's 91 actors are not among them).
The pooled maps after stages 1-3 (S/2, S/4, S/8) are what the composer's 1x1 convs align to.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class IdentityNetConfig:
    stages: tuple = ((16,), (32,), (64,), (128,))   # conv widths per stage; pool after all but the last
    embed_dim: int = 128
    n_classes: int = 100          # identities of the teacher face set
    margin: float = 0.2           # CosFace additive margin
    scale: float = 16.0           # CosFace logit scale


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class IdentityNet(nn.Module):
    def __init__(self, cfg: IdentityNetConfig):
        super().__init__()
        self.cfg = cfg
        stages, cin = [], 3
        for widths in cfg.stages:
            layers = []
            for w in widths:
                layers.append(conv_bn_relu(cin, w))
                cin = w
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.embed = nn.Linear(cin, cfg.embed_dim)
        self.class_weight = nn.Parameter(torch.randn(cfg.n_classes, cfg.embed_dim) * 0.01)

    @property
    def map_channels(self) -> list[int]:
        """Channels of the maps forward(return_maps=True) gives, coarse -> fine."""
        return [s[-1][0].out_channels for s in self.stages[:3]][::-1]

    def forward(self, x, return_maps=False):
        """x: (N, 3, S, S) in [0, 1] -> unnormalised embedding (N, embed_dim) [, maps S/8, S/4, S/2]."""
        x = (x - 0.5) / 0.25
        maps = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.stages) - 1:
                x = F.max_pool2d(x, 2)
                maps.append(x)
        emb = self.embed(x.mean(dim=(2, 3)))
        return (emb, maps[:3][::-1]) if return_maps else emb

    def cosine_logits(self, emb, labels=None):
        """CosFace logits: s * cos(emb, class_w), minus the margin on the true class when training."""
        cos = F.normalize(emb, dim=1) @ F.normalize(self.class_weight, dim=1).t()
        if labels is not None:
            cos = cos - self.cfg.margin * F.one_hot(labels, cos.shape[1])
        return self.cfg.scale * cos
