"""The paper's claims (docs/design.md §8) as testable statements, and the rules that turn the numbers
into a verdict: holds / does not hold when the 95% interval clears the criterion, inconclusive otherwise.

Orderings ("a > b") and equivalences ("a ~ b") use a paired bootstrap over test clips, hierarchical
over seeds and clips when a method has several seeds (stats.paired_hierarchical_bootstrap); "above
chance" compares the interval (hierarchical likewise) with the majority-class share; the unseen-voice
claims read notebook 06's summary (intervals over unseen actors).

Stability over training runs: beside the pooled verdict, the verdict of each seed alone (seed i of a
against seed i of b where both have it, else each seed of the multi-seed side against the single
model; "above chance": each seed of a) under the same criterion, and `stable` = "yes" only when every
per-seed verdict equals the pooled one ("no" otherwise; "one seed" when there is only one model pair,
so nothing to compare).
"""
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..atomic import write_csv, write_text
from ..paths import results_dir
from ..stats import hierarchical_bootstrap_ci, paired_hierarchical_bootstrap
from .table1 import LABELS, QUALITY, seed_clip_matrix
from .unseen import method_key

EQUIV_MARGIN = {"ssim": 0.02, "psnr_frame": 0.5, "psnr_video": 0.5}   # "~": |difference| within this
CONF_MARGIN = 0.10                                                     # "close": within 10% of SDFA's value


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    kind: str          # "greater" (a > b), "equivalent" (a ~ b), "above_chance" (a > chance), "unseen"
    metric: str
    a: str
    b: str = ""


def paper_claims() -> list[Claim]:
    out = []
    for m in QUALITY:
        out += [Claim("1", f"SDFA > speech2video on {LABELS[m]}", "greater", m, "SDFA", "speech2video"),
                Claim("1", f"speech2video > S2F+SDFA on {LABELS[m]}", "greater", m, "speech2video", "S2F+SDFA"),
                Claim("1", f"speech2video > SDFA(mismatch) on {LABELS[m]}", "greater", m, "speech2video",
                      "SDFA(mismatch)"),
                Claim("1", f"S2F+SDFA ~ SDFA(mismatch) on {LABELS[m]}", "equivalent", m, "S2F+SDFA", "SDFA(mismatch)")]
    out += [Claim("2", "speech2video's Confidence close to SDFA's", "equivalent", "confidence", "speech2video", "SDFA"),
            Claim("3", "observed speakers: identity recollected from speech (top-1 above chance)", "above_chance",
                  "identity_top1", "speech2video"),
            Claim("3", "speech2video recollects identity better than S2F+SDFA", "greater", "identity_top1",
                  "speech2video", "S2F+SDFA"),
            Claim("4", "unseen voices: sex preserved (agreement above chance)", "unseen", "sex_agreement", "speech2video"),
            Claim("4", "unseen voices: age group preserved (agreement above chance)", "unseen", "age_group_agreement",
                  "speech2video"),
            Claim("5", "emotion captured from speech (emotion accuracy above chance)", "above_chance", "emotion_acc",
                  "speech2video")]
    return out


def _verdict_greater(lo, hi) -> str:
    if not np.isfinite(lo):
        return "inconclusive"
    return "holds" if lo > 0 else ("does not hold" if hi < 0 else "inconclusive")


def _verdict_equivalent(lo, hi, margin) -> str:
    if not np.isfinite(lo):
        return "inconclusive"
    if -margin <= lo and hi <= margin:
        return "holds"
    return "does not hold" if (lo > margin or hi < -margin) else "inconclusive"


def majority_chance(labels) -> float:
    """The majority share of the true labels (>= 1 / n_classes): what always guessing the commonest gets."""
    labels = pd.Series(labels)
    return float(labels.value_counts(normalize=True).max()) if len(labels) else np.nan


def seed_pairs(seeds_a, seeds_b) -> list[tuple[int, int]]:
    """Which (seed of a, seed of b) the per-seed verdicts compare: every seed of the multi-seed side
    against a single model; seed i against seed i when both sides have several (unmatched seeds only
    enter the pooled verdict)."""
    if len(seeds_b) == 1:
        return [(s, seeds_b[0]) for s in seeds_a]
    if len(seeds_a) == 1:
        return [(seeds_a[0], s) for s in seeds_b]
    return [(s, s) for s in seeds_a if s in seeds_b]


def stability(verdict: str, per_seed: list[str]) -> str:
    if len(per_seed) < 2:
        return "one seed"
    return "yes" if all(v == verdict for v in per_seed) else "no"


def _missing(row: dict, why: str = "missing method") -> dict:
    return {**row, "measured": np.nan, "lo": np.nan, "hi": np.nan, "criterion": why, "verdict": "inconclusive",
            "n": 0, "seeds": "", "per_seed": "", "stable": "–"}


def check_claim(claim: Claim, per_clip: pd.DataFrame, unseen: dict | None = None, n_boot: int = 1000) -> dict:
    row = {"claim": claim.id, "statement": claim.statement}
    if claim.kind in ("greater", "equivalent"):
        if not {claim.a, claim.b} <= set(per_clip["method"]) or claim.metric not in per_clip:
            return _missing(row)
        a, b = seed_clip_matrix(per_clip, claim.a, claim.metric), seed_clip_matrix(per_clip, claim.b, claim.metric)
        clips = a.columns.intersection(b.columns)
        a, b = a[clips], b[clips]
        if claim.kind == "equivalent":
            margin = EQUIV_MARGIN.get(claim.metric) or CONF_MARGIN * abs(float(np.nanmean(b.to_numpy())))

        def judge(av, bv):
            d, lo, hi, p = paired_hierarchical_bootstrap(av, bv, n=n_boot)
            verdict = _verdict_greater(lo, hi) if claim.kind == "greater" else _verdict_equivalent(lo, hi, margin)
            return d, lo, hi, p, verdict
        d, lo, hi, p, verdict = judge(a.to_numpy(), b.to_numpy())
        several = len(a) > 1 or len(b) > 1
        kind = "paired hierarchical bootstrap (seeds, clips)" if several else "paired bootstrap"
        crit = f"{kind} 95% CI of a - b above 0" if claim.kind == "greater" else \
            f"{kind} 95% CI of a - b within ±{margin:.3g}"
        pairs = seed_pairs(list(a.index), list(b.index))
        per = [judge(a.loc[[sa]].to_numpy(), b.loc[[sb]].to_numpy())[-1] for sa, sb in pairs]
        n = int((~(a.isna().any() | b.isna().any())).sum())
        return {**row, "measured": d, "lo": lo, "hi": hi, "criterion": f"{crit} (p={p:.3f})", "verdict": verdict,
                "n": n, "seeds": f"a {','.join(map(str, a.index))}; b {','.join(map(str, b.index))}",
                "per_seed": "; ".join(f"{sa}/{sb} {v}" for (sa, sb), v in zip(pairs, per)),
                "stable": stability(verdict, per)}
    if claim.kind == "above_chance":
        sub = per_clip[per_clip["method"] == claim.a]
        if sub.empty or claim.metric not in sub:
            return _missing(row)
        v = seed_clip_matrix(per_clip, claim.a, claim.metric)
        truth = sub.groupby("clip_id")["actor" if claim.metric == "identity_top1" else "emotion"].first()
        chance = majority_chance(truth)

        def judge(values):
            m, lo, hi = hierarchical_bootstrap_ci(values, n=n_boot)
            return m, lo, hi, "holds" if lo > chance else ("does not hold" if hi < chance else "inconclusive")
        m, lo, hi, verdict = judge(v.to_numpy())
        per = [judge(v.loc[[s]].to_numpy())[-1] for s in v.index]
        kind = "hierarchical bootstrap (seeds, clips) " if len(v) > 1 else ""
        return {**row, "measured": m, "lo": lo, "hi": hi, "criterion": f"{kind}95% CI above chance {chance:.3f}",
                "verdict": verdict, "n": int(v.notna().all().sum()), "seeds": f"a {','.join(map(str, v.index))}",
                "per_seed": "; ".join(f"{s} {x}" for s, x in zip(v.index, per)), "stable": stability(verdict, per)}
    # unseen voices: from unseen_voice.json (CI by resampling unseen actors)
    key = f"{claim.metric}_{method_key(claim.a)}"
    chance_key = f"{claim.metric.replace('_agreement', '')}_chance_{method_key(claim.a)}"
    if not unseen or key not in unseen:
        return _missing(row, "needs notebook 06 (unseen_voice.json)")
    v, chance = unseen[key], unseen[chance_key]["mean"]
    verdict = "holds" if v["lo"] > chance else ("does not hold" if v["hi"] < chance else "inconclusive")
    return {**row, "measured": v["mean"], "lo": v["lo"], "hi": v["hi"],
            "criterion": f"95% CI (over unseen actors) above chance {chance:.3f}", "verdict": verdict,
            "n": int(unseen.get("n_clips", {}).get("mean", 0)), "seeds": "a (notebook 06's model)",
            "per_seed": "", "stable": "one seed"}


def claims_table(per_clip: pd.DataFrame, unseen: dict | None = None, data_desc: str = "") -> pd.DataFrame:
    df = pd.DataFrame([check_claim(c, per_clip, unseen) for c in paper_claims()])
    df["data"] = [data_desc + (" unseen-actor clips" if c.kind == "unseen" else " test clips")
                  for c in paper_claims()]
    return df


def claims_markdown(df: pd.DataFrame, header: str = "") -> str:
    lines = [header, ""] if header else []
    lines += ["| claim | statement | measured | 95% CI | n | seeds | criterion | verdict | per-seed verdicts (a/b) "
              "| stable | data |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples(index=False):
        ci = f"[{r.lo:.3f}, {r.hi:.3f}]" if np.isfinite(r.lo) else "–"
        meas = f"{r.measured:.3f}" if np.isfinite(r.measured) else "–"
        per_seed = r.per_seed if isinstance(r.per_seed, str) and r.per_seed else "–"
        seeds = r.seeds if isinstance(r.seeds, str) and r.seeds else "–"
        lines.append(f"| {r.claim} | {r.statement} | {meas} | {ci} | {r.n} | {seeds} | {r.criterion} | "
                     f"**{r.verdict}** | {per_seed} | {r.stable} | {r.data} |")
    # '~' (equivalent) is Markdown strikethrough when two appear in one paragraph: escape it
    return ("\n".join(lines) + "\n").replace("~", "\\~")


def write_claims(profile_name: str, data_label: str, per_clip: pd.DataFrame | None = None,
                 unseen: dict | None = None, with_unseen: bool = True) -> pd.DataFrame:
    """results/<profile>/claims.md and claims.csv, from per_clip_metrics.csv and unseen_voice.json
    (read from results/<profile>/ when not given). Generated from the numbers, never by hand.
    with_unseen=False: leave claim 4 to notebook 06 (notebook 05 runs before 06 writes unseen_voice.json,
    so reading a previous run's file would make 05's output depend on what ran before)."""
    out = results_dir(profile_name)
    if per_clip is None:
        per_clip = pd.read_csv(out / "per_clip_metrics.csv")
    if with_unseen and unseen is None and (out / "unseen_voice.json").exists():
        unseen = json.loads((out / "unseen_voice.json").read_text())
    desc = f"{data_label}, profile {profile_name};"
    df = claims_table(per_clip, unseen, desc)
    header = (f"**Claims of the paper (docs/design.md §8) tested on {data_label}, profile `{profile_name}`.** "
              "measured = difference a - b (orderings, '~') or the value itself (vs chance). Verdicts: holds / does "
              "not hold when the 95% interval clears the criterion, inconclusive otherwise. Intervals over test "
              "clips, and over seeds too (hierarchical bootstrap) where a method has several trained models; "
              "per-seed verdicts: each seed alone under the same criterion (seeds: a's and b's); stable: yes only "
              "when every per-seed verdict equals the pooled one. "
              f"'~' margins: SSIM ±{EQUIV_MARGIN['ssim']}, PSNR ±{EQUIV_MARGIN['psnr_frame']} dB; 'close' "
              f"Confidence: ±{CONF_MARGIN:.0%} of SDFA's. Chance = share of the commonest true label.")
    write_text(out / "claims.md", claims_markdown(df, header))
    write_csv(out / "claims.csv", df)
    return df
