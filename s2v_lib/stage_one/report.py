"""Tables, figures and the narrative of notebook 03 (stage one)."""
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F



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


def voice_emotion_confusion_figure(conf: pd.DataFrame, title: str = "emotion from voice (test, seen actors)"):
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
