"""Tables and figures of notebook 02 (teachers)."""
import numpy as np
import pandas as pd
import torch

from ..config import EMOTIONS
from ..device import module_device
from ..frames import frames_to_tensor


def training_summary(logs: dict) -> pd.DataFrame:
    """One row per in-project teacher: epochs, seconds, final train / held-out accuracy."""
    rows = {}
    for kind in ("identity", "emotion"):
        log = logs[kind]
        rows[kind] = {"epochs": len(log["epoch"]), "train_seconds": round(float(sum(log["seconds"])), 1),
                      "final_train_acc": round(log["train_acc"][-1], 4), "final_heldout_acc": round(log["val_acc"][-1], 4),
                      "reused_checkpoint": bool(log.get("reused", False))}
    return pd.DataFrame.from_dict(rows, orient="index")


def results_table(results: dict, keys: list[str]) -> pd.DataFrame:
    """Families as rows; each metric with its bootstrap interval as 'value [lo, hi]' when it has one."""
    rows = {}
    for family, r in results.items():
        row = {}
        for k in keys:
            v = r[k]
            ci = r.get(f"{k}_ci")
            row[k] = f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else (round(v, 3) if isinstance(v, float) else v)
        rows[family] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def face_set_figure(faces: dict, n_identities: int = 6, per_row: int = 12):
    """A grid: one row per identity, frames spread over its six emotions."""
    import matplotlib.pyplot as plt
    ids = np.unique(faces["identity"])[:n_identities]
    fig, axes = plt.subplots(len(ids), per_row, figsize=(per_row * 0.9, len(ids) * 1.0))
    for r, ident in enumerate(ids):
        idx = np.flatnonzero(faces["identity"] == ident)
        idx = idx[np.linspace(0, len(idx) - 1, per_row).astype(int)]
        for c, i in enumerate(idx):
            ax = axes[r, c]
            ax.imshow(faces["images"][i])
            ax.set_axis_off()
            ax.set_title(EMOTIONS[faces["emotion"][i]], fontsize=7)
    fig.suptitle("teacher face set (identities not among the dataset's actors)", fontsize=9)
    fig.tight_layout()
    return fig


def training_figure(logs: dict):
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    rows = []
    for kind in ("identity", "emotion"):
        log = logs[kind]
        for e, loss, tr, va in zip(log["epoch"], log["loss"], log["train_acc"], log["val_acc"]):
            rows += [dict(teacher=kind, epoch=e, metric="loss", value=loss),
                     dict(teacher=kind, epoch=e, metric="train accuracy", value=tr),
                     dict(teacher=kind, epoch=e, metric="held-out accuracy", value=va)]
    df = pd.DataFrame(rows)
    sns.lineplot(df[df.metric == "loss"], x="epoch", y="value", hue="teacher", ax=axes[0], marker="o")
    axes[0].set_ylabel("training loss")
    sns.lineplot(df[df.metric != "loss"], x="epoch", y="value", hue="teacher", style="metric", ax=axes[1], marker="o")
    axes[1].set_ylabel("accuracy")
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(fontsize=7)
    fig.suptitle("in-project teachers (held out: face-set identities never trained on; identity = 1-NN)", fontsize=9)
    fig.tight_layout()
    return fig


def emotion_teachers_confusion_figure(emotion_results: dict):
    """Row-normalised confusion matrices of the emotion teachers, side by side."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, axes = plt.subplots(1, len(emotion_results), figsize=(4.2 * len(emotion_results), 3.4))
    for ax, (family, r) in zip(np.atleast_1d(axes), emotion_results.items()):
        cm = r["confusion"]
        share = cm.div(cm.sum(axis=1).clip(lower=1), axis=0)
        sns.heatmap(share, annot=cm.values, fmt="d", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax)
        ax.set_title(f"{family}: accuracy {r['accuracy']:.2f} ({r['n_clips']} clips, K={r['k']})", fontsize=9)
    fig.tight_layout()
    return fig


def emotion_examples_figure(emotion_teachers: dict, data, split: str = "test", n: int = 8, seed: int = 0):
    """n test frames (one per clip, emotions mixed) with every teacher's reading."""
    import matplotlib.pyplot as plt
    clips = data.clips(split)
    shuffled = clips.iloc[np.random.default_rng(seed).permutation(len(clips))]
    per_emotion = -(-n // clips["emotion"].nunique())   # ceil: every emotion shows up
    picked = shuffled.groupby("emotion").head(per_emotion).sort_values("emotion").head(n)
    frames = np.stack([v[len(v) // 2] for v in (data.load(c)[0] for c in picked["clip_id"])])
    x = frames_to_tensor(frames)
    readings = {}
    with torch.no_grad():
        for family, t in emotion_teachers.items():
            readings[family] = np.array(t.classes)[t.logits(x.to(module_device(t))).argmax(1).cpu().numpy()]
    fig, axes = plt.subplots(1, len(picked), figsize=(1.6 * len(picked), 2.2))
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(frames[i])
        ax.set_axis_off()
        label = f"true {picked['emotion'].iloc[i]}\n" + "\n".join(f"{f}: {readings[f][i]}" for f in readings)
        ax.set_title(label, fontsize=7)
    fig.tight_layout()
    return fig
