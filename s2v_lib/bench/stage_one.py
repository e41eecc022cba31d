"""Stage one's throughput: CPC training crops/s and student optimiser steps/s."""
import time

import torch

from ..config import get_profile
from ..models.cpc import CPC, CPCConfig, infonce_loss
from ..models.students import StudentConfig, Students, students_loss
from ..stage_one.cpc_training import at_most_threads
from ..stage_one.students_training import freeze



def bench_distill(profile_name: str) -> dict:
    """CPC training crops/s (and audio seconds/s) and student optimiser steps/s on random inputs of the
    profile's sizes (no data needed)."""
    profile = get_profile(profile_name)
    cfg = CPCConfig.for_scale(profile.scale)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = CPC(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    x = torch.randn(cfg.batch_size, cfg.crop_samples, device=device) * 0.1

    def cpc_step():
        loss, _ = infonce_loss(model, x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def timed(fn, n):
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n

    dt = timed(cpc_step, 5)
    scfg = StudentConfig.for_scale(profile.scale)
    st = Students(cfg.hidden, 128, 128, scfg).to(device)
    head = freeze(torch.nn.Linear(128, 6).to(device))
    sopt = torch.optim.RMSprop(st.parameters(), lr=scfg.lr)
    w, nu_t, mu_t = (torch.randn(scfg.batch_size, d, device=device) for d in (cfg.hidden, 128, 128))

    def student_step():
        nu, mu = st(w)
        loss, _ = students_loss(nu, mu, nu_t, mu_t, head, scfg)
        sopt.zero_grad()
        loss.backward()
        sopt.step()

    with at_most_threads(1 if device == "cpu" else torch.get_num_threads()):   # as train_students runs
        ds = timed(student_step, 50)
    return {"cpc_train_samples_per_s": round(cfg.batch_size / dt, 2),
            "cpc_train_audio_s_per_s": round(cfg.batch_size * cfg.crop_samples / 16000 / dt, 2),
            "cpc_train_step_s": round(dt, 4), "cpc_steps": cfg.steps,
            "student_train_steps_per_s": round(1 / ds, 1)}
