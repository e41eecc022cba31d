"""A closed-vocabulary word recogniser: the stand-in for the paper's unnamed ASR.

No pretrained ASR is reachable here, so a small CTC model (2 strided 1-D convs to 25 fps, a BiGRU,
a linear layer over the words of the twin's 12 CREMA-D sentences + blank) is trained on the twin's
REAL training speech, whose transcripts are known. It hears speech (a waveform, whose log-mel it
computes itself), so Griffin-Lim's artefacts count. It only knows a few dozen words and has heard
every training sentence: its word error rate says whether the content is recognisable to a listener
that knows the script, not what an open-vocabulary ASR would say.
"""
import dataclasses
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.crema_meta import SENTENCE_TEXT
from ..paths import checkpoint_dir
from ..train.checkpoint import Checkpoint
from ..train.resumable import run_resumable
from .config import MelConfig, RecogniserConfig
from .data import LogMel


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


VOCAB = sorted({w for t in SENTENCE_TEXT.values() for w in words(t)})     # index 0 is CTC's blank


def word_errors(ref: list, hyp: list) -> int:
    """Levenshtein distance over words (substitutions + insertions + deletions)."""
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return int(d[-1])


def wer(refs: list, hyps: list) -> float:
    return sum(word_errors(r, h) for r, h in zip(refs, hyps)) / max(1, sum(len(r) for r in refs))


class WordRecogniser(nn.Module):
    def __init__(self, cfg: RecogniserConfig, mel: MelConfig, stats):
        super().__init__()
        self.logmel = LogMel(mel)
        self.register_buffer("mean", torch.as_tensor(stats[0]))
        self.register_buffer("std", torch.as_tensor(stats[1]))
        h = cfg.hidden
        self.conv = nn.Sequential(nn.Conv1d(mel.n_mels, h, 5, stride=2, padding=2), nn.ReLU(),
                                  nn.Conv1d(h, h, 5, stride=2, padding=2), nn.ReLU())
        self.rnn = nn.GRU(h, h, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * h, len(VOCAB) + 1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, L) -> log-probabilities (B, L / 640, vocab + 1)."""
        x = (self.logmel(wav) - self.mean) / self.std
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.out(self.rnn(x)[0]).log_softmax(-1)

    @torch.no_grad()
    def transcribe(self, wav: np.ndarray) -> list[str]:
        dev = self.mean.device
        ids = self.eval()(torch.from_numpy(np.asarray(wav, np.float32))[None].to(dev))[0].argmax(-1).tolist()
        out, prev = [], 0
        for i in ids:                       # greedy CTC: collapse repeats, drop blanks
            if i != prev and i != 0:
                out.append(VOCAB[i - 1])
            prev = i
        return out


def transcript(sentence: str) -> list[str]:
    return words(SENTENCE_TEXT[sentence])


def train_recogniser(profile, arrays, sentences: dict, stats, cfg: RecogniserConfig, mel: MelConfig, data_key: str,
                     device="cpu", force_retrain=False, progress=True):
    """sentences: clip id -> sentence code. Trained on whole real training clips, batches padded."""
    torch.manual_seed(cfg.seed)
    model = WordRecogniser(cfg, mel, stats).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    ids = list(arrays.ids)
    targets = {c: torch.tensor([VOCAB.index(w) + 1 for w in transcript(sentences[c])]) for c in ids}

    def step(i):
        model.train()
        pick = [ids[j] for j in rng.choice(len(ids), size=min(cfg.batch, len(ids)), replace=False)]
        wavs = [arrays.wav[c] for c in pick]
        n = max(len(w) for w in wavs)
        x = torch.from_numpy(np.stack([np.pad(w, (0, n - len(w))) for w in wavs])).to(device)
        logp = model(x)
        in_len = torch.tensor([len(w) // 640 for w in wavs]).clamp(max=logp.shape[1])
        tg = [targets[c] for c in pick]
        loss = F.ctc_loss(logp.transpose(0, 1), torch.cat(tg).to(device), in_len, torch.tensor([len(t) for t in tg]),
                          blank=0, zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return {"step": i + 1, "ctc": float(loss.detach())}

    key = {"cfg": dataclasses.asdict(cfg), "mel": dataclasses.asdict(mel), "data": data_key, "n": len(ids),
           "vocab": len(VOCAB)}
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "lip2speech_recogniser", key)
    res = run_resumable(ckpt, cfg.steps, step, {"model": model, "opt": opt}, {"batches": rng},
                        save_every=max(10, cfg.steps // 4), force_retrain=force_retrain, progress=progress,
                        desc="word recogniser (real speech)", postfix=lambda r: {"ctc": f"{r['ctc']:.2f}"})
    return model.eval(), res.history
