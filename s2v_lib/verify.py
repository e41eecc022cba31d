"""Does a rerun reproduce the executed notebooks? nbval in strict mode, cell by cell.

    python -m s2v_lib.verify --profile cpu         (make verify PROFILE=cpu)

Reruns results/<profile>/notebooks/0*.ipynb (the executed copies `make reproduce` wrote, committed
for the cpu profile) with nbval, comparing every cell's outputs after tests/nbval_sanitize.cfg
(paths, addresses, timings masked; numbers cut to the tables' two decimals). Only cells tagged
nbval-ignore-output (inline videos, the widget demos) are not compared; figures are compared by
their text form only (nbval never compares PNG bytes). Then reports, per notebook, which cells
differ and how. On the machine that wrote the notebooks every cell should match; on another CPU
some numbers differ in their last digits (float summation order, BLAS kernels) and, through
training, sometimes beyond the second decimal: the report shows which, with both values.

Progress bars are not results: copies made before the runner kept them out of the notebooks
(widget bars) have them removed before comparing. The rerun writes results/<profile>/ again.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from .errors import UserError
from .paths import REPO_ROOT, results_dir

SANITIZE = REPO_ROOT / "tests" / "nbval_sanitize.cfg"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BAR = re.compile(r"^\s*[^\n]*\d+%\|[^\n]*\|[^\n]*$")


def nbval_command(notebooks, junit: Path | None = None, cell_timeout: int = 7200) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
           f"--nbval-sanitize-with={SANITIZE}", f"--nbval-cell-timeout={cell_timeout}", "-o", "addopts="]
    if junit is not None:
        cmd.append(f"--junitxml={junit}")
    return cmd + [str(p) for p in notebooks]


def nbval_env(progress_log: Path) -> dict:
    """The rerun's kernel writes progress bars to a log, as headless runs do (s2v_lib/__init__.py)."""
    return {**os.environ, "S2V_PROGRESS_LOG": str(progress_log), "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}


def without_progress(nb) -> int:
    """Drop progress-bar outputs (widget bars, text bars) from an executed notebook; returns how many."""
    n = 0
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                n += 1
                continue
            if out.get("output_type") == "stream":
                lines = re.split(r"[\r\n]", out["text"])
                if lines and all(BAR.match(ln) or not ln.strip() for ln in lines):
                    n += 1
                    continue
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    return n


def prepare_copies(profile: str, work: Path) -> list[Path]:
    import nbformat
    refs = sorted((results_dir(profile) / "notebooks").glob("0*.ipynb"))
    if not refs:
        raise UserError(f"no executed notebooks in {results_dir(profile) / 'notebooks'}; run "
                        f"`make reproduce PROFILE={profile}` first (or pick a profile that has them)")
    work.mkdir(parents=True, exist_ok=True)
    copies = []
    for ref in refs:
        nb = nbformat.read(ref, as_version=4)
        without_progress(nb)
        nbformat.write(nb, work / ref.name)
        copies.append(work / ref.name)
    return copies


def cell_report(junit: Path, copies: list[Path]) -> dict:
    """{notebook: {"passed": n, "failed": [(code cell index, its first line, what differs)]}} from junit xml."""
    import nbformat
    # nbval numbers the code cells only, from 0
    sources = {p.name: [c for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"] for p in copies}
    report = {name: {"passed": 0, "failed": []} for name in sources}
    for case in ET.parse(junit).getroot().iter("testcase"):
        m = re.search(r"(\d\d[a-z]?_\w+\.ipynb)::Cell (\d+)", case.get("classname", "") + "::" + case.get("name", ""))
        if not m:
            continue
        name, idx = m.group(1), int(m.group(2))
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is None:
            report[name]["passed"] += 1
            continue
        cells = sources.get(name, [])
        src = cells[idx].source if idx < len(cells) else ""
        first = next((ln for ln in src.splitlines() if ln.strip() and not ln.startswith("#")), "")[:70]
        text = re.sub(r"(\x1b|#x1B)\[[0-9;]*m", "", failure.text or failure.get("message") or "")
        text = text.split("Traceback:", 1)[-1]                 # nbval's diff; the input is shown as `first`
        detail = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("[+")][:14]
        report[name]["failed"].append((idx, first, detail))
    return report


def print_report(report: dict, profile: str) -> int:
    bad = 0
    for name, r in report.items():
        n_fail = len(r["failed"])
        bad += n_fail
        print(f"{name}: {r['passed']} cells match" + (f", {n_fail} differ" if n_fail else ""))
        for idx, first, detail in r["failed"]:
            print(f"  code cell {idx}: {first}")
            for ln in detail:
                print(f"      {ln[:160]}")
    print(f"{bad} cell(s) differ beyond masking and rounding (profile {profile})" if bad else
          f"every compared cell matches (profile {profile})")
    return bad


def verify(profile: str, work: Path | None = None) -> int:
    work = work or REPO_ROOT / "build" / "verify" / profile
    copies = prepare_copies(profile, work)
    junit = work / "nbval.xml"
    r = subprocess.run(nbval_command(copies, junit), cwd=REPO_ROOT, env=nbval_env(work / "progress.log"),
                       stdout=subprocess.DEVNULL, stderr=None)
    if not junit.exists():
        raise UserError(f"nbval did not run (exit {r.returncode}); try: {' '.join(nbval_command(copies))}")
    report = cell_report(junit, copies)
    (work / "report.json").write_text(json.dumps(report, indent=1))
    return 1 if print_report(report, profile) else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m s2v_lib.verify", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu", help="whose executed notebooks to rerun (results/<profile>/notebooks)")
    args = ap.parse_args(argv)
    try:
        return verify(args.profile)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
