"""`python -m s2v_lib ablate --row LABEL`: an optional ablation row (composer/ablations.OPTIONAL_ABLATIONS, a
full composer run each, outside the default chain) beside its model's default, both trained (or loaded) in
this cache and scored on the test clips exactly like Table 1 (evaluation/per_clip.py).

Writes results/<profile>/optional_ablations.md, .csv and _per_clip.csv (a later call for another row
keeps the rows already there); each run's sample grid is figures/<profile>/samples_<run>.png, and
figures/<profile>/optional_<tag>.png shows real, default and row frames side by side. The default
row is the default model of *this* cache: on the machine and cache that ran the chain it is Table 1's model;
on another CPU stage one and the default are retrained here, so a row is compared with its own default,
never with Table 1 (README, "What is bit-identical").
"""
import pandas as pd

from ..atomic import write_csv, write_text
from ..errors import UserError
from ..figures import save_figure
from ..paths import figures_dir, results_dir
from .ablations import DEFAULT_ROWS, ablation_generators, ablation_markdown, score_ablations, table_row


def optional_row(label: str):
    from ..composer.ablations import OPTIONAL_ABLATIONS
    rows = {ab.label: ab for ab in OPTIONAL_ABLATIONS}
    if label not in rows:
        raise UserError(f"--row {label!r} is not an optional ablation; choose one of: "
                        + "; ".join(repr(k) for k in rows))
    return rows[label]


def run_optional_ablation(label: str, profile, dataset="synthetic", data_root="", device="cpu", seed=0,
                          progress=True) -> pd.DataFrame:
    """Train (or load) the row and its model's default, score both; returns their per-clip scores."""
    from ..composer.ablations import train_ablation
    from ..composer.training import train_model
    from ..data.pipeline import get_prepared
    from ..stage_one.features import speech_stage
    from .context import build_context
    from ..reproduce import device_info, git_commit
    ab = optional_row(label)
    data = get_prepared(profile, dataset, data_root, seed=seed)
    ctx = build_context(profile, data, device, seed=seed, progress=progress)
    features = speech_stage(profile, data, ctx.identity_teacher, ctx.emotion_teacher, device, progress=progress)["clips"]
    upstream = dict(features=features if ab.model == "speech2video" else None,
                    teacher=ctx.identity_teacher if ab.model != "sdfa" else None)
    models = {f"{DEFAULT_ROWS[ab.model]} (default)": train_model(ab.model, profile, data, device=device, seed=seed,
                                                                   progress=progress, **upstream),
              ab.label: train_ablation(ab, profile, data, upstream["features"], upstream["teacher"], device, seed,
                                       progress=progress)}
    test_ids = list(data.clips("test").sort_values("clip_id")["clip_id"])
    clips = score_ablations(ablation_generators(models, data, features), ctx, test_ids, progress)
    labels = dict(zip(models, ("default", ab.tag)))
    save_figure(comparison_figure(models, data, features, labels), figures_dir(profile.name) / f"optional_{ab.tag}.png")
    commit = git_commit()
    return clips.assign(pair=ab.label, model=ab.model, changes=clips["method"].map({ab.label: ab.changes}).fillna(""),
                        cpu_capability=device_info()["cpu_capability"], commit=commit["commit"],
                        dirty=commit["dirty"])


def comparison_figure(models: dict, data, features, labels: dict, n_actors: int = 4, n_frames: int = 6):
    """Real frames, then each model's (labels: name -> its row label), for the first test clip of the first
    n_actors test actors."""
    import matplotlib.pyplot as plt
    from ..generate import generate
    test = data.clips("test").sort_values("clip_id")
    cids = list(test.drop_duplicates("actor")["clip_id"])[:n_actors]
    names = ["real"] + list(models)
    fig, axes = plt.subplots(len(cids) * len(names), n_frames, squeeze=False,
                             figsize=(n_frames * 0.9, len(cids) * len(names) * 0.9))
    for i, cid in enumerate(cids):
        frames, wav = data.load(cid)
        for r, name in enumerate(names):
            m = models.get(name)
            video = frames if m is None else generate(m, wav, still=frames[0], features=features[cid])
            for j, t in enumerate(range(0, min(len(video), 2 * n_frames), 2)):
                ax = axes[i * len(names) + r, j]
                ax.imshow(video[t])
                ax.set_xticks([]), ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(labels.get(name, name), fontsize=6)
    fig.suptitle("real, then each model (every 2nd frame), one test clip per actor", fontsize=7)
    fig.tight_layout(pad=0.1)
    return fig


def write_optional_ablations(clips: pd.DataFrame, profile_name: str, data_label: str) -> pd.DataFrame:
    """Merge these rows into results/<profile>/optional_ablations*.csv (replacing their pair) and rewrite the md."""
    out = results_dir(profile_name)
    path = out / "optional_ablations_per_clip.csv"
    clips = clips.drop(columns=["mean_dists"], errors="ignore")
    if path.exists():
        old = pd.read_csv(path)
        clips = pd.concat([old[~old["pair"].isin(clips["pair"].unique())], clips], ignore_index=True)
    clips["changes"] = clips["changes"].fillna("")          # a default row's, read back from the CSV
    write_csv(path, clips)
    rows = []
    for pair, sub in clips.groupby("pair", sort=False):
        for label, part in sub.groupby("method", sort=False):
            rows.append({"pair": pair, "cpu_capability": part["cpu_capability"].iloc[0],
                         "commit": str(part["commit"].iloc[0])[:7], "dirty": bool(part["dirty"].iloc[0]),
                         **table_row(part["model"].iloc[0], label, part["changes"].iloc[0], part)})
    table = pd.DataFrame(rows)
    write_csv(out / "optional_ablations.csv", table)
    where = "; ".join(f"{p}: scored on a {t.cpu_capability.iloc[0]} CPU at commit {t.commit.iloc[0]}"
                      + (" with uncommitted changes" if t.dirty.iloc[0] else "")
                      for p, t in table.groupby("pair", sort=False))
    caption = (f"**Optional ablations** (`python -m s2v_lib ablate --row ...`; each a full composer run outside the "
               f"default chain). Dataset: {data_label}; profile `{profile_name}`; seed 0; test split, every clip; "
               "metrics and conventions as Table 1; cells: mean [95% bootstrap CI over test clips]. Each row beside "
               f"its model's default from the same cache ({where}): compare a row with the default above it, not "
               "with Table 1, whose models may come from another machine's chain (README, 'What is bit-identical').")
    write_text(out / "optional_ablations.md", ablation_markdown(table, caption, "the default model of the same cache"))
    return table


def ablate_cli(args) -> int:
    from ..config import get_profile
    from ..device import resolve_device
    from .table1 import dataset_label
    profile = get_profile(args.profile)
    clips = run_optional_ablation(args.row, profile, args.dataset, args.data_root, resolve_device(args.device))
    write_optional_ablations(clips, profile.name, dataset_label(args.dataset))
    print(f"wrote {results_dir(profile.name) / 'optional_ablations.md'}")
    return 0
