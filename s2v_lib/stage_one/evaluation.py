"""Stage one's evaluation (notebook 03): what the voice recollects, with bootstrap intervals.

Identity: rank (1 = best) of the true actor among the seen actors' teacher centroids by cosine
similarity with nu; emotion: the emotion teacher's head on mu; unseen voices: sex and age group of the
nearest seen actor. Ablation students (the other pooling of CPC's context, a log-mel average, the other
direction of Eq. (3)) are trained with the same config and scored on the same clips.
"""
import dataclasses

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..atomic import write_json
from ..config import as_profile
from ..device import module_device
from ..models.students import StudentConfig
from ..paths import results_dir
from ..stats import ci_dict, paired_bootstrap
from .students_training import apply_students, freeze, tensor_key, train_students


def clip_table(data, clip_ids) -> pd.DataFrame:
    m = data.manifest.set_index("clip_id").loc[list(clip_ids)].reset_index()
    return m[["clip_id", "actor", "emotion", "sex", "age_group", "split"]]


def actor_centroids(nu_teacher: torch.Tensor, table: pd.DataFrame, splits) -> tuple[list, torch.Tensor]:
    """Per actor: the mean teacher identity embedding over its clips in `splits`, L2-normalised."""
    actors, cents = [], []
    for actor, g in table[table["split"].isin(splits)].groupby("actor"):
        actors.append(actor)
        cents.append(F.normalize(nu_teacher[torch.from_numpy(g.index.to_numpy().copy())].mean(0), dim=0))
    return actors, torch.stack(cents)


def identity_ranks(nu: torch.Tensor, true_actors, actors: list, centroids: torch.Tensor) -> np.ndarray:
    """Rank (1 = best) of each clip's true actor among the centroids by cosine similarity with nu."""
    sim = F.normalize(nu, dim=-1) @ centroids.T
    pos = {a: i for i, a in enumerate(actors)}
    true = torch.tensor([pos[a] for a in true_actors])
    true_sim = sim[torch.arange(len(true)), true]
    return ((sim > true_sim[:, None]).sum(1) + 1).numpy()


def emotions_from_mu(mu: torch.Tensor, emotion_head, classes) -> np.ndarray:
    """The emotion teacher's class for each mu (a CPU tensor from the cache): the head runs on its own device."""
    with torch.no_grad():
        return np.asarray(list(classes))[emotion_head(mu.to(module_device(emotion_head))).argmax(-1).cpu().numpy()]


def score_students(nu, mu, table: pd.DataFrame, centroids_seen, emotion_head, classes) -> pd.DataFrame:
    """Per-clip outcomes of one student set: identity rank among seen actors, emotion prediction,
    and the nearest seen actor's sex and age group (used for unseen voices)."""
    actors, cents = centroids_seen
    demo = table.drop_duplicates("actor").set_index("actor")
    out = table.copy()
    seen = torch.from_numpy(out["actor"].isin(actors).to_numpy().copy())
    ranks = np.full(len(out), -1)
    if seen.any():
        ranks[seen.numpy()] = identity_ranks(nu[seen], out.loc[seen.numpy(), "actor"], actors, cents)
    out["id_rank"] = ranks
    nearest = np.asarray(actors)[(F.normalize(nu, dim=-1) @ cents.T).argmax(1).numpy()]
    out["nearest_actor"] = nearest
    out["nearest_sex"] = demo.loc[nearest, "sex"].to_numpy()
    out["nearest_age_group"] = demo.loc[nearest, "age_group"].to_numpy()
    out["emo_pred"] = emotions_from_mu(mu, emotion_head, classes)
    return out


def _summary(s: pd.DataFrame, suffix: str = "", seed: int = 0) -> dict:
    test, unseen = s[s["split"] == "test"], s[s["split"] == "unseen"]
    r = {}
    r[f"identity_top1_seen{suffix}"] = ci_dict((test["id_rank"] == 1).to_numpy(float), seed=seed)
    r[f"identity_top5_seen{suffix}"] = ci_dict((test["id_rank"] <= 5).to_numpy(float), seed=seed)
    r[f"emotion_acc_seen{suffix}"] = ci_dict((test["emo_pred"] == test["emotion"]).to_numpy(float), seed=seed)
    r[f"emotion_acc_unseen{suffix}"] = ci_dict((unseen["emo_pred"] == unseen["emotion"]).to_numpy(float), seed=seed)
    r[f"sex_agreement_unseen{suffix}"] = ci_dict((unseen["nearest_sex"] == unseen["sex"]).to_numpy(float), seed=seed)
    r[f"age_group_agreement_unseen{suffix}"] = ci_dict(
        (unseen["nearest_age_group"] == unseen["age_group"]).to_numpy(float), seed=seed)
    return r


def teacher_scores(table: pd.DataFrame, nu_teacher, mu_teacher, centroids_seen, emotion_head, classes,
                   seed: int = 0) -> dict:
    """The ceilings: what the teachers themselves get from the faces on the test clips (the same
    targets the students learn). identity_teacher_1nn: the first-frame embedding's nearest training
    clip (1-NN) has the right actor (replaced by notebook 02's measure when the teachers are the real ones);
    identity_teacher_centroid_top1: its nearest seen-actor centroid is right (the students' task);
    emotion_teacher_acc(_eq1): Eq. (1)'s averaged features mu* through the head give the labelled emotion
    (the students' emotion ceiling; emotion_teacher_acc is replaced by notebook 02's measure, which
    averages the K frames' logits instead, when the teachers are the real ones)."""
    test = np.flatnonzero((table["split"] == "test").to_numpy())
    train = np.flatnonzero((table["split"] == "train").to_numpy())
    nn_idx = (nu_teacher[test] @ nu_teacher[train].T).argmax(1).numpy()
    hit_1nn = table["actor"].to_numpy()[train][nn_idx] == table["actor"].to_numpy()[test]
    actors, cents = centroids_seen
    ranks = identity_ranks(nu_teacher[test], table.loc[test, "actor"], actors, cents)
    emo = emotions_from_mu(mu_teacher[test], emotion_head, classes) == table.loc[test, "emotion"].to_numpy()
    return {"identity_teacher_1nn": ci_dict(hit_1nn.astype(float), seed=seed),
            "identity_teacher_centroid_top1": ci_dict((ranks == 1).astype(float), seed=seed),
            "emotion_teacher_acc": ci_dict(emo.astype(float), seed=seed),
            "emotion_teacher_acc_eq1": ci_dict(emo.astype(float), seed=seed)}


def uniform_chance(n_classes: int, top_k: int = 1) -> float:
    """Chance of a uniform random guess being among the top k of n classes."""
    return min(1.0, top_k / max(1, n_classes))


def stage_one_chance(table: pd.DataFrame, n_seen_actors: int) -> dict:
    """Uniform chance for identity and emotion; for the nearest seen actor's sex, the agreement a voice-blind
    pick of a seen actor would reach (the seen actors' sex shares against the unseen clips')."""
    unseen = table[table["split"] == "unseen"]
    seen_demo = table[table["split"] == "train"].drop_duplicates("actor")
    p_sex = seen_demo["sex"].value_counts(normalize=True)
    return {"identity_top1": uniform_chance(n_seen_actors), "identity_top5": uniform_chance(n_seen_actors, 5),
            "emotion": uniform_chance(table["emotion"].nunique()),
            "sex_unseen": float(sum(p_sex.get(s, 0) * f
                                    for s, f in unseen["sex"].value_counts(normalize=True).items()))}


def confusion(scored: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    s = scored[scored["split"] == split]
    return pd.crosstab(s["emotion"], s["emo_pred"], rownames=["true"], colnames=["predicted"])


def paired_rows(a: pd.DataFrame, b: pd.DataFrame, split: str = "test", seed: int = 0) -> dict:
    """Paired bootstrap of CPC-student minus ablation-student on the same clips."""
    ma, mb = a["split"] == split, b["split"] == split
    out = {}
    for name, fa, fb in (("identity_top1", a.loc[ma, "id_rank"] == 1, b.loc[mb, "id_rank"] == 1),
                         ("emotion_acc", a.loc[ma, "emo_pred"] == a.loc[ma, "emotion"],
                          b.loc[mb, "emo_pred"] == b.loc[mb, "emotion"])):
        d, lo, hi, p = paired_bootstrap(fa.to_numpy(float), fb.to_numpy(float), seed=seed)
        out[name] = {"mean": d, "lo": lo, "hi": hi, "p": p}
    return out


def teacher_ceilings(data, id_teacher, emo_teacher, k: int, seed: int) -> dict:
    """identity_teacher_1nn and emotion_teacher_acc as notebook 02 measures them (s2v_lib.teachers'
    evaluate_identity / evaluate_emotion), for teachers of that module; {} for other stand-ins."""
    from ..teachers.evaluation import evaluate_emotion, evaluate_identity
    from ..teachers.frozen import FrozenTeacher
    out = {}
    if id_teacher is not None and isinstance(id_teacher, FrozenTeacher):
        r = evaluate_identity(id_teacher, data, seed=seed)
        out["identity_teacher_1nn"] = {"mean": r["top1"], "lo": r["top1_ci"][0], "hi": r["top1_ci"][1]}
    if isinstance(emo_teacher, FrozenTeacher):
        r = evaluate_emotion(emo_teacher, data, k=k, seed=seed)
        out["emotion_teacher_acc"] = {"mean": r["accuracy"], "lo": r["accuracy_ci"][0], "hi": r["accuracy_ci"][1]}
    return out


def evaluate_stage_one(profile, data, stage: dict, emo_teacher, id_teacher=None, device: str = "cpu",
                 force_retrain: bool = False, write: bool = True, out_path=None, progress: bool = True) -> dict:
    """All of notebook 03's numbers from a speech stage (features.speech_stage) -> report dict.

    Trains the ablation students (same config) on (a) the other pooling of CPC's context, (b) a plain
    log-mel utterance average, (c) the main input with the other direction of Eq. (3); scores every
    student set on test (seen actors) and unseen actors; writes results/<profile>/distillation.json
    (or out_path) when `write`. Returns {"metrics", "paired", "chance", "scored", "confusion", "histories", ...}."""
    profile = as_profile(profile)
    cfg_d = stage["meta"]["config"]
    cfg = StudentConfig(**cfg_d["students"])
    seed = cfg_d["seed"]
    inp = stage["inputs"]
    table = clip_table(data, inp["clip_id"])
    nu_t, mu_t = inp["nu_teacher"], inp["mu_teacher"]
    head, classes = freeze(emo_teacher.head), list(emo_teacher.classes)
    cents = actor_centroids(nu_t, table, ["train"])
    main = stage["meta"]["w_pooling"]
    other = "mean" if main == "last" else "last"

    clips = stage["clips"]
    nu = torch.stack([clips[c]["nu"] for c in inp["clip_id"]])
    mu = torch.stack([clips[c]["mu"] for c in inp["clip_id"]])
    scored = {f"cpc_{main}": score_students(nu, mu, table, cents, head, classes)}
    histories = {f"cpc_{main}": stage["history"]["students"]}
    split = table["split"].to_numpy()
    other_kd = "standard" if cfg.kd_direction == "as_written" else "as_written"
    cfg_other_kd = dataclasses.replace(cfg, kd_direction=other_kd)
    for name, w, c in ((f"cpc_{other}", inp[f"w_{other}"], cfg), ("logmel", inp["logmel"], cfg),
                       (f"cpc_{main}_kd_{other_kd}", inp[f"w_{main}"], cfg_other_kd)):
        st, h = train_students(profile, name, w, nu_t, mu_t, split, head, c, tensor_key(w, nu_t, mu_t), device,
                               force_retrain=force_retrain, progress=progress)
        scored[name] = score_students(*apply_students(st, w), table, cents, head, classes)
        histories[name] = h

    metrics = teacher_scores(table, nu_t, mu_t, cents, head, classes, seed=seed)
    metrics.update(teacher_ceilings(data, id_teacher, emo_teacher, cfg_d["k_frames"], seed))
    metrics.update(_summary(scored[f"cpc_{main}"], "", seed))
    metrics.update(_summary(scored[f"cpc_{other}"], f"_w{other}", seed))
    metrics.update(_summary(scored["logmel"], "_logmel", seed))
    metrics.update(_summary(scored[f"cpc_{main}_kd_{other_kd}"], f"_kd_{other_kd}", seed))
    # unseen actors' faces were never seen by the students: rank among all actors' centroids (theirs from
    # their own clips) says whether the voice lands near the right face anyway
    all_cents = actor_centroids(nu_t, table, ["train", "unseen"])
    un = (table["split"] == "unseen").to_numpy()
    if un.any():
        r = identity_ranks(nu[torch.tensor(un)], table.loc[un, "actor"], *all_cents)
        metrics["identity_top1_unseen_among_all"] = ci_dict((r == 1).astype(float), seed=seed)
        metrics["identity_top5_unseen_among_all"] = ci_dict((r <= 5).astype(float), seed=seed)
    report = {
        "metrics": metrics,
        "paired": {f"cpc_{main}_minus_logmel": paired_rows(scored[f"cpc_{main}"], scored["logmel"], seed=seed),
                   f"cpc_{main}_minus_cpc_{other}": paired_rows(scored[f"cpc_{main}"], scored[f"cpc_{other}"],
                                                                seed=seed),
                   f"kd_{cfg.kd_direction}_minus_kd_{other_kd}": paired_rows(
                       scored[f"cpc_{main}"], scored[f"cpc_{main}_kd_{other_kd}"], seed=seed)},
        "chance": stage_one_chance(table, len(cents[0])),
        "kd_direction": cfg.kd_direction, "w_pooling": main, "dims": stage["meta"]["dims"],
        "emotion_classes": classes, "n_clips": {k: int(v) for k, v in table["split"].value_counts().items()},
        "n_seen_actors": len(cents[0]), "seed": seed,
    }
    if write:
        out = {**metrics, **{k: v for k, v in report.items() if k != "metrics"}}
        write_json(out_path or results_dir(profile.name) / "distillation.json", out)
    report.update(scored=scored, confusion=confusion(scored[f"cpc_{main}"]), histories=histories, table=table)
    return report
