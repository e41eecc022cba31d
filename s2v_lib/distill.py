"""Stage 1 of Speech2Video: pre-train CPC on speech, distil identity and emotion into the students, evaluate.

    cpc, hist = train_cpc(profile, data)                      # InfoNCE on training-split audio only
    inputs = clip_inputs(profile, data, cpc, id_t, emo_t)     # per clip: c_t, w, log-mel, teacher targets
    students, hist = train_students(profile, w, inputs, emo_t.head, cfg)     # Eq. (2)-(3)
    report = evaluate(profile, data, feats, emo_t, ...)       # recollection from voice, with bootstrap CIs

features.speech_features() chains the first three (all cached); notebook 03 shows the fourth.
Training sees the train split only; val gives the curves; test (seen actors) and unseen actors are
evaluated. Everything is seeded; checkpoints are keyed by config hash and resume after a kill.
"""
import contextlib
import dataclasses
import hashlib
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import audio as audio_features
from .config import Profile, as_profile, get_profile
from .models.cpc import CPC, CPCConfig, context, infonce_loss, pool_to_frames
from .models.students import StudentConfig, Students, students_loss
from .paths import checkpoint_dir
from .stats import ci_dict, paired_bootstrap
from .train.checkpoint import Checkpoint


@dataclass
class DistillConfig:
    """Everything that decides the speech features (the cache key, with the data and teacher fingerprints)."""
    cpc: CPCConfig
    students: StudentConfig
    k_frames: int = 5               # K frames averaged for the emotion target, Eq. (1) (paper: unspecified)
    w_pooling: str = "mean"         # what the students read: "mean" = c_t averaged over the clip (our default,
                                    # see notebook 03), "last" = w = c_T (the paper's reading, always evaluated too)
    seed: int = 0

    @classmethod
    def for_profile(cls, profile: Profile, seed: int = 0, **student_overrides) -> "DistillConfig":
        return cls(cpc=CPCConfig.for_scale(profile.scale, seed),
                   students=StudentConfig.for_scale(profile.scale, seed, **student_overrides), seed=seed)


def _profile(profile) -> Profile:
    return as_profile(profile)


def data_key(data) -> str:
    """A fingerprint of a prepared dataset: its directory name (a hash of its config) and its clip/split list."""
    m = data.manifest[["clip_id", "split", "n_frames"]].to_csv(index=False)
    return hashlib.sha1((data.root.name + m).encode()).hexdigest()[:12]


def load_audio(data, clip_id: str) -> np.ndarray:
    """Only the audio member of a clip's npz (training CPC need not read the frames)."""
    row = data.manifest.loc[data.manifest["clip_id"] == clip_id]
    with np.load(data.root / row["path"].iloc[0]) as z:
        return z["audio"].astype(np.float32) / 32768.0


# ---------------------------------------------------------------- CPC ---------------------------------------

def sample_crops(audios: list, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """n random crops of `length` samples (zero-padded when a clip is shorter)."""
    out = np.zeros((n, length), np.float32)
    for i, j in enumerate(rng.integers(0, len(audios), n)):
        a = audios[j]
        if len(a) <= length:
            out[i, : len(a)] = a
        else:
            s = rng.integers(0, len(a) - length + 1)
            out[i] = a[s: s + length]
    return out


@contextlib.contextmanager
def _threads(n: int):
    """Run a loop of tiny ops (the students' MLPs) on at most n threads (on a busy 2-core machine we
    measured 277 ms per student step on 2 threads against 7 ms on one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(n, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _lr_at(step: int, cfg: CPCConfig, warmup: int = 50) -> float:
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, cfg.steps - warmup)))


def train_cpc(profile, data, device: str = "cpu", force_retrain: bool = False, cfg: CPCConfig | None = None,
              save_every: int = 100, progress: bool = True) -> tuple[CPC, dict]:
    """InfoNCE pre-training on random crops of the training-split audio -> (CPC in eval mode, history).

    history: step, loss, acc (steps x n_predict: accuracy of picking z_{t+k}, k = 1..12), lr.
    """
    profile = _profile(profile)
    cfg = cfg or CPCConfig.for_scale(profile.scale)
    train_ids = list(data.clips("train")["clip_id"])
    ckpt = Checkpoint(checkpoint_dir(profile.name) / "cpc", {"cpc": dataclasses.asdict(cfg), "data": data_key(data)})
    torch.manual_seed(cfg.seed)
    model = CPC(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    hist = {"step": [], "loss": [], "acc": [], "lr": []}
    start = 0
    state = ckpt.load(force_retrain=force_retrain, map_location=device)
    if state is not None:
        model.load_state_dict(state["model"])
        hist = state["history"]
        if state["done"]:
            return model.eval(), hist
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["np_rng"]
        gen.set_state(state["torch_gen"].to(gen.device) if device == "cpu" else state["torch_gen"])
        start = state["step"]
    if not train_ids:
        raise ValueError("the prepared data has no training clips; CPC needs training-split audio")
    audios = [load_audio(data, c) for c in tqdm(train_ids, desc="CPC: load train audio", disable=not progress,
                                                 leave=False)]
    model.train()
    for step in tqdm(range(start, cfg.steps), desc="CPC", disable=not progress, initial=start, total=cfg.steps):
        lr = _lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(sample_crops(audios, cfg.batch_size, cfg.crop_samples, rng)).to(device)
        loss, acc = infonce_loss(model, x, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        hist["step"].append(step)
        hist["loss"].append(float(loss.detach()))
        hist["acc"].append(acc.cpu().tolist())
        hist["lr"].append(lr)
        done = step + 1 == cfg.steps
        if done or (step + 1) % save_every == 0:
            ckpt.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1, "history": hist,
                       "np_rng": rng.bit_generator.state, "torch_gen": gen.get_state()}, done=done)
    return model.eval(), hist


# ---------------------------------------------------------- per-clip inputs ----------------------------------

def _frame_indices(n_frames: int, k: int, seed: int, clip_id: str) -> np.ndarray:
    """The K frames the emotion teacher sees for this clip (seeded by clip id, so stable across runs)."""
    rng = np.random.default_rng([seed, zlib.crc32(clip_id.encode())])
    return np.sort(rng.choice(n_frames, size=min(k, n_frames), replace=False))


def _to_input(frames: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def teacher_fingerprint(id_teacher, emo_teacher, size: int) -> str:
    """A hash of what the teachers output on a fixed probe: a retrained teacher changes the key."""
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(4, 3, size, size, generator=g)
    dev = _teacher_device(id_teacher)
    parts = [id_teacher.embed(x.to(dev)), emo_teacher.features(x.to(_teacher_device(emo_teacher)))]
    parts.append(emo_teacher.head(parts[1]))
    h = hashlib.sha1(str(list(emo_teacher.classes)).encode())
    for p in parts:
        h.update(np.round(p.detach().cpu().double().numpy(), 4).tobytes())
    return h.hexdigest()[:12]


def _teacher_device(teacher):
    dev = getattr(teacher, "device", None)
    if dev is not None:
        return dev
    try:
        return next(teacher.parameters()).device
    except (AttributeError, StopIteration):
        return "cpu"


@torch.no_grad()
def clip_inputs(data, cpc: CPC, id_teacher, emo_teacher, k_frames: int = 5, seed: int = 0,
                progress: bool = True) -> dict:
    """One pass over every clip -> arrays in manifest order:
    clip_id, c (list of (T, D) float16 at 25 fps), w_last (N, D) = c_T, w_mean (N, D), logmel (N, 80),
    nu_teacher (N, d_id) = identity of the first frame, mu_teacher (N, d_emo) = Eq. (1) over K frames."""
    cpc.eval()
    ids = list(data.manifest["clip_id"])
    out = {"clip_id": ids, "c": [], "w_last": [], "w_mean": [], "logmel": [], "nu_teacher": [], "mu_teacher": []}
    with _threads(1 if next(cpc.parameters()).device.type == "cpu" else torch.get_num_threads()):
        _clip_pass(data, ids, cpc, id_teacher, emo_teacher, k_frames, seed, out, progress)
    for k in ("w_last", "w_mean", "logmel", "nu_teacher", "mu_teacher"):
        out[k] = torch.stack(out[k]).float()
    return out


def _clip_pass(data, ids, cpc, id_teacher, emo_teacher, k_frames, seed, out, progress):
    """One clip at a time (batch-1 ops run best on one thread; padding clips into batches would change c_t)."""
    for cid in tqdm(ids, desc="speech features + teacher targets", disable=not progress, leave=False):
        frames, audio = data.load(cid)
        T = len(frames)
        c100 = context(cpc, audio, T)
        out["c"].append(pool_to_frames(c100).cpu().half())
        out["w_last"].append(c100[-1].cpu())
        out["w_mean"].append(c100.mean(0).cpu())
        out["logmel"].append(audio_features.logmel_utterance(audio))
        idx = _frame_indices(T, k_frames, seed, cid)
        out["nu_teacher"].append(id_teacher.embed(_to_input(frames[:1], _teacher_device(id_teacher)))[0].cpu())
        emo = emo_teacher.features(_to_input(frames[idx], _teacher_device(emo_teacher)))
        out["mu_teacher"].append(emo.mean(0).cpu())


# ---------------------------------------------------------------- students -----------------------------------

def _freeze(module):
    if isinstance(module, torch.nn.Module):
        for p in module.parameters():
            p.requires_grad_(False)
    return module


def train_students(profile, name: str, w: torch.Tensor, nu_teacher: torch.Tensor, mu_teacher: torch.Tensor,
                   split: np.ndarray, emotion_head, cfg: StudentConfig, key: str = "", device: str = "cpu",
                   force_retrain: bool = False, save_every: int = 25, progress: bool = True
                   ) -> tuple[Students, dict]:
    """Eq. (2)-(3) with RMSProp on the training split; val loss per epoch -> (Students in eval mode, history).

    name separates student sets trained on different inputs (e.g. "cpc", "cpc_mean", "logmel");
    key fingerprints those inputs and targets (part of the checkpoint hash)."""
    profile = _profile(profile)
    _freeze(emotion_head)
    split = np.asarray(split)
    tr, va = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    if len(tr) == 0:
        raise ValueError("no training clips for the students")
    ckpt = Checkpoint(checkpoint_dir(profile.name) / f"students_{name}",
                      {"students": dataclasses.asdict(cfg), "inputs": key, "in_dim": w.shape[1]})
    torch.manual_seed(cfg.seed)
    model = Students(w.shape[1], nu_teacher.shape[1], mu_teacher.shape[1], cfg).to(device)
    model.set_input_stats(w[tr].to(device))
    opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    hist = {"epoch": [], "train_loss": [], "val_loss": [], "val_parts": [], "val_id_cos": [], "val_emo_agree": []}
    start = 0
    state = ckpt.load(force_retrain=force_retrain, map_location=device)
    if state is not None:
        model.load_state_dict(state["model"])
        hist = state["history"]
        if state["done"]:
            return model.eval(), hist
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["np_rng"]
        torch.set_rng_state(state["torch_rng"])
        start = state["epoch"]
    W, NU, MU = w.to(device), nu_teacher.to(device), mu_teacher.to(device)
    # one thread: with 2 on a busy 2-core machine every small matmul waits for the other core
    with _threads(1 if device == "cpu" else torch.get_num_threads()):
        for epoch in tqdm(range(start, cfg.epochs), desc=f"students ({name})", disable=not progress,
                          initial=start, total=cfg.epochs, leave=False):
            model.train()
            order = tr[rng.permutation(len(tr))]
            losses = []
            for i in range(0, len(order), cfg.batch_size):
                b = torch.from_numpy(order[i: i + cfg.batch_size]).to(device)
                nu, mu = model(W[b])
                loss, _ = students_loss(nu, mu, NU[b], MU[b], emotion_head, cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
            model.eval()
            with torch.no_grad():
                v = torch.from_numpy(va if len(va) else tr).to(device)
                nu, mu = model(W[v])
                vloss, parts = students_loss(nu, mu, NU[v], MU[v], emotion_head, cfg)
                id_cos = F.cosine_similarity(nu, NU[v], dim=-1).mean()
                agree = (emotion_head(mu).argmax(-1) == emotion_head(MU[v]).argmax(-1)).float().mean()
            hist["epoch"].append(epoch)
            hist["train_loss"].append(float(np.mean(losses)))
            hist["val_loss"].append(float(vloss))
            hist["val_parts"].append(parts)
            hist["val_id_cos"].append(float(id_cos))
            hist["val_emo_agree"].append(float(agree))
            done = epoch + 1 == cfg.epochs
            if done or (epoch + 1) % save_every == 0:
                ckpt.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1, "history": hist,
                           "np_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}, done=done)
    return model.eval(), hist


@torch.no_grad()
def apply_students(students: Students, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (nu L2-normalised like the identity teacher's embedding, mu raw in the emotion teacher's feature space)."""
    dev = students.w_mean.device
    nu, mu = students.eval()(w.to(dev))
    return F.normalize(nu, dim=-1).cpu(), mu.cpu()


def tensor_key(*tensors) -> str:
    h = hashlib.sha1()
    for t in tensors:
        h.update(np.round(t.detach().cpu().double().numpy(), 5).tobytes())
    return h.hexdigest()[:12]


# --------------------------------------------------------------- evaluation ----------------------------------

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


def emotion_predictions(mu: torch.Tensor, emotion_head, classes) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(list(classes))[emotion_head(mu).argmax(-1).cpu().numpy()]


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
    out["emo_pred"] = emotion_predictions(mu, emotion_head, classes)
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
    emo = emotion_predictions(mu_teacher[test], emotion_head, classes) == table.loc[test, "emotion"].to_numpy()
    return {"identity_teacher_1nn": ci_dict(hit_1nn.astype(float), seed=seed),
            "identity_teacher_centroid_top1": ci_dict((ranks == 1).astype(float), seed=seed),
            "emotion_teacher_acc": ci_dict(emo.astype(float), seed=seed),
            "emotion_teacher_acc_eq1": ci_dict(emo.astype(float), seed=seed)}


def chance_levels(table: pd.DataFrame, n_seen_actors: int) -> dict:
    unseen = table[table["split"] == "unseen"]
    seen_demo = table[table["split"] == "train"].drop_duplicates("actor")
    p_sex = seen_demo["sex"].value_counts(normalize=True)
    return {"identity_top1": 1 / max(1, n_seen_actors), "identity_top5": min(1.0, 5 / max(1, n_seen_actors)),
            "emotion": 1 / max(1, table["emotion"].nunique()),
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
    from . import teachers
    out = {}
    if id_teacher is not None and isinstance(id_teacher, teachers.FrozenTeacher):
        r = teachers.evaluate_identity(id_teacher, data, seed=seed)
        out["identity_teacher_1nn"] = {"mean": r["top1"], "lo": r["top1_ci"][0], "hi": r["top1_ci"][1]}
    if isinstance(emo_teacher, teachers.FrozenTeacher):
        r = teachers.evaluate_emotion(emo_teacher, data, k=k, seed=seed)
        out["emotion_teacher_acc"] = {"mean": r["accuracy"], "lo": r["accuracy_ci"][0], "hi": r["accuracy_ci"][1]}
    return out


def evaluate_all(profile, data, stage: dict, emo_teacher, id_teacher=None, device: str = "cpu",
                 force_retrain: bool = False, write: bool = True, out_path=None, progress: bool = True) -> dict:
    """All of notebook 03's numbers from a speech stage (features.speech_stage) -> report dict.

    Trains the ablation students (same config) on (a) the other pooling of CPC's context, (b) a plain
    log-mel utterance average, (c) the main input with the other direction of Eq. (3); scores every
    student set on test (seen actors) and unseen actors; writes results/<profile>/distillation.json
    (or out_path) when `write`. Returns {"metrics", "paired", "chance", "scored", "confusion", "histories", ...}."""
    from .atomic import write_json
    from .paths import results_dir
    profile = _profile(profile)
    cfg_d = stage["meta"]["config"]
    cfg = StudentConfig(**cfg_d["students"])
    seed = cfg_d["seed"]
    inp = stage["inputs"]
    table = clip_table(data, inp["clip_id"])
    nu_t, mu_t = inp["nu_teacher"], inp["mu_teacher"]
    head, classes = _freeze(emo_teacher.head), list(emo_teacher.classes)
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
        "chance": chance_levels(table, len(cents[0])),
        "kd_direction": cfg.kd_direction, "w_pooling": main, "dims": stage["meta"]["dims"],
        "emotion_classes": classes, "n_clips": {k: int(v) for k, v in table["split"].value_counts().items()},
        "n_seen_actors": len(cents[0]), "seed": seed,
    }
    if write:
        out = {**metrics, **{k: v for k, v in report.items() if k != "metrics"}}
        write_json(out_path or results_dir(profile.name) / "distillation.json", out)
    report.update(scored=scored, confusion=confusion(scored[f"cpc_{main}"]), histories=histories, table=table)
    return report


# ------------------------------------------------------------- tables and figures (notebook 03) -------------

METRIC_ROWS = (
    ("identity_top1_seen", "identity from voice, top-1 (seen actors, test)", "identity_top1"),
    ("identity_top5_seen", "identity from voice, top-5 (seen actors, test)", "identity_top5"),
    ("emotion_acc_seen", "emotion from voice (seen actors, test)", "emotion"),
    ("emotion_acc_unseen", "emotion from voice (unseen actors)", "emotion"),
    ("sex_agreement_unseen", "sex of nearest seen actor = owner's (unseen)", "sex_unseen"),
    ("age_group_agreement_unseen", "age group of nearest seen actor = owner's (unseen)", None),
)


def metrics_table(report: dict) -> pd.DataFrame:
    """Rows: the recollection metrics; columns: the students on w (main), the other pooling, log-mel; chance."""
    m, main = report["metrics"], report["w_pooling"]
    other = "mean" if main == "last" else "last"
    rows = []
    for key, label, chance in METRIC_ROWS:
        row = {"metric": label}
        other_kd = "standard" if report["kd_direction"] == "as_written" else "as_written"
        for col, suffix in ((f"CPC w ({'c_T' if main == 'last' else 'mean c_t'})", ""),
                            (f"CPC {'mean c_t' if other == 'mean' else 'c_T'}", f"_w{other}"),
                            ("log-mel average", "_logmel"),
                            (f"CPC w, Eq. 3 {other_kd.replace('_', ' ')}", f"_kd_{other_kd}")):
            v = m.get(key + suffix)
            row[col] = f"{v['mean']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]" if v else "-"
        row["chance"] = f"{report['chance'][chance]:.3f}" if chance else "-"
        rows.append(row)
    for key, label in (("identity_teacher_1nn", "teacher ceiling: identity 1-NN from faces"),
                       ("identity_teacher_centroid_top1", "teacher ceiling: first frame -> actor centroid"),
                       ("emotion_teacher_acc", "teacher ceiling: emotion from faces"),
                       ("emotion_teacher_acc_eq1", "teacher ceiling: emotion of the target mu* (Eq. 1)")):
        v = m[key]
        rows.append({"metric": label, f"CPC w ({'c_T' if main == 'last' else 'mean c_t'})":
                     f"{v['mean']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]"})
    return pd.DataFrame(rows).set_index("metric").fillna("")


def cpc_figure(hist: dict):
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    loss = pd.Series(hist["loss"], index=hist["step"])
    ax[0].plot(loss.index, loss.values, alpha=0.3, color="C0", label="per step")
    ax[0].plot(loss.index, loss.rolling(20, min_periods=1).mean().values, color="C0", label="20-step mean")
    ax[0].set(xlabel="step", ylabel="InfoNCE loss", title="CPC pre-training (training-split audio)")
    ax[0].legend()
    acc = np.asarray(hist["acc"])
    tail = acc[-max(1, len(acc) // 10):].mean(0)
    sns.barplot(x=np.arange(1, acc.shape[1] + 1), y=tail, ax=ax[1], color="C1")
    ax[1].set(xlabel="future step k (10 ms each)", ylabel="accuracy", ylim=(0, 1),
              title="picking z_{t+k} among the batch (last 10% of steps)")
    fig.tight_layout()
    return fig


def students_figure(histories: dict):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.6))
    for i, (name, h) in enumerate(histories.items()):
        ax[0].plot(h["epoch"], h["train_loss"], color=f"C{i}", ls="--", alpha=0.6)
        ax[0].plot(h["epoch"], h["val_loss"], color=f"C{i}", label=name)
        ax[1].plot(h["epoch"], h["val_id_cos"], color=f"C{i}", label=name)
        ax[2].plot(h["epoch"], h["val_emo_agree"], color=f"C{i}", label=name)
    ax[0].set(xlabel="epoch", ylabel="Eq. (2) loss", title="students: train (dashed) / val")
    ax[1].set(xlabel="epoch", ylabel="cosine(nu, nu*)", title="val: identity feature match")
    ax[2].set(xlabel="epoch", ylabel="agreement", title="val: teacher's class of mu = of mu*", ylim=(0, 1))
    ax[0].legend()
    fig.tight_layout()
    return fig


def confusion_figure(conf: pd.DataFrame, title: str = "emotion from voice (test, seen actors)"):
    import matplotlib.pyplot as plt
    import seaborn as sns
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(conf, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set(title=title)
    fig.tight_layout()
    return fig


def embedding_figure(nu: torch.Tensor, mu: torch.Tensor, table: pd.DataFrame, split: str = "test",
                     max_actors: int = 12, seed: int = 0):
    """PCA of the students' outputs on one split: nu by actor (the first max_actors) and by sex, mu by emotion."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from sklearn.decomposition import PCA
    sel = torch.tensor((table["split"] == split).to_numpy())
    t = table[sel.numpy()].reset_index(drop=True)
    p_nu = PCA(2, random_state=seed).fit_transform(F.normalize(nu[sel], dim=-1).numpy())
    p_mu = PCA(2, random_state=seed).fit_transform(F.normalize(mu[sel], dim=-1).numpy())
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.4))
    few = t["actor"].isin(sorted(t["actor"].unique())[:max_actors]).to_numpy()
    sns.scatterplot(x=p_nu[few, 0], y=p_nu[few, 1], hue=t.loc[few, "actor"].astype(str).to_numpy(), ax=ax[0],
                    palette="tab20", s=30, legend=False)
    ax[0].set(title=f"nu by actor ({split}, first {max_actors} actors)", xlabel="PC1", ylabel="PC2")
    sns.scatterplot(x=p_nu[:, 0], y=p_nu[:, 1], hue=t["sex"].to_numpy(), ax=ax[1], s=20)
    ax[1].set(title=f"nu by sex ({split})", xlabel="PC1", ylabel="PC2")
    sns.scatterplot(x=p_mu[:, 0], y=p_mu[:, 1], hue=t["emotion"].to_numpy(), ax=ax[2], s=20,
                    hue_order=sorted(t["emotion"].unique()))
    ax[2].set(title=f"mu by emotion ({split})", xlabel="PC1", ylabel="PC2")
    fig.tight_layout()
    return fig


def narrative(report: dict) -> str:
    """A paragraph that says what the numbers show, including where they are near chance."""
    m, ch = report["metrics"], report["chance"]

    def judge(key, chance):
        v = m[key]
        if v["lo"] > chance + 0.5 * (1 - chance):
            return "well above chance"
        if v["lo"] > chance:
            return "above chance"
        return "not distinguishable from chance"

    def fmt(key):
        v = m[key]
        return f"{v['mean']:.2f} [{v['lo']:.2f}, {v['hi']:.2f}]"

    main = "w = c_T (the paper's reading)" if report["w_pooling"] == "last" else "the time-averaged context"
    d = report["paired"][next(k for k in report["paired"] if k.endswith("minus_logmel"))]
    s = [f"Students reading {main}, trained with Eq. (3) {report['kd_direction'].replace('_', ' ')}: "
         f"identity top-1 on seen actors' test clips {fmt('identity_top1_seen')} "
         f"(chance {ch['identity_top1']:.3f}; {judge('identity_top1_seen', ch['identity_top1'])}), "
         f"top-5 {fmt('identity_top5_seen')}; emotion {fmt('emotion_acc_seen')} on seen and "
         f"{fmt('emotion_acc_unseen')} on unseen actors (chance {ch['emotion']:.2f}; "
         f"{judge('emotion_acc_seen', ch['emotion'])} on seen, {judge('emotion_acc_unseen', ch['emotion'])} "
         f"on unseen). For unseen voices, the nearest seen actor has the owner's sex in "
         f"{fmt('sex_agreement_unseen')} of clips (chance {ch['sex_unseen']:.2f}; "
         f"{judge('sex_agreement_unseen', ch['sex_unseen'])})."]
    other = "mean" if report["w_pooling"] == "last" else "last"
    s.append(f"The same students on the other pooling of CPC's context ({'mean c_t' if other == 'mean' else 'c_T'}) "
             f"reach identity top-1 {fmt('identity_top1_seen_w' + other)} and emotion "
             f"{fmt('emotion_acc_seen_w' + other)}; on a plain log-mel average, identity "
             f"{fmt('identity_top1_seen_logmel')} and emotion {fmt('emotion_acc_seen_logmel')} "
             f"(paired difference CPC minus log-mel, identity top-1: {d['identity_top1']['mean']:+.2f} "
             f"[{d['identity_top1']['lo']:+.2f}, {d['identity_top1']['hi']:+.2f}]).")
    other_kd = "standard" if report["kd_direction"] == "as_written" else "as_written"
    k = report["paired"][f"kd_{report['kd_direction']}_minus_kd_{other_kd}"]
    s.append(f"With Eq. (3) in the {other_kd.replace('_', ' ')} direction instead, the same students on the same w "
             f"reach identity top-1 {fmt('identity_top1_seen_kd_' + other_kd)} and emotion "
             f"{fmt('emotion_acc_seen_kd_' + other_kd)} (paired difference, identity top-1: "
             f"{k['identity_top1']['mean']:+.2f} [{k['identity_top1']['lo']:+.2f}, {k['identity_top1']['hi']:+.2f}]; "
             f"emotion: {k['emotion_acc']['mean']:+.2f} [{k['emotion_acc']['lo']:+.2f}, "
             f"{k['emotion_acc']['hi']:+.2f}]).")
    s.append(f"The teachers bound what the students can reach: identity 1-NN from faces "
             f"{fmt('identity_teacher_1nn')}, emotion from faces {fmt('emotion_teacher_acc')}.")
    return " ".join(s)


# --------------------------------------------------------------------------------- bench ---------------------

def bench_distill(profile_name: str) -> dict:
    """CPC training crops/s (and audio seconds/s) and student optimiser steps/s on random inputs of the
    profile's sizes (no data needed)."""
    import time
    profile = get_profile(profile_name)
    cfg = CPCConfig.for_scale(profile.scale)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = CPC(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    x = torch.randn(cfg.batch_size, cfg.crop_samples, device=device) * 0.1

    def cpc_step():
        loss, _ = infonce_loss(model, x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def timed(fn, n):
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n

    dt = timed(cpc_step, 5)
    scfg = StudentConfig.for_scale(profile.scale)
    st = Students(cfg.hidden, 128, 128, scfg).to(device)
    head = _freeze(torch.nn.Linear(128, 6).to(device))
    sopt = torch.optim.RMSprop(st.parameters(), lr=scfg.lr)
    w, nu_t, mu_t = (torch.randn(scfg.batch_size, d, device=device) for d in (cfg.hidden, 128, 128))

    def student_step():
        nu, mu = st(w)
        loss, _ = students_loss(nu, mu, nu_t, mu_t, head, scfg)
        sopt.zero_grad()
        loss.backward()
        sopt.step()

    with _threads(1 if device == "cpu" else torch.get_num_threads()):   # as train_students runs
        ds = timed(student_step, 50)
    return {"cpc_train_samples_per_s": round(cfg.batch_size / dt, 2),
            "cpc_train_audio_s_per_s": round(cfg.batch_size * cfg.crop_samples / 16000 / dt, 2),
            "cpc_train_step_s": round(dt, 4), "cpc_steps": cfg.steps,
            "student_train_steps_per_s": round(1 / ds, 1)}
