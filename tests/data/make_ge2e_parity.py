"""Reference outputs of resemblyzer's own VoiceEncoder for tests/test_ge2e.py -> ge2e_parity.npz.

Needs resemblyzer with its librosa/webrtcvad (only for this script and the live parity test):
    .venv/bin/pip install --no-deps resemblyzer && .venv/bin/pip install librosa webrtcvad-wheels
    PYTHONPATH=. .venv/bin/python tests/data/make_ge2e_parity.py
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ge2e_signals import voice_signals  # noqa: E402


def main():
    import librosa
    import resemblyzer
    from resemblyzer import VoiceEncoder, audio
    enc = VoiceEncoder("cpu", verbose=False)
    wavs = [audio.normalize_volume(w, -30, increase_only=True).astype(np.float32) for w in voice_signals()]
    emb = np.stack([enc.embed_utterance(w) for w in wavs])
    mel0 = audio.wav_to_mel_spectrogram(wavs[0])
    out = Path(__file__).with_name("ge2e_parity.npz")
    np.savez_compressed(out, embeddings=emb.astype(np.float32), mel0=mel0.astype(np.float32),
                        versions=np.array([resemblyzer.__version__ if hasattr(resemblyzer, "__version__") else "0.1.4",
                                           librosa.__version__]))
    print(f"wrote {out}: embeddings {emb.shape}, mel0 {mel0.shape}")


if __name__ == "__main__":
    main()
