"""The runner: execute notebooks/0*.ipynb in order with papermill, then write provenance.

    python -m s2v_lib reproduce --profile cpu [--only 03] [--from 02]

Executed notebooks go to results/<profile>/notebooks/ with heavy media stripped; the run stops at
the first failing notebook and names the notebook, the cell and the error.
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


def list_notebooks(only=None, start=None, folder=None) -> list[Path]:
    nbs = sorted(Path(folder or notebooks_dir()).glob("0*.ipynb"))
    if only is not None:
        nbs = [p for p in nbs if p.name.startswith(f"{int(only):02d}")]
        if not nbs:
            raise UserError(f"no notebook {only} in {folder or notebooks_dir()}; the notebooks are named 01_data.ipynb ...")
    if start is not None:
        nbs = [p for p in nbs if int(p.name[:2]) >= int(start)]
    return nbs


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
            "cuda": torch.cuda.is_available()}
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


def run_notebooks(profile: str, notebooks, parameters: dict, out_dir: Path, log=print, on_done=None) -> dict:
    """Execute notebooks in order; raises UserError at the first failure with notebook, cell, error.
    on_done(durations so far) is called after each notebook (the CLI records provenance there, so a
    chain that stops later still has the durations of what finished)."""
    import papermill as pm
    durations = {}
    for nb in notebooks:
        out = out_dir / nb.name
        log(f"[{profile}] {nb.name} ...")
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(out), parameters=parameters, kernel_name="python3",
                                cwd=str(nb.parent), progress_bar=False, log_output=False)
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
        print("no notebooks to run")
        return 0
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
