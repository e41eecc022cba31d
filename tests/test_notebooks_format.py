"""Committed notebooks: paired with jupytext, no outputs, one parameters cell of plain literals."""
import ast
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("0*.ipynb"))
PARAMETERS = {"PROFILE": str, "SEED": int, "DATASET": str, "DATA_ROOT": str, "DEVICE": str,
              "FORCE_RETRAIN": bool, "INTERACTIVE": bool}


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/0*.ipynb missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_parameterised(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(params[0]["source"]))
    values = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), "parameters are plain literals"
        values[node.targets[0].id] = node.value.value
    assert set(values) == set(PARAMETERS)
    assert all(isinstance(values[k], t) for k, t in PARAMETERS.items())
    assert values["PROFILE"] == "smoke", "defaults keep stepping through in JupyterLab cheap"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_py_pair(path):
    import jupytext
    py = path.with_suffix(".py")
    assert py.exists(), f"{py.name} (jupytext py:percent pair) missing"
    a = jupytext.read(path)
    b = jupytext.read(py)
    src = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert src(a) == src(b), f"{path.name} and {py.name} differ: run `jupytext --sync {py}`"


def makefile_var(name: str) -> str:
    return re.search(rf"^{name}\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).strip()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_is_the_one_make_setup_installs(path):
    """JupyterLab rewrites a notebook's kernelspec to the running kernel's: any mismatch marks it modified."""
    ks = json.loads(path.read_text())["metadata"]["kernelspec"]
    assert (ks["name"], ks["display_name"]) == (makefile_var("KERNEL"), makefile_var("KERNEL_DISPLAY"))
    header = path.with_suffix(".py").read_text().split("# ---", 2)[1]
    assert f"display_name: {ks['display_name']}" in header and "jupytext_version:" not in header


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_a_fixed_point_of_the_git_filter(path):
    """git runs the Makefile's nbstripout command on every notebook it reads: a committed notebook must
    come out byte-identical, else `git status` is dirty right after a clone."""
    cmd = shlex.split(makefile_var("NBSTRIP").replace("$(abspath $(PY))", shlex.quote(sys.executable)))
    out = subprocess.run(cmd, input=path.read_bytes(), capture_output=True, check=True).stdout
    assert out == path.read_bytes()
    assert "filter=nbstripout" in (ROOT / ".gitattributes").read_text()
