"""results/<profile>/lip2speech.json and lip2speech.md: our numbers beside the paper's Table 2.

The paper's Table 2 (LRW, 153 test clips): STOI 1.38, ESTOI 0.66, PESQ 0.42, WER 26.1%. STOI lies in
[0, 1] by construction (a mean of correlation coefficients), so the printed 1.38 cannot be a STOI;
we list it and compare nothing to it. The paper's PESQ band is unstated; ours is wide band.
"""
import numpy as np

from ..atomic import write_json, write_text
from ..paths import results_dir
from .config import CONDITION_NAMES

PAPER_TABLE2 = {"dataset": "LRW (real; 153 test clips)", "stoi": 1.38, "estoi": 0.66, "pesq": 0.42, "wer": 0.261,
                "note": "STOI 1.38 is above STOI's maximum of 1: a misprint or another quantity; not compared"}
METHOD_NAMES = {**CONDITION_NAMES, "face_ar": "lips + face embedding, autoregressive decoder (paper's decoder)",
                "real mel + Griffin-Lim": "real mel + Griffin-Lim (vocoder ceiling)", "real": "real speech"}
COLUMNS = (("stoi", "STOI"), ("estoi", "ESTOI"), ("pesq", "PESQ-WB"), ("wer", "WER"), ("ge2e_cos", "GE2E cos"),
           ("eer", "EER"), ("sex_agree", "sex"), ("age_group_agree", "age group"))


def _fmt(v) -> str:
    if isinstance(v, dict):
        if v.get("mean") is None or np.isnan(v["mean"]):
            return "-"
        return f"{v['mean']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]"
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def table_markdown(summary: dict, data_label: str, split_names=None) -> str:
    split_names = split_names or {"test": "test clips of seen actors", "unseen": "unseen actors"}
    head = "| data | split | method | " + " | ".join(n for _, n in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    p = PAPER_TABLE2
    lines.append(f"| {p['dataset']} | paper's test | Lip2Speech (paper, Table 2) | {p['stoi']:.2f} (> 1: see note) | "
                 f"{p['estoi']:.2f} | {p['pesq']:.2f} (band unstated) | {p['wer']:.3f} | - | - | - | - |")
    for split, s in summary.items():
        for method, m in s.items():
            if method in ("chance", "paired"):
                continue
            cells = [_fmt(m.get(k)) for k, _ in COLUMNS]
            lines.append(f"| {data_label} | {split_names.get(split, split)} | {METHOD_NAMES.get(method, method)} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(profile_name: str, study, data_label: str, extra: dict | None = None) -> dict:
    out = {"dataset": data_label, "profile": profile_name, "paper_table2": PAPER_TABLE2,
           "config": __import__("dataclasses").asdict(study.cfg), "eval_clips": {k: len(v) for k, v in study.eval_ids.items()},
           "summary": study.summary, "speaker_module": {s: study.speaker_retrieval(s) for s in ("test", "unseen")},
           "training": study.training_table().to_dict("records"), "decoder_comparison": study.decoder_comparison(),
           **(extra or {})}
    res = results_dir(profile_name)
    write_json(res / "lip2speech.json", out)
    md = [f"# Lip2Speech on {data_label} (profile {profile_name})", "",
          "Values: mean [95% bootstrap interval over actors]. STOI/ESTOI/PESQ-WB against the real audio; WER of a "
          "closed-vocabulary CTC recogniser trained on the twin's real training speech (a stand-in for the paper's "
          "unnamed ASR, not an open-vocabulary one); GE2E cosine of generated vs real speech of the same clip; EER of "
          "speaker verification against every actor's enrolment; sex / age group: agreement of probes trained on real "
          "voices' GE2E embeddings with the actor. The paper's row is on LRW (real data): compare orderings, not values; "
          f"its STOI of {PAPER_TABLE2['stoi']} exceeds STOI's maximum of 1 and is not compared.", "",
          table_markdown(study.summary, data_label), ""]
    write_text(res / "lip2speech.md", "\n".join(md))
    return out


def verdicts(summary: dict, cycle: dict | None = None) -> list[str]:
    """Sentences the chapter prints, read from the numbers (interval of a paired difference vs 0)."""
    out = []
    for split, s in summary.items():
        for key, text in (("ge2e_cos_face_minus_lips", "the face embedding moves the voice toward the speaker (vs lips only)"),
                          ("ge2e_cos_voice_minus_face", "the oracle voice embedding is closer to the speaker than the face one")):
            d = s.get("paired", {}).get(key)
            if not d:
                continue
            verdict = "holds" if d["lo"] > 0 else ("reversed" if d["hi"] < 0 else "not shown (interval spans 0)")
            out.append(f"{split}: {text}: GE2E-cosine difference {d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] -> {verdict}")
    if cycle:
        ch = cycle.get("chance", {}).get("top1")
        for split in ("test", "unseen"):
            c = cycle.get(split, {})
            if "face" in c and "real" in c:
                key = "top1" if split == "test" else "sex_agree"
                f, r = c["face"].get(key), c["real"].get(key)
                if f and r:
                    extra = f" (chance {ch:.3f})" if key == "top1" and ch else ""
                    out.append(f"cycle, {split}: speech2video's faces from Lip2Speech (face) speech: {key} "
                               f"{f['mean']:.3f} [{f['lo']:.3f}, {f['hi']:.3f}] vs from real speech {r['mean']:.3f}{extra}")
    return out
