"""Stage two's throughput: training frames/s of each model, inference real-time factors."""
import time

import numpy as np
import pandas as pd
import torch

from ..composer.configs import sdfa_config, speech2video_config
from ..composer.sdfa_task import SDFATask
from ..composer.speech2video_task import Speech2VideoTask
from ..composer.training import TrainedModel, teacher_channels
from ..config import get_profile
from ..device import resolve_device
from ..train.loop import StepContext
from ..train.windows import ClipBank, WindowSampler, to_device


def bench_composer(profile_name: str) -> dict:
    """train_fps_<model>: training frames per second of each model at the profile's size and batch;
    infer_rtf_speech2video / infer_rtf_sdfa: seconds of video generated per wall second from a 4 s
    utterance (speech2video including CPC + students), measured in the same run. Weights are freshly
    initialised (speed does not depend on them), so this needs no trained stage."""
    from ..generate import SpeechEncoder, generate
    from ..models.cpc import CPC, CPCConfig
    from ..models.identity_teacher import IdentityNet, IdentityNetConfig
    from ..models.students import StudentConfig, Students

    profile = get_profile(profile_name)
    device = resolve_device("auto")
    size, rng = profile.frame_size, np.random.default_rng(0)
    cpc_cfg = CPCConfig.for_scale(profile.scale)
    c_dim, nu_dim, mu_dim = cpc_cfg.hidden, 128, 64
    torch.manual_seed(0)
    teacher_net = IdentityNet(IdentityNetConfig()).to(device).eval()

    class Teacher:   # the identity teacher's interface on the VGG-style architecture notebook 02 trains
        embed = staticmethod(lambda x: teacher_net(x))
        feature_maps = staticmethod(lambda x: teacher_net(x, return_maps=True)[1])

    clips = [{"frames": rng.integers(0, 255, (50, size, size, 3), dtype=np.uint8),
              "audio": rng.standard_normal(50 * 640).astype(np.float32) * 0.1,
              "c": rng.standard_normal((50, c_dim)).astype(np.float32),
              "nu": rng.standard_normal(nu_dim).astype(np.float32), "mu": rng.standard_normal(mu_dim).astype(np.float32),
              "face_vec": rng.standard_normal(nu_dim).astype(np.float32)} for _ in range(8)]
    bank = ClipBank(clips)
    # warmup=0: time the adversarial steps (a reconstruction warm-up step costs far less)
    tasks = {"speech2video": Speech2VideoTask(speech2video_config(profile, c_dim, nu_dim, mu_dim,
                                                                  teacher_channels(Teacher, size, device), warmup=0),
                                              Teacher),
             "sdfa": SDFATask(sdfa_config(profile, warmup=0)),
             "s2f_sdfa": SDFATask(sdfa_config(profile, id_from_vector=nu_dim, warmup=0))}
    out = {}
    for name, task in tasks.items():
        for net in task.nets.values():
            net.to(device).train()
        sampler = WindowSampler(bank, task.cfg.loop, vector_keys=("nu", "mu", "face_vec"))
        ctx = StepContext(device, device == "cuda", 0)
        task.train_step(to_device(sampler.sample(0), device), ctx.at(0))          # first step: allocations
        n_steps = 3 if device == "cpu" else 10
        t0 = time.perf_counter()
        for s in range(1, n_steps + 1):
            task.train_step(to_device(sampler.sample(s), device), ctx.at(s))
        if device == "cuda":
            torch.cuda.synchronize()
        out[f"train_fps_{name}"] = n_steps * task.cfg.loop.batch_clips * task.cfg.loop.window / (time.perf_counter() - t0)

    wav = rng.standard_normal(4 * 16000).astype(np.float32) * 0.1
    encoder = SpeechEncoder(CPC(cpc_cfg).to(device).eval(),
                            Students(c_dim, nu_dim, mu_dim, StudentConfig()).to(device).eval())
    models = {"speech2video": TrainedModel("speech2video", profile.name, tasks["speech2video"].cfg,
                                           tasks["speech2video"].nets["G"].eval(), pd.DataFrame()),
              "sdfa": TrainedModel("sdfa", profile.name, tasks["sdfa"].cfg, tasks["sdfa"].nets["G"].eval(), pd.DataFrame())}
    still = clips[0]["frames"][0]
    for name, model in models.items():
        run = (lambda: generate(model, wav, encoder=encoder)) if name == "speech2video" else \
              (lambda: generate(model, wav, still=still))
        run()
        t0, reps = time.perf_counter(), 5
        for _ in range(reps):
            run()
        out[f"infer_rtf_{name}"] = reps * 4.0 / (time.perf_counter() - t0)
    out["composer_bench_threads"] = torch.get_num_threads()
    return out
