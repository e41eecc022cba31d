"""python -m s2v_lib {synth, prepare, reproduce, ablate, generate, doctor, bench}: see README."""
import argparse
import sys

from .errors import UserError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m s2v_lib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write the CREMA-D twin (synthetic dataset in a real layout)")
    s.add_argument("--profile", default="smoke")
    s.add_argument("--out", required=True, help="output dataset root")
    s.add_argument("--layout", default="crema-d", choices=["crema-d", "voxceleb2"])
    s.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--defects", action="store_true", help="also write clips with the real release's defects")

    s = sub.add_parser("prepare", help="decode, crop and cache a dataset for the notebooks")
    s.add_argument("--dataset", default="synthetic", choices=["synthetic", "crema-d", "voxceleb2"])
    s.add_argument("--root", default=None, help="dataset root")
    s.add_argument("--profile", default="smoke")
    s.add_argument("--cache", default=None, help="cache dir (default: $S2V_CACHE or .cache/)")
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--faces", default="auto", choices=["auto", "sidecar", "detect"],
                   help="face boxes: twin sidecars or the dlib detector (auto: sidecars for synthetic only)")
    s.add_argument("--shard", default=None, help="i/n: prepare only the i-th of n parts (merge them with --merge)")
    s.add_argument("--merge", nargs="+", default=None, metavar="DIR", help="combine prepared shards into --out")
    s.add_argument("--out", default=None, help="output dir of --merge")
    s.add_argument("--trim-misaligned", action="store_true",
                   help="shift out-of-sync audio by its measured offset (and keep cut videos) instead of quarantining")
    s.add_argument("--prune", action="store_true",
                   help="afterwards delete this root's older prepared dirs (other keys: fixed files, older code)")

    s = sub.add_parser("reproduce", help="run the notebooks in order with papermill")
    s.add_argument("--profile", default="auto")
    s.add_argument("--only", default=None, help="run only notebook NN (e.g. 03)")
    s.add_argument("--from", dest="from_", default=None, help="start at notebook NN")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--dataset", default="synthetic")
    s.add_argument("--data-root", default="")
    s.add_argument("--device", default="auto", help="cpu, cuda or auto (CUDA when available)")

    s = sub.add_parser("ablate", help="train and score an optional ablation row beside its model's default")
    s.add_argument("--row", required=True, help="its label in composer/ablations.OPTIONAL_ABLATIONS")
    s.add_argument("--profile", default="cpu")
    s.add_argument("--dataset", default="synthetic")
    s.add_argument("--data-root", default="")
    s.add_argument("--device", default="auto", help="cpu, cuda or auto (CUDA when available)")

    s = sub.add_parser("doctor", help="prove the GPU (or CPU) route with named checks; JSON, exit 1 on a failure")
    s.add_argument("--device", default="auto", help="cuda, cpu or auto")
    s.add_argument("--profile", default=None, help="sizes to check at (default: smoke on cpu, gpu on cuda)")
    s.add_argument("--only", default=None, help="comma-separated checks to run")
    s.add_argument("--skip", default=None, help="comma-separated checks to leave out")
    s.add_argument("--out", default=None, help="also write the JSON here (e.g. results/gpu/doctor.json)")

    s = sub.add_parser("generate", help="your own voice through the best trained speech2video in the cache")
    s.add_argument("--wav", required=True, help="a recording: WAV, FLAC or MP3, any sample rate")
    s.add_argument("--out", required=True, help="the video to write (.mp4, with your audio)")
    s.add_argument("--profile", default="auto", help="whose models: gpu, cpu, smoke, or auto (the best trained)")
    s.add_argument("--device", default="auto")

    s = sub.add_parser("bench", help="throughput figures as one JSON object")
    s.add_argument("--profile", default="smoke")
    s.add_argument("--only", default=None, help="comma-separated bench keys prefixes")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "workers", None) is not None:   # 0 or -1 are mistakes, not "all cores" / "one"
            from .data.prepare import resolve_workers
            resolve_workers(args.workers)
        if args.command == "synth":
            from .data.twin.synth import synth_cli
            return synth_cli(args)
        if args.command == "prepare":
            from .data.prepare import prepare_cli
            return prepare_cli(args)
        if args.command == "reproduce":
            from .reproduce import reproduce_cli
            return reproduce_cli(args)
        if args.command == "generate":
            from .own_voice import generate_cli
            return generate_cli(args)
        if args.command == "ablate":
            from .evaluation.ablate import ablate_cli
            return ablate_cli(args)
        if args.command == "doctor":
            from .doctor import doctor_cli
            return doctor_cli(args)
        if args.command == "bench":
            from .bench import bench_cli
            return bench_cli(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
