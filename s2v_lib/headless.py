"""Headless notebook runs (`python -m s2v_lib reproduce`): what the terminal shows while papermill
executes a notebook, and the same in results/<profile>/notebooks/NN_name.log.

- a line as each code cell starts, with the time since the notebook started:
      [cpu 04_composer] cell 12/31 +03:25  stage = composer_stage.run_speech2video(...)
- the training loops' tqdm bars (steps, rate, ETA) as text: the kernel gets S2V_PROGRESS=text, and
  s2v_lib/__init__.py then gives tqdm.auto the text bar instead of the widget bar (a widget bar in
  a headless kernel reaches no one, and leaves views of closed widgets in the executed notebook)
- kernels use CurveZMQ-encrypted transport, as ipykernel's "Kernel is running over TCP without
  encryption" warning (printed once per notebook otherwise) asks.

Executed notebooks keep what a terminal would show of a bar (the text after its last carriage
return), not every redraw.
"""
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from papermill.engines import NBClientEngine, papermill_engines

ENGINE = "s2v-headless"


class Tee:
    """A write-only stream that writes to several (the terminal and a log file), flushing each."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)

    def flush(self):
        for s in self.streams:
            s.flush()


class LoggedEngine(NBClientEngine):
    """papermill's nbclient engine, calling on_cell(nb, cell, index) as each cell starts (nb: the
    notebook being run, with papermill's injected parameters cell)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, **kwargs):
        if on_cell is not None:
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                on_cell(nb_man.nb, cell, cell_index)
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register(ENGINE, LoggedEngine)


def kernel_config():
    """traitlets config for the kernel manager: Curve-encrypted transport when pyzmq has Curve."""
    import zmq
    from traitlets.config import Config
    return Config({"KernelManager": {"transport_encryption": "auto"}}) if zmq.has("curve") else Config()


@contextmanager
def kernel_environment(interactive_terminal: bool):
    """Environment the kernel inherits: text progress bars, redrawn every second on a terminal and
    every 30 s into a pipe or CI log (each redraw is a line there)."""
    want = {"S2V_PROGRESS": "text", "TQDM_MININTERVAL": "1" if interactive_terminal else "30", "TQDM_NCOLS": "100"}
    saved = {k: os.environ.get(k) for k in want}
    os.environ.update({k: v for k, v in want.items() if k == "S2V_PROGRESS" or saved[k] is None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def first_code_line(source: str, width: int = 70) -> str:
    line = next((ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    return line if len(line) <= width else line[: width - 3] + "..."


def clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def execute(nb_path: Path, out_path: Path, parameters: dict, label: str, log_path: Path, cwd: Path,
            kernel_name: str = "python3", stdout=None, stderr=None):
    """Run one notebook with papermill, narrating cells and relaying the kernel's output to the
    terminal (stdout/stderr, default sys.*) and to log_path. Raises papermill's errors unchanged."""
    import papermill as pm
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        out, err = Tee(stdout, log), Tee(stderr, log)

        def on_cell(nb, cell, index):
            if cell.cell_type != "code":
                return
            n = sum(1 for c in nb.cells if c.cell_type == "code")
            k = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
            err.write(f"[{label}] cell {k}/{n} +{clock(time.perf_counter() - t0)}  {first_code_line(cell.source)}\n")

        try:
            with kernel_environment(stderr.isatty() if hasattr(stderr, "isatty") else False):
                pm.execute_notebook(str(nb_path), str(out_path), parameters=parameters, kernel_name=kernel_name,
                                    cwd=str(cwd), progress_bar=False, log_output=False, engine_name=ENGINE,
                                    stdout_file=out, stderr_file=err, on_cell=on_cell, config=kernel_config())
        finally:
            log.write(f"[{label}] {clock(time.perf_counter() - t0)} elapsed\n")
            if Path(out_path).exists():        # also after a failure: the copy with the traceback stays readable
                collapse_progress_redraws(out_path)


def collapse_line(line: str) -> str:
    """What a terminal shows of one line written with carriage returns (tqdm redraws)."""
    return line.rsplit("\r", 1)[-1].rstrip() if "\r" in line else line


def collapse_text(text: str) -> str:
    lines = text.split("\n")
    kept = [collapse_line(ln) for ln in lines]
    # a bar erased on close (leave=False) leaves an empty line: drop it, keep lines that were empty
    return "\n".join(k for ln, k in zip(lines, kept) if k or "\r" not in ln)


def collapse_progress_redraws(path: Path) -> int:
    """In an executed notebook, merge each run of stream outputs (nbclient keeps one per message) and
    replace tqdm's redraws by their final state; returns how many outputs were merged away."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    n = 0
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            prev = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                    and prev.get("name") == out.get("name")):
                prev["text"] += out["text"]
                n += 1
            else:
                merged.append(out)
        for out in merged:
            if out.get("output_type") == "stream" and "\r" in out["text"]:
                out["text"] = collapse_text(out["text"])
        if "outputs" in cell:
            cell["outputs"] = [o for o in merged if o.get("output_type") != "stream" or o["text"]]
    nbformat.write(nb, path)
    return n
