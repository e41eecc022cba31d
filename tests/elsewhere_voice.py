"""A voice recorded elsewhere: a stock British-English eSpeak voice (none of the twin's voices, which are derived
from each actor's sex, age and a seed) saying a sentence outside CREMA-D's twelve. For the own-voice tests."""
import datetime
import io

import numpy as np

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
VOICE = "name elsewhere\nlanguage en-gb\ngender male\npitch 70 110\n"


def elsewhere_voice() -> tuple[np.ndarray, int]:
    """(int16 waveform, its sample rate: eSpeak's 22.05 kHz)."""
    from s2v_lib.data.twin.espeak import Synth
    synth = Synth()
    try:
        wav, _ = synth.speak(SENTENCE, VOICE, {}, seed=7)
    finally:
        synth.close()
    return wav, synth.sample_rate


def elsewhere_wav_bytes(rate: int = 44100) -> tuple[bytes, float]:
    """The voice as WAV bytes at `rate` (resampled from eSpeak's rate) and its length in seconds."""
    import soundfile as sf

    from s2v_lib.data.video_io import resample_audio
    wav, sr = elsewhere_voice()
    x = resample_audio(wav.astype(np.float32) / 32768.0, sr, rate)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue(), len(x) / rate


def upload(panel, name: str, content: bytes):
    """What the browser's FileUpload sets (ipywidgets 8): a tuple of one file dict."""
    panel.upload.value = ({"name": name, "type": "audio/wav", "size": len(content), "content": memoryview(content),
                           "last_modified": datetime.datetime(2026, 1, 1)},)
