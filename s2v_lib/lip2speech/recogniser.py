"""A closed-vocabulary word recogniser: the stand-in for the paper's unnamed ASR.

No pretrained ASR is reachable here, so a small CTC model is trained on the twin's REAL training
speech, whose transcripts are known: log-mel (standardised with the training statistics) -> 3
strided 1-D convs with batch norm (x8 in time: 100 -> 12.5 frames/s) -> a BiGRU over the packed,
unpadded sequence -> a linear layer over the words of the 12 CREMA-D sentences + CTC's blank. It
hears speech (a waveform, whose log-mel it computes itself), so Griffin-Lim's artefacts count. It
only knows a few dozen words and has heard every training sentence: its word error rate says whether
the content is recognisable to a listener that knows the script, not what an open-vocabulary ASR would say.

Why this shape (measured on the smoke twin, 150 steps of 16 clips, test WER): the first version
(2 convs to 25 frames/s, no normalisation, the GRU run over zero padding) never left CTC's all-blank
plateau (WER 1.0 at any learning rate tried). Batch norm in the convs is what lets it leave (0.51);
running the GRU on packed sequences (the backward direction then starts at the clip's real end, not
in padding) and 12.5 output frames/s (CTC has fewer blank frames to learn; ~4 frames per word remain
at the twin's fastest ~3.3 words/s) bring it to 0.00 (lr 1e-2).
"""
import dataclasses
import math
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


VOCAB = sorted({w for t in SENTENCE_TEXT.values() for w in words(t)})     # output k + 1 is VOCAB[k]; 0 is CTC's blank


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


def greedy_decode(ids, vocab) -> list[str]:
    """Best-path CTC decoding: collapse runs of one output, then drop blanks (0); a word said twice
    survives only with a blank between its two runs."""
    out, prev = [], 0
    for i in ids:
        if i != prev and i != 0:
            out.append(vocab[i - 1])
        prev = i
    return out


class WordRecogniser(nn.Module):
    def __init__(self, cfg: RecogniserConfig, mel: MelConfig, stats, vocab=VOCAB):
        super().__init__()
        self.vocab = list(vocab)
        self.logmel = LogMel(mel)
        self.register_buffer("mean", torch.as_tensor(stats[0]))
        self.register_buffer("std", torch.as_tensor(stats[1]))
        h, layers, c = cfg.hidden, [], mel.n_mels
        for _ in range(cfg.n_strided):      # each conv halves time (kernel 5, stride 2, padding 2: ceil(n / 2))
            layers += [nn.Conv1d(c, h, 5, stride=2, padding=2), nn.BatchNorm1d(h), nn.GELU()]
            c = h
        self.n_strided = cfg.n_strided
        self.conv = nn.Sequential(*layers)
        self.rnn = nn.GRU(h, h, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * h, len(self.vocab) + 1)

    def out_lengths(self, n_samples: torch.Tensor) -> torch.Tensor:
        n = n_samples // self.logmel.cfg.hop
        for _ in range(self.n_strided):
            n = (n + 1) // 2
        return n

    def forward(self, wav: torch.Tensor, n_samples: torch.Tensor | None = None):
        """wav (B, L) zero-padded, n_samples (B,) true lengths -> (log-probabilities (B, T', vocab + 1),
        output lengths (B,)); T' = ceil(L / hop / 2^n_strided)."""
        if n_samples is None:
            n_samples = torch.full((wav.shape[0],), wav.shape[1])
        return self.from_logmel(self.logmel(wav), n_samples.cpu() // self.logmel.cfg.hop)

    def from_logmel(self, logmel: torch.Tensor, n_frames: torch.Tensor):
        """The same from log-mels (B, F, n_mels) padded with the log floor (silence), n_frames (B,)."""
        x = (logmel - self.mean) / self.std
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        lens = self.out_lengths(n_frames * self.logmel.cfg.hop).clamp(1, x.shape[1])
        packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        y = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        return self.out(y).log_softmax(-1), lens

    @torch.no_grad()
    def transcribe(self, wav: np.ndarray) -> list[str]:
        x = torch.from_numpy(np.asarray(wav, np.float32))[None].to(self.mean.device)
        logp, lens = self.eval()(x)
        return greedy_decode(logp[0, : int(lens[0])].argmax(-1).tolist(), self.vocab)


def transcript(sentence: str) -> list[str]:
    return words(SENTENCE_TEXT[sentence])


def train_recogniser(profile, arrays, transcripts: dict, stats, cfg: RecogniserConfig, mel: MelConfig, data_key: str,
                     device="cpu", force_retrain=False, progress=True, vocab=VOCAB, name="lip2speech_recogniser"):
    """transcripts: clip id -> list of words (of vocab). Trained on whole real training clips, from their
    cached log-mels (arrays.logmel: the very features LogMel computes from the waveform, so the STFT,
    ~40% of a step, is not redone), batches padded with silence. Adam, cosine decay to 5% of lr."""
    torch.manual_seed(cfg.seed)
    model = WordRecogniser(cfg, mel, stats, vocab).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(i, cfg.steps) / max(1, cfg.steps))))
    # (math, not numpy: a numpy float in the scheduler's state would make the checkpoint unloadable)
    rng = np.random.default_rng(cfg.seed)
    ids = list(arrays.ids)
    targets = {c: torch.tensor([model.vocab.index(w) + 1 for w in transcripts[c]]) for c in ids}
    floor = np.float32(np.log(mel.log_floor))

    def step(i):
        model.train()
        pick = [ids[j] for j in rng.choice(len(ids), size=min(cfg.batch, len(ids)), replace=False)]
        mels = [arrays.logmel[c] for c in pick]
        n = max(len(m) for m in mels)
        x = torch.from_numpy(np.stack([np.pad(m, ((0, n - len(m)), (0, 0)), constant_values=floor) for m in mels]))
        logp, in_len = model.from_logmel(x.to(device), torch.tensor([len(m) for m in mels]))
        tg = [targets[c] for c in pick]
        loss = F.ctc_loss(logp.transpose(0, 1), torch.cat(tg).to(device), in_len, torch.tensor([len(t) for t in tg]),
                          blank=0, zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        return {"step": i + 1, "ctc": float(loss.detach())}

    key = {"cfg": dataclasses.asdict(cfg), "mel": dataclasses.asdict(mel), "data": data_key, "n": len(ids),
           "vocab": model.vocab, "arch": 2}
    ckpt = Checkpoint(checkpoint_dir(profile.name) / name, key)
    res = run_resumable(ckpt, cfg.steps, step, {"model": model, "opt": opt, "sched": sched}, {"batches": rng},
                        save_every=max(10, cfg.steps // 4), force_retrain=force_retrain, progress=progress,
                        desc="word recogniser (real speech)", postfix=lambda r: {"ctc": f"{r['ctc']:.2f}"})
    return model.eval(), res.history
