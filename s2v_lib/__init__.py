"""s2v_lib: the library behind the speech2video-repro notebooks.

Everything two notebooks or a test need lives here; notebooks hold the narrative.
"""
__version__ = "0.1.0"

import os as _os

if _os.environ.get("S2V_PROGRESS_LOG") or _os.environ.get("S2V_PROGRESS") == "text":
    # headless runs (s2v_lib/headless.py): text progress bars instead of widget bars nobody sees,
    # written to the run's log (which the runner relays to the terminal), not into the notebook.
    # Set before any s2v_lib module does `from tqdm.auto import tqdm`.
    import tqdm.auto as _auto
    import tqdm.std as _std

    class _HeadlessTqdm(_std.tqdm):
        _log = None

        def __init__(self, *args, **kwargs):
            path = _os.environ.get("S2V_PROGRESS_LOG")
            if path and kwargs.get("file") is None:
                if _HeadlessTqdm._log is None:
                    _HeadlessTqdm._log = open(path, "a", encoding="utf-8")
                kwargs["file"] = _HeadlessTqdm._log
            super().__init__(*args, **kwargs)

    _auto.tqdm = _HeadlessTqdm
    _auto.trange = lambda *args, **kwargs: _HeadlessTqdm(range(*args), **kwargs)
