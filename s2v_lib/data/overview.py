"""Views of a prepared dataset for notebook 01: counts, split summary, plots, contact sheet, browser."""
import numpy as np
import pandas as pd

SPLIT_ORDER = ["train", "val", "test", "unseen"]


def counts_table(data) -> pd.DataFrame:
    """Clips per emotion (rows) and split (columns), with totals."""
    m = data.manifest
    t = pd.crosstab(m["emotion"], m["split"], margins=True, margins_name="total")
    return t[[c for c in SPLIT_ORDER if c in t.columns] + ["total"]]


def split_summary(data) -> pd.DataFrame:
    """Per split: actors, clips, male/female actors, hours of speech."""
    m = data.manifest
    rows = []
    for split in [s for s in SPLIT_ORDER if s in set(m["split"])]:
        s = m[m["split"] == split]
        sexes = s.drop_duplicates("actor")["sex"].value_counts()
        rows.append({"split": split, "actors": s["actor"].nunique(), "clips": len(s),
                     "male actors": int(sexes.get("Male", 0)), "female actors": int(sexes.get("Female", 0)),
                     "minutes": round(s["duration_s"].sum() / 60, 1)})
    return pd.DataFrame(rows).set_index("split")


def demographics_figure(data):
    import matplotlib.pyplot as plt
    import seaborn as sns
    actors = data.manifest.drop_duplicates("actor")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    sns.histplot(actors, x="age", hue="sex", multiple="stack", binwidth=5, ax=axes[0])
    axes[0].set_title(f"{len(actors)} actors: age by sex")
    sns.countplot(actors, y="race", hue="sex", ax=axes[1])
    axes[1].set_title("race (CREMA-D labels)")
    sns.boxplot(data.manifest, x="emotion", y="duration_s", ax=axes[2], color="#8fb3d9")
    axes[2].set_title("clip duration by emotion (s)")
    fig.tight_layout()
    return fig


def pick_contact_actors(data, n=8) -> list[int]:
    """Up to n actors, alternating sex, lowest ids first: deterministic."""
    a = data.manifest.drop_duplicates("actor").sort_values("actor")
    males, females = a[a.sex == "Male"]["actor"].tolist(), a[a.sex == "Female"]["actor"].tolist()
    out = []
    for m, f in zip(males + [None] * n, females + [None] * n):
        out += [x for x in (m, f) if x is not None]
        if len(out) >= n:
            break
    return out[:n]


def contact_sheet(data, actors=None, frame_fraction=0.5):
    """Figure: emotions (rows) x actors (columns), the frame at `frame_fraction` of one clip each."""
    import matplotlib.pyplot as plt
    m = data.manifest
    actors = actors or pick_contact_actors(data)
    emotions = data.emotions
    fig, axes = plt.subplots(len(emotions), len(actors), figsize=(1.25 * len(actors), 1.3 * len(emotions)),
                             squeeze=False)
    for j, actor in enumerate(actors):
        for i, emo in enumerate(emotions):
            ax = axes[i, j]
            ax.set_xticks([]); ax.set_yticks([])
            rows = m[(m.actor == actor) & (m.emotion == emo)].sort_values("clip_id")
            if len(rows):
                frames, _ = data.load(rows["clip_id"].iloc[0])
                ax.imshow(frames[int(frame_fraction * (len(frames) - 1))])
            if i == 0:
                sex = m[m.actor == actor]["sex"].iloc[0][0]
                ax.set_title(f"{actor} {sex}", fontsize=8)
            if j == 0:
                ax.set_ylabel(emo, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def clip_browser(data):
    """ipywidgets: pick actor / sentence / emotion / level among the clips this profile has, see the clip
    with its audio (s2v_lib.widgets.ClipBrowser)."""
    from ..widgets import ClipBrowser
    return ClipBrowser(data).widget
