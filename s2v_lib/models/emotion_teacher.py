"""Small SE-ResNet emotion classifier: the twin's stand-in for the paper's SENet on FERplus.

Residual basic blocks with squeeze-and-excitation (Hu et al. 2018), then the last map pooled to a
coarse grid (not to one vector: the faces are aligned, so *where* a cue is says much) and a linear
layer to the feature vector (the distillation target mu), and a linear head over the 6 emotions.
"""
from dataclasses import dataclass

import torch.nn as nn
import torch.nn.functional as F

from .deterministic import AdaptiveAvgPool2d


@dataclass
class EmotionNetConfig:
    stem: int = 16
    stem_stride: int = 2
    widths: tuple = (32, 64, 128)   # one SE-residual block per width, each with stride 2
    se_reduction: int = 8
    grid: int = 3                   # pool the last map to grid x grid (faces are aligned: where a cue is matters)
    feature_dim: int = 128
    n_classes: int = 6
    dropout: float = 0.1


class SqueezeExcite(nn.Module):
    def __init__(self, c, reduction):
        super().__init__()
        self.fc1 = nn.Linear(c, max(c // reduction, 4))
        self.fc2 = nn.Linear(max(c // reduction, 4), c)

    def forward(self, x):
        w = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))).sigmoid()
        return x * w[:, :, None, None]


class SEBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, reduction):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout, reduction)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.se(self.bn2(self.conv2(y)))
        return F.relu(y + self.shortcut(x))


class EmotionNet(nn.Module):
    def __init__(self, cfg: EmotionNetConfig):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Sequential(nn.Conv2d(3, cfg.stem, 3, cfg.stem_stride, 1, bias=False), nn.BatchNorm2d(cfg.stem), nn.ReLU(inplace=True))
        blocks, cin = [], cfg.stem
        for w in cfg.widths:
            blocks.append(SEBasicBlock(cin, w, 2, cfg.se_reduction))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.pool = AdaptiveAvgPool2d(cfg.grid)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(cin * cfg.grid ** 2, cfg.feature_dim), nn.ReLU(inplace=True))
        self.feature_dim = cfg.feature_dim
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.feature_dim, cfg.n_classes)

    def features(self, x):
        """x: (N, 3, S, S) in [0, 1] -> (N, feature_dim) penultimate features."""
        x = (x - 0.5) / 0.25
        return self.embed(self.pool(self.blocks(self.stem(x))))

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))
