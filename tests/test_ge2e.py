"""GE2E port (s2v_lib/models/ge2e.py): parity with resemblyzer's own VoiceEncoder.

Two checks: against reference outputs stored in tests/data/ge2e_parity.npz (made by
tests/data/make_ge2e_parity.py with resemblyzer 0.1.4 + librosa 0.11; always runs), and live against
the installed resemblyzer (needs its librosa and webrtcvad, which are dev dependencies)."""
import importlib.util

import numpy as np
import pytest
import torch

from ge2e_signals import voice_signals
from s2v_lib.models.ge2e import load_ge2e, normalize_volume, partial_slices

PARITY = __import__("pathlib").Path(__file__).parent / "data" / "ge2e_parity.npz"
LIVE = all(importlib.util.find_spec(m) for m in ("resemblyzer", "librosa", "webrtcvad"))


@pytest.fixture(scope="module")
def ours():
    return load_ge2e()


@pytest.fixture(scope="module")
def wavs():
    return [normalize_volume(w) for w in voice_signals()]


def test_port_matches_stored_resemblyzer_outputs(ours, wavs):
    with np.load(PARITY) as z:
        ref_emb, ref_mel = z["embeddings"], z["mel0"]
    mel = ours.mel_frames(torch.from_numpy(wavs[0])).numpy()
    assert mel.shape == ref_mel.shape
    assert np.abs(mel - ref_mel).max() < 1e-5 * max(1.0, ref_mel.max())
    emb = ours.embed_many(wavs, normalize=False)
    assert emb.shape == (4, 256)
    assert np.abs(emb - ref_emb).max() < 1e-5
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    # the embedding is not constant: different voices are told apart
    sims = emb @ emb.T
    assert sims[np.triu_indices(4, 1)].max() < 0.99


@pytest.mark.skipif(not LIVE, reason="live parity needs resemblyzer + librosa + webrtcvad "
                                     "(pip install --no-deps resemblyzer; pip install librosa webrtcvad-wheels)")
def test_port_matches_live_resemblyzer(ours, wavs):
    from resemblyzer import VoiceEncoder, audio
    ref = VoiceEncoder("cpu", verbose=False)
    w = voice_signals(seed=3)[1]
    assert np.abs(normalize_volume(w) - audio.normalize_volume(w, -30, increase_only=True)).max() < 1e-6
    for w in wavs[:3]:
        e_ref, partials_ref, _ = ref.embed_utterance(w, return_partials=True)
        e, partials = ours.embed_utterance(w, return_partials=True)
        assert partials.shape == partials_ref.shape
        assert np.abs(e - e_ref).max() < 1e-5


def test_partial_slices_cover_the_utterance():
    for n in (8000, 16000 * 3, 16000 * 5 + 123):
        s = partial_slices(n)
        assert s[0].start == 0 and all(x.stop - x.start == 160 for x in s)
        assert s[-1].stop * 160 >= 0.75 * n
