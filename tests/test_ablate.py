"""`python -m s2v_lib ablate`: refused rows, and the optional-ablation table kept across calls."""
import numpy as np
import pandas as pd

from s2v_lib.__main__ import main
from s2v_lib.evaluation import ablate as A
from s2v_lib.evaluation.table1 import METRICS


def test_an_unknown_row_is_refused_with_the_choices(capsys):
    assert main(["ablate", "--row", "no such row", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--row 'no such row'" in err and "speech2video + resize-conv" in err


def _pair(label, model, default, offset, commit):
    rng = np.random.default_rng(len(label))
    rows = []
    for method, shift in ((default, 0.0), (label, offset)):
        for i in range(12):
            rows.append({"method": method, "clip_id": f"c{i}", **{m: rng.normal(1.0 + shift, 0.1) for m in METRICS}})
    df = pd.DataFrame(rows)
    return df.assign(pair=label, model=model, changes=df["method"].map({label: "one change"}).fillna(""),
                     cpu_capability="AVX2", commit=commit, dirty=False)


def test_optional_ablations_merge_rows_and_replace_a_rerun_pair(tmp_path, monkeypatch):
    monkeypatch.setattr(A, "results_dir", lambda p: tmp_path / p)
    A.write_optional_ablations(_pair("row a", "speech2video", "speech2video (default)", 0.5, "aaaaaaa1"), "cpu", "twin")
    A.write_optional_ablations(_pair("row b", "sdfa", "SDFA (default)", -0.5, "bbbbbbb2"), "cpu", "twin")
    table = A.write_optional_ablations(_pair("row a", "speech2video", "speech2video (default)", 2.0, "ccccccc3"),
                                       "cpu", "twin")
    assert list(table["row"]) == ["SDFA (default)", "row b", "speech2video (default)", "row a"]
    a = table.set_index("row").loc["row a"]
    assert a["ssim"] > 2.5 and a["commit"] == "ccccccc" and a["n_clips"] == 12     # the rerun replaced its pair
    md = (tmp_path / "cpu" / "optional_ablations.md").read_text()
    assert "row a: scored on a AVX2 CPU at commit ccccccc)" in md and "uncommitted" not in md and "| row b | one change |" in md
    assert "| SDFA (default) | the default model of the same cache |" in md
    assert len(pd.read_csv(tmp_path / "cpu" / "optional_ablations_per_clip.csv")) == 48
