"""Budget scaling's tables, claims, summary and figure (notebook 08), from score_budget's per-clip scores.

    table = budget_table(per_clip)          # method, budget_multiplier, steps, seed, every Table 1 column
    claims = budget_claims(per_clip)        # each test-clip claim's verdict at each budget
    md = budget_summary(claims, table)      # which verdicts are stable across budgets, which flip
    write_budget("cpu", table, claims, md)  # results/<profile>/budget_scaling.csv, budget_claims.csv, .md
"""
import numpy as np
import pandas as pd

from ..atomic import write_csv, write_text
from ..paths import results_dir
from .claims import claims_table, paper_claims
from .table1 import LABELS, METHODS, METRICS, table1

LEAD = ["method", "budget_multiplier", "steps", "warmup", "seed"]
POOLED = "all"        # the seed of a row pooling several seeds (hierarchical interval over seeds and clips)
# the targets (cpu profile) as (method, metric, lower bound, upper bound); the ground truth's
# Confidence enters as "at least half of the real videos'"
TARGETS = (("SDFA", "offset0", 0.6, None), ("SDFA", "confidence", "half_real", None),
           ("speech2video", "identity_top1", 0.6, None), ("speech2video", "hf_ratio", 0.7, 1.3),
           ("S2F+SDFA", "identity_top1", 0.06, None))


def _budgets(per_clip: pd.DataFrame) -> pd.DataFrame:
    b = per_clip.dropna(subset=["budget_multiplier"])
    return b[["budget_multiplier", "steps", "warmup"]].drop_duplicates().sort_values("budget_multiplier")


def budget_table(per_clip: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """One row per (method, multiplier, seed) with Table 1's columns (interval over test clips), one
    pooled row (seed "all", hierarchical interval over seeds and clips) where a budget has several
    seeds, and the ground truth (multiplier NaN) for reference."""
    rows = []
    gt = per_clip[per_clip["method"] == "ground_truth"]
    for b in _budgets(per_clip).itertuples(index=False):
        at = per_clip[per_clip["budget_multiplier"] == b.budget_multiplier]
        seeds = sorted(at["seed"].unique())
        groups = [(str(s), at[at["seed"] == s]) for s in seeds] + ([(POOLED, at)] if len(seeds) > 1 else [])
        for seed, sub in groups:
            t = table1(sub, n_boot=n_boot)
            rows.append(t.assign(budget_multiplier=b.budget_multiplier, steps=b.steps, warmup=b.warmup, seed=seed))
    if not gt.empty:
        rows.append(table1(gt, n_boot=n_boot).assign(budget_multiplier=np.nan, steps=np.nan, warmup=np.nan,
                                                     seed="0"))
    out = pd.concat(rows, ignore_index=True)
    return out[LEAD + [c for c in out.columns if c not in LEAD]]


def budget_claims(per_clip: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Each claim that the test clips decide (claims 1-3, 5; claim 4 needs notebook 06's unseen voices) at
    each budget: the pooled verdict, the per-seed verdicts and `stable` (over seeds), as claims.py computes them."""
    keep = [c.kind != "unseen" for c in paper_claims()]
    out = []
    for b in _budgets(per_clip).itertuples(index=False):
        at = per_clip[per_clip["budget_multiplier"] == b.budget_multiplier]
        df = claims_table(at, None, "")[keep]
        out.append(df.drop(columns="data").assign(budget_multiplier=b.budget_multiplier, steps=b.steps))
    df = pd.concat(out, ignore_index=True)
    lead = ["budget_multiplier", "steps", "claim", "statement", "verdict"]
    return df[lead + [c for c in df.columns if c not in lead]]


def verdicts_by_budget(claims: pd.DataFrame) -> pd.DataFrame:
    """statement x multiplier -> verdict, plus `across_budgets`: stable (one verdict at every budget) or flips."""
    wide = claims.pivot(index="statement", columns="budget_multiplier", values="verdict")
    wide = wide.reindex(list(dict.fromkeys(claims["statement"])))
    wide["across_budgets"] = np.where(wide.nunique(axis=1) == 1, "stable", "flips")
    return wide


def _x(m) -> str:
    return f"x{m:g}"


def target_rows(table: pd.DataFrame) -> list[str]:
    """Per target of the issue, its value at each budget and whether it is met (pooled rows where there are)."""
    main = representative_rows(table)
    real_conf = table.loc[table["method"] == "ground_truth", "confidence"]
    lines = []
    for method, metric, lo, hi in TARGETS:
        if lo == "half_real":
            if real_conf.empty:
                continue
            lo, what = 0.5 * float(real_conf.iloc[0]), f"≥ half the real videos' ({0.5 * float(real_conf.iloc[0]):.2f})"
        else:
            what = f"in [{lo:g}, {hi:g}]" if hi is not None else f"≥ {lo:g}"
        sub = main[main["method"] == method].sort_values("budget_multiplier")
        if sub.empty:
            continue
        vals = [(r.budget_multiplier, getattr(r, metric)) for r in sub.itertuples(index=False)]
        met = [np.isfinite(v) and v >= lo and (hi is None or v <= hi) for _, v in vals]
        cells = ", ".join(f"{_x(m)} {v:.3g}{' (met)' if ok else ''}" for (m, v), ok in zip(vals, met))
        lines.append(f"- {method} {LABELS[metric]} {what}: {cells}; "
                     + ("met at every budget" if all(met) else "met nowhere" if not any(met) else
                        f"met from {_x(vals[met.index(True)][0])}" if all(met[met.index(True):]) else "met at some budgets"))
    return lines


def budget_summary(claims: pd.DataFrame, table: pd.DataFrame, profile_name: str = "", data_label: str = "") -> str:
    """The markdown summary, computed from the numbers: which verdicts are stable across budgets, which flip
    (with the verdict at each budget), how the verdicts fare over seeds at each budget, and the targets."""
    wide = verdicts_by_budget(claims)
    budgets = [c for c in wide.columns if c != "across_budgets"]
    steps = claims.drop_duplicates("budget_multiplier").set_index("budget_multiplier")["steps"]
    seeds = table[table["seed"] != POOLED].groupby("budget_multiplier")["seed"].nunique()
    head = (f"**Budget scaling{f' ({data_label}, profile `{profile_name}`)' if profile_name else ''}.** The composer "
            "stage of every method trained at " + ", ".join(f"{_x(m)} ({int(steps[m])} adversarial steps, "
                                                           f"{int(seeds.get(m, 1))} seed{'s' if seeds.get(m, 1) > 1 else ''})"
                                                           for m in budgets)
            + " of the profile's budget (warm-up scaled alike), scored like Table 1 on the test clips. "
              "Claim 4 (unseen voices) is not part of it.")
    stable = wide[wide["across_budgets"] == "stable"]
    flips = wide[wide["across_budgets"] == "flips"]
    lines = [head, "", f"**Stable across budgets** ({len(stable)} of {len(wide)}): the same verdict at every budget."]
    lines += [f"- {s}: {r[budgets[0]]}" for s, r in stable.iterrows()] or ["- none"]
    lines += ["", f"**Flip with the budget** ({len(flips)} of {len(wide)}):"]
    lines += [f"- {s}: " + ", ".join(f"{_x(m)} {r[m]}" for m in budgets) for s, r in flips.iterrows()] or ["- none"]
    multi = claims[claims["stable"].isin(["yes", "no"])]
    if not multi.empty:
        lines += ["", "**Over seeds** (budgets with several seeds; stable = every seed's own verdict equals the "
                      "pooled one):"]
        for m, sub in multi.groupby("budget_multiplier"):
            unstable = sub.loc[sub["stable"] == "no", "statement"].tolist()
            lines.append(f"- {_x(m)}: {int((sub['stable'] == 'yes').sum())} of {len(sub)} verdicts stable over seeds"
                         + (f"; not stable: {'; '.join(unstable)}" if unstable else ""))
    targets = target_rows(table)
    if targets:
        lines += ["", "**Targets** (value at each budget; pooled over seeds where there are several):"] + targets
    # '~' (equivalent) is Markdown strikethrough when two appear in one paragraph: escape it
    return ("\n".join(lines) + "\n").replace("~", "\\~")


def representative_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per (method, budget): the pooled row where a budget has several seeds, else its one seed's row."""
    t = table.dropna(subset=["budget_multiplier"])
    pooled = t[t["seed"] == POOLED]
    single = t[~t.set_index(["method", "budget_multiplier"]).index.isin(
        pooled.set_index(["method", "budget_multiplier"]).index)]
    return pd.concat([pooled, single]).sort_values(["method", "budget_multiplier"])


def budget_figure(table: pd.DataFrame, metrics=METRICS):
    """Each Table 1 metric against the budget multiplier (log scale), one line per method with its 95%
    interval; the ground truth's value dashed where it has one."""
    import matplotlib.pyplot as plt
    rows = representative_rows(table)
    gt = table[table["method"] == "ground_truth"]
    n_cols = 5
    fig, axes = plt.subplots(int(np.ceil(len(metrics) / n_cols)), n_cols, figsize=(3.2 * n_cols, 5.6), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        for method in [m for m in METHODS if m in set(rows["method"])]:
            r = rows[rows["method"] == method]
            if not np.isfinite(r[metric]).any():
                continue
            err = np.abs(np.stack([r[metric] - r[f"{metric}_lo"], r[f"{metric}_hi"] - r[metric]]))
            ax.errorbar(r["budget_multiplier"], r[metric], yerr=err, marker="o", ms=4, capsize=2, label=method)
        if not gt.empty and np.isfinite(gt[metric].iloc[0]):
            ax.axhline(gt[metric].iloc[0], color="k", ls="--", lw=0.8, label="ground truth")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(rows["budget_multiplier"].unique()),
                      [_x(m) for m in sorted(rows["budget_multiplier"].unique())])
        ax.minorticks_off()
        ax.set_title(LABELS[metric])
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in axes.flat:
        h, lab = ax.get_legend_handles_labels()
        if len(lab) > len(labels):
            handles, labels = h, lab
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.supxlabel("composer budget (multiple of the profile's steps)", y=0.06)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def write_budget(profile_name: str, table: pd.DataFrame, claims: pd.DataFrame, summary: str) -> dict:
    out = results_dir(profile_name)
    paths = {"budget_scaling.csv": out / "budget_scaling.csv", "budget_claims.csv": out / "budget_claims.csv",
             "budget_scaling.md": out / "budget_scaling.md"}
    write_csv(paths["budget_scaling.csv"], table)
    write_csv(paths["budget_claims.csv"], claims)
    write_text(paths["budget_scaling.md"], summary)
    return paths
