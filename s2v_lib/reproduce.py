"""The runner: execute notebooks/0*.ipynb in order with papermill, then write provenance.

    python -m s2v_lib reproduce --profile cpu [--only 03] [--from 02]

Executed notebooks go to results/<profile>/notebooks/ with heavy media stripped, each with a log
beside it (NN_name.log: cell progress, the training loops' progress bars, prints; s2v_lib/headless.py);
the run stops at the first failing notebook and names the notebook, the cell and the error.
"""
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .atomic import write_json
from .config import resolve_profile_name
from .device import resolve_device
from .errors import UserError
from .paths import REPO_ROOT, ensure_dir, notebooks_dir, results_dir

PACKAGES = ("torch", "torchvision", "torchaudio", "numpy", "scipy", "pandas", "scikit-image", "scikit-learn",
            "av", "soundfile", "espeakng-loader", "papermill", "nbval", "seaborn", "matplotlib", "ipywidgets")
MAX_OUTPUT_BYTES = 150_000   # larger outputs (inline videos) are dropped from committed notebooks
# studies outside the default chain (hours at the cpu profile): run only when named, `--only 08`
OPTIONAL_NOTEBOOKS = ("08",)


def notebook_key(name: str, flag: str = "notebook") -> str:
    """'04b_davs.ipynb' -> '04b', '3' -> '03': what --only / --from name (a number, maybe with a letter)."""
    head = str(name).strip().split("_")[0].lower()
    digits = len(head) - len(head.lstrip("0123456789"))
    letters = head[digits:]
    if digits == 0 or (letters and not letters.isalpha()):
        raise UserError(f"{flag} {name!r} is not a notebook number; give its number, e.g. {flag} 03 or {flag} 04b")
    return f"{int(head[:digits]):02d}{letters}"


def list_notebooks(only=None, start=None, folder=None) -> list[Path]:
    """notebooks/0*.ipynb in order (04_composer < 04b_davs < 05_evaluation), without OPTIONAL_NOTEBOOKS
    unless --only names one; every bad --only/--from is refused before anything runs."""
    folder = Path(folder or notebooks_dir())
    nbs = sorted(folder.glob("0*.ipynb"))
    if only is not None and start is not None:
        raise UserError("--only and --from together: give one (--only NN runs one notebook, --from NN runs NN and after)")
    if only is None:
        nbs = [p for p in nbs if notebook_key(p.name) not in OPTIONAL_NOTEBOOKS]
    if only is not None:
        key = notebook_key(only, "--only")
        nbs = [p for p in nbs if notebook_key(p.name) == key]
        if not nbs:
            raise UserError(f"no notebook {only} in {folder}; the notebooks are named 01_data.ipynb ...")
    if start is not None:
        key = notebook_key(start, "--from")
        last = notebook_key(nbs[-1].name) if nbs else "00"
        nbs = [p for p in nbs if notebook_key(p.name) >= key]
        if not nbs:
            raise UserError(f"--from {start} is past the last notebook ({last}) in {folder}; "
                            "give a number from the list, e.g. --from 01"
                            + (f" (notebook {key} is not part of the chain: run it with --only {key})"
                               if key in OPTIONAL_NOTEBOOKS else ""))
    return nbs


def check_data_args(profile: str, dataset: str, data_root: str) -> None:
    """Refuse a bad --dataset/--data-root before a kernel starts (what the notebooks would fail on later)."""
    from .data.prepare import resolve_root
    from .data.readers import make_reader
    if dataset not in ("synthetic", "crema-d", "voxceleb2"):
        raise UserError(f"--dataset {dataset!r} is unknown; choose synthetic, crema-d or voxceleb2")
    if not str(data_root):
        if dataset != "synthetic":
            raise UserError(f"--dataset {dataset} needs --data-root DIR, the folder holding the dataset")
        return
    root = resolve_root(data_root, "--data-root")
    if (root / "prepare.json").exists():   # an already prepared dataset (e.g. merged shards)
        return
    from .config import get_profile
    try:
        make_reader(dataset, root, get_profile(profile))   # checks the layout, names the missing folder
    except UserError as e:
        raise UserError(str(e).replace("--root", "--data-root")) from None


def strip_heavy_outputs(path: Path) -> int:
    """Replace oversized outputs (inline MP4/audio) with a one-line note; returns how many."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime, value in list(data.items()):
                size = len(value) if isinstance(value, str) else len(json.dumps(value))
                if size > MAX_OUTPUT_BYTES:
                    del data[mime]
                    data["text/plain"] = f"[{mime} output of {size // 1000} kB removed from the committed copy; rerun to see it]"
                    n += 1
    nbformat.write(nb, path)
    return n


def git_commit() -> dict:
    def run(*cmd):
        try:
            return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    # the run's own outputs (results/, figures/) are tracked too; a rerun rewrites them, which is not a code change
    changed = run("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!figures")
    return {"commit": run("git", "rev-parse", "HEAD"), "dirty": bool(changed)}


def device_info() -> dict:
    import torch
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cores": __import__("os").cpu_count(), "torch_threads": torch.get_num_threads(),
            # the instruction set oneDNN picks its kernels for: what decides bit-identity across CPUs
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def run_notebooks(profile: str, notebooks, parameters: dict, out_dir: Path, log=print, on_done=None,
                  terminal=None) -> dict:
    """Execute notebooks in order; raises UserError at the first failure with notebook, cell, error.
    on_done(durations so far) is called after each notebook (the CLI records provenance there, so a
    chain that stops later still has the durations of what finished). Each notebook's log is relayed
    to `terminal` (default sys.stderr) as it grows."""
    import papermill as pm

    from .headless import execute
    durations = {}
    for nb in notebooks:
        out = out_dir / nb.name
        log(f"[{profile}] {nb.name} ... (log: {out.with_suffix('.log')})")
        t0 = time.perf_counter()
        try:
            execute(nb, out, parameters, label=f"{profile} {nb.stem}", log_path=out.with_suffix(".log"),
                    cwd=nb.parent, terminal=terminal)
        except pm.PapermillExecutionError as e:
            first_line = next((ln for ln in e.source.splitlines() if ln.strip()), "")[:80]
            raise UserError(f"notebook {nb.name} failed in cell [{e.exec_count}] `{first_line}` "
                            f"({e.ename}: {e.evalue}); the executed copy with the traceback is {out}") from None
        durations[nb.stem] = round(time.perf_counter() - t0, 1)
        strip_heavy_outputs(out)
        log(f"[{profile}] {nb.name} done in {durations[nb.stem]:.1f} s")
        if on_done is not None:
            on_done(dict(durations))
    return durations


def reproduce_cli(args) -> int:
    profile = resolve_profile_name(args.profile)
    notebooks = list_notebooks(args.only, args.from_)
    if not notebooks:
        raise UserError(f"no notebooks 0*.ipynb in {notebooks_dir()}; run from a complete checkout")
    check_data_args(profile, args.dataset, args.data_root)
    out_dir = ensure_dir(results_dir(profile) / "notebooks", "results directory")
    parameters = {"PROFILE": profile, "SEED": args.seed, "DATASET": args.dataset, "DATA_ROOT": args.data_root,
                  "DEVICE": resolve_device(getattr(args, "device", "auto")), "FORCE_RETRAIN": False, "INTERACTIVE": False}
    prov_path = results_dir(profile) / "provenance.json"
    previous = json.loads(prov_path.read_text()).get("durations_s", {}) if prov_path.exists() else {}
    t0 = time.perf_counter()

    def record(durations: dict):
        merged = {**previous, **durations}
        write_json(prov_path, {
            "profile": profile, "parameters": parameters, "git": git_commit(), "packages": package_versions(),
            "device": device_info(), "durations_s": merged, "this_run_s": round(time.perf_counter() - t0, 1),
            "chain_total_s": round(sum(merged.values()), 1), "notebooks_run": list(durations),
            "notebooks_asked": [p.stem for p in notebooks], "complete": len(durations) == len(notebooks),
            "command": " ".join(["python -m s2v_lib reproduce"] + sys.argv[2:]),
        })

    run_notebooks(profile, notebooks, parameters, out_dir, on_done=record)
    print(f"results in {results_dir(profile)}")
    return 0
