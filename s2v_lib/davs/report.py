"""DAVS's results on the twin beside the DAVS paper's values (LRW), and the verdicts of its claims.

results/<profile>/davs.json holds every number with its 95% interval and chance level;
results/<profile>/davs.md the same as markdown tables. The paper's numbers are on LRW (500 words,
256 px, full-size networks); ours on the CREMA-D twin's word windows at the profile's size: only the
orderings (which supervision helps, whether disentangling removes word information) are comparable.
"""
import json

import numpy as np

from ..atomic import write_json, write_text
from ..paths import results_dir

PAPER_DATASET = "LRW (Chung & Zisserman 2016), 500 words; DAVS paper (Zhou et al., AAAI 2019)"
# Table 3: visual, audio, combined accuracy (%); video->audio R@1, R@10, MedR; audio->video R@1, R@10, MedR
PAPER_TABLE3 = {
    "L_C": (61.8, 81.7, 90.8, 29.3, 56.3, 6.0, 29.8, 56.3, 6.0),
    "L_C + SC": (65.6, 91.6, 94.9, 38.8, 66.4, 3.0, 44.5, 70.9, 2.0),
    "L_C + L_adv^D": (63.5, 88.1, 93.7, 39.3, 67.9, 3.0, 42.2, 69.2, 2.0),
    "L_C + SC + L_adv^D": (67.5, 91.8, 95.2, 64.2, 84.7, 1.0, 67.7, 85.8, 1.0),
}
# Table 4: audio generation R@1, R@10; video generation R@1, R@10
PAPER_TABLE4 = {"Replication": (2.5, 7.5, 2.5, 7.4), "Without disentanglement": (53.8, 76.5, 90.8, 96.2),
                "With disentanglement": (60.5, 80.7, 95.3, 98.5)}
# Table 1 of DAVS: (PSNR, SSIM) for audio L_L1, video L_L1, audio L_Re, video L_Re
PAPER_QUALITY = {("L_L1 (without GAN loss)", "audio"): (25.4, 0.859), ("L_L1 (without GAN loss)", "video"): (25.7, 0.865),
                 ("L_Re (with GAN loss)", "audio"): (26.7, 0.883), ("L_Re (with GAN loss)", "video"): (26.8, 0.884)}
PAPER_PROBE = {"before": 27.8, "after": 9.7}   # % word accuracy of an SVM on F_p^v


def _ci(d: dict, scale: float = 1.0, digits: int = 1) -> str:
    return f"{d['mean'] * scale:.{digits}f} [{d['lo'] * scale:.{digits}f}, {d['hi'] * scale:.{digits}f}]"


def _diff(d: dict, scale: float = 100.0) -> str:
    return f"{d['diff'] * scale:+.1f} [{d['lo'] * scale:+.1f}, {d['hi'] * scale:+.1f}]"


def verdict(diffs: list[dict], want: str = "greater") -> str:
    """'holds' when every paired interval lies on the claimed side of 0, 'contradicted' when every
    one that excludes 0 lies on the other side, 'mixed' when both happen, else 'not shown'."""
    on_side = [(d["lo"] > 0) if want == "greater" else (d["hi"] < 0) for d in diffs]
    against = [(d["hi"] < 0) if want == "greater" else (d["lo"] > 0) for d in diffs]
    if all(on_side):
        return "holds"
    if any(against):
        return "mixed" if any(on_side) else "contradicted"
    return "partly (some intervals include 0)" if any(on_side) else "not shown (the intervals include 0)"


def claims(results: dict) -> list[dict]:
    """The DAVS paper's claims that the twin can test, each with its paired intervals and a verdict."""
    p3, out = results["table3_paired"], []
    for name, sup, text in (("sharing the classifier helps", "L_C + SC", "L_C + SC minus L_C"),
                            ("the domain-adversarial loss helps", "L_C + L_adv^D", "L_C + L_adv^D minus L_C"),
                            ("all three supervisions are best", "L_C + SC + L_adv^D", "all three minus L_C")):
        ds = [p3[sup][k] for k in ("visual", "audio", "combined", "v2a_R@1")]
        out.append({"claim": name, "comparison": text, "verdict": verdict(ds),
                    "evidence": "; ".join(f"{k} {_diff(p3[sup][k])}" for k in ("visual", "audio", "combined", "v2a_R@1"))})
    pr = results["probe"]["after - before"]
    out.append({"claim": "disentangling removes word information from pid", "comparison":
                "probe accuracy on F_p^v, DAVS minus without disentanglement", "verdict": verdict([pr], "less"),
                "evidence": f"word accuracy {_diff(pr)} points"})
    g = results["table4_paired"]
    out.append({"claim": "disentangling improves generated-to-source retrieval", "comparison":
                "R@10, with minus without disentanglement", "verdict": verdict([g["audio"], g["video"]]),
                "evidence": f"audio {_diff(g['audio'])}; video {_diff(g['video'])}"})
    g = results["table4_vs_replication"]
    out.append({"claim": "generated-to-source retrieval does not rely on the person's appearance", "comparison":
                "R@10, with disentanglement minus the replication of the guidance frame",
                "verdict": verdict([g["audio"], g["video"]]),
                "evidence": f"audio {_diff(g['audio'])}; video {_diff(g['video'])}"})
    q = results["quality_paired"]
    out.append({"claim": "the GAN loss improves PSNR and SSIM", "comparison": "L_Re minus L_L1, per test clip",
                "verdict": verdict([q[k] for k in q]),
                "evidence": "; ".join(f"{k} {q[k]['diff']:+.3f} [{q[k]['lo']:+.3f}, {q[k]['hi']:+.3f}]" for k in q)})
    return out


def short_label(data_label: str) -> str:
    """'CREMA-D twin (synthetic; not the paper's data)' -> 'CREMA-D twin': the row label of our numbers."""
    return data_label.split(" (")[0]


def tables_markdown(results: dict, profile_name: str, data_label: str) -> str:
    n, t3 = results["n_test_windows"], results["table3"]
    ours = f"ours ({short_label(data_label)})"
    lines = [f"# DAVS on the {data_label}: profile `{profile_name}`", "",
             f"Ours: {n} test windows of {results['window_frames']} frames ({results['n_test_clips']} test clips), "
             f"labels `{results['word_labels']}` ({len(results['classes'])} classes: {', '.join(results['classes'])}). "
             f"Paper: {PAPER_DATASET}. Values: mean [95% bootstrap interval over test items]; chance = the "
             "commonest class's share (recognition), K/N and (N+1)/2 (retrieval). Numbers on different data: "
             "compare orderings only.", "",
             "## Table 3: word recognition and audio-video retrieval", "",
             "| supervision | visual acc. % | audio acc. % | combined % | V->A R@1 | V->A R@10 | V->A Med R | "
             "A->V R@1 | A->V R@10 | A->V Med R |", "|---" * 10 + "|"]
    for sup, r in t3.items():
        rec, ret = r["recognition"], r["retrieval"]
        cells = [_ci(rec[k], 100) for k in ("visual", "audio", "combined")]
        for d in ("video_to_audio", "audio_to_video"):
            cells += [_ci(ret[d]["R@1"]), _ci(ret[d]["R@10"]), _ci(ret[d]["MedR"], digits=0)]
        lines.append(f"| {ours}: {sup} | " + " | ".join(cells) + " |")
    for sup, v in PAPER_TABLE3.items():
        lines.append(f"| paper (LRW): {sup} | " + " | ".join(f"{x:g}" for x in v) + " |")
    any_r = next(iter(t3.values()))
    ch = any_r["retrieval"]["video_to_audio"]["chance"]
    lines += [f"| chance ({short_label(data_label)}) | {100 * any_r['recognition']['chance']:.1f} | {100 * any_r['recognition']['chance']:.1f} | "
              f"{100 * any_r['recognition']['chance']:.1f} | {ch['R@1']:.1f} | {ch['R@10']:.1f} | {ch['MedR']:.0f} | "
              f"{ch['R@1']:.1f} | {ch['R@10']:.1f} | {ch['MedR']:.0f} |", "",
              "## Table 4: generated-to-source retrieval (R@1, R@10 in %)", "",
              "| approach | audio gen. R@1 | audio gen. R@10 | video gen. R@1 | video gen. R@10 |", "|---|---|---|---|---|"]
    for label, r in results["table4"].items():
        lines.append(f"| {ours}: {label} | {_ci(r['audio']['R@1'])} | {_ci(r['audio']['R@10'])} | "
                     f"{_ci(r['video']['R@1'])} | {_ci(r['video']['R@10'])} |")
    for label, v in PAPER_TABLE4.items():
        lines.append(f"| paper (LRW): {label} | " + " | ".join(f"{x:g}" for x in v) + " |")
    c4 = next(iter(results["table4"].values()))["audio"]["chance"]
    lines.append(f"| chance ({short_label(data_label)}) | {c4['R@1']:.1f} | {c4['R@10']:.1f} | {c4['R@1']:.1f} | {c4['R@10']:.1f} |")
    sp = results.get("table4_chance_same_speaker")
    if sp:
        lines.append(f"| chance among the source speaker's windows ({short_label(data_label)}) | {sp['R@1']:.1f} | "
                     f"{sp['R@10']:.1f} | {sp['R@1']:.1f} | {sp['R@10']:.1f} |")
    lines += ["",
              f"{results['n_table4_windows']} test windows, each retrieved among the same {results['n_table4_windows']}. "
              "Retrieval embedding: the video wid encoder E_w^v of the wid-stage run with all three supervisions, "
              "the same for every row. Identity guidance (and the replicated frame): a random frame of another "
              "test clip of the same speaker, so that no gallery window contains it (the twin's word windows "
              "overlap within a clip; LRW's 1-s clips share no frames). The twin's test split has few speakers, "
              "so appearance alone narrows the gallery to the speaker's windows (the last chance row): "
              "Replication is measured against that, not against LRW's 1:25000.", "",
              "## Disentanglement probe: word accuracy of a linear classifier on F_p^v (%)", "",
              f"| E_p^v | {ours} | chance | paper (LRW, SVM) |", "|---|---|---|---|"]
    pr = results["probe"]
    paper = {"before (without disentanglement)": PAPER_PROBE["before"], "after (DAVS)": PAPER_PROBE["after"]}
    for label in ("pretrained E_p^v only", "before (without disentanglement)", "after (DAVS)"):
        lines.append(f"| {label} | {_ci(pr[label], 100)} | {100 * pr[label]['chance']:.1f} | {paper.get(label, '-')} |")
    lines += [f"| after - before (paired) | {_diff(pr['after - before'])} | | {PAPER_PROBE['after'] - PAPER_PROBE['before']:+.1f} |",
              "", "## DAVS Table 1: generation quality (whole test clips, identity from a random frame)", "",
              f"| loss | source | PSNR (frame) {ours} | SSIM {ours} | PSNR paper (LRW, 256 px) | SSIM paper (LRW) |",
              "|---|---|---|---|---|---|"]
    for loss, by_src in results["quality"].items():
        for src, m in by_src.items():
            pp = PAPER_QUALITY[(loss, src)]
            lines.append(f"| {loss} | {src} | {_ci(m['psnr'], digits=2)} | {_ci(m['ssim'], digits=3)} | {pp[0]} | {pp[1]} |")
    st = results.get("quality_still")
    if st:   # the reference a generator must beat: the guidance frame itself, repeated
        lines.append(f"| reference: the guidance frame repeated | - | {_ci(st['psnr'], digits=2)} | "
                     f"{_ci(st['ssim'], digits=3)} | - | - |")
    lines += ["", "## The paper's claims on the twin", "", "| claim | comparison | evidence (paired, 95% CI) | verdict |",
              "|---|---|---|---|"]
    for c in results["claims"]:
        lines.append(f"| {c['claim']} | {c['comparison']} | {c['evidence']} | {c['verdict']} |")
    return "\n".join(lines) + "\n"


def _plain(o):
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return o


def write_results(profile_name: str, results: dict, data_label: str, config: dict) -> dict:
    """results/<profile>/davs.json (+ davs.md); returns the JSON object."""
    results = {**results, "claims": claims(results)}
    obj = _plain({"dataset": data_label, "paper_dataset": PAPER_DATASET, "config": config, **results,
                  "paper": {"table3": PAPER_TABLE3, "table4": PAPER_TABLE4, "probe": PAPER_PROBE,
                            "quality": {f"{k[0]} / {k[1]}": v for k, v in PAPER_QUALITY.items()}}})
    out = results_dir(profile_name)
    write_json(out / "davs.json", json.loads(json.dumps(obj, default=str)))
    write_text(out / "davs.md", tables_markdown(results, profile_name, data_label))
    return obj
