"""Generation API: speech in, talking-face frames out; and MP4 writing with the speech muxed in.

    enc = speech_encoder(profile, data, device)            # CPC + students (stage 1), from the cache
    frames = generate(model, wav, encoder=enc)              # speech2video: speech only
    frames = generate(sdfa, wav, still=first_frame)         # SDFA needs a still image (uint8 (S, S, 3))
    frames = generate(s2f, wav)                             # S2F+SDFA: its own voice encoder
    write_mp4("out.mp4", frames, wav)

frames: uint8 (T, S, S, 3) with T = len(wav) // 640 (25 fps at 16 kHz).
"""
from dataclasses import dataclass

import numpy as np
import torch

from .device import module_device
from .errors import UserError
from .media import encode_mp4
from .data.dataset import SAMPLES_PER_FRAME
from .train.windows import audio_window_array



@dataclass
class SpeechEncoder:
    """Stage 1 at test time: wav -> c_t (25 fps), nu = S_id(w), mu = S_emo(w); w = c_T ("last") or the
    mean of c_t ("mean"), as the students were trained (the stage's w_pooling)."""
    cpc: torch.nn.Module
    students: torch.nn.Module
    w_pooling: str

    @torch.no_grad()
    def encode(self, wav: np.ndarray, n_frames: int | None = None) -> dict:
        from .models.cpc import context, pool_to_frames
        n = n_frames if n_frames is not None else len(wav) // SAMPLES_PER_FRAME
        c100 = context(self.cpc, wav, n)                                 # (4T, D) at 100 Hz
        w = c100[-1] if self.w_pooling == "last" else c100.mean(0)
        nu, mu = self.students.eval()(w[None].to(module_device(self.students)))
        nu = torch.nn.functional.normalize(nu, dim=-1)                   # as stage_one.apply_students
        return {"c": pool_to_frames(c100), "nu": nu[0], "mu": mu[0]}


def speech_encoder(profile, data, device="cpu", stage: dict | None = None) -> SpeechEncoder:
    """The trained CPC + students of stage one (notebook 03), from the stage cache's weights."""
    from .artifacts import stage_one
    from .stage_one.features import load_speech_encoder
    stage = stage if stage is not None else stage_one(profile, data, device)
    return SpeechEncoder(*load_speech_encoder(stage, device))


def _as_wav(wav) -> np.ndarray:
    wav = np.asarray(wav)
    if wav.ndim != 1 or len(wav) < SAMPLES_PER_FRAME:
        raise UserError(f"speech must be mono 16 kHz with at least {SAMPLES_PER_FRAME} samples "
                        f"(got shape {wav.shape}); resample / downmix it first")
    if wav.dtype == np.int16:
        return wav.astype(np.float32) / 32768.0
    return wav.astype(np.float32)


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(1, T, 3, S, S) in [0, 1] -> (T, S, S, 3) uint8."""
    return (frames[0].float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def _still_tensor(still, size: int, device) -> torch.Tensor:
    still = np.asarray(still)
    if still.shape != (size, size, 3):
        raise UserError(f"the still image must be uint8 ({size}, {size}, 3) like the prepared frames, "
                        f"not {still.shape}; crop it with the same preparation")
    return torch.from_numpy(still).to(device).float().div(255).permute(2, 0, 1)[None]


@torch.no_grad()
def generate(model, wav, still=None, encoder: SpeechEncoder | None = None, features: dict | None = None,
             seed: int = 0, device=None) -> np.ndarray:
    """Talking-face frames for `wav` (float32 [-1, 1] or int16, 16 kHz mono) -> uint8 (T, S, S, 3).

    model: a composer_stage.TrainedModel. speech2video reads c_t, nu, mu from `features` (a clip's entry
    of features.speech_features) or computes them with `encoder`; SDFA needs `still`; S2F+SDFA uses its
    voice encoder. seed fixes SDFA's noise."""
    wav = _as_wav(wav)
    net = model.net.eval()
    device = device or next(net.parameters()).device
    n = len(wav) // SAMPLES_PER_FRAME
    if model.name == "speech2video":
        if features is None:
            if encoder is None:
                raise UserError("speech2video needs the stage-1 speech encoder: pass encoder=speech_encoder(profile, data) "
                                "or features= a clip's entry of speech_features()")
            features = encoder.encode(wav, n)
        c = torch.as_tensor(np.asarray(features["c"], np.float32))[:n].to(device)
        nu = torch.as_tensor(np.asarray(features["nu"], np.float32)).to(device)
        mu = torch.as_tensor(np.asarray(features["mu"], np.float32)).to(device)
        frames, _ = net(c[None], nu[None], mu[None], aligned=False)
        return _to_uint8(frames)
    x = torch.from_numpy(wav[: n * SAMPLES_PER_FRAME]).to(device)
    windows = torch.from_numpy(audio_window_array(wav[: n * SAMPLES_PER_FRAME], 0, n)).to(device)[None]
    g = torch.Generator(device=device).manual_seed(seed)
    if model.name == "s2f_sdfa":
        face_vec = model.voice_encoder.eval()(x[None])
        return _to_uint8(net(windows, face_vec=face_vec, generator=g))
    if still is None:
        raise UserError("SDFA animates a still image: pass still= a uint8 (S, S, 3) face (e.g. the clip's first frame)")
    return _to_uint8(net(windows, still=_still_tensor(still, model.frame_size, device), generator=g))


def write_mp4(path, frames: np.ndarray, wav, fps: int = 25, sr: int = 16000) -> None:
    """frames uint8 (T, H, W, 3) + the speech -> MP4 (h264 yuv420p + AAC), written atomically."""
    from .atomic import atomic_path
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise UserError(f"frames must be uint8 (T, H, W, 3), not {frames.dtype} {frames.shape}")
    with atomic_path(path) as tmp:
        encode_mp4(frames, None if wav is None else _as_wav(wav), fps, sr, target=str(tmp))
