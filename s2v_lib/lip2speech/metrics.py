"""Speech metrics: STOI / ESTOI (pystoi), PESQ wide band (pesq), cosine, speaker-verification EER.

All compare generated speech with the real clip's audio, both 16 kHz, cut to the shorter length.
PESQ raises on inputs it cannot align (e.g. silence); those clips get NaN and are counted.
"""
import numpy as np

SR = 16000


def _pair(ref, deg):
    n = min(len(ref), len(deg))
    return np.asarray(ref[:n], np.float64), np.asarray(deg[:n], np.float64)


def stoi(ref, deg, extended: bool = False) -> float:
    from pystoi import stoi as _stoi
    r, d = _pair(ref, deg)
    return float(_stoi(r, d, SR, extended=extended))


def pesq_wb(ref, deg) -> float:
    from pesq import pesq
    r, d = _pair(ref, deg)
    try:
        return float(pesq(SR, r, d, "wb"))
    except Exception:        # pesq's NoUtterancesError / BufferTooShortError: no score for this clip
        return float("nan")


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def eer(scores, labels) -> float:
    """Equal error rate of same-speaker (label 1) vs different-speaker (0) trial scores."""
    from sklearn.metrics import roc_curve
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return float("nan")
    fpr, tpr, _ = roc_curve(labels, np.asarray(scores))
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def verification_trials(emb: dict, actor_of: dict, enrol: dict):
    """Every generated clip embedding against every actor's enrolment embedding (mean GE2E of that
    actor's real clips): (scores, labels) for eer()."""
    scores, labels = [], []
    actors = sorted(enrol)
    E = np.stack([enrol[a] for a in actors])
    for c, e in emb.items():
        s = E @ (np.asarray(e) / np.linalg.norm(e))
        scores.extend(s.tolist())
        labels.extend([int(a == actor_of[c]) for a in actors])
    return np.array(scores), np.array(labels)
