"""s2v_lib: the library behind the speech2video-repro notebooks.

Everything two notebooks or a test need lives here; notebooks hold the narrative.
"""
__version__ = "0.1.0"

import os as _os

if _os.environ.get("S2V_PROGRESS") == "text":
    # headless runs (s2v_lib/headless.py): text progress bars that reach the terminal and the log,
    # not widget bars nobody sees. Set before any s2v_lib module does `from tqdm.auto import tqdm`.
    import tqdm.auto as _auto
    import tqdm.std as _std
    _auto.tqdm, _auto.trange = _std.tqdm, _std.trange
