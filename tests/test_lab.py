"""JupyterLab integration: the pre-save hook writes study notebooks in their committed form, the
same bytes the git filter (nbstripout with the Makefile's flags) gives."""
import json
import shlex
import subprocess
import sys

import nbformat
import pytest

from s2v_lib import lab
from test_notebooks_format import NOTEBOOKS, makefile_var


def executed_copy(path):
    """A notebook as JupyterLab would send it after a run: outputs, counts, widget views and state."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {i}\n"),
                        nbformat.v4.new_output("display_data", data={
                            "application/vnd.jupyter.widget-view+json": {"model_id": f"m{i}", "version_major": 2,
                                                                         "version_minor": 0},
                            "text/plain": "VBox(...)"})]
        cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
        cell.metadata["scrolled"] = True
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    return nb


class FakeContentsManager:
    root_dir = str(lab.STUDY_NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS[:2], ids=lambda p: p.name)
def test_hook_saves_the_committed_form(path):
    nb = executed_copy(path)
    model = {"type": "notebook", "content": json.loads(nbformat.writes(nb))}
    lab.strip_study_notebook(model, path.name, FakeContentsManager())
    saved = nbformat.writes(nbformat.from_dict(model["content"])) + "\n"
    assert saved.encode() == path.read_bytes()          # byte for byte: git sees no change
    # and the git filter agrees on the same executed notebook
    cmd = shlex.split(makefile_var("NBSTRIP").replace("$(abspath $(PY))", shlex.quote(sys.executable)))
    filtered = subprocess.run(cmd, input=nbformat.writes(nb).encode(), capture_output=True, check=True).stdout
    assert filtered == path.read_bytes()


def test_hook_leaves_other_notebooks_alone(tmp_path):
    nb = executed_copy(NOTEBOOKS[0])
    model = {"type": "notebook", "content": json.loads(nbformat.writes(nb))}

    class Elsewhere:
        root_dir = str(tmp_path)

    lab.strip_study_notebook(model, "scratch/01_mine.ipynb", Elsewhere())
    assert any(c.get("outputs") for c in model["content"]["cells"])
    lab.strip_study_notebook({"type": "file", "content": "x"}, NOTEBOOKS[0].name, FakeContentsManager())


@pytest.mark.parametrize("uid", [0, 1000], ids=["root", "user"])
def test_server_args_name_the_config_and_root(uid, monkeypatch):
    monkeypatch.setattr(lab.os, "geteuid", lambda: uid)
    args = lab.server_args()
    assert any(a.startswith("--config=") and a.endswith("jupyter_lab_config.py") for a in args)
    assert f"--ServerApp.root_dir={lab.STUDY_NOTEBOOKS}" in args
    assert ("--allow-root" in args) == (uid == 0)      # jupyter refuses root without it, warns a user with it
