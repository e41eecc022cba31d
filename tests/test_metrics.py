"""Metric conventions, Table 1 assembly, claims verdicts and the unseen-voice study, on a toy dataset
with stand-in methods (ground truth, noisy / blurred truth, a mean face, another speaker) and teachers."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.ndimage import uniform_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from s2v_lib import metrics as M
from s2v_lib.data.dataset import PreparedData
from s2v_lib.evaluation import claims as C
from s2v_lib.evaluation import sharpness as SH
from s2v_lib.evaluation import examples as X
from s2v_lib.evaluation import table1 as T
from s2v_lib.evaluation import unseen as U
from s2v_lib.bench.evaluation import bench_eval
from s2v_lib.evaluation.context import EvalContext
from s2v_lib.evaluation.per_clip import evaluate_method, mean_dist_curves, score_methods
from s2v_lib.evaluation.sync_expert import SyncExpert
from s2v_lib.models.syncnet import SyncNet, SyncNetConfig
from toy_av import ToyEmotionTeacher, ToyIdentityTeacher, make_toy_prepared


def test_ssim_and_psnr_follow_scikit_image():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    b = np.clip(a + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    ref_ssim = [structural_similarity(x, y, data_range=255, channel_axis=-1) for x, y in zip(a, b)]
    ref_psnr = [peak_signal_noise_ratio(y, x, data_range=255) for x, y in zip(a, b)]
    np.testing.assert_allclose(M.ssim_frames(a, b), ref_ssim, rtol=1e-12)
    c = rng.integers(0, 256, (3, 20, 27, 3), dtype=np.uint8)          # not square, odd width
    d = np.clip(c + rng.integers(-60, 60, c.shape), 0, 255).astype(np.uint8)
    np.testing.assert_allclose(M.ssim_frames(c, d), M.ssim_frames_skimage(c, d), rtol=1e-12)
    np.testing.assert_allclose(M.ssim_frames(c, c), 1.0, rtol=1e-12)
    np.testing.assert_allclose(M.psnr_frames(a, b), ref_psnr, rtol=1e-12)
    q = M.clip_quality(a, b)
    assert q["ssim"] == pytest.approx(np.mean(ref_ssim)) and q["psnr_frame"] == pytest.approx(np.mean(ref_psnr))
    with pytest.raises(ValueError, match="uint8"):
        M.ssim_frames(a.astype(np.float32), b)


def test_psnr_video_is_sdfas_per_video_convention():
    ref = np.zeros((2, 8, 8, 3), np.uint8)
    gen = ref.copy()
    gen[0] += 1            # MSE 1
    gen[1] += 10           # MSE 100
    assert M.psnr_frames(gen, ref).mean() == pytest.approx(np.mean([10 * np.log10(255 ** 2 / m) for m in (1, 100)]))
    assert M.psnr_video(gen, ref) == pytest.approx(-10 * np.log10(50.5 / 255 ** 2))
    assert M.psnr_video(gen, ref) < M.psnr_frames(gen, ref).mean()          # Jensen: the conventions differ
    assert np.isfinite(M.psnr_video(ref, ref)) and np.isfinite(M.psnr_frames(ref, ref)).all()


def test_frame_positions_and_gallery_ranks():
    assert M.frame_positions(50, 5).tolist() == [0, 12, 24, 37, 49]
    assert M.frame_positions(3, 5).tolist() == [0, 1, 2]
    g = M.ActorGallery(np.array([7, 8, 9]), np.eye(3))
    emb = np.array([[1.0, 0, 0], [0.1, 0.2, 0.9]])
    assert g.ranks(emb, np.array([7, 8])).tolist() == [1, 2]     # 1-based: rank 1 = the nearest actor
    assert g.ranks(emb, np.array([5, 9])).tolist() == [4, 1]     # an actor missing from the gallery: rank A + 1
    assert g.nearest(emb).tolist() == [7, 9]


def disc_image(size: int, seed: int = 0) -> np.ndarray:
    """Grayscale 0..255 float: a grey field with sharp-edged discs of random intensity (edges for CPBD)."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size), 128.0)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(12):
        cy, cx, r = rng.integers(0, size, 3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < (r % (size // 3) + 3) ** 2] = rng.integers(0, 256)
    return img


def cpbd_package(monkeypatch):
    """The cpbd package itself (1.0.7 imports scipy.ndimage.imread, gone since SciPy 1.2; it only uses it
    in its command-line entry, so a placeholder lets its functions load)."""
    import importlib
    import scipy.ndimage
    monkeypatch.setattr(scipy.ndimage, "imread", None, raising=False)
    return importlib.import_module("cpbd.compute"), importlib.import_module("cpbd.octave")


def test_cpbd_port_matches_the_package(monkeypatch):
    from scipy.ndimage import gaussian_filter
    compute, octave = cpbd_package(monkeypatch)
    seen = set()
    for size, seed in ((64, 0), (96, 1), (128, 2)):
        for sigma in (0, 0.7, 1.5):
            img = disc_image(size, seed)
            img = np.round(gaussian_filter(img, sigma)) if sigma else img
            np.testing.assert_array_equal(SH._sobel_edges(img), octave.sobel(img))
            np.testing.assert_array_equal(SH._edge_widths(SH._sobel_edges(img), img),
                                          compute.marziliano_method(octave.sobel(img), img))
            assert SH.cpbd_image(img) == pytest.approx(compute.compute(img), abs=1e-12)
            seen.add(round(SH.cpbd_image(img), 2))
    assert len(seen) >= 4                  # the images span sharp to blurred, not one degenerate value


def test_cpbd_is_lower_for_a_blurred_image():
    from scipy.ndimage import gaussian_filter
    sharp = disc_image(64)
    blurred = np.round(gaussian_filter(sharp, 1.0))
    assert SH.cpbd_image(blurred) < SH.cpbd_image(sharp)
    # on frames: a clip of the sharp image against its blurred copy, and a 48 px image is one block
    clip = np.repeat(sharp.astype(np.uint8)[None, :, :, None], 3, -1).repeat(6, 0)
    blur_clip = uniform_filter(clip, size=(1, 3, 3, 1))
    assert SH.clip_cpbd(blur_clip) < SH.clip_cpbd(clip)
    assert SH.cpbd_image(disc_image(48)) > 0


def test_hf_ratio_blur_below_one_noise_above():
    rng = np.random.default_rng(0)
    real = np.repeat(disc_image(64).astype(np.uint8)[None, :, :, None], 3, -1).repeat(8, 0)
    blurred = uniform_filter(real, size=(1, 3, 3, 1))
    noisy = np.clip(real + rng.normal(0, 20, real.shape), 0, 255).astype(np.uint8)
    assert SH.hf_ratio(real, real) == 1.0
    assert SH.hf_ratio(blurred, real) < 1.0 < SH.hf_ratio(noisy, real)
    # a checkerboard (what transposed convolutions leave) is all high frequency
    checker = real.copy()
    checker[:, ::2, ::2] = np.clip(checker[:, ::2, ::2].astype(int) + 30, 0, 255)
    assert SH.hf_ratio(checker, real) > 1.0



def test_grid_ratio_sees_a_periodic_pattern_that_hf_ratio_misses():
    rng = np.random.default_rng(1)
    real = np.clip(np.repeat(disc_image(64)[None, :, :, None], 3, -1).repeat(8, 0)
                   + rng.normal(0, 12, (8, 64, 64, 3)), 0, 255).astype(np.uint8)
    assert SH.grid_ratio(real, real) == 1.0
    # same high-frequency energy two ways: fresh noise (no period), or a fixed 2-pixel pattern
    noisy = np.clip(real + rng.normal(0, 12, real.shape), 0, 255).astype(np.uint8)
    pattern = np.where((np.indices((64, 64)).sum(0) % 2)[None, :, :, None] == 0, 12, -12)
    periodic = np.clip(real.astype(int) + pattern, 0, 255).astype(np.uint8)
    assert SH.hf_ratio(periodic, real) == pytest.approx(SH.hf_ratio(noisy, real), rel=0.35)
    assert SH.grid_ratio(periodic, real) > 2.0 > 1.3 > SH.grid_ratio(noisy, real)
    # a 16-pixel tile repeated over the frame is on the grid too; blur is not
    tile = np.tile(rng.normal(0, 10, (16, 16)), (4, 4))[None, :, :, None]
    assert SH.grid_ratio(np.clip(real + tile, 0, 255).astype(np.uint8), real) > 1.5
    assert SH.grid_ratio(uniform_filter(real, size=(1, 3, 3, 1)), real) < 1.3

def test_generated_spread_ratio():
    rng = np.random.default_rng(0)
    actors = np.repeat([1, 2, 3, 4], 3)
    real = rng.normal(size=(12, 8)) + 2 * rng.normal(size=(4, 8))[actors - 1]
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    m, lo, hi = U.generated_spread_ratio(real, real, actors, n=200)
    assert m == pytest.approx(1.0) and lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    one_face = np.repeat(real[:1], 12, 0)                   # one face for everyone
    assert U.generated_spread_ratio(one_face, real, actors, n=200)[0] == pytest.approx(0.0, abs=1e-12)
    half = real + 3 * real.mean(0)                          # pulled towards a mean face: spread shrinks
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    m, lo, hi = U.generated_spread_ratio(half, real, actors, n=200)
    assert 0 < lo <= m <= hi and m < 1
    assert np.isnan(U.generated_spread_ratio(real, real, np.ones(12))[0])    # one actor: no pair


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = make_toy_prepared(tmp_path_factory.mktemp("toy"), n_actors=5, clips_per_actor=8, n_unseen=1)
    data = PreparedData(root)
    id_t, emo_t = ToyIdentityTeacher(), ToyEmotionTeacher()
    torch.manual_seed(0)
    ctx = EvalContext(data, SyncExpert(SyncNet(SyncNetConfig(width=4))), id_t, emo_t,
                        M.actor_gallery(id_t, data, "train"))
    return data, ctx


def stand_in_methods(data):
    test = data.clips("test")
    mean_face = np.mean([data.load(c)[0].mean(0) for c in data.clips("train")["clip_id"]], 0).astype(np.uint8)
    # (darkened: on flat toy faces the plain mean face would out-score a blur on SSIM)
    other = dict(zip(test["clip_id"], np.roll(test["clip_id"].to_numpy(), 2)))   # a clip of another actor

    def noisy(cid, sd=1.0, seed=0):
        f = data.load(cid)[0].astype(float)
        return np.clip(f + np.random.default_rng(seed).normal(0, sd, f.shape), 0, 255).astype(np.uint8)

    def blurred(cid, size):
        return uniform_filter(data.load(cid)[0], size=(1, size, size, 1))

    def fit(frames, n):
        return np.concatenate([frames, np.repeat(frames[-1:], max(0, n - len(frames)), 0)])[:n]

    return {"ground_truth": lambda c: data.load(c)[0],
            "SDFA": noisy,
            "speech2video": {0: lambda c: blurred(c, 3), 1: lambda c: blurred(c, 5)},
            "S2F+SDFA": lambda c: np.repeat(mean_face[None] // 2, len(data.load(c)[0]), 0),
            "SDFA(mismatch)": lambda c: fit(data.load(other[c])[0], len(data.load(c)[0]))}


@pytest.fixture(scope="module")
def per_clip(toy):
    data, ctx = toy
    n = torch.get_num_threads()
    torch.set_num_threads(1)          # tiny sync-net convs: one thread is faster, and immune to a busy machine
    try:
        return score_methods(stand_in_methods(data), ctx, data.clips("test")["clip_id"], progress=False)
    finally:
        torch.set_num_threads(n)


def test_clip_major_scoring_gives_the_per_method_numbers(toy, per_clip):
    """score_methods shares each clip's truth across methods (the reference half of SSIM, its hf energy,
    the sync expert's audio features) and computes SSIM for a whole clip at once: every per-clip value
    must be the one the earlier per-method code gave (scikit-image per frame, metrics.py's PSNRs,
    sharpness.hf_ratio, SyncExpert.score without a cache) within 1e-10 SSIM and 1e-9 dB, and the
    teachers' and sync columns exactly."""
    from s2v_lib.evaluation.sharpness import clip_cpbd, hf_ratio
    data, ctx = toy
    methods = stand_in_methods(data)
    ids = list(data.clips("test")["clip_id"])[:4]
    for method, fn in methods.items():
        for seed, f in (fn.items() if isinstance(fn, dict) else [(0, fn)]):
            got = per_clip[(per_clip["method"] == method) & (per_clip["seed"] == seed)].set_index("clip_id")
            for cid in ids:
                truth, wav = data.load(cid)
                gen = f(cid)
                r = got.loc[cid]
                if method != "ground_truth":
                    assert abs(r["ssim"] - M.ssim_frames_skimage(gen, truth).mean()) < 1e-10
                    assert abs(r["psnr_frame"] - M.psnr_frames(gen, truth).mean()) < 1e-9
                    assert abs(r["psnr_video"] - M.psnr_video(gen, truth)) < 1e-9
                assert r["hf_ratio"] == hf_ratio(gen, truth) and r["cpbd"] == clip_cpbd(gen)
                s = ctx.sync.score(gen, wav)
                assert (r["confidence"], r["lse_d"], r["offset"]) == (s.confidence, s.min_dist, s.offset)
    from s2v_lib.evaluation.per_clip import ClipTruth, clip_quality, device_clip_quality
    truth, wav = data.load(ids[0])
    gen = methods["SDFA"](ids[0])
    cpu, dev = clip_quality(gen, ClipTruth(ids[0], truth, wav)), device_clip_quality(gen, truth, "cpu")
    assert abs(cpu["ssim"] - dev["ssim"]) < 1e-10 and abs(cpu["psnr_frame"] - dev["psnr_frame"]) < 1e-9
    assert cpu["psnr_video"] == dev["psnr_video"]          # the CUDA path's numbers, computed on the CPU here
    one = evaluate_method("SDFA", methods["SDFA"], ctx, ids, progress=False)
    ref = per_clip[per_clip["method"] == "SDFA"].set_index("clip_id").loc[ids].reset_index()
    pd.testing.assert_frame_equal(one[ref.columns], ref, check_dtype=False)


def test_compiled_ssim_matches_scikit_image_on_real_like_frames():
    """Smooth frames and near-copies (SSIM close to 1, where cancellation in the variances matters most)."""
    from scipy.ndimage import uniform_filter as box
    rng = np.random.default_rng(1)
    ref = box(rng.uniform(0, 255, (5, 40, 40, 3)), (1, 5, 5, 1)).astype(np.uint8)
    for amp in (1, 4, 80):
        gen = np.clip(ref.astype(int) + rng.integers(-amp, amp + 1, ref.shape), 0, 255).astype(np.uint8)
        np.testing.assert_allclose(M.ssim_frames(gen, ref), M.ssim_frames_skimage(gen, ref), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="at least 7x7"):
        M.ssim_frames(ref[:, :6, :6], ref[:, :6, :6])


def test_table1_rows_columns_and_orderings(per_clip):
    t = T.table1(per_clip, n_boot=200)
    assert t["method"].tolist() == [m for m in T.METHODS if m in set(per_clip["method"])]   # no DAVS stand-in
    for m in T.METRICS:
        assert {m, f"{m}_lo", f"{m}_hi"} <= set(t.columns)
    r = t.set_index("method")
    gt = r.loc["ground_truth"]
    assert np.isnan(gt["ssim"]) and np.isnan(gt["identity_top1"]) and np.isfinite(gt["confidence"])
    assert gt["hf_ratio"] == pytest.approx(1.0) and np.isfinite(gt["cpbd"])
    assert r.loc["speech2video", "hf_ratio"] < 1.0 < r.loc["SDFA", "hf_ratio"]       # blurred below, noisy above
    assert r.loc["speech2video", "cpbd"] < gt["cpbd"]
    assert r.loc["SDFA", "ssim"] > r.loc["speech2video", "ssim"] > r.loc["S2F+SDFA", "ssim"]
    assert r.loc["SDFA", "psnr_frame"] > r.loc["S2F+SDFA", "psnr_frame"]
    assert r.loc["SDFA", "identity_top1"] == 1.0 and r.loc["SDFA(mismatch)", "identity_top1"] == 0.0
    assert r.loc["SDFA", "emotion_acc"] == 1.0
    assert r.loc["speech2video", "n_seeds"] == 2 and np.isfinite(r.loc["speech2video", "ssim_seed_sd"])
    assert np.isnan(r.loc["SDFA", "ssim_seed_sd"])
    for m in ("ssim", "psnr_frame", "confidence"):
        ok = r[m].notna()
        assert (r.loc[ok, f"{m}_lo"] <= r.loc[ok, m]).all() and (r.loc[ok, m] <= r.loc[ok, f"{m}_hi"]).all()
    # 1-based ranks: top-1 is "the nearest seen actor is the true one", top-5 includes it
    sdfa = per_clip[per_clip["method"] == "SDFA"]
    assert (sdfa["identity_top1"] == (sdfa["identity_pred"] == sdfa["actor"])).all()
    assert (per_clip["identity_top5"] >= per_clip["identity_top1"]).all()
    curves = mean_dist_curves(per_clip)
    assert set(curves["offset"]) == set(range(-15, 16)) and curves["method"].nunique() == 5


def test_claims_verdicts_come_from_the_numbers(per_clip):
    claims = C.claims_table(per_clip, None, "toy")
    by = claims.set_index("statement")
    assert by.loc["SDFA > speech2video on SSIM", "verdict"] == "holds"
    assert by.loc["speech2video > S2F+SDFA on SSIM", "verdict"] == "holds"
    assert by.loc["unseen voices: sex preserved (agreement above chance)", "verdict"] == "inconclusive"
    # swap two methods: the same claim must now fail
    swapped = per_clip.replace({"method": {"SDFA": "S2F+SDFA", "S2F+SDFA": "SDFA"}})
    by2 = C.claims_table(swapped, None, "toy").set_index("statement")
    assert by2.loc["SDFA > speech2video on SSIM", "verdict"] == "does not hold"
    unseen = {"sex_agreement_speech2video": {"mean": 0.9, "lo": 0.8, "hi": 1.0},
              "sex_chance_speech2video": {"mean": 0.5, "lo": 0.5, "hi": 0.5},
              "n_clips": {"mean": 12.0, "lo": 12.0, "hi": 12.0}}
    c4 = C.check_claim(C.paper_claims()[-3], per_clip, unseen)
    assert c4["verdict"] == "holds" and c4["n"] == 12


def seeded_per_clip(s2v_seed_shift=(0.0, 0.0, 0.0), n_clips=60):
    """Synthetic per-clip SSIM/identity of SDFA and speech2video (seeds 0-2 each) and S2F+SDFA (one
    model): a shared clip effect, SDFA 0.05 above speech2video, per-seed shifts of speech2video."""
    rng = np.random.default_rng(0)
    clip = rng.normal(0.6, 0.1, n_clips)
    rows = []
    for method, seeds, level in (("SDFA", (0, 1, 2), 0.05), ("speech2video", (0, 1, 2), 0.0),
                                 ("S2F+SDFA", (0,), -0.1)):
        for s in seeds:
            shift = s2v_seed_shift[s] if method == "speech2video" else 0.0
            v = clip + level + shift + rng.normal(0, 0.01, n_clips)
            rows += [{"method": method, "seed": s, "clip_id": f"c{i:03d}", "actor": f"a{i % 6}", "emotion": "NEU",
                      "ssim": v[i], "identity_top1": float(rng.random() < 0.8)} for i in range(n_clips)]
    return pd.DataFrame(rows)


def test_verdicts_over_seeds_pooled_per_seed_and_stable():
    per_clip = seeded_per_clip()
    by = C.claims_table(per_clip, None, "toy").set_index("statement")
    r = by.loc["SDFA > speech2video on SSIM"]
    assert r["verdict"] == "holds" and r["stable"] == "yes" and r["seeds"] == "a 0,1,2; b 0,1,2"
    assert r["per_seed"] == "0/0 holds; 1/1 holds; 2/2 holds"       # seed i against seed i
    assert "hierarchical" in r["criterion"]
    r = by.loc["speech2video > S2F+SDFA on SSIM"]                     # each seed against the single model
    assert r["per_seed"] == "0/0 holds; 1/0 holds; 2/0 holds" and r["stable"] == "yes"
    r = by.loc["observed speakers: identity recollected from speech (top-1 above chance)"]
    assert r["per_seed"].startswith("0 ") and r["stable"] in ("yes", "no")
    # seed 2 of speech2video overtakes SDFA: its own verdict flips, the pooled one cannot count as stable
    flipped = C.claims_table(seeded_per_clip((0.0, 0.0, 0.1)), None, "toy").set_index("statement")
    r = flipped.loc["SDFA > speech2video on SSIM"]
    assert "2/2 does not hold" in r["per_seed"] and r["stable"] == "no"
    # the pooled interval holds the seed spread: it is wider than the clip interval of seed-averaged values
    t = T.table1(flipped_pc := seeded_per_clip((0.0, 0.0, 0.1)), n_boot=300).set_index("method")
    from s2v_lib.stats import bootstrap_ci
    _, lo1, hi1 = bootstrap_ci(T.seed_means(flipped_pc, "speech2video")["ssim"], n=300)
    assert t.loc["speech2video", "ssim_hi"] - t.loc["speech2video", "ssim_lo"] > 2 * (hi1 - lo1)
    # one seed: exactly the clip bootstrap
    one = flipped_pc[flipped_pc["method"] == "S2F+SDFA"].sort_values("clip_id")["ssim"]
    assert (t.loc["S2F+SDFA", "ssim"], t.loc["S2F+SDFA", "ssim_lo"], t.loc["S2F+SDFA", "ssim_hi"]) == \
        bootstrap_ci(one, n=300)
    assert t.loc["S2F+SDFA", "n_seeds"] == 1 and t.loc["speech2video", "seeds"] == "0 1 2"


def test_equivalence_and_chance_rules():
    assert C._verdict_equivalent(-0.01, 0.01, 0.02) == "holds"
    assert C._verdict_equivalent(0.03, 0.05, 0.02) == "does not hold"
    assert C._verdict_equivalent(-0.01, 0.05, 0.02) == "inconclusive"
    assert C._verdict_greater(0.1, 0.2) == "holds" and C._verdict_greater(-0.2, -0.1) == "does not hold"
    assert C.majority_chance(["a", "a", "b", "c"]) == 0.5
    assert U.independence_chance(["M", "M", "F", "F"], ["M", "M", "M", "M"]) == pytest.approx(0.5)
    m, lo, hi = U.cluster_bootstrap_ci([1, 1, 1, 0, 0, 0], [1, 1, 1, 2, 2, 2], n=200)
    assert m == 0.5 and lo == 0.0 and hi == 1.0        # two actors: the interval is honest about it


def test_written_results(per_clip, tmp_path, monkeypatch):
    for module in (T, C):
        monkeypatch.setattr(module, "results_dir", lambda p: tmp_path / p)
    t = T.table1(per_clip, n_boot=100)
    paths = T.write_table1(t, per_clip, "smoke", T.dataset_label("synthetic"))
    csv = pd.read_csv(paths["table1.csv"])
    assert csv["method"].tolist() == ["speech2video", "SDFA", "S2F+SDFA", "SDFA(mismatch)", "ground_truth"]
    md = paths["table1.md"].read_text()
    assert "CREMA-D twin (synthetic; not the paper's data)" in md and "profile `smoke`" in md
    assert "SSIM CREMA-D" in md and "0.7050" in md and "data_range=255" in md   # the paper's numbers, labelled
    assert "| CPBD | HF ratio |" in md and "half Nyquist" in md and {"cpbd", "hf_ratio_lo"} <= set(csv.columns)
    assert "Seeds (trained models) per row: speech2video 0, 1; SDFA 0; S2F+SDFA 0; SDFA(mismatch) 0; a row" in md
    assert "hierarchical bootstrap over seeds and test clips" in md
    import matplotlib
    matplotlib.use("Agg")
    from s2v_lib.evaluation.plots import table1_plot
    assert [ax.get_title() for ax in table1_plot(t).axes][-2:] == ["CPBD", "HF ratio"]
    claims = C.write_claims("smoke", "toy", unseen=None)                        # reads per_clip_metrics.csv back
    assert len(claims) == len(C.paper_claims())
    text = (tmp_path / "smoke" / "claims.md").read_text()
    assert text.count("| 1 |") == 12 and "**holds**" in text
    assert "| per-seed verdicts (a/b) | stable |" in text and "0/0 holds; 0/1 holds" in text   # SDFA > speech2video
    assert "~" not in text.replace("\\~", ""), "a bare '~' renders as Markdown strikethrough"


def test_unseen_voice_study_summary(toy, tmp_path, monkeypatch):
    data, ctx = toy
    probes = U.fit_demographic_probes(ctx.identity_teacher, data)
    assert set(probes["age_group"].classes_) == set(data.clips("train")["age_group"])
    gens = {"speech2video": lambda c: data.load(c)[0], "S2F+SDFA": lambda c: data.load(c)[0][::-1].copy()}
    per_clip, summary = U.unseen_voice_study(ctx, gens, probes, progress=False)
    assert set(per_clip["method"]) == {"real", "speech2video", "S2F+SDFA"}
    for key in ("sex_agreement_speech2video", "age_group_agreement_speech2video", "sex_agreement_s2f_sdfa",
                "age_group_agreement_s2f_sdfa", "sex_agreement_real", "sex_chance_speech2video"):
        v = summary[key]
        assert set(v) == {"mean", "lo", "hi"} and 0 <= v["lo"] <= v["mean"] <= v["hi"] <= 1
    # the generated face here is the real one: agreement must equal the real faces'
    assert summary["sex_agreement_speech2video"] == summary["sex_agreement_real"]
    if summary["n_actors"]["mean"] >= 2:           # different actors exist: real-vs-real spread is 1
        assert summary["generated_spread_ratio_speech2video"]["mean"] == pytest.approx(1.0)
    else:
        assert np.isnan(summary["generated_spread_ratio_real"]["mean"])
    monkeypatch.setattr(U, "results_dir", lambda p: tmp_path / p)
    U.write_unseen("smoke", per_clip, summary)
    assert json.loads((tmp_path / "smoke" / "unseen_voice.json").read_text())["n_clips"]["mean"] == 8


def test_bench_eval_reports_both_rates():
    out = bench_eval("smoke", n_clips=2, n_frames=12)
    assert out["sync_clips_per_s"] > 0 and out["metrics_clips_per_s"] > 0 and out["eval_frame_size"] == 48


def test_figures_have_the_papers_layout_and_reproducible_bytes(toy, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from s2v_lib.evaluation import plots
    from s2v_lib.figures import save_png_pdf
    data, _ = toy
    gens = stand_in_methods(data)
    ids = X.pick_utterances(data, 2)
    assert len({data.manifest.set_index("clip_id").at[c, "actor"] for c in ids}) == 2
    ex = X.figure3_examples(data, gens, ids)
    assert list(ex[0]["rows"]) == ["Ground truth", "SDFA", "S2F+SDFA", "speech2video"]
    fig = plots.figure3(ex, n_cols=4)
    assert sum(len(sf.axes) for sf in fig.subfigs) == 2 * 4 * 4
    a = save_png_pdf(fig, tmp_path / "a" / "fig3")
    b = save_png_pdf(plots.figure3(ex, n_cols=4), tmp_path / "b" / "fig3")
    assert [p.name for p in a] == ["fig3.png", "fig3.pdf"] and a[0].read_bytes() == b[0].read_bytes()
    fig4 = plots.figure4(X.figure4_examples(data, gens["SDFA"]))
    assert sum(len(sf.axes) for sf in fig4.subfigs) == 2 * 6        # one unseen actor: real + generated rows


def test_device_ssim_and_psnr_match_scikit_image_per_frame():
    """The device implementation keeps the tables' convention (scikit-image, RGB, data_range 255, 7x7 uniform)."""
    from s2v_lib.evaluation.device_quality import psnr_frames_device, ssim_frames_device
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    noise = rng.integers(-40, 41, ref.shape)
    gen = np.clip(ref.astype(int) + noise * np.arange(6)[:, None, None, None] // 3, 0, 255).astype(np.uint8)
    np.testing.assert_allclose(ssim_frames_device(gen, ref).numpy(), M.ssim_frames(gen, ref), atol=1e-4)
    np.testing.assert_allclose(psnr_frames_device(gen, ref).numpy(), M.psnr_frames(gen, ref), atol=1e-6)
    assert ssim_frames_device(ref, ref).numpy() == pytest.approx(1.0)


def test_unseen_agreement_legend_covers_no_bar():
    from s2v_lib.evaluation import plots
    v = lambda m: {"mean": m, "lo": m - 0.1, "hi": min(1.0, m + 0.1)}
    summary = {f"{a}_{kind}_{k}": v(0.95 if kind == "agreement" else 0.5)
               for a in ("sex", "age_group") for kind in ("agreement", "chance") for k in ("real", "speech2video", "s2f_sdfa")}
    fig = plots.unseen_agreement_plot(summary)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    from matplotlib.container import BarContainer
    bars = [b.get_window_extent() for c in ax.containers if isinstance(c, BarContainer) for b in c]
    assert len(bars) == 6 and not any(legend.overlaps(b) for b in bars)
