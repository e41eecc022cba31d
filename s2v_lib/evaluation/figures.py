"""The study's figures: Figure 3 (methods side by side), Figure 4 (unseen voices), and the plots of
notebooks 05-06 (Table 1 with intervals, syncnet's distance-per-offset curves, unseen-voice agreement).

Each function returns a matplotlib Figure; save it with s2v_lib.figures.save_png_pdf(fig, figures_dir(p) / "fig3").
"""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..metrics import frame_positions
from .table1 import LABELS, METHODS

METHOD_COLORS = dict(zip(METHODS + ("real",), sns.color_palette("colorblind", len(METHODS) + 1)))


def _frame_strip(axes, frames: np.ndarray, cols: np.ndarray, label: str):
    for ax, t in zip(axes, cols):
        ax.imshow(frames[min(t, len(frames) - 1)])
        ax.set_xticks([])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
    axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def figure3(examples: list[dict], n_cols: int = 8, fps: int = 25) -> plt.Figure:
    """examples: [{"title": str, "rows": {"Ground truth": frames, "SDFA": ..., "S2F+SDFA": ..., "speech2video": ...}}],
    frames uint8 (T, S, S, 3). The paper's layout: per utterance, ground truth first, ours last;
    columns are frames evenly spaced in time (seconds under each block)."""
    heights = [len(e["rows"]) + 0.6 for e in examples]
    fig = plt.figure(figsize=(1.0 * n_cols + 1.4, sum(heights)))
    for sub, ex in zip(np.atleast_1d(fig.subfigures(len(examples), 1, height_ratios=heights)), examples):
        axes = sub.subplots(len(ex["rows"]), n_cols, squeeze=False, gridspec_kw={"wspace": 0.03, "hspace": 0.06})
        cols = frame_positions(min(len(f) for f in ex["rows"].values()), n_cols)
        for ax_row, (label, frames) in zip(axes, ex["rows"].items()):
            _frame_strip(ax_row, frames, cols, label)
        for ax, c in zip(axes[-1], cols):
            ax.set_xlabel(f"{c / fps:.2f} s", fontsize=7)
        sub.suptitle(ex["title"], x=0.02, ha="left", fontsize=9)
    return fig


def figure4(examples: list[dict], n_cols: int = 6, fps: int = 25) -> plt.Figure:
    """examples: [{"title": str, "real": frames, "generated": frames}] for unseen speakers: their real face
    (never seen in training) above the face speech2video imagines from their voice."""
    fig = plt.figure(figsize=(1.0 * n_cols + 1.6, 2.3 * len(examples)))
    for sub, ex in zip(np.atleast_1d(fig.subfigures(len(examples), 1)), examples):
        axes = sub.subplots(2, n_cols, squeeze=False, gridspec_kw={"wspace": 0.03, "hspace": 0.08})
        cols = frame_positions(min(len(ex["real"]), len(ex["generated"])), n_cols)
        _frame_strip(axes[0], ex["real"], cols, "real")
        _frame_strip(axes[1], ex["generated"], cols, "generated")
        sub.suptitle(ex["title"], x=0.02, ha="left", fontsize=9)
    return fig


def table1_plot(table: pd.DataFrame, metrics=("ssim", "psnr_frame", "psnr_video", "confidence", "identity_top1",
                                              "emotion_acc")) -> plt.Figure:
    """One panel per metric: each method's mean with its 95% bootstrap interval."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 3.2))
    for ax, m in zip(np.atleast_1d(axes), metrics):
        t = table[table[m].notna()]
        sns.barplot(data=t, x="method", y=m, hue="method", palette=METHOD_COLORS, ax=ax, legend=False)
        ax.errorbar(np.arange(len(t)), t[m], yerr=[t[m] - t[f"{m}_lo"], t[f"{m}_hi"] - t[m]], fmt="none",
                    ecolor="black", capsize=3, lw=1)
        ax.set_title(LABELS[m], fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        if m in ("ssim", "identity_top1", "emotion_acc"):
            ax.set_ylim(0, 1)
        elif m.startswith("psnr"):
            ax.set_ylim(max(0.0, float(t[f"{m}_lo"].min()) - 3), None)
    fig.tight_layout()
    return fig


def sync_curves_plot(curves: pd.DataFrame) -> plt.Figure:
    """syncnet_python's mean distance per offset (per_clip.mean_dist_curves): a sharp dip at 0 means sync."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    sns.lineplot(data=curves, x="offset", y="mean_dist", hue="method", palette=METHOD_COLORS, ax=ax)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("offset (frames, syncnet_python convention)")
    ax.set_ylabel("mean distance")
    fig.tight_layout()
    return fig


def unseen_agreement_frame(summary: dict) -> pd.DataFrame:
    """unseen_voice.json -> long table (faces, attribute, mean, lo, hi, chance)."""
    rows = []
    names = {"real": "real faces", "speech2video": "speech2video", "s2f_sdfa": "S2F+SDFA"}
    for key, label in names.items():
        for attr in ("sex", "age_group"):
            v = summary.get(f"{attr}_agreement_{key}")
            if v is None:
                continue
            rows.append({"faces": label, "attribute": attr.replace("_", " "), "mean": v["mean"], "lo": v["lo"],
                         "hi": v["hi"], "chance": summary[f"{attr}_chance_{key}"]["mean"]})
    return pd.DataFrame(rows)


def unseen_agreement_plot(summary: dict) -> plt.Figure:
    """Agreement of the generated face's sex / age group (probe on identity-teacher features) with the
    voice owner's, for unseen actors; whiskers: 95% interval over actors; dashes: chance."""
    df = unseen_agreement_frame(summary)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    sns.barplot(data=df, x="attribute", y="mean", hue="faces", ax=ax,
                palette={"real faces": METHOD_COLORS["real"], "speech2video": METHOD_COLORS["speech2video"],
                         "S2F+SDFA": METHOD_COLORS["S2F+SDFA"]})
    for bar_group, (_, sub) in zip(ax.containers, df.groupby("faces", sort=False)):
        for bar, r in zip(bar_group, sub.itertuples()):
            x = bar.get_x() + bar.get_width() / 2
            ax.errorbar(x, r.mean, yerr=[[r.mean - r.lo], [r.hi - r.mean]], color="black", capsize=3, lw=1)
            ax.hlines(r.chance, bar.get_x(), bar.get_x() + bar.get_width(), color="black", ls="--", lw=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("agreement with the voice owner")
    ax.set_xlabel("")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def sync_training_plot(history: list) -> plt.Figure:
    """The sync expert's training loss and 31-way window accuracy (smoothed); history: SyncExpert.history."""
    df = pd.DataFrame(history).rename(columns={"train_acc": "train accuracy"})
    w = max(1, len(df) // 30)
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
    for ax, col in zip(axes, ("loss", "train accuracy")):
        ax.plot(df["step"], df[col], alpha=0.3, color="C0")
        ax.plot(df["step"], df[col].rolling(w, min_periods=1).mean(), color="C0")
        ax.set_title(col, fontsize=10)
        ax.set_xlabel("step")
    fig.tight_layout()
    return fig
