"""python -m s2v_lib bench: throughput figures as one JSON object (docs/design.md §9).

Each entry of BENCHES maps a key prefix to "module:function"; the function takes the profile name
and returns {key: number}. Targets are stated beside the measured values, never asserted in tests.
"""
import importlib
import json
import os
import platform
import sys

BENCHES = {
    "twin": "s2v_lib.data.twin.bench:bench_twin",
    "prepare": "s2v_lib.data.pipeline:bench_prepare",
    "distill": "s2v_lib.bench.stage_one:bench_distill",
    "composer": "s2v_lib.bench.composer:bench_composer",
    "eval": "s2v_lib.bench.evaluation:bench_eval",
}


def bench_cli(args) -> int:
    import torch
    out = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                       "torch": torch.__version__, "cuda": torch.cuda.is_available()}}
    only = args.only.split(",") if args.only else None
    for prefix, target in BENCHES.items():
        if only and not any(prefix.startswith(o) for o in only):
            continue
        module, func = target.split(":")
        print(f"bench {prefix} ...", file=sys.stderr, flush=True)
        out.update(getattr(importlib.import_module(module), func)(args.profile))
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0
