"""Stage 3 of the study: the evaluation (notebooks 05 and 06).

Every method is a callable `generate_fn(clip_id) -> frames uint8 (T, S, S, 3)`, so the same code scores
the trained models, the ground truth, and stand-ins in tests:

    ctx = build_context(profile, data, device)                   # context.py: sync expert, teachers, gallery
    per_clip = score_methods({"speech2video": {0: fn0, 1: fn1}, "SDFA": fn, ...}, ctx, test_ids)
    table = table1(per_clip)                                     # table1.py: mean [95% CI] per method, metric
    claims = claims_table(per_clip, unseen_summary)              # claims.py: one verdict per claim

Which file holds what:
    context.py       EvalContext (data, sync expert, teachers, seen-actor gallery) and build_context
    sync_expert.py   the sync expert (SyncNet + syncnet_python's scoring): Confidence, LSE-D, offset; its training
    per_clip.py      per-clip scores of every method (quality, sharpness, sync, identity, emotion): score_methods
    sharpness.py     CPBD (port of the cpbd package) and hf_ratio (high-frequency energy vs the real frames)
    table1.py        Table 1: methods, metrics, conventions, the bootstrap table and its markdown
    claims.py        the paper's claims (docs/design.md §8) and the verdict rules
    unseen.py        notebook 06: demographic probes, the unseen-voice study, the cluster bootstrap,
                     generated_spread_ratio
    methods.py       the methods under test: trained models -> generate_fn per method, mismatch pairs
    budget.py        notebook 08: the budget-scaling runs (plan, training), their scoring cached per checkpoint
    budget_report.py notebook 08: its table, claims per budget, summary (stable / flips) and figure
    examples.py      the clips Figures 3 and 4 show
    plots.py         Figure 3, Figure 4 and the plots of notebooks 05-06
Frame metrics (SSIM, PSNR, teachers on generated faces) live in s2v_lib/metrics.py; the throughput
benchmark of the scoring in s2v_lib/bench/evaluation.py.
"""
