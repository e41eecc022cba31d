import os

import pytest

# Tests never touch the user's cache unless they say so: each session gets its own unless S2V_CACHE is set.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("S2V_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
