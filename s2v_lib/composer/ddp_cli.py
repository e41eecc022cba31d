"""Train one composer-stage model on one process or under torchrun with DistributedDataParallel."""
import torch

from ..device import resolve_device
from ..errors import UserError
from .configs import FEATURE_SOURCES, MODELS
from .training import train_model


def main(argv=None) -> int:
    """Train one model, on one process or under torchrun with DistributedDataParallel:

        python -m s2v_lib.composer.ddp_cli --model speech2video --profile gpu
        torchrun --nproc_per_node 4 -m s2v_lib.composer.ddp_cli --model speech2video --profile gpu

    The global batch (LoopConfig.batch_clips) is split across the ranks, so N processes follow the
    single-process run; rank 0 writes the checkpoint, the loss log and the grid. Stage 1 (notebook 03)
    must have run first: every rank reads its cached speech features."""
    import argparse
    import os

    import torch.distributed as dist
    p = argparse.ArgumentParser(prog="python -m s2v_lib.composer.ddp_cli", description=main.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--profile", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--data-root", default="")
    p.add_argument("--feature-source", default="student", choices=FEATURE_SOURCES)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--force-retrain", action="store_true")
    args = p.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device("auto")
    if world > 1:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
    rank = dist.get_rank() if world > 1 else 0
    try:
        model = train_model(args.model, args.profile, device=device, seed=args.seed, dataset=args.dataset,
                            data_root=args.data_root, feature_source=args.feature_source, steps=args.steps,
                            force_retrain=args.force_retrain, progress=rank == 0)
        if rank == 0:
            print(f"{model.extra['run']}: {len(model.history)} log rows, checkpoint {model.extra['checkpoint']}")
    except UserError as e:
        print(f"error: {e}")
        return 2
    finally:
        if world > 1:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
