"""python -m s2v_lib doctor [--device cuda|cpu]: prove the GPU route (or the CPU one) with named checks.

Prints one JSON object {check: {"ok": bool, ...figures}} and exits 1 when any check fails. On CPU it
runs at smoke size (CI runs it); on a GPU at the profile's sizes. The checks, in order:
  ssim_torch_vs_skimage  the device SSIM/PSNR against scikit-image (the tables' convention), per frame
  deterministic          two identical training steps give identical weights (deterministic algorithms on)
  autocast_bf16          one step of every task under bf16 autocast: output dtypes, finite losses, gradients
  resume_roundtrip       CPC, students and a composer task: killed and resumed equals uninterrupted
  throughput             step times of each task at the profile's size; the chain's projected training time
  smoke_chain            notebooks 01-06 through papermill on the device (provenance names it; no NaN)
  device_boundary        every stage's evaluation function on the device, inputs from the smoke cache
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CHECKS = ("ssim_torch_vs_skimage", "deterministic", "autocast_bf16", "resume_roundtrip", "throughput",
          "smoke_chain", "device_boundary")


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _toy_bank(size: int, c_dim: int, nu_dim: int, mu_dim: int, n: int = 8, t: int = 40, seed: int = 0):
    from .train.windows import ClipBank
    rng = np.random.default_rng(seed)
    return ClipBank([{"frames": rng.integers(0, 255, (t, size, size, 3), dtype=np.uint8),
                      "audio": rng.standard_normal(t * 640).astype(np.float32) * 0.1,
                      "c": rng.standard_normal((t, c_dim)).astype(np.float32),
                      "nu": rng.standard_normal(nu_dim).astype(np.float32),
                      "mu": rng.standard_normal(mu_dim).astype(np.float32),
                      "face_vec": rng.standard_normal(nu_dim).astype(np.float32)} for _ in range(n)])


class _StandInTeacher(torch.nn.Module):
    """The identity teacher's interface on the in-project architecture, freshly initialised."""

    def __init__(self):
        super().__init__()
        from .models.identity_teacher import IdentityNet, IdentityNetConfig
        self.net = IdentityNet(IdentityNetConfig()).eval()

    def embed(self, x):
        return self.net(x)

    def feature_maps(self, x):
        return self.net(x, return_maps=True)[1]


def _tasks(profile, device, names=("speech2video", "sdfa", "s2f_sdfa")):
    """The composer-stage tasks at the profile's size, with training windows of random clips."""
    from .composer.configs import sdfa_config, speech2video_config
    from .composer.sdfa_task import SDFATask
    from .composer.speech2video_task import Speech2VideoTask
    from .composer.training import teacher_channels
    from .models.cpc import CPCConfig
    c_dim, nu_dim, mu_dim = CPCConfig.for_scale(profile.scale).hidden, 128, 64
    teacher = _StandInTeacher().to(device)
    bank = _toy_bank(profile.frame_size, c_dim, nu_dim, mu_dim)
    s2v = speech2video_config(profile, c_dim, nu_dim, mu_dim, teacher_channels(teacher, profile.frame_size, device),
                              warmup=0)
    build = {"speech2video": lambda: Speech2VideoTask(s2v, teacher),
             "sdfa": lambda: SDFATask(sdfa_config(profile, warmup=0)),
             "s2f_sdfa": lambda: SDFATask(sdfa_config(profile, id_from_vector=nu_dim, warmup=0))}
    return {name: build[name]() for name in names}, bank


def _batch(task, bank, step, device):
    from .train.windows import WindowSampler, to_device
    return to_device(WindowSampler(bank, task.cfg.loop, vector_keys=("nu", "mu", "face_vec")).sample(step), device)


def check_ssim(profile, device) -> dict:
    from . import metrics as M
    from .evaluation.device_quality import psnr_frames_device, ssim_frames_device
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (8, profile.frame_size, profile.frame_size, 3), dtype=np.uint8)
    gen = np.clip(ref.astype(int) + rng.integers(-30, 31, ref.shape), 0, 255).astype(np.uint8)
    d_ssim = float(np.abs(ssim_frames_device(gen, ref, device).numpy() - M.ssim_frames_skimage(gen, ref)).max())
    d_psnr = float(np.abs(psnr_frames_device(gen, ref, device).numpy() - M.psnr_frames(gen, ref)).max())
    return {"ok": d_ssim < 1e-4 and d_psnr < 1e-4, "max_abs_diff_ssim": d_ssim, "max_abs_diff_psnr_db": d_psnr}


def check_deterministic(profile, device) -> dict:
    from .seed import seed_everything
    from .train.loop import StepContext
    out = {"ok": True, "warn_only": torch.is_deterministic_algorithms_warn_only_enabled()}
    for name in ("speech2video", "sdfa"):
        weights = []
        for _ in range(2):
            seed_everything(0)
            tasks, bank = _tasks(profile, device, (name,))
            task = tasks[name]
            for net in task.nets.values():
                net.to(device).train()
            ctx = StepContext(device, torch.device(device).type == "cuda", 0)
            for step in range(2):
                task.train_step(_batch(task, bank, step, device), ctx.at(step))
            weights.append({k: v.detach().cpu().clone() for k, v in task.nets["G"].state_dict().items()})
        same = all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
        out[name] = {"identical_weights": same}
        out["ok"] &= same
    out["ok"] &= torch.are_deterministic_algorithms_enabled() and not out["warn_only"]
    return out


def check_autocast(profile, device) -> dict:
    from .train.loop import StepContext
    tasks, bank = _tasks(profile, device)
    out, ok = {}, True
    for name, task in tasks.items():
        dtypes = {}
        hooks = [m.register_forward_hook(lambda mod, i, o, key=f"{net_name}.{mod_name}":
                                         dtypes.__setitem__(key, str((o[0] if isinstance(o, tuple) else o).dtype)
                                                            if torch.is_tensor(o[0] if isinstance(o, tuple) else o)
                                                            else "-"))
                 for net_name, net in task.nets.items() for mod_name, m in net.named_children()]
        for net in task.nets.values():
            net.to(device).train()
        logs = task.train_step(_batch(task, bank, 0, device), StepContext(device, True, 0).at(0))
        for h in hooks:
            h.remove()
        dead = [f"{n}.{p}" for n, net in task.nets.items() for p, prm in net.named_parameters()
                if prm.requires_grad and (prm.grad is None or not bool(prm.grad.abs().sum() > 0))]
        finite = all(math.isfinite(v) for v in logs.values())
        rnn_fp32 = all(v == "torch.float32" for k, v in dtypes.items() if "gru" in k.lower())
        out[name] = {"losses_finite": finite, "zero_gradient_parameters": dead[:10], "rnn_outputs_fp32": rnn_fp32,
                     "output_dtypes": dtypes}
        ok &= finite and not dead and rnn_fp32
    return {"ok": ok, **out}


def check_resume(profile, device) -> dict:
    """Each training killed after its first checkpoint and resumed ends where an uninterrupted run ends."""
    from .train.checkpoint import Checkpoint
    from .train.resumable import run_resumable
    out = {}

    def roundtrip(name, make):     # make(ckpt_dir, stop_at) -> final state dict
        with tempfile.TemporaryDirectory() as tmp:
            full = make(Path(tmp) / "full", None)
            try:
                make(Path(tmp) / "killed", 2)
            except KeyboardInterrupt:
                pass
            resumed = make(Path(tmp) / "killed", None)
        same = all(torch.equal(full[k], resumed[k]) for k in full)
        out[name] = {"resumed_equals_uninterrupted": same}

    def cpc(ckpt_dir, stop_at):
        from .models.cpc import CPC, CPCConfig, infonce_loss
        torch.manual_seed(0)
        cfg = CPCConfig.for_scale(profile.scale)
        model = CPC(cfg).to(device)
        opt = torch.optim.Adam(model.parameters(), cfg.lr)
        rng, gen = np.random.default_rng(0), torch.Generator(device=device).manual_seed(0)

        def step(i):
            if i == stop_at:
                raise KeyboardInterrupt
            x = torch.from_numpy(rng.standard_normal((4, cfg.crop_samples)).astype(np.float32) * 0.1).to(device)
            loss, _ = infonce_loss(model, x, generator=gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": float(loss.detach())}
        run_resumable(Checkpoint(ckpt_dir, {"cpc": 1}), 4, step, {"m": model, "o": opt},
                      {"crops": rng, "negatives": gen}, save_every=2, progress=False)
        return {k: v.cpu() for k, v in model.state_dict().items()}

    def students(ckpt_dir, stop_at):
        from .models.students import StudentConfig, Students, students_loss
        torch.manual_seed(0)
        cfg = StudentConfig.for_scale(profile.scale)
        model = Students(32, 16, 8, cfg).to(device)
        head = torch.nn.Linear(8, 6).to(device).requires_grad_(False)
        opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr)
        w, nu, mu = (torch.randn(64, d, device=device) for d in (32, 16, 8))

        def step(i):        # dropout draws from the device's global generator: restored by the loop
            if i == stop_at:
                raise KeyboardInterrupt
            loss, _ = students_loss(*model(w), nu, mu, head, cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": float(loss)}
        run_resumable(Checkpoint(ckpt_dir, {"students": 1}), 4, step, {"m": model, "o": opt}, save_every=2,
                      progress=False)
        return {k: v.cpu() for k, v in model.state_dict().items()}

    def composer(ckpt_dir, stop_at):
        import dataclasses

        from .train.loop import train
        from .train.windows import WindowSampler
        torch.manual_seed(0)
        tasks, bank = _tasks(profile, device, ("speech2video",))
        task = tasks["speech2video"]
        loop = dataclasses.replace(task.cfg.loop, steps=4, ckpt_every=2, log_every=1)
        sampler = WindowSampler(bank, loop, vector_keys=("nu", "mu"))
        real = task.train_step

        def step(batch, ctx):
            if ctx.step == stop_at:
                raise KeyboardInterrupt
            return real(batch, ctx)
        task.train_step = step
        train(task, sampler, loop, Checkpoint(ckpt_dir, {"composer": 1}), device=device, progress=False)
        return {k: v.cpu() for k, v in task.nets["G"].state_dict().items()}

    roundtrip("cpc", cpc)
    roundtrip("students", students)
    roundtrip("composer_speech2video", composer)
    return {"ok": all(v["resumed_equals_uninterrupted"] for v in out.values()), **out}


def _timed(fn, n, device) -> float:
    fn()                  # the first call allocates
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / n


def check_throughput(profile, device) -> dict:
    """Measured step times at the profile's size, and the chain's training time projected from them
    (training steps only: data preparation, teachers and evaluation come on top)."""
    from .composer.configs import STEPS, VOICE_STEPS, WARMUP
    from .models.cpc import CPC, CPCConfig, infonce_loss
    from .train.loop import StepContext
    n = 2 if torch.device(device).type == "cpu" else 10
    cfg = CPCConfig.for_scale(profile.scale)
    cpc = CPC(cfg).to(device)
    opt = torch.optim.Adam(cpc.parameters(), cfg.lr)
    x = torch.randn(cfg.batch_size, cfg.crop_samples, device=device) * 0.1

    def cpc_step():
        loss, _ = infonce_loss(cpc, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    step_s = {"cpc": _timed(cpc_step, n, device)}
    tasks, bank = _tasks(profile, device)
    ctx = StepContext(device, torch.device(device).type == "cuda", 0)
    for name, task in tasks.items():
        for net in task.nets.values():
            net.to(device).train()
        batch = _batch(task, bank, 0, device)
        step_s[name] = _timed(lambda: task.train_step(batch, ctx.at(1)), n, device)
    seeds = 1 if profile.scale == "smoke" else 3
    adversarial = STEPS[profile.scale] * (step_s["speech2video"] * seeds + step_s["sdfa"] * seeds + step_s["s2f_sdfa"])
    warmup = WARMUP[profile.scale] * 0.25 * (2 * seeds + 1) * np.mean([step_s[k] for k in tasks])  # ~1/4 of a step
    projected = cfg.steps * step_s["cpc"] + adversarial + warmup + VOICE_STEPS[profile.scale] * 0.1 * step_s["sdfa"]
    budget_s = profile.budget_min * 60
    return {"ok": all(math.isfinite(v) for v in step_s.values()),
            "step_s": {k: round(v, 4) for k, v in step_s.items()}, "composer_seeds": seeds,
            "projected_training_min": round(projected / 60, 1), "profile_budget_min": profile.budget_min,
            "projection_fits_budget": bool(projected <= budget_s),
            "note": "training steps only (CPC, composer and baselines with their warm-up); data, teachers and "
                    "evaluation add to it; warm-up and voice-encoder steps estimated as 1/4 and 1/10 of a step"}


def check_smoke_chain(profile, device) -> dict:
    from .paths import results_dir
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "s2v_lib", "reproduce", "--profile", "smoke", "--device", device],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {"ok": False, "error": (r.stderr or r.stdout).strip().splitlines()[-1:]}
    res = results_dir("smoke")
    prov = json.loads((res / "provenance.json").read_text())
    nan_in = [p.name for p in res.glob("*.json") if "NaN" in p.read_text() or "Infinity" in p.read_text()]
    on_device = prov["parameters"]["DEVICE"] == device
    return {"ok": on_device and not nan_in and prov["complete"], "seconds": round(time.perf_counter() - t0, 1),
            "provenance_device": prov["parameters"]["DEVICE"], "json_with_nan": nan_in}


def check_device_boundary(profile, device) -> dict:
    """The evaluation functions that take cached (CPU) inputs, with the models on `device`."""
    from . import artifacts
    from .evaluation.context import build_context
    from .evaluation.per_clip import evaluate_method
    from .stage_one.evaluation import actor_centroids, clip_table, score_students, teacher_scores
    from .teachers.evaluation import evaluate_emotion, evaluate_identity
    smoke = "smoke"
    data = artifacts.prepared(smoke)
    id_t, emo_t = artifacts.teachers(smoke, device)
    stage = artifacts.stage_one(smoke, data, device)
    out = {"teachers": {"identity_top1": evaluate_identity(id_t, data)["top1"],
                        "emotion_acc": evaluate_emotion(emo_t, data)["accuracy"]}}
    inp = stage["inputs"]
    table = clip_table(data, inp["clip_id"])
    cents = actor_centroids(inp["nu_teacher"], table, ["train"])
    nu = torch.stack([stage["clips"][c]["nu"] for c in inp["clip_id"]])
    mu = torch.stack([stage["clips"][c]["mu"] for c in inp["clip_id"]])
    scored = score_students(nu, mu, table, cents, emo_t.head, list(emo_t.classes))
    ceil = teacher_scores(table, inp["nu_teacher"], inp["mu_teacher"], cents, emo_t.head, list(emo_t.classes))
    out["stage_one"] = {"n_scored": int(len(scored)), "emotion_teacher_acc": ceil["emotion_teacher_acc"]["mean"]}
    ctx = build_context(smoke, data, device, id_teacher=id_t, emo_teacher=emo_t, progress=False)
    ids = list(data.clips("test")["clip_id"])[:2]
    per_clip = evaluate_method("ground_truth", lambda cid: data.load(cid)[0], ctx, ids, progress=False)
    out["evaluation"] = {"n_clips": int(len(per_clip)), "ground_truth_confidence": float(per_clip["confidence"].mean()),
                         "ground_truth_identity_top1": float(per_clip["identity_top1"].mean())}
    return {"ok": bool(np.isfinite(per_clip["confidence"]).all()), "device": device, **out}


def run_doctor(device: str, profile_name: str | None = None, only=None, skip=()) -> dict:
    from .config import get_profile
    from .device import resolve_device
    from .seed import seed_everything
    device = resolve_device(device)
    profile = get_profile(profile_name or ("smoke" if device == "cpu" else "gpu"))
    seed_everything(0)
    fns = {"ssim_torch_vs_skimage": check_ssim, "deterministic": check_deterministic, "autocast_bf16": check_autocast,
           "resume_roundtrip": check_resume, "throughput": check_throughput, "smoke_chain": check_smoke_chain,
           "device_boundary": check_device_boundary}
    report = {"device": device, "profile": profile.name, "torch": torch.__version__}
    for name in CHECKS:
        if (only and name not in only) or name in skip:
            continue
        t0 = time.perf_counter()
        try:
            result = fns[name](profile, device)
        except Exception as e:        # a failed check is a result, not a crash: the others still run
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        result["seconds"] = round(time.perf_counter() - t0, 1)
        report[name] = result
        print(f"doctor: {name}: {'ok' if result['ok'] else 'FAILED'} ({result['seconds']} s)", file=sys.stderr)
    report["ok"] = all(v["ok"] for k, v in report.items() if isinstance(v, dict))
    return report


def doctor_cli(args) -> int:
    from .errors import UserError
    only = set(args.only.split(",")) if args.only else None
    skip = set(args.skip.split(",")) if args.skip else set()
    unknown = sorted(((only or set()) | skip) - set(CHECKS))
    if unknown:
        raise UserError(f"--only/--skip: unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    report = run_doctor(args.device, args.profile, only, skip)
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.out:
        from .atomic import write_text
        write_text(args.out, text + "\n")
    return 0 if report["ok"] else 1


os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")    # before any CUDA work in this process
