"""Lip2Speech configuration: one dataclass per part, sized by the profile's scale.

Our readings of what the paper leaves open are written here (and in notebook 07):
- mel: 80 bins, 16 kHz, hop 160 (10 ms) so that one 25 fps video frame is exactly 4 mel frames;
  window 640 (40 ms), n_fft 1024, 55-7600 Hz, natural-log magnitude clamped at 1e-5, standardised
  per bin with training-split statistics.
- autoregressive decoder: reduction factor r = 4 mel frames per decoder step (one video frame), so
  the 4-layer LSTM runs T steps rather than 4T (the paper states no r; Tacotron uses 2-5).
- decoder="parallel" (our default, a named departure): the BiLSTM outputs upsampled x4 and decoded
  by two 1-D conv layers + an LSTM, no attention, no stop token (the output length is known: 4T).
  Measured on the cpu twin (lips only, 24 test clips; notebook 07 "Which decoder", decoder_study.py):
  parallel at 200 steps: free-running val MSE 0.52, STOI 0.46; autoregressive at its 40: 1.65, 0.39.
"""
from dataclasses import dataclass, field

CONDITIONS = ("lips", "face", "voice")      # lips only; + face speaker embedding (paper); + GE2E of real voice (oracle)
CONDITION_NAMES = {"lips": "lips only", "face": "lips + face embedding (paper)",
                   "voice": "lips + voice embedding (oracle)"}


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 1024
    win_length: int = 640
    hop: int = 160
    f_min: float = 55.0
    f_max: float = 7600.0
    log_floor: float = 1e-5

    @property
    def per_video_frame(self) -> int:
        return 640 // self.hop          # 16000 / 25 = 640 samples per video frame


@dataclass(frozen=True)
class ModelConfig:
    mouth_hw: tuple = (24, 48)          # the lower half of the face crop, resized to this (H, W)
    conv3d_ch: int = 24                 # the 3-D block's output = ShuffleNet V2's stage-2 input
    stages_repeats: tuple = (1, 1, 1)   # torchvision ShuffleNetV2 arguments (x0.5 is (4, 8, 4), (24, 48, 96, 192, 1024))
    stages_out: tuple = (24, 32, 64, 128, 128)
    spk_dim: int = 256                  # GE2E space
    enc_hidden: int = 64                # per direction of the 2-layer BiLSTM
    decoder: str = "parallel"           # "parallel" (default, departure) | "autoregressive" (the paper)
    dec_hidden: int = 128
    dec_layers: int = 4                 # autoregressive decoder: 4-layer LSTM (paper)
    prenet: int = 64
    prenet_dropout: float = 0.5
    attn_dim: int = 64
    n_mels: int = 80
    reduction: int = 4                  # mel frames per autoregressive step (= one video frame)
    use_speaker: bool = True


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 60
    batch: int = 8
    window: int = 24                    # video frames per training crop (x4 mel frames)
    lr: float = 1e-3                    # Adam, 0.001 (paper)
    stop_weight: float = 1.0
    teacher_forcing_end: float = 1.0    # AR only: teacher forcing ratio annealed from 1 to this
    hflip: bool = True                  # paper: random horizontal flips of the lip sequence
    log_every: int = 5
    save_every: int = 20
    seed: int = 0


@dataclass(frozen=True)
class SpeakerConfig:
    frozen_stages: int = 2              # identity teacher stages kept frozen (paper: first 3 of 5 blocks)
    steps: int = 60
    batch: int = 16                     # one clip per actor per batch: no same-speaker false negatives
    lr: float = 1e-3
    temperature: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class RecogniserConfig:
    hidden: int = 64
    n_strided: int = 3                  # stride-2 convs: 100 mel frames/s -> 12.5 CTC frames/s (recogniser.py says why)
    steps: int = 150
    batch: int = 16
    lr: float = 1e-2
    seed: int = 0


@dataclass(frozen=True)
class FaceDecoderConfig:
    size: int = 64
    ch: int = 32
    steps: int = 60
    batch: int = 32
    lr: float = 1e-3
    seed: int = 0


@dataclass(frozen=True)
class Lip2SpeechConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)
    recogniser: RecogniserConfig = field(default_factory=RecogniserConfig)
    face_decoder: FaceDecoderConfig = field(default_factory=FaceDecoderConfig)
    ar_steps: int = 20                  # the autoregressive decoder's measured run (paper condition only)
    n_eval_clips: int | None = 12       # per split (test, unseen); None: all
    griffin_lim_iters: int = 32         # vocoding only (not part of any training key)
    seed: int = 0

    @classmethod
    def for_profile(cls, profile, seed: int = 0, decoder: str = "parallel") -> "Lip2SpeechConfig":
        s = profile.scale
        half = (profile.frame_size // 2, profile.frame_size)
        if s == "smoke":
            model = ModelConfig(mouth_hw=half, decoder=decoder)
            train, spk, rec, fd, ar, n = (TrainConfig(steps=16, batch=4, window=12, log_every=2, save_every=8, seed=seed),
                                          SpeakerConfig(steps=20, seed=seed), RecogniserConfig(steps=80, seed=seed),
                                          FaceDecoderConfig(steps=20, seed=seed), 4, 4)
        elif s == "cpu":
            # Sized so that notebook 07 takes ~7 min on 2 cores (one torch thread; the stage runs on one). CPU
            # seconds measured per unit at these sizes (process time, cpu twin: 1360 train / 291 val / 291 test /
            # 240 unseen clips): parallel step 0.17, AR step 0.26, recogniser step 0.057, speaker step 0.04,
            # face-decoder step 0.13, GE2E 0.029 / clip, Griffin-Lim (32 it.) 0.13 / clip, STOI+ESTOI+PESQ
            # 0.13 / clip, clip arrays 0.007 / clip. Sum: arrays + GE2E of 2182 clips 77 s, speaker module 20 s,
            # 3 x 200 parallel + 40 AR steps 115 s, recogniser 17 s, scoring 2 x 24 clips x 6 methods 80 s, face
            # decoder 29 s, cycle ~45 s (notebook 06's ~0.13 s / generated clip), notebook ~15 s: ~400 s.
            model = ModelConfig(mouth_hw=half, stages_out=(24, 48, 96, 128, 128), enc_hidden=96, dec_hidden=128,
                                decoder=decoder)
            train, spk, rec, fd, ar, n = (TrainConfig(steps=200, batch=8, window=16, save_every=25, seed=seed),
                                          SpeakerConfig(steps=200, seed=seed), RecogniserConfig(steps=300, seed=seed),
                                          FaceDecoderConfig(steps=200, seed=seed), 40, 24)
        else:   # gpu / paper: torchvision's ShuffleNet V2 x1.0 trunk
            model = ModelConfig(mouth_hw=half, stages_repeats=(4, 8, 4), stages_out=(24, 116, 232, 464, 1024),
                                enc_hidden=256, dec_hidden=512, prenet=256, attn_dim=128, decoder=decoder)
            steps = 3000 if s == "gpu" else 30000
            train, spk, rec, fd, ar, n = (TrainConfig(steps=steps, batch=32, window=40, save_every=200, seed=seed),
                                          SpeakerConfig(steps=1000, batch=32, seed=seed),
                                          RecogniserConfig(steps=1500, hidden=128, seed=seed),
                                          FaceDecoderConfig(steps=1000, ch=64, seed=seed), steps // 2, None)
        return cls(model=model, train=train, speaker=spk, recogniser=rec, face_decoder=fd, ar_steps=ar,
                   n_eval_clips=n, griffin_lim_iters=16 if s == "smoke" else 32, seed=seed)
