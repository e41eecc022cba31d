"""Table 1: which methods (rows) and metrics (columns), the conventions stated in its caption, the
bootstrap table (mean [95% CI], seed spread beside it), and its markdown with the paper's published
values beside ours.

Intervals: a row with one seed (one trained model) gets the bootstrap over test clips; a row with
several seeds the hierarchical bootstrap over seeds and test clips together (stats.py: seeds resampled,
then clips, the same clips for every seed), so training variance is inside the interval. The spread
over seeds (sd of the per-seed means) is reported beside it. With one seed both are the same numbers.
"""
import numpy as np
import pandas as pd

from ..atomic import write_csv, write_text
from ..paths import results_dir
from ..stats import hierarchical_bootstrap_ci

METHODS = ("speech2video", "SDFA", "S2F+SDFA", "SDFA(mismatch)", "DAVS", "DAVS(mismatch)", "ground_truth")
# the spec's seven metrics, then the share of clips whose syncnet offset is 0 (docs/design.md §7: "also report the
# offset"; Confidence alone does not see a constant lag: it measures how sharp the dip is, wherever it is)
# then sharpness / texture of the generated frames (evaluation/sharpness.py): CPBD as SDFA's paper reports it, and
# the high-frequency energy ratio to the real frames (blur below 1, noise / checkerboard above), and how much of
# that energy sits on the upsampling grid, over the real frames' share (a periodic pattern, which hf_ratio cannot tell
# from real texture)
METRICS = ("ssim", "psnr_frame", "psnr_video", "confidence", "lse_d", "identity_top1", "emotion_acc", "offset0",
           "cpbd", "hf_ratio", "grid_ratio")
QUALITY = ("ssim", "psnr_frame", "psnr_video")
SYNC = ("confidence", "lse_d", "offset0")
TEXTURE = ("cpbd", "hf_ratio", "grid_ratio")
GROUND_TRUTH = SYNC + TEXTURE          # what the ground truth row reports (the rest compare against it)
LABELS = {"ssim": "SSIM", "psnr_frame": "PSNR (frame)", "psnr_video": "PSNR (video)", "confidence": "Confidence",
          "lse_d": "LSE-D", "identity_top1": "identity top-1", "emotion_acc": "emotion acc.", "offset0": "offset 0",
          "cpbd": "CPBD", "hf_ratio": "HF ratio", "grid_ratio": "grid ratio"}
CONVENTIONS = ("SSIM: scikit-image structural_similarity on RGB uint8, data_range=255, channel_axis=-1, "
               "mean over frames then clips. PSNR (frame): mean of per-frame 10 log10(255^2/MSE); PSNR (video): "
               "SDFA's per-video -10 log10(mean MSE/255^2). Confidence / LSE-D: syncnet_python's median-minus-min "
               "and min of the mean distance over offsets -15..+15 frames, from our in-project sync expert "
               "(absolute values are not comparable with the paper's SyncNet); offset 0: share of clips whose syncnet offset "
               "is 0. Identity top-1: identity-teacher "
               "embedding of 5 frames vs seen-actor centroids. Emotion acc.: emotion teacher, logits averaged over "
               "5 frames. CPBD: sharpness (Narvekar & Karam; our port of the cpbd package, 64x64 blocks) of the "
               "grayscale (ITU-R 601) frame, mean over 5 evenly spaced frames then clips; higher = sharper. HF ratio: "
               "energy of the grayscale frames' 2-D FFT above half Nyquist (radial frequency > 0.25 cycles/pixel), "
               "summed over frames, generated over real, mean over clips: 1 = real-like texture, below = blur, "
               "above = noise / checkerboard (ground truth: 1 by construction). Grid ratio: the share of that high-frequency "
               "energy on the frequency grid of a 16-pixel period (both frequencies multiples of 1/16 cycles/pixel: "
               "where four x2 upsamplings put a checkerboard), generated over real, mean over clips: 1 = no more "
               "periodic than real texture, above 1 = a grid pattern (ground truth: 1 by construction).")
INTERVALS = ("Intervals (95%, 1000 resamples): rows with one seed, bootstrap over test clips; rows with several "
             "seeds, hierarchical bootstrap over seeds and test clips together (seeds resampled with replacement, "
             "then clips, the same clips for every seed), ± = sd of the per-seed means.")
DATASET_LABELS = {"synthetic": "CREMA-D twin (synthetic; not the paper's data)", "crema-d": "CREMA-D (real)",
                  "voxceleb2": "VoxCeleb2 (real)"}


def dataset_label(dataset: str) -> str:
    return DATASET_LABELS.get(dataset, dataset)


def seed_means(per_clip: pd.DataFrame, method: str, columns=METRICS) -> pd.DataFrame:
    """Per clip, the mean over seeds (index clip_id)."""
    sub = per_clip[per_clip["method"] == method]
    cols = [c for c in columns if c in sub]
    return sub.groupby("clip_id")[cols].mean()


def seed_clip_matrix(per_clip: pd.DataFrame, method: str, metric: str) -> pd.DataFrame:
    """(seeds x clips) of one method's metric: row = seed, columns = clip_id (sorted; NaN where a seed
    lacks the clip). What the hierarchical bootstraps take."""
    sub = per_clip[per_clip["method"] == method]
    return sub.pivot(index="seed", columns="clip_id", values=metric).sort_index().sort_index(axis=1)


def seeds_of(per_clip: pd.DataFrame, method: str) -> list[int]:
    return sorted(int(s) for s in per_clip.loc[per_clip["method"] == method, "seed"].unique())


def table1(per_clip: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per method (METHODS order): each metric's mean, _lo, _hi (NaN where not applicable:
    ground_truth has sync, cpbd and hf_ratio only), then n_clips, n_seeds, seeds and the seed spread <metric>_seed_sd.
    Intervals: hierarchical bootstrap over seeds and clips (the clip bootstrap when a row has one seed)."""
    rows = []
    for method in METHODS:
        sub = per_clip[per_clip["method"] == method]
        if sub.empty:
            continue
        per = seed_means(per_clip, method)
        seeds = sorted(sub["seed"].unique())
        row = {"method": method}
        for m in METRICS:
            applicable = m in per and per[m].notna().any() and (method != "ground_truth" or m in GROUND_TRUTH)
            mean, lo, hi = hierarchical_bootstrap_ci(seed_clip_matrix(per_clip, method, m).to_numpy(), n=n_boot,
                                                     seed=seed) if applicable else (np.nan,) * 3
            row.update({m: mean, f"{m}_lo": lo, f"{m}_hi": hi})
        row.update(n_clips=len(per), n_seeds=len(seeds), seeds=" ".join(map(str, seeds)))
        for m in METRICS:
            applicable = m in sub and sub[m].notna().any() and (method != "ground_truth" or m in GROUND_TRUTH)
            sd = sub.groupby("seed")[m].mean().std(ddof=1) if applicable and len(seeds) > 1 else np.nan
            row[f"{m}_seed_sd"] = sd
        rows.append(row)
    return pd.DataFrame(rows)


def paper_table() -> pd.DataFrame:
    """The paper's Table 1 as published (CREMA-D and VoxCeleb2, real data): dataset, method, ssim, psnr, confidence."""
    from importlib import resources
    with resources.files("s2v_lib.data").joinpath("paper_table1.csv").open() as f:
        return pd.read_csv(f)


def _fmt(v, lo=None, hi=None, sd=None, digits=3) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    s = f"{v:.{digits}f}"
    if lo is not None and np.isfinite(lo):
        s += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    if sd is not None and np.isfinite(sd):
        s += f" ±{sd:.{digits}f}"
    return s


def seeds_caption(table: pd.DataFrame) -> str:
    """'speech2video 0, 1, 2; SDFA 0; ...': which seeds each row has, from the table itself."""
    return "; ".join(f"{r.method} {', '.join(str(r.seeds).split())}" for r in table.itertuples(index=False)
                     if r.method != "ground_truth")


def table1_markdown(table: pd.DataFrame, profile_name: str, data_label: str, n_test: int) -> str:
    digits = {"ssim": 3, "psnr_frame": 2, "psnr_video": 2, "confidence": 2, "lse_d": 2, "identity_top1": 3,
              "emotion_acc": 3, "offset0": 2, "cpbd": 3,
              "hf_ratio": 2, "grid_ratio": 2}
    paper = paper_table()
    lines = [f"**Table 1 (this study).** Dataset: {data_label}; profile `{profile_name}`; test split, "
             f"{n_test} clips. Seeds (trained models) per row: {seeds_caption(table)}; a row with several "
             f"seeds is their mean. Cells: mean [95% CI]. {INTERVALS} {CONVENTIONS}", ""]
    head = ["method"] + [LABELS[m] for m in METRICS]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.itertuples(index=False):
        r = r._asdict()
        cells = [r["method"]] + [_fmt(r[m], r[f"{m}_lo"], r[f"{m}_hi"], r.get(f"{m}_seed_sd"), digits[m])
                                 for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"**Beside it: the paper's Table 1 as published (real data; not comparable in absolute "
                  f"terms: different data, and a SyncNet trained elsewhere for Confidence).** "
                  f"Ours = {data_label}.", ""]
    ours = table.set_index("method")
    dsets = list(dict.fromkeys(paper["dataset"]))
    head = ["method"] + [f"SSIM {d}" for d in ["ours"] + dsets] + [f"PSNR {d}" for d in ["ours (frame)", "ours (video)"] + dsets] \
        + [f"Confidence {d}" for d in ["ours"] + dsets]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in METHODS[:4]:
        p = paper[paper["method"] == method].set_index("dataset")
        o = ours.loc[method] if method in ours.index else None
        get = lambda m, d=3: _fmt(o[m], digits=d) if o is not None else "–"
        cells = [method, get("ssim")] + [_fmt(p.at[d, "ssim"], digits=4) for d in dsets] \
            + [get("psnr_frame", 2), get("psnr_video", 2)] + [_fmt(p.at[d, "psnr"], digits=3) for d in dsets] \
            + [get("confidence", 2)] + [_fmt(p.at[d, "confidence"], digits=1) for d in dsets]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table1(table: pd.DataFrame, per_clip: pd.DataFrame, profile_name: str, data_label: str) -> dict:
    """results/<profile>/table1.csv, table1.md and per_clip_metrics.csv (what the claims are tested on)."""
    out = results_dir(profile_name)
    n_test = per_clip[per_clip["method"] != "ground_truth"]["clip_id"].nunique()
    write_csv(out / "table1.csv", table)
    write_text(out / "table1.md", table1_markdown(table, profile_name, data_label, n_test))
    write_csv(out / "per_clip_metrics.csv", per_clip)
    return {"table1.csv": out / "table1.csv", "table1.md": out / "table1.md",
            "per_clip_metrics.csv": out / "per_clip_metrics.csv"}
