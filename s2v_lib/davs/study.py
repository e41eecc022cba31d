"""The whole DAVS chapter in three calls (notebook 04b):

    runs = train_all(profile, data, device)          # pretraining, the 4 wid runs, the 3 full runs
    results = evaluate_all(runs, data)               # every table of the paper, with intervals
    report.write_results(profile.name, results, ...) # results/<profile>/davs.json + davs.md
"""
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..models.davs import DAVS
from . import evaluate as E
from .config import FULL_SUPERVISION, SUPERVISIONS, VARIANTS, davs_config, net_config
from .generate import TrainedDAVS
from .evaluate import generated_windows
from .pretrain import n_pretrain_ids, pretrain_faces, pretrain_person_encoder
from .train import train_stage
from .word_windows import build_windows

WID_MODULES = ("E_wv", "E_wa", "C_w", "D_dom")


@dataclass
class DAVSRuns:
    cfg: object
    windows: object                               # word_windows.WordWindows
    pretrained: object                            # DAVS after E_p^v pretraining only
    wid: dict = field(default_factory=dict)       # supervision -> DAVS (wid stage)
    full: dict = field(default_factory=dict)      # variant -> TrainedDAVS
    histories: dict = field(default_factory=dict)  # run name -> list of log rows
    summaries: dict = field(default_factory=dict)
    device: str = "cpu"


def data_key(data) -> str:
    import hashlib
    return hashlib.sha1(str(data.root.resolve()).encode()).hexdigest()[:10]


def new_model(cfg, windows, n_ids: int, shared: bool = True) -> DAVS:
    torch.manual_seed(cfg.seed)   # the same initial weights for every run of a seed
    return DAVS(net_config(cfg, len(windows.classes), len(windows.persons), n_ids), shared_classifier=shared)


def train_all(profile, data, device="cpu", seed: int = 0, word_labels: str = "twin_words",
              force_retrain: bool = False, progress: bool = True, **overrides) -> DAVSRuns:
    cfg = davs_config(profile, seed, word_labels, data_key=data_key(data), **overrides)
    windows = build_windows(data, cfg.windows, seed, progress=progress)
    faces = pretrain_faces(profile, seed, progress)
    n_ids = n_pretrain_ids(faces)
    runs = DAVSRuns(cfg, windows, new_model(cfg, windows, n_ids).to(device), device=device)
    r = pretrain_person_encoder(runs.pretrained, cfg, faces, profile, device, force_retrain, progress)
    runs.histories["pretrain"], runs.summaries["pretrain"] = r.history, r.summary
    e_p = {"E_p": runs.pretrained.E_p.state_dict()}
    for sup, flags in SUPERVISIONS.items():
        c = replace(cfg, supervision=sup)
        m = new_model(c, windows, n_ids, flags["shared_classifier"]).to(device)
        r = train_stage(m, windows, c, "wid", profile, device, force_retrain, progress, init_state=e_p)
        runs.wid[sup], runs.histories[f"wid: {sup}"] = m.eval(), r.history
    start = {**e_p, **{k: getattr(runs.wid[FULL_SUPERVISION], k).state_dict() for k in WID_MODULES}}
    mean, std = windows.mfcc_mean, windows.mfcc_std
    for var in VARIANTS:
        c = replace(cfg, variant=var)
        m = new_model(c, windows, n_ids).to(device)
        r = train_stage(m, windows, c, "full", profile, device, force_retrain, progress, init_state=start)
        runs.full[var], runs.histories[f"full: {var}"] = TrainedDAVS(m.eval(), mean, std, device), r.history
    return runs


def evaluate_all(runs: DAVSRuns, data, n_boot: int = 1000, progress: bool = True) -> dict:
    """Every measurement of the DAVS paper on the test split (see evaluate.py), plus the paired
    differences that decide the claims."""
    from tqdm.auto import tqdm
    w, dev = runs.windows, runs.device
    test, train = w.split("test"), w.split("train")
    y_test, y_train = w.table["label"].to_numpy()[test], w.table["label"].to_numpy()[train]
    out = {"n_test_windows": int(len(test)), "n_train_windows": int(len(train)), "classes": list(w.classes),
           "word_labels": runs.cfg.windows.word_labels, "window_frames": w.length}
    # Table 3: the supervision ablation
    t3 = {}
    for sup, m in runs.wid.items():
        enc = E.encode(m, w, test, dev)
        t3[sup] = {"recognition": E.word_recognition(enc, y_test, n_boot), "retrieval": E.retrieval(enc, n_boot)}
    out["table3"] = t3

    def items(sup):   # per test window: correct (0/1) per modality, and video->audio R@1 hits
        r = t3[sup]
        return {**r["recognition"]["per_item"], "v2a_R@1": (r["retrieval"]["video_to_audio"]["per_item"] <= 1) * 1.0}
    out["table3_paired"] = {sup: {k: E.paired(v, items("L_C")[k], n_boot) for k, v in items(sup).items()}
                            for sup in t3 if sup != "L_C"}
    # Table 4: generated-to-source retrieval, one fixed evaluator for every row (on a seeded subset of
    # the test windows when the profile caps them: generating is the costly part); every row's identity
    # guidance is the same frame of the speaker from outside the source window (E.guidance_frames)
    cap = runs.cfg.max_eval_windows
    sub = np.sort(np.random.default_rng([runs.cfg.seed, 14]).choice(test, cap, replace=False)) \
        if cap and len(test) > cap else test
    out["n_table4_windows"] = int(len(sub))
    evaluator = runs.wid[FULL_SUPERVISION]
    t4 = {}
    rows = [("Replication", "DAVS", "replication"), ("Without disentanglement", "without disentanglement", None),
            ("With disentanglement", "DAVS", None)]
    for label, var, fixed in tqdm(rows, desc="DAVS Table 4", disable=not progress, leave=False):
        t4[label] = {src: E.generated_retrieval(evaluator, w, sub, generated_windows(
            runs.full[var], w, sub, fixed or src, runs.cfg.seed), n_boot, dev) for src in ("audio", "video")}
    out["table4"] = t4
    # what appearance alone can reach: a uniform pick among the source speaker's windows
    n_same = w.table["actor"].iloc[sub].map(w.table["actor"].iloc[sub].value_counts()).to_numpy()
    out["table4_chance_same_speaker"] = {f"R@{k}": float(100 * np.mean(np.minimum(k, n_same) / n_same)) for k in (1, 10)}
    out["table4_paired"] = {src: E.paired((t4["With disentanglement"][src]["per_item"] <= 10) * 1.0,
                                          (t4["Without disentanglement"][src]["per_item"] <= 10) * 1.0, n_boot)
                            for src in ("audio", "video")}
    out["table4_vs_replication"] = {src: E.paired((t4["With disentanglement"][src]["per_item"] <= 10) * 1.0,
                                                  (t4["Replication"][src]["per_item"] <= 10) * 1.0, n_boot)
                                    for src in ("audio", "video")}
    # the disentanglement probe: word labels from F_p^v, before and after the adversarial terms
    probes = {}
    for label, model in (("pretrained E_p^v only", runs.pretrained),
                         ("before (without disentanglement)", runs.full["without disentanglement"].model),
                         ("after (DAVS)", runs.full["DAVS"].model)):
        fp_tr = E.encode(model, w, train, dev)["F_p"].numpy()
        fp_te = E.encode(model, w, test, dev)["F_p"].numpy()
        probes[label] = E.disentanglement_probe(fp_tr, y_train, fp_te, y_test, runs.cfg.seed, n_boot)
    probes["after - before"] = E.paired(probes["after (DAVS)"]["per_item"],
                                        probes["before (without disentanglement)"]["per_item"], n_boot)
    out["probe"] = probes
    # the paper's Table 1: PSNR / SSIM with and without the GAN loss, on the same clips and frames k
    clip_ids = sorted(w.table["clip_id"].iloc[sub].unique())
    if cap and len(clip_ids) > cap // 4:
        clip_ids = sorted(np.random.default_rng([runs.cfg.seed, 15]).choice(clip_ids, cap // 4, replace=False))
    q = {"L_Re (with GAN loss)": E.generation_quality(runs.full["DAVS"], data, clip_ids, runs.cfg.seed, n_boot),
         "L_L1 (without GAN loss)": E.generation_quality(runs.full["without GAN loss"], data, clip_ids,
                                                         runs.cfg.seed, n_boot)}
    out["quality"] = q
    out["quality_still"] = E.still_quality(data, clip_ids, runs.cfg.seed, n_boot)
    out["quality_paired"] = {f"{m} {src}": E.paired(q["L_Re (with GAN loss)"][src][m]["per_item"],
                                                    q["L_L1 (without GAN loss)"][src][m]["per_item"], n_boot)
                             for src in ("audio", "video") for m in ("psnr", "ssim")}
    out["n_test_clips"] = len(clip_ids)
    out["pretrain"] = runs.summaries.get("pretrain", {})
    return strip_items(out)


def strip_items(d):
    """The results without their per-item arrays (kept only to compute the paired intervals)."""
    if isinstance(d, dict):
        return {k: strip_items(v) for k, v in d.items() if k != "per_item"}
    return d


def table1_rows(profile, data, mismatch=None, device="cpu", seed: int = 0, word_labels: str = "twin_words") -> dict:
    """The study's Table 1 / Figure 3 rows {"DAVS": fn, "DAVS(mismatch)": fn} (generate.table1_generators)
    from the runs notebook 04b trained: a finished checkpoint is loaded, nothing retrains."""
    from .generate import table1_generators
    runs = train_all(profile, data, device, seed, word_labels, progress=False)
    return table1_generators(runs.full["DAVS"], data, mismatch)


def final_losses(runs: DAVSRuns) -> dict:
    """The last logged row of each run (for the notebook's training table)."""
    return {name: {k: v for k, v in h[-1].items() if isinstance(v, (int, float))} for name, h in runs.histories.items() if h}
