"""The smoke chain: every notebook runs headless under papermill, then nbval re-runs the executed copies.

This is the end-to-end test CI relies on (docs/design.md §4: the smoke chain within ~5 minutes).
It uses the default cache (.cache/ or $S2V_CACHE), so a second local run reuses data and checkpoints.
"""
import json
import subprocess
import sys

import pytest

from s2v_lib.paths import REPO_ROOT, results_dir
from s2v_lib.reproduce import list_notebooks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run():
    r = subprocess.run([sys.executable, "-m", "s2v_lib", "reproduce", "--profile", "smoke"],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"smoke chain failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_every_notebook_ran_and_provenance_is_written(smoke_run):
    expected = [p.stem for p in list_notebooks()]
    executed = sorted(p.stem for p in (results_dir("smoke") / "notebooks").glob("0*.ipynb"))
    assert executed == expected
    prov = json.loads((results_dir("smoke") / "provenance.json").read_text())
    assert prov["profile"] == "smoke" and prov["parameters"]["INTERACTIVE"] is False
    assert set(expected) <= set(prov["durations_s"]) and prov["packages"]["torch"].startswith("2.9.1")
    assert prov["complete"] and prov["notebooks_run"] == expected


def test_nbval_over_executed_notebooks(smoke_run):
    nbs = sorted(str(p) for p in (results_dir("smoke") / "notebooks").glob("0*.ipynb"))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                        "--nbval-current-env", *nbs], cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"nbval failed:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
