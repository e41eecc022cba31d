"""The ablation table: every departure's row (composer/ablations.py) scored on the test clips exactly
like Table 1 (evaluation/per_clip.py), beside the default models' rows from Table 1's per-clip scores.
results/<profile>/ablations.csv (per clip) and ablations.md (mean [95% CI over test clips])."""
import numpy as np
import pandas as pd

from ..atomic import write_csv, write_text
from ..paths import results_dir
from ..stats import bootstrap_ci
from .per_clip import evaluate_method
from .table1 import LABELS, METRICS

DEFAULT_ROWS = {"speech2video": "speech2video", "sdfa": "SDFA", "s2f_sdfa": "S2F+SDFA"}   # model -> Table 1 row


def ablation_generators(models: dict, data, features: dict) -> dict:
    """label -> generate_fn(clip_id) for trained ablation models (TrainedModel by label); SDFA-family rows
    animate the clip's own first frame as in Table 1."""
    from ..generate import generate

    def fn(model):
        if model.name == "speech2video":
            return lambda cid: generate(model, data.load(cid)[1], features=features[cid])
        if model.name == "sdfa":
            return lambda cid: generate(model, data.load(cid)[1], still=data.load(cid)[0][0])
        return lambda cid: generate(model, data.load(cid)[1])
    return {label: fn(m) for label, m in models.items()}


def score_ablations(ablations: dict, ctx, clip_ids, progress: bool = True) -> pd.DataFrame:
    """ablations: label -> generate_fn(clip_id). One row per (label, clip), Table 1's columns."""
    return pd.concat([evaluate_method(label, fn, ctx, clip_ids, 0, progress) for label, fn in ablations.items()],
                     ignore_index=True)


def ablation_table(ablation_clips: pd.DataFrame, per_clip: pd.DataFrame, specs, n_boot: int = 1000) -> pd.DataFrame:
    """Per model: its Table 1 row (the default, seed 0) then each ablation row; mean, lo, hi per metric."""
    rows = []
    for model, default in DEFAULT_ROWS.items():
        base = per_clip[(per_clip["method"] == default) & (per_clip["seed"] == per_clip["seed"].min())]
        parts = [(f"{default} (default)", "", base)]
        parts += [(ab.label, ab.changes, ablation_clips[ablation_clips["method"] == ab.label])
                  for ab in specs if ab.model == model]
        rows += [table_row(model, label, changes, sub, n_boot) for label, changes, sub in parts if not sub.empty]
    return pd.DataFrame(rows)


def table_row(model: str, label: str, changes: str, sub: pd.DataFrame, n_boot: int = 1000) -> dict:
    """One row of an ablation table: mean, lo, hi (bootstrap over the clips of `sub`) per metric."""
    row = {"model": model, "row": label, "changes": changes, "n_clips": len(sub)}
    for m in METRICS:
        vals = sub[m].dropna() if m in sub else pd.Series(dtype=float)
        mean, lo, hi = bootstrap_ci(vals, n=n_boot) if len(vals) else (np.nan,) * 3
        row.update({m: mean, f"{m}_lo": lo, f"{m}_hi": hi})
    return row


def ablation_markdown(table: pd.DataFrame, caption: str, default_text: str = "the Table 1 model") -> str:
    cols = [m for m in METRICS if m in table]
    lines = [caption, "", "| row | changes | " + " | ".join(LABELS[m] for m in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for r in table.to_dict("records"):
        cells = [f"{r[m]:.3f} [{r[m + '_lo']:.3f}, {r[m + '_hi']:.3f}]" if np.isfinite(r[m]) else "–" for m in cols]
        lines.append(f"| {r['row']} | {r['changes'] or default_text} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_ablations(ablation_clips: pd.DataFrame, table: pd.DataFrame, profile_name: str, data_label: str) -> None:
    out = results_dir(profile_name)
    write_csv(out / "ablations_per_clip.csv", ablation_clips.drop(columns=["mean_dists"], errors="ignore"))
    write_csv(out / "ablations.csv", table)
    caption = (f"**Ablations of our departures from the papers.** Dataset: {data_label}; profile `{profile_name}`; "
               "seed 0; test split, every clip; metrics and conventions as Table 1; cells: mean [95% bootstrap CI "
               "over test clips]. Each row is the default model with one choice changed (docs/design.md §10.12-10.13).")
    write_text(out / "ablations.md", ablation_markdown(table, caption))
