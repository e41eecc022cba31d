"""make verify: nbval strict over executed notebooks, the sanitizer, and the cell-by-cell report."""
import json

import nbformat
import pytest

from s2v_lib import verify as V
from s2v_lib.errors import UserError


def executed_notebook(path):
    """A tiny executed notebook (run for real), as `make reproduce` leaves them."""
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (s2v)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (
        "import time, tempfile\nt0 = time.perf_counter()\nprint('ssim', round(0.7050123, 7), 'of', 291, 'clips')",
        "print(f'trained in {time.perf_counter() - t0 + 3.2:.1f} s; checkpoint in {tempfile.mkdtemp()}/ckpt.pt')",
        "print(object())",
        "print('psnr', 24.87)",
    )]
    NotebookClient(nb, kernel_name="python3").execute()
    nb.cells[0].outputs.insert(0, nbformat.v4.new_output("display_data", data={   # an old widget progress bar
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "text/plain": "train:  10%|#         | 1/10 [00:01<00:09,  1.00it/s]"}))
    nbformat.write(nb, path)
    return nb


@pytest.fixture
def profile_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(V, "results_dir", lambda p: tmp_path / "results" / p)
    (tmp_path / "results" / "toy" / "notebooks").mkdir(parents=True)
    return tmp_path / "results" / "toy" / "notebooks"


@pytest.mark.parametrize("name", ["01_toy", "04b_toy"])     # a lettered chapter (04b_davs) is reported too
def test_same_machine_rerun_matches_and_other_machine_differences_are_named(profile_dir, tmp_path, capsys, name):
    nb = executed_notebook(profile_dir / f"{name}.ipynb")
    assert V.verify("toy", work=tmp_path / "w1") == 0       # paths, timings, addresses, bars masked
    out = capsys.readouterr().out
    assert f"{name}.ipynb: 4 cells match" in out and "every compared cell matches" in out
    # another machine: the last digits differ (within the tables' precision), and one value beyond it
    nb.cells[0].outputs[1]["text"] = "ssim 0.7050987 of 291 clips\n"
    nb.cells[3].outputs[0]["text"] = "psnr 24.91\n"
    nbformat.write(nb, profile_dir / f"{name}.ipynb")
    assert V.verify("toy", work=tmp_path / "w2") == 1
    out = capsys.readouterr().out
    assert "3 cells match, 1 differ" in out and "code cell 3: print('psnr', 24.87)" in out
    assert "24.91" in out and "24.87" in out                 # both values shown
    report = json.loads((tmp_path / "w2" / "report.json").read_text())
    assert [f[0] for f in report[f"{name}.ipynb"]["failed"]] == [3]


def test_no_executed_notebooks_is_a_user_error(profile_dir, tmp_path):
    with pytest.raises(UserError, match="make reproduce PROFILE=toy"):
        V.verify("toy", work=tmp_path / "w")


def test_progress_outputs_are_dropped():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text="\rfit:  50%|#####     | 5/10 [00:01<00:01]\r"),
                           nbformat.v4.new_output("stream", name="stdout", text="result 1\n")]
    assert V.without_progress(nb) == 1 and [o["text"] for o in nb.cells[0].outputs] == ["result 1\n"]
