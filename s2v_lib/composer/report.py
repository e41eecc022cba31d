"""Notebook 04's views of a trained model: sample grids, loss curves, quick scores, the config table."""
import dataclasses

import numpy as np
import pandas as pd
import torch


def grid_figure(real, fake, title, n_frames=8):
    """real, fake (B, T, 3, S, S) -> figure: per clip a row of real frames above generated ones."""
    import matplotlib.pyplot as plt
    b, t = real.shape[:2]
    t = min(t, n_frames)
    fig, axes = plt.subplots(2 * b, t, figsize=(t * 0.9, 2 * b * 0.9), squeeze=False)
    for i in range(b):
        for j in range(t):
            for r, (src, lab) in enumerate(((real, "real"), (fake, "gen"))):
                ax = axes[2 * i + r, j]
                ax.imshow(src[i, j].permute(1, 2, 0).float().clamp(0, 1).cpu().numpy())
                ax.set_xticks([]), ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(lab, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.1)
    return fig


@torch.no_grad()
def quick_scores(model, data, clip_ids, features=None, teacher=None, stills=None) -> pd.DataFrame:
    """Per clip: full-frame L1 and PSNR (per-video MSE) of the generated video against the real one,
    identity cosine (teacher embedding of generated vs real first frames) when a teacher is given, and
    mouth motion (mean temporal std of the lower half, generated and real). A quick look for notebook
    04; Table 1 is notebook 05's."""
    from ..generate import generate
    rows = []
    for cid in clip_ids:
        frames, wav = data.load(cid)
        still = frames[0] if stills is None else stills[cid]
        gen = generate(model, wav, still=still, features=None if features is None else features[cid])
        real, fake = frames.astype(np.float32), gen.astype(np.float32)
        mse = float(((real - fake) ** 2).mean())
        half = real.shape[1] // 2
        row = {"clip_id": cid, "l1": float(np.abs(real - fake).mean() / 255), "psnr": 10 * np.log10(255 ** 2 / max(mse, 1e-9)),
               "mouth_motion_gen": float(fake[:, half:].std(0).mean()), "mouth_motion_real": float(real[:, half:].std(0).mean())}
        if teacher is not None:
            x = torch.from_numpy(np.stack([frames[0], gen[0]])).float().div(255).permute(0, 3, 1, 2)
            dev = next(iter(teacher.parameters())).device if hasattr(teacher, "parameters") else "cpu"
            e = teacher.embed(x.to(dev)).float()
            row["id_cos"] = float(torch.nn.functional.cosine_similarity(e[:1], e[1:]).item())
        rows.append(row)
    return pd.DataFrame(rows)


def config_table(model) -> pd.DataFrame:
    """The model's configuration flattened to (key, value) rows, for the notebook."""
    flat = pd.json_normalize(dataclasses.asdict(model.config), sep=".").T.reset_index()
    flat.columns = ["key", "value"]
    return flat


LOSS_PANELS = [("l1_full", "full-frame L1 (all models)"), ("sim_l1", "speech2video: half-frame L1, Eq. 8"),
               ("grad", "speech2video: gradient loss, Eq. 9"), ("mouth_l1", "SDFA: mouth-half L1"),
               ("adv_fr", "generator: frame adversarial term"),
               (["loss_D_id", "loss_D_fr", "loss_D_sync", "loss_D_seq"], "discriminator losses")]


def loss_curves_figure(histories: dict, warmup_steps: int):
    """One panel per loss term, a line per model; the dotted line marks the end of the warm-up."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    curves = pd.concat([h.assign(model=name) for name, h in histories.items()], ignore_index=True)
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (cols, title) in zip(axes.flat, LOSS_PANELS):
        cols = [cols] if isinstance(cols, str) else cols
        long = curves.melt(id_vars=["step", "model"], value_vars=[c for c in cols if c in curves], var_name="term")
        long = long.dropna()
        sns.lineplot(data=long, x="step", y="value", hue="model", style="term" if len(cols) > 1 else None, ax=ax)
        ax.axvline(warmup_steps, color="grey", ls=":", lw=1)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def samples_figure(rows: list, n_show: int = 8):
    """rows: (label, frames uint8 (T, S, S, 3)) -> a grid of every k-th frame, one row per video."""
    import matplotlib.pyplot as plt
    step = max(1, min(len(r[1]) for r in rows) // n_show)
    fig, axes = plt.subplots(len(rows), n_show, figsize=(n_show * 0.95, len(rows) * 1.0), squeeze=False)
    for i, (label, video) in enumerate(rows):
        for j in range(n_show):
            ax = axes[i, j]
            ax.imshow(video[min(j * step, len(video) - 1)])
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(f"every {step}th frame; rows per clip: real, speech2video, SDFA, S2F+SDFA, SDFA(mismatch)", fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig
