"""The measurement behind the default decoder: parallel vs the paper's autoregressive decoder at a
profile's budgets, on the lips-only condition (no speaker module or teacher needed, so it runs on a
prepared dataset alone). Free-running validation MSE and test STOI / ESTOI (Griffin-Lim), with 95%
intervals resampling actors, and the paired STOI difference.

    S2V_CACHE=... python -m s2v_lib.lip2speech.decoder_study --profile cpu --prepared PREPARED_DIR \
        [--runs parallel:200,autoregressive:40,autoregressive:200] [--out decoders.json]
"""
import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

from ..config import get_profile
from ..data.dataset import PreparedData
from ..errors import UserError
from . import metrics as SM
from .config import Lip2SpeechConfig
from .data import load_split, mel_stats, one_thread
from .evaluate import actor_bootstrap, paired_actor_bootstrap, pick_clips
from .train import predict_mel, train_condition
from .vocoder import GriffinLimVocoder


def run(profile, data, runs, n_clips: int = 24, seed: int = 0) -> dict:
    cfg0 = Lip2SpeechConfig.for_profile(profile, seed)
    arr = {s: load_split(data, s, cfg0.mel, cfg0.model.mouth_hw) for s in ("train", "val", "test")}
    stats = mel_stats(arr["train"])
    ids = pick_clips(data, "test", n_clips, seed)
    actor = data.manifest.set_index("clip_id")["actor"].astype(int)
    vocoder = GriffinLimVocoder(cfg0.mel, cfg0.griffin_lim_iters)
    out, rows = {}, []
    for decoder, steps in runs:
        cfg = Lip2SpeechConfig.for_profile(profile, seed, decoder=decoder)
        t = time.process_time()
        tr = train_condition(profile, "lips", cfg, arr["train"], arr["val"], stats, None, None,
                             f"decoder-study:{data.root}", steps=steps)
        cpu_s = time.process_time() - t
        name = f"{decoder}_{steps}"
        for c in ids:
            wav = vocoder(predict_mel(tr.model, arr["test"], c, None, stats))
            ref = arr["test"].wav[c]
            rows.append({"method": name, "clip_id": c, "actor": int(actor[c]), "stoi": SM.stoi(ref, wav),
                         "estoi": SM.stoi(ref, wav, extended=True)})
        g = pd.DataFrame([r for r in rows if r["method"] == name])
        out[name] = {"decoder": decoder, "steps": steps, "train_cpu_s": cpu_s,
                     "last_train_mse": float(tr.history["mse"].iloc[-1]), "val_mse_free_running": tr.val_mse,
                     "stoi": actor_bootstrap(g["stoi"], g["actor"]), "estoi": actor_bootstrap(g["estoi"], g["actor"])}
        print(name, json.dumps(out[name]), flush=True)
    df = pd.DataFrame(rows)
    names = list(out)
    out["paired_stoi"] = {f"{a}_minus_{b}": paired_actor_bootstrap(df, a, b, "stoi")
                          for i, a in enumerate(names) for b in names[i + 1:]}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--prepared", required=True, help="a prepared dataset folder (holds prepare.json)")
    ap.add_argument("--runs", default="parallel:200,autoregressive:40,autoregressive:200")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    try:
        runs = [(r.split(":")[0], int(r.split(":")[1])) for r in a.runs.split(",")]
    except (IndexError, ValueError):
        raise UserError(f"--runs {a.runs!r}: give decoder:steps pairs, e.g. parallel:200,autoregressive:40")
    if any(d not in ("parallel", "autoregressive") for d, _ in runs):
        raise UserError(f"--runs {a.runs!r}: decoders are 'parallel' and 'autoregressive'")
    torch.manual_seed(0)
    np.random.seed(0)
    with one_thread("cpu"):
        out = run(get_profile(a.profile), PreparedData(a.prepared), runs, a.clips)
    text = json.dumps(out, indent=1)
    if a.out:
        from pathlib import Path

        from ..atomic import write_text
        write_text(Path(a.out), text)
    print(text)


if __name__ == "__main__":
    import sys
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
