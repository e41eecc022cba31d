"""Where things live. The repo root holds notebooks/, results/, figures/; caches go to S2V_CACHE."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    """Generated data, prepared arrays and checkpoints (never committed). Override with S2V_CACHE."""
    return Path(os.environ.get("S2V_CACHE", REPO_ROOT / ".cache")).resolve()


def results_dir(profile: str) -> Path:
    return REPO_ROOT / "results" / profile


def figures_dir(profile: str) -> Path:
    return REPO_ROOT / "figures" / profile


def checkpoint_dir(profile: str) -> Path:
    return cache_root() / "checkpoints" / profile


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def ensure_dir(path, what="output directory") -> Path:
    """mkdir -p with a clear error when the place is not writable."""
    from .errors import UserError
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"{what} {path} is not writable ({e.strerror}); choose another path or fix its permissions") from None
    return path
