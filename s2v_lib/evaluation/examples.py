"""The clips the figures show: Figure 3 (test utterances of different actors, every method side by
side) and Figure 4 (one clip per unseen actor: real face vs the face generated from the voice)."""

def pick_utterances(data, n: int = 2, split: str = "test", seed: int = 0) -> list[str]:
    """n clips of different actors (alternating sex where possible), chosen reproducibly by seed."""
    clips = data.clips(split).sort_values("clip_id")
    order = clips.sample(frac=1.0, random_state=seed)
    picked, actors = [], set()
    sexes = list(dict.fromkeys(order["sex"]))
    for i in range(n):
        want = sexes[i % len(sexes)]
        cand = order[(order["sex"] == want) & ~order["actor"].isin(actors)]
        if cand.empty:
            cand = order[~order["actor"].isin(actors)] if len(actors) < order["actor"].nunique() else order
        row = cand.iloc[0]
        picked.append(row["clip_id"])
        actors.add(row["actor"])
    return picked


def figure3_examples(data, gens: dict, clip_ids, seed: int | None = None) -> list[dict]:
    """Rows as in the paper's Figure 3: ground truth, SDFA, S2F+SDFA, speech2video (each method's first
    seed, or `seed`); DAVS (the study's fourth method) before speech2video when it is among the generators."""
    man = data.manifest.set_index("clip_id")

    def one(method):
        g = gens[method]
        return g[seed if seed is not None and seed in g else min(g)] if isinstance(g, dict) else g
    gens = {m: one(m) for m in gens}
    s2v = gens["speech2video"]
    out = []
    for cid in clip_ids:
        r = man.loc[cid]
        out.append({"title": f"{cid}: actor {r['actor']} ({r['sex']}, {r['age']}), emotion {r['emotion']}",
                    "rows": {"Ground truth": data.load(cid)[0], "SDFA": gens["SDFA"](cid),
                             "S2F+SDFA": gens["S2F+SDFA"](cid),
                             **({"DAVS": gens["DAVS"](cid)} if "DAVS" in gens else {}), "speech2video": s2v(cid)}})
    return out


def figure4_examples(data, generate_fn, n_actors: int = 4) -> list[dict]:
    """One clip per unseen actor (up to n_actors, alternating sex): real face vs the face generated from the voice."""
    unseen = data.clips("unseen").sort_values("clip_id")
    first = unseen.groupby("actor").first().reset_index()
    by_sex = [g for _, g in first.groupby("sex")]
    rows = [g.iloc[i] for i in range(max(len(g) for g in by_sex)) for g in by_sex if i < len(g)][:n_actors]
    return [{"title": f"unseen actor {r['actor']} ({r['sex']}, {r['age']}, {r['age_group']}): {r['clip_id']}",
             "real": data.load(r["clip_id"])[0], "generated": generate_fn(r["clip_id"])} for r in rows]
