"""The papermill runner: order, filtering, failure reporting, provenance helpers; CLI errors."""
import io
import json
import subprocess
import sys

import nbformat
import pytest

from s2v_lib import reproduce
from s2v_lib.paths import REPO_ROOT
from s2v_lib.errors import UserError


def _notebook(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("PROFILE = 'smoke'", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def test_list_notebooks_order_and_filters(tmp_path):
    for name in ("03_c", "01_a", "02_b"):
        _notebook(tmp_path / f"{name}.ipynb", ["1"])
    (tmp_path / "scratch.ipynb").write_text("{}")
    names = lambda nbs: [p.name for p in nbs]
    assert names(reproduce.list_notebooks(folder=tmp_path)) == ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]
    assert names(reproduce.list_notebooks(only="2", folder=tmp_path)) == ["02_b.ipynb"]
    assert names(reproduce.list_notebooks(start="02", folder=tmp_path)) == ["02_b.ipynb", "03_c.ipynb"]
    with pytest.raises(UserError, match="no notebook 07"):
        reproduce.list_notebooks(only="07", folder=tmp_path)


def test_budget_scaling_notebook_runs_only_when_named(tmp_path):
    """08 (budget scaling, hours at cpu) is not part of the default chain nor of --from; --only 08 runs it."""
    for name in ("01_a", "07_g", "08_budget_scaling"):
        _notebook(tmp_path / f"{name}.ipynb", ["1"])
    names = lambda nbs: [p.name for p in nbs]
    assert names(reproduce.list_notebooks(folder=tmp_path)) == ["01_a.ipynb", "07_g.ipynb"]
    assert names(reproduce.list_notebooks(start="07", folder=tmp_path)) == ["07_g.ipynb"]
    assert names(reproduce.list_notebooks(only="08", folder=tmp_path)) == ["08_budget_scaling.ipynb"]
    with pytest.raises(UserError, match="--only 08"):
        reproduce.list_notebooks(start="08", folder=tmp_path)
    assert "08_budget_scaling.ipynb" not in names(reproduce.list_notebooks())
    assert names(reproduce.list_notebooks(only="08")) == ["08_budget_scaling.ipynb"]   # the real one exists


def test_failure_names_notebook_cell_and_error(tmp_path):
    _notebook(tmp_path / "01_ok.ipynb", ["x = 1"])
    _notebook(tmp_path / "02_bad.ipynb", ["y = 2", "raise ValueError('the twin is missing')"])
    _notebook(tmp_path / "03_never.ipynb", ["open('ran', 'w')"])
    out = tmp_path / "out"
    out.mkdir()
    logs, recorded = [], []
    with pytest.raises(UserError) as e:
        reproduce.run_notebooks("smoke", reproduce.list_notebooks(folder=tmp_path), {"PROFILE": "smoke"}, out,
                                log=logs.append, on_done=recorded.append)
    assert [list(d) for d in recorded] == [["01_ok"]]            # what finished is recorded before the failure
    msg = str(e.value)
    assert "02_bad.ipynb" in msg and "cell [4] `raise ValueError('the twin is missing')`" in msg and "ValueError: the twin is missing" in msg
    assert (out / "01_ok.ipynb").exists() and not (out / "03_never.ipynb").exists()
    assert not (tmp_path / "ran").exists()


def test_parameters_are_injected_and_heavy_outputs_stripped(tmp_path):
    _notebook(tmp_path / "01_p.ipynb", ["print(PROFILE)", "from IPython.display import HTML\nHTML('x' * 200_000)"])
    out = tmp_path / "out"
    out.mkdir()
    reproduce.run_notebooks("cpu", reproduce.list_notebooks(folder=tmp_path), {"PROFILE": "cpu"}, out, log=lambda s: None)
    nb = nbformat.read(out / "01_p.ipynb", as_version=4)
    printed = [o for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]
    assert printed[0]["text"].strip() == "cpu"
    html = nb.cells[-1]["outputs"][0]["data"]
    assert "text/html" not in html and "removed" in html["text/plain"]


def test_provenance_helpers():
    v = reproduce.package_versions()
    assert v["torch"].startswith("2.9.1") and v["python"].startswith("3.11")
    assert reproduce.device_info()["cores"] >= 1
    commit = reproduce.git_commit()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert commit["commit"] == head and len(head) == 40 and isinstance(commit["dirty"], bool)
    json.dumps(commit)                                     # provenance.json must be able to hold it


@pytest.mark.parametrize("argv, needle", [
    (["reproduce", "--profile", "huge"], "unknown profile 'huge'"),
    (["reproduce", "--profile", "smoke", "--only", "09"], "no notebook 09"),
])
def test_cli_user_errors_are_one_line(argv, needle):
    r = subprocess.run([sys.executable, "-m", "s2v_lib", *argv], capture_output=True, text=True)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_headless_run_shows_cells_and_progress_bars_in_terminal_and_log(tmp_path):
    """The terminal and NN.log get one line per code cell with elapsed time, the library's tqdm bars
    (via tqdm.auto, as s2v_lib uses it) as text, what the kernel process writes past Jupyter (here at
    its exit) and no ipykernel transport warning; the executed notebook keeps the prints but no
    progress bars (text or widget). The terminal is a StringIO: pytest's fd capture would also catch
    other tests' kernels still shutting down."""
    _notebook(tmp_path / "01_bars.ipynb", [
        "import s2v_lib\nfrom tqdm.auto import tqdm\nimport time, atexit, os\n"
        "atexit.register(lambda: os.write(2, b'kernel process exits\\n'))",
        "for _ in tqdm(range(40), desc='toy training', mininterval=0):\n    time.sleep(0.01)",
        "print('after the bar')"])
    out = tmp_path / "out"
    out.mkdir()
    terminal = io.StringIO()
    reproduce.run_notebooks("smoke", reproduce.list_notebooks(folder=tmp_path), {"PROFILE": "smoke"}, out,
                            log=lambda s: None, terminal=terminal)
    log = (out / "01_bars.log").read_bytes().decode()
    assert terminal.getvalue() == log                           # the terminal shows the log as it grows
    assert "kernel process exits\n" in log                     # the kernel's own stderr, not only its messages
    assert "[smoke 01_bars] cell 1/5 +00:0" in log and "cell 4/5" in log and "for _ in tqdm(range(40)" in log
    assert "toy training: 100%" in log and "40/40" in log and "it/s]" in log     # steps, rate, ETA field
    assert "\r" in log and "after the bar" in log and "without encryption" not in log
    nb = nbformat.read(out / "01_bars.ipynb", as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert [o["text"] for o in outputs if o.get("output_type") == "stream"] == ["after the bar\n"]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
