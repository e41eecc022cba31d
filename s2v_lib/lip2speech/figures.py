"""Lip2Speech figures: mel spectrograms beside the faces (as the paper's Fig. 8), real / reconstructed
faces from the speaker embedding (Fig. 7), training curves, and the cycle's recollected faces."""
import matplotlib.pyplot as plt
import numpy as np


def mel_figure(study, split: str = "test", n: int = 3, methods=("lips", "face", "voice")):
    ids = study.eval_ids[split][:n]
    cols = ["real", *[m for m in methods if m in study.speech[split]]]
    fig, axes = plt.subplots(len(ids), len(cols) + 1, figsize=(2.6 * (len(cols) + 1), 2.0 * len(ids)), squeeze=False)
    for r, c in enumerate(ids):
        axes[r, 0].imshow(study.data.load(c)[0][0])
        axes[r, 0].set_title(c, fontsize=7)
        axes[r, 0].axis("off")
        for k, m in enumerate(cols, 1):
            mel = study.arrays[split].logmel[c] if m == "real" else study.speech[split][m][c][0]
            axes[r, k].imshow(mel.T, origin="lower", aspect="auto", cmap="magma", vmin=-8, vmax=2)
            axes[r, k].set_title(m if r == 0 else "", fontsize=8)
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
    fig.suptitle(f"log-mel spectrograms ({split}): real and generated per condition", fontsize=9)
    fig.tight_layout()
    return fig


def face_pairs_figure(ids, real, recon, title):
    n = len(ids)
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n, 3.0), squeeze=False)
    for k in range(n):
        axes[0, k].imshow(real[k].transpose(1, 2, 0))
        axes[1, k].imshow(np.clip(recon[k].transpose(1, 2, 0), 0, 1))
        axes[0, k].set_title(ids[k].split("_")[0], fontsize=7)
        for r in range(2):
            axes[r, k].axis("off")
    axes[0, 0].text(-8, 32, "real", rotation=90, va="center", fontsize=8)
    axes[1, 0].text(-8, 32, "from\nembedding", rotation=90, va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def training_figure(study):
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
    for name, tr in study.trained.items():
        axes[0].plot(tr.history["step"], tr.history["mse"], label=name)
    axes[0].set(title="Lip2Speech mel MSE (train)", xlabel="step", yscale="log")
    axes[0].legend(fontsize=7)
    sp = study.speaker_history
    axes[1].plot([r["step"] for r in sp], [r["loss"] for r in sp])
    axes[1].set(title="speaker module InfoNCE", xlabel="step")
    rh = study.recogniser_history
    axes[2].plot([r["step"] for r in rh], [r["ctc"] for r in rh])
    axes[2].set(title="word recogniser CTC (real speech)", xlabel="step")
    fig.tight_layout()
    return fig


def cycle_figure(rows, n: int = 4):
    ids = list(dict.fromkeys(rows["clip_id"]))[:n]
    methods = list(dict.fromkeys(rows["method"]))
    fig, axes = plt.subplots(len(methods), len(ids), figsize=(1.5 * len(ids), 1.6 * len(methods)), squeeze=False)
    for r, m in enumerate(methods):
        for k, c in enumerate(ids):
            hit = rows[(rows["method"] == m) & (rows["clip_id"] == c)]
            if len(hit):
                axes[r, k].imshow(hit["frame"].iloc[0])
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
            if k == 0:
                axes[r, k].set_ylabel(m, fontsize=7)
            if r == 0:
                axes[r, k].set_title(c.split("_")[0], fontsize=7)
    fig.suptitle("speech2video's face from each speech", fontsize=9)
    fig.tight_layout()
    return fig
