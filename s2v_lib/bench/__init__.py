"""python -m s2v_lib bench: throughput figures as one JSON object (docs/design.md §9).

Each entry of BENCHES maps a key prefix to "module:function"; the function takes the profile name
and returns {key: number}. Targets are stated beside the measured values, never asserted in tests.
"""
import importlib
import json
import os
import platform
import sys

from ..errors import UserError

BENCHES = {
    "twin": "s2v_lib.bench.data:bench_twin",
    "prepare": "s2v_lib.bench.data:bench_prepare",
    "distill": "s2v_lib.bench.stage_one:bench_distill",
    "composer": "s2v_lib.bench.composer:bench_composer",
    "eval": "s2v_lib.bench.evaluation:bench_eval",
}


def bench_cli(args) -> int:
    only = [o.strip() for o in args.only.split(",") if o.strip()] if args.only else None
    unknown = [o for o in only or [] if not any(prefix.startswith(o) for prefix in BENCHES)]
    if unknown or only == []:
        raise UserError(f"--only {args.only!r}: no bench named {', '.join(unknown) or 'at all'}; "
                        f"choose from {', '.join(BENCHES)} (comma-separated)")
    import torch
    out = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                       "torch": torch.__version__, "cuda": torch.cuda.is_available()}}
    for prefix, target in BENCHES.items():
        if only and not any(prefix.startswith(o) for o in only):
            continue
        module, func = target.split(":")
        print(f"bench {prefix} ...", file=sys.stderr, flush=True)
        out.update(getattr(importlib.import_module(module), func)(args.profile))
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0
