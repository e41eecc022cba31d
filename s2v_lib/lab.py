"""JupyterLab for the study (`make lab` runs `python -m s2v_lib.lab`).

The study's notebooks (notebooks/0*.ipynb) are committed without outputs. JupyterLab, left alone,
saves every output into them (inline videos: hundreds of kB) and, with them, views of widgets whose
models live only in the running kernel: after a page reload those views cannot find their model and
show "Error displaying widget: model not found" (closed tqdm bars, the clip browser, the demo).
So the server strips the study's notebooks as it saves them, exactly as the git filter
(nbstripout, set up by `make setup`) would: outputs, execution counts, widget state, language_info.
On disk a notebook then only changes when its code or text does, and `git status` stays clean.
Executed copies with their outputs are what `make reproduce` writes to results/<profile>/notebooks/.

    python -m s2v_lib.lab [more jupyter lab arguments]
"""
import os
import sys
from pathlib import Path

from .paths import REPO_ROOT

STUDY_NOTEBOOKS = REPO_ROOT / "notebooks"
# what nbstripout drops by default, plus the Makefile's NBSTRIP extra keys (tests check they agree)
NOTEBOOK_KEYS = ("signature", "widgets", "language_info", "papermill")
CELL_KEYS = ("collapsed", "ExecuteTime", "execution", "heading_collapsed", "hidden", "scrolled", "papermill")


def is_study_notebook(os_path) -> bool:
    p = Path(os_path).resolve()
    return p.parent == STUDY_NOTEBOOKS and p.name[:1] == "0" and p.suffix == ".ipynb"


def strip_notebook(nb: dict) -> dict:
    """In place: the committed form of a notebook (no outputs, no counts, no per-run metadata)."""
    for key in NOTEBOOK_KEYS:
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        for key in CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def strip_study_notebook(model, path, contents_manager, **kwargs):
    """ContentsManager pre-save hook: study notebooks go to disk in their committed form."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    if is_study_notebook(Path(contents_manager.root_dir) / path.strip("/")):
        strip_notebook(model["content"])


def server_args() -> list[str]:
    args = [f"--config={Path(__file__).with_name('jupyter_lab_config.py')}", f"--ServerApp.root_dir={STUDY_NOTEBOOKS}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")          # containers and cloud notebooks run as root
    return args


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lab", *server_args(), *argv]      # later arguments win over ours
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
