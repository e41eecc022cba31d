"""eSpeak NG through ctypes (library and voices from the `espeakng-loader` wheel).

Synchronous mode: audio arrives in memory through a callback together with PHONEME events that
carry exact sample positions. eSpeak keeps all state in process globals (one synthesizer per
process, not thread-safe) and some of it (wavegen/noise) survives espeak_Terminate, so `Synth`
reloads the shared library before every clip: that makes each clip bit-identical whatever ran before.
"""
import ctypes
import os
import tempfile
from ctypes import CFUNCTYPE, POINTER, Structure, Union, c_char, c_char_p, c_int, c_short, c_size_t, c_uint, c_void_p

import numpy as np

from ...errors import UserError

AUDIO_OUTPUT_SYNCHRONOUS = 2
INIT_PHONEME_EVENTS, INIT_PHONEME_IPA = 0x0001, 0x0002
CHARS_UTF8, POS_CHARACTER = 1, 1
EV_LIST_TERMINATED, EV_PHONEME = 0, 7
PARAM_IDS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}


class _EventId(Union):
    _fields_ = [("number", c_int), ("name", c_char_p), ("string", c_char * 8)]


class _Event(Structure):   # espeak_EVENT (speak_lib.h, API revision 12)
    _fields_ = [("type", c_int), ("unique_identifier", c_uint), ("text_position", c_int), ("length", c_int),
                ("audio_position", c_int), ("sample", c_int), ("user_data", c_void_p), ("id", _EventId)]


_SYNTH_CB = CFUNCTYPE(c_int, POINTER(c_short), c_int, POINTER(_Event))


def library_paths() -> tuple[str, str]:
    """(libespeak-ng.so, espeak-ng-data) shipped by espeakng-loader; UserError if unusable."""
    fix = "install it with `.venv/bin/pip install espeakng-loader==0.2.4`"
    try:
        import espeakng_loader
    except ImportError:
        raise UserError(f"the eSpeak NG library (python package espeakng-loader) is missing; {fix}") from None
    lib, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    if not os.path.exists(lib) or not os.path.isdir(data):
        raise UserError(f"eSpeak NG library {lib} or data {data} is missing; reinstall: {fix}")
    return lib, data


class Synth:
    """One eSpeak NG instance for this process. `speak` returns (int16 audio at .sample_rate, phonemes)."""

    def __init__(self):
        self.lib_path, self.data_path = library_paths()
        # SetVoiceByFile copies the path into a 60-byte buffer and lower-cases it: keep voice files short.
        self.voice_dir = tempfile.mkdtemp(prefix="s2v", dir="/tmp")
        self.lib = None
        self._cb = _SYNTH_CB(self._callback)   # keep a reference: a collected callback segfaults
        self._load()

    def _load(self):
        if self.lib is not None:
            import _ctypes
            self.lib.espeak_Terminate()
            _ctypes.dlclose(self.lib._handle)
        lib = ctypes.CDLL(self.lib_path)
        lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CB]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_Synth.argtypes = [c_void_p, c_size_t, c_uint, c_int, c_uint, c_uint, POINTER(c_uint), c_void_p]
        lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
        lib.espeak_SetVoiceByFile.argtypes = [c_char_p]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.sample_rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(),
                                                 INIT_PHONEME_EVENTS | INIT_PHONEME_IPA)
        if self.sample_rate <= 0:
            raise UserError(f"eSpeak NG failed to initialise with data {self.data_path}; reinstall espeakng-loader")
        lib.espeak_SetSynthCallback(self._cb)
        self.lib = lib

    def _callback(self, wav, n, events):
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != EV_LIST_TERMINATED:
            e = events[i]
            if e.type == EV_PHONEME:
                self._phonemes.append((e.sample, e.id.string.decode("utf-8", "replace")))
            i += 1
        return 0

    def speak(self, text: str, voice_text: str, params: dict, seed: int):
        """Synthesize `text` with a voice file's contents and prosody params (rate, pitch, range, volume).

        Returns (int16 waveform, [(sample, ipa_phoneme)]) with samples at self.sample_rate.
        """
        self._load()   # fresh hidden state: bit-identical output whatever ran before
        path = os.path.join(self.voice_dir, "v")
        with open(path, "w") as f:
            f.write(voice_text)
        if self.lib.espeak_SetVoiceByFile(path.encode()) != 0:
            raise RuntimeError(f"eSpeak NG rejected voice file {path}")
        for key, value in params.items():
            if self.lib.espeak_SetParameter(PARAM_IDS[key], int(value), 0) != 0:
                raise RuntimeError(f"eSpeak NG SetParameter({key}={value}) failed")
        self.lib.espeak_ng_SetRandSeed(seed % (2 ** 31))
        self._chunks, self._phonemes = [], []
        b = text.encode("utf-8") + b"\0"
        uid = c_uint(0)
        if self.lib.espeak_Synth(b, len(b), 0, POS_CHARACTER, 0, CHARS_UTF8, ctypes.byref(uid), None) != 0:
            raise RuntimeError("espeak_Synth failed")
        wav = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return wav, list(self._phonemes)

    def close(self):
        import shutil
        shutil.rmtree(self.voice_dir, ignore_errors=True)
