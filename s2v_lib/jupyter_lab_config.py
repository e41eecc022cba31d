# JupyterLab server settings for the study (passed by `python -m s2v_lib.lab` as --config).
# c is the traitlets config object jupyter provides when it loads this file.
import warnings

import zmq

from s2v_lib.lab import strip_study_notebook

c = get_config()  # noqa: F821
# the study's notebooks are saved in their committed form (no outputs, no stale widget views);
# jupyter applies this config to the contents manager more than once, each time warning "Overriding
# existing pre_save_hook (strip_study_notebook) with a new one (strip_study_notebook)": same hook, no news
warnings.filterwarnings("ignore", message="Overriding existing pre_save_hook")
c.FileContentsManager.pre_save_hook = strip_study_notebook
# kernels talk to the server over CurveZMQ-encrypted TCP (no "running over TCP without encryption")
if zmq.has("curve"):
    c.KernelManager.transport_encryption = "auto"
