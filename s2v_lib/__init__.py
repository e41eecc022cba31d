"""s2v_lib: the library behind the speech2video-repro notebooks.

Everything two notebooks or a test need lives here; notebooks hold the narrative.
"""
__version__ = "0.1.0"
