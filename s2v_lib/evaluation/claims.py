"""The paper's claims (docs/design.md §8) as testable statements, and the rules that turn the numbers
into a verdict: holds / does not hold when the 95% interval clears the criterion, inconclusive otherwise.

Orderings ("a > b") and equivalences ("a ~ b") use a paired bootstrap over test clips; "above chance"
compares the interval with the majority-class share; the unseen-voice claims read notebook 06's
summary (intervals over unseen actors).
"""
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..atomic import write_csv, write_text
from ..paths import results_dir
from ..stats import bootstrap_ci, paired_bootstrap
from .table1 import LABELS, QUALITY, seed_means
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


def check_claim(claim: Claim, per_clip: pd.DataFrame, unseen: dict | None = None, n_boot: int = 1000) -> dict:
    row = {"claim": claim.id, "statement": claim.statement}
    if claim.kind in ("greater", "equivalent"):
        a, b = seed_means(per_clip, claim.a), seed_means(per_clip, claim.b)
        if a.empty or b.empty or claim.metric not in a or claim.metric not in b:
            return {**row, "measured": np.nan, "lo": np.nan, "hi": np.nan, "criterion": "missing method",
                    "verdict": "inconclusive", "n": 0}
        both = pd.concat([a[claim.metric].rename("a"), b[claim.metric].rename("b")], axis=1, join="inner").dropna()
        d, lo, hi, p = paired_bootstrap(both["a"], both["b"], n=n_boot)
        if claim.kind == "greater":
            crit, verdict = "paired bootstrap 95% CI of a - b above 0", _verdict_greater(lo, hi)
        else:
            margin = EQUIV_MARGIN.get(claim.metric) or CONF_MARGIN * abs(float(b[claim.metric].mean()))
            crit = f"paired 95% CI of a - b within ±{margin:.3g}"
            verdict = _verdict_equivalent(lo, hi, margin)
        return {**row, "measured": d, "lo": lo, "hi": hi, "criterion": f"{crit} (p={p:.3f})", "verdict": verdict,
                "n": len(both)}
    if claim.kind == "above_chance":
        sub = per_clip[per_clip["method"] == claim.a]
        per = seed_means(per_clip, claim.a)
        if per.empty:
            return {**row, "measured": np.nan, "lo": np.nan, "hi": np.nan, "criterion": "missing method",
                    "verdict": "inconclusive", "n": 0}
        truth = sub.groupby("clip_id")["actor" if claim.metric == "identity_top1" else "emotion"].first()
        chance = majority_chance(truth)
        m, lo, hi = bootstrap_ci(per[claim.metric].dropna(), n=n_boot)
        verdict = "holds" if lo > chance else ("does not hold" if hi < chance else "inconclusive")
        return {**row, "measured": m, "lo": lo, "hi": hi, "criterion": f"95% CI above chance {chance:.3f}",
                "verdict": verdict, "n": len(per)}
    # unseen voices: from unseen_voice.json (CI by resampling unseen actors)
    key = f"{claim.metric}_{method_key(claim.a)}"
    chance_key = f"{claim.metric.replace('_agreement', '')}_chance_{method_key(claim.a)}"
    if not unseen or key not in unseen:
        return {**row, "measured": np.nan, "lo": np.nan, "hi": np.nan,
                "criterion": "needs notebook 06 (unseen_voice.json)", "verdict": "inconclusive", "n": 0}
    v, chance = unseen[key], unseen[chance_key]["mean"]
    verdict = "holds" if v["lo"] > chance else ("does not hold" if v["hi"] < chance else "inconclusive")
    return {**row, "measured": v["mean"], "lo": v["lo"], "hi": v["hi"],
            "criterion": f"95% CI (over unseen actors) above chance {chance:.3f}", "verdict": verdict,
            "n": int(unseen.get("n_clips", {}).get("mean", 0))}


def claims_table(per_clip: pd.DataFrame, unseen: dict | None = None, data_desc: str = "") -> pd.DataFrame:
    df = pd.DataFrame([check_claim(c, per_clip, unseen) for c in paper_claims()])
    df["data"] = [data_desc + (" unseen-actor clips" if c.kind == "unseen" else " test clips")
                  for c in paper_claims()]
    return df


def claims_markdown(df: pd.DataFrame, header: str = "") -> str:
    lines = [header, ""] if header else []
    lines += ["| claim | statement | measured | 95% CI | n | criterion | verdict | data |", "|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples(index=False):
        ci = f"[{r.lo:.3f}, {r.hi:.3f}]" if np.isfinite(r.lo) else "–"
        meas = f"{r.measured:.3f}" if np.isfinite(r.measured) else "–"
        lines.append(f"| {r.claim} | {r.statement} | {meas} | {ci} | {r.n} | {r.criterion} | **{r.verdict}** | {r.data} |")
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
    seeds = sorted(per_clip.loc[per_clip["method"] == "speech2video", "seed"].unique())
    desc = f"{data_label}, profile {profile_name}, speech2video seeds {', '.join(map(str, seeds))};"
    df = claims_table(per_clip, unseen, desc)
    header = (f"**Claims of the paper (docs/design.md §8) tested on {data_label}, profile `{profile_name}`.** "
              "measured = difference a - b (orderings, '~') or the value itself (vs chance). Verdicts: holds / does "
              "not hold when the 95% interval clears the criterion, inconclusive otherwise. "
              f"'~' margins: SSIM ±{EQUIV_MARGIN['ssim']}, PSNR ±{EQUIV_MARGIN['psnr_frame']} dB; 'close' "
              f"Confidence: ±{CONF_MARGIN:.0%} of SDFA's. Chance = share of the commonest true label.")
    write_text(out / "claims.md", claims_markdown(df, header))
    write_csv(out / "claims.csv", df)
    return df
