"""Headless notebook runs (`python -m s2v_lib reproduce`): what the terminal shows while papermill
executes a notebook, and the same in results/<profile>/notebooks/NN_name.log.

- a line as each code cell starts, with the time since the notebook started:
      [cpu 04_composer] cell 12/31 +03:25  stage = composer_stage.run_speech2video(...)
- the training loops' tqdm bars (steps, rate, ETA) as text: the kernel gets S2V_PROGRESS_LOG=<log>,
  and s2v_lib/__init__.py then gives tqdm.auto a text bar writing to that log instead of the widget
  bar (a widget bar in a headless kernel reaches no one, and leaves views of closed widgets behind)
- what the notebook prints.
Everything is written to the log and relayed from there to the terminal as it grows, so the two
show the same. Progress bars stay out of the executed notebooks: their outputs are the results,
the same on a rerun whether the models were trained or found in the cache (nbval compares them).
The kernel process's own stdout and stderr (what bypasses Jupyter's messages: a native library's
abort message, a crash at start or shutdown) are appended to the log as well, so the log is the
whole story of the run. Kernels use CurveZMQ-encrypted transport, as ipykernel's "Kernel is running
over TCP without encryption" warning (printed once per notebook otherwise) asks.
"""
import codecs
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine, papermill_engines
from traitlets import Unicode

ENGINE = "s2v-headless"


class LogWriter:
    """A write-only text stream appending to the log file (papermill's stdout_file / stderr_file)."""

    def __init__(self, fh):
        self.fh = fh

    def write(self, text: str) -> int:
        self.fh.write(text)
        self.fh.flush()
        return len(text)

    def flush(self):
        self.fh.flush()


class Relay(threading.Thread):
    """Copies what is appended to a file (by this process and by the kernel) to a terminal stream."""

    def __init__(self, path: Path, stream, interval: float = 0.2):
        super().__init__(daemon=True)
        self.path, self.stream, self.interval = path, stream, interval
        self.done = threading.Event()

    def run(self):
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with open(self.path, "rb") as fh:
            while True:
                finished = self.done.is_set()          # read once more after the notebook ended
                chunk = fh.read()
                if chunk:
                    self.stream.write(decoder.decode(chunk))
                    self.stream.flush()
                if finished:
                    return
                time.sleep(self.interval)

    def stop(self):
        self.done.set()
        self.join()


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


class LoggedKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, starting the kernel with its stdout and stderr appended to output_path."""
    output_path = Unicode("", config=True, help="file the kernel process's own stdout/stderr go to")

    async def start_kernel(self, **kw):
        if not self.output_path:
            return await super().start_kernel(**kw)
        with open(self.output_path, "ab") as fh:                 # O_APPEND: interleaves safely with the log
            kw.setdefault("stdout", fh)
            kw.setdefault("stderr", fh)
            return await super().start_kernel(**kw)              # the child keeps its own copy of the fd


def kernel_config(output_path: Path | None = None):
    """traitlets config for the notebook client: LoggedKernelManager writing to output_path, and
    Curve-encrypted transport when pyzmq has Curve."""
    import zmq
    from traitlets.config import Config
    config = {"NotebookClient": {"kernel_manager_class": LoggedKernelManager},
              "LoggedKernelManager": {"output_path": str(output_path or "")}}
    if zmq.has("curve"):
        config["KernelManager"] = {"transport_encryption": "auto"}
    return Config(config)


@contextmanager
def kernel_environment(log_path: Path, interactive_terminal: bool):
    """Environment the kernel inherits: text progress bars into log_path, redrawn every second when
    a person watches a terminal, every 30 s into a pipe or CI log (each redraw is a line there)."""
    want = {"S2V_PROGRESS_LOG": str(log_path), "TQDM_MININTERVAL": "1" if interactive_terminal else "30",
            "TQDM_NCOLS": "100"}
    saved = {k: os.environ.get(k) for k in want}
    os.environ.update({k: v for k, v in want.items() if k == "S2V_PROGRESS_LOG" or saved[k] is None})
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
            kernel_name: str = "python3", terminal=None):
    """Run one notebook with papermill, narrating cells and the kernel's output into log_path and
    from there to `terminal` (default sys.stderr). Raises papermill's errors unchanged."""
    import papermill as pm
    terminal = terminal or sys.stderr
    t0 = time.perf_counter()
    log_path = Path(log_path)
    log_path.write_text("")
    relay = Relay(log_path, terminal)
    relay.start()
    with open(log_path, "a", encoding="utf-8") as fh:
        log = LogWriter(fh)

        def on_cell(nb, cell, index):
            if cell.cell_type != "code":
                return
            n = sum(1 for c in nb.cells if c.cell_type == "code")
            k = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
            log.write(f"[{label}] cell {k}/{n} +{clock(time.perf_counter() - t0)}  {first_code_line(cell.source)}\n")

        try:
            with kernel_environment(log_path, hasattr(terminal, "isatty") and terminal.isatty()):
                pm.execute_notebook(str(nb_path), str(out_path), parameters=parameters, kernel_name=kernel_name,
                                    cwd=str(cwd), progress_bar=False, log_output=False, engine_name=ENGINE,
                                    stdout_file=log, stderr_file=log, on_cell=on_cell, config=kernel_config(log_path))
        finally:
            log.write(f"[{label}] {clock(time.perf_counter() - t0)} elapsed\n")
            relay.stop()
