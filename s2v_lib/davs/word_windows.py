"""An LRW-like word set from the prepared clips: 1-second windows centred on one word, labelled by it.

LRW (the DAVS paper's data) gives one word per 1-s clip. The twin knows every word's timing: its TTS
(eSpeak NG) reported phoneme events with exact sample positions, kept in each clip's ground-truth
sidecar (GroundTruth/<clip>.npz: phon_sample, phon_ipa, text). Words are not marked there, so the
spans are derived here, at DAVS time, without touching the twin or the prepared arrays: eSpeak
phonemises the sentence text word by word (the same language, en-us, as the twin's voices), and that
phoneme sequence is aligned to the sidecar's events (difflib, stress marks ignored); a word runs from
its first phoneme's sample to the next word's first phoneme (the last word: to the pause event).

Real CREMA-D has no word timings: with word_labels="sentence_id" the label is the clip's sentence
(12 classes) and the window is centred on the utterance (the energy-weighted middle of the speech).

Audio: 12 MFCCs at 100 Hz (torchaudio, s2v_lib.audio.mfcc), 20 steps (0.2 s) centred on each video
frame: the paper's "12 * 20" input per frame, standardised with the training windows' statistics.
"""
import ctypes
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import UserError
from .config import WindowConfig

FPS, SR = 25, 16000
STEPS_PER_FRAME = 4                     # MFCC at 100 Hz, video at 25 fps
STRESS = str.maketrans("", "", "ˈˌ")


def word_label(word: str) -> str:
    """'Don't' -> "don't", 'jacket.' -> 'jacket'."""
    return re.sub(r"[^a-z']", "", word.lower())


@lru_cache(maxsize=64)
def sentence_phonemes(text: str) -> tuple:
    """((word, (phoneme, ...)), ...) for a sentence, from eSpeak NG (en-us) with '_' between phonemes."""
    from ..data.twin.espeak import library_paths
    lib_path, data_path = library_paths()
    lib = ctypes.CDLL(lib_path)   # only espeak_TextToPhonemes is called here: no synthesis state involved
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    if lib.espeak_Initialize(2, 0, data_path.encode(), 0) <= 0 or lib.espeak_SetVoiceByName(b"en-us") != 0:
        raise UserError(f"eSpeak NG ({lib_path}) could not phonemise text; reinstall espeakng-loader")
    buf = ctypes.create_string_buffer(text.encode() + b"\0")
    ptr = ctypes.c_void_p(ctypes.addressof(buf))
    chunks = []
    while ptr.value:
        out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), 1, 0x02 | (ord("_") << 8))   # IPA, '_' separator
        chunks.append((out or b"").decode("utf-8", "replace"))
    groups = [[p for p in g.split("_") if p] for g in " ".join(chunks).split()]
    words = [w for w in (word_label(t) for t in text.split()) if w]
    if len(groups) != len(words):
        raise ValueError(f"eSpeak phonemised {text!r} into {len(groups)} words, the text has {len(words)}")
    return tuple((w, tuple(g)) for w, g in zip(words, groups))


def word_spans(truth: dict) -> list[dict]:
    """Word spans (word, start_s, end_s) of one clip from its sidecar arrays (phon_sample, phon_ipa, text)."""
    samples = np.asarray(truth["phon_sample"], np.int64)
    ipa = [str(p) for p in truth["phon_ipa"]]
    speech = [i for i, p in enumerate(ipa) if p.strip()]            # '' events are pauses / the end marker
    words = sentence_phonemes(str(truth["text"]))
    ref = [(wi, p.translate(STRESS)) for wi, (_, ph) in enumerate(words) for p in ph]
    owner = np.full(len(speech), -1)
    sm = difflib.SequenceMatcher(a=[p for _, p in ref], b=[ipa[i].translate(STRESS) for i in speech], autojunk=False)
    for a, b, n in sm.get_matching_blocks():
        for k in range(n):
            owner[b + k] = ref[a + k][0]
    for k in range(len(owner)):       # unmatched events belong to the word before them (or the first word)
        if owner[k] < 0:
            owner[k] = owner[k - 1] if k > 0 else next((o for o in owner if o >= 0), 0)
    owner = np.maximum.accumulate(owner)   # words come in order
    pause_after = {}
    for i in range(len(ipa)):
        if not ipa[i].strip():
            pause_after.setdefault(max([j for j in speech if j < i], default=-1), samples[i])
    spans = []
    for wi, (w, _) in enumerate(words):
        ks = [k for k in range(len(speech)) if owner[k] == wi]
        if not ks:
            continue
        start = samples[speech[ks[0]]]
        nxt = [samples[speech[k]] for k in range(ks[-1] + 1, len(speech))]
        end = nxt[0] if nxt else pause_after.get(speech[ks[-1]], samples[speech[ks[-1]]] + SR // 10)
        spans.append({"word": w, "start_s": float(start / SR), "end_s": float(max(end, start + 1) / SR)})
    return spans


def sidecar_path(data, clip_id: str) -> Path:
    return Path(data.info.get("root", "")) / "GroundTruth" / f"{clip_id}.npz"


def load_sidecar(data, clip_id: str) -> dict:
    path = sidecar_path(data, clip_id)
    if not path.exists():
        raise UserError(f"{path} is missing: word_labels='twin_words' needs the twin's GroundTruth sidecars; "
                        "for real CREMA-D use word_labels='sentence_id'")
    with np.load(path) as z:
        return {k: z[k] for k in ("phon_sample", "phon_ipa", "text")}


def window_start(centre_frame: float, n_frames: int, length: int) -> int | None:
    """First frame of a `length`-frame window centred on centre_frame, shifted to lie inside the clip."""
    if n_frames < length:
        return None
    return int(np.clip(round(centre_frame - length / 2), 0, n_frames - length))


def speech_centre(audio: np.ndarray) -> float:
    """The utterance's energy-weighted middle, in frames (sentence_id windows)."""
    n = len(audio) // 640
    e = (audio[:n * 640].reshape(n, 640) ** 2).mean(1)
    c = np.cumsum(e)
    return float(np.searchsorted(c, c[-1] / 2)) + 0.5


def mfcc_windows(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_frames, 12, 20): 12 MFCCs x 20 steps at 100 Hz centred on each frame (edges padded)."""
    from ..audio import mfcc
    from ..models.davs import MFCC_STEPS, N_MFCC
    m = mfcc(audio[: n_frames * 640], n_mfcc=N_MFCC).numpy()            # (4 n_frames, 12)
    half = MFCC_STEPS // 2
    m = np.pad(m, ((half, half), (0, 0)), mode="edge")
    centre = np.arange(n_frames) * STEPS_PER_FRAME + STEPS_PER_FRAME // 2 + half
    idx = centre[:, None] + np.arange(-half, half)[None]
    return np.ascontiguousarray(m[idx].transpose(0, 2, 1)).astype(np.float32)


@dataclass
class WordWindows:
    table: pd.DataFrame          # one row per window: clip_id, split, actor, word, label, start, word_start_s, word_end_s
    frames: dict                 # clip_id -> uint8 tensor (T, S, S, 3)
    mfcc: dict                   # clip_id -> float32 tensor (T, 12, 20), standardised
    classes: list                # label index -> word (or sentence code)
    persons: list                # person index -> actor (training speakers)
    length: int                  # frames per window
    mfcc_mean: np.ndarray        # (12, 1): the training windows' MFCC statistics (generation reuses them)
    mfcc_std: np.ndarray

    def split(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.table["split"].to_numpy() == name)

    def batch(self, rows, device="cpu") -> dict:
        """frames (B, T, 3, S, S) in [0, 1], mfcc (B, T, 12, 20), word (B,), person (B,)."""
        t = self.table.iloc[np.asarray(rows)]
        L = self.length
        frames = torch.stack([self.frames[c][s:s + L] for c, s in zip(t["clip_id"], t["start"])])
        mfcc = torch.stack([self.mfcc[c][s:s + L] for c, s in zip(t["clip_id"], t["start"])])
        return {"frames": frames.permute(0, 1, 4, 2, 3).float().div(255).to(device), "mfcc": mfcc.to(device),
                "word": torch.tensor(t["label"].to_numpy()).to(device),
                "person": torch.tensor(t["person"].to_numpy()).to(device)}


def build_windows(data, cfg: WindowConfig, seed: int = 0, splits=("train", "test"), progress: bool = False) -> WordWindows:
    """The word windows of the train and test clips (train optionally a seeded subset of clips)."""
    from tqdm.auto import tqdm
    clips = pd.concat([data.clips(s) for s in splits], ignore_index=True).sort_values("clip_id")
    if cfg.max_train_clips:
        train = clips[clips["split"] == "train"]
        if len(train) > cfg.max_train_clips:
            keep = set(train.sample(cfg.max_train_clips, random_state=seed)["clip_id"])
            clips = clips[(clips["split"] != "train") | clips["clip_id"].isin(keep)]
    rows, frames, mfccs = [], {}, {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)    # one short STFT per clip: threads cost more than they give (20x on 2 busy cores)
    try:
        for r in tqdm(list(clips.itertuples()), desc="DAVS word windows", disable=not progress, unit="clip"):
            f, audio = data.load(r.clip_id)
            n = len(f)
            if cfg.word_labels == "twin_words":
                spans = [(s["word"], s["start_s"], s["end_s"]) for s in word_spans(load_sidecar(data, r.clip_id))]
            else:
                c = speech_centre(audio) / FPS
                spans = [(r.sentence, c - 0.5, c + 0.5)]
            kept = 0
            for word, a, b in spans:
                if (b - a) * FPS < cfg.min_word_frames and cfg.word_labels == "twin_words":
                    continue
                start = window_start((a + b) / 2 * FPS, n, cfg.window_frames)
                if start is None:
                    continue
                rows.append({"clip_id": r.clip_id, "split": r.split, "actor": int(r.actor), "sentence": r.sentence,
                             "word": word, "start": start, "word_start_s": a, "word_end_s": b})
                kept += 1
            if kept:
                frames[r.clip_id] = torch.from_numpy(np.ascontiguousarray(f))
                mfccs[r.clip_id] = mfcc_windows(audio, n)
    finally:
        torch.set_num_threads(threads)
    if not rows:
        raise UserError(f"no word windows of {cfg.window_frames} frames in {data.root}; the clips are too short")
    table = pd.DataFrame(rows)
    classes = sorted(table["word"].unique())
    table["label"] = table["word"].map({w: i for i, w in enumerate(classes)}).astype(np.int64)
    persons = sorted(int(a) for a in table.loc[table["split"] == "train", "actor"].unique())
    table["person"] = table["actor"].map({a: i for i, a in enumerate(persons)}).fillna(-1).astype(np.int64)
    train_clips = table.loc[table["split"] == "train", "clip_id"].unique()
    if len(train_clips) == 0:
        raise UserError(f"no training windows in {data.root} (splits.csv has no usable train clip); DAVS needs some")
    stack = np.concatenate([mfccs[c] for c in train_clips])
    mean, std = stack.mean((0, 2), keepdims=True)[0], stack.std((0, 2), keepdims=True)[0] + 1e-5
    mfccs = {c: torch.from_numpy((m - mean) / std) for c, m in mfccs.items()}
    return WordWindows(table, frames, mfccs, classes, persons, cfg.window_frames, mean, std)
