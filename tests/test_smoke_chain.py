"""The smoke chain: every notebook runs headless under papermill, then nbval (strict) re-runs the
executed copies and compares their outputs.

This is the end-to-end test CI relies on (docs/design.md §4: the smoke chain within ~5 minutes).
It uses the default cache (.cache/ or $S2V_CACHE), so a second local run reuses data and checkpoints.
"""
import json
import subprocess
import sys

import pytest

from s2v_lib.paths import REPO_ROOT, results_dir
from s2v_lib.reproduce import OPTIONAL_NOTEBOOKS, list_notebooks, notebook_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run():
    r = subprocess.run([sys.executable, "-m", "s2v_lib", "reproduce", "--profile", "smoke"],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"smoke chain failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_every_notebook_ran_and_provenance_is_written(smoke_run):
    expected = [p.stem for p in list_notebooks()]
    executed = sorted(p.stem for p in (results_dir("smoke") / "notebooks").glob("0*.ipynb")
                      if notebook_key(p.name) not in OPTIONAL_NOTEBOOKS)       # 08 runs only when named
    assert executed == expected
    prov = json.loads((results_dir("smoke") / "provenance.json").read_text())
    assert prov["profile"] == "smoke" and prov["parameters"]["INTERACTIVE"] is False
    assert set(expected) <= set(prov["durations_s"]) and prov["packages"]["torch"].startswith("2.9.1")
    assert prov["complete"] and prov["notebooks_run"] == expected


def test_table1_and_claims_say_which_seeds_and_whether_verdicts_are_stable(smoke_run):
    """Notebook 05's outputs: every row's seeds (from the data) in table1.csv and its caption, the interval
    kind stated, and per claim the per-seed verdicts and the `stable` column computed from them."""
    import pandas as pd
    out = results_dir("smoke")
    t = pd.read_csv(out / "table1.csv", dtype={"seeds": str})
    per_clip = pd.read_csv(out / "per_clip_metrics.csv")
    for r in t.itertuples(index=False):
        seeds = sorted(per_clip.loc[per_clip["method"] == r.method, "seed"].unique())
        assert r.seeds.split() == [str(s) for s in seeds] and r.n_seeds == len(seeds), r.method
    md = (out / "table1.md").read_text()
    caption = md.split("Seeds (trained models) per row: ", 1)[1].split("; a row with several", 1)[0]
    assert caption == "; ".join(f"{r.method} {', '.join(r.seeds.split())}" for r in t.itertuples(index=False)
                                if r.method != "ground_truth")
    assert "hierarchical bootstrap over seeds and test clips" in md
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False)
    assert {"per_seed", "stable", "seeds"} <= set(claims.columns)
    assert set(claims["stable"]) <= {"yes", "no", "one seed", "–"}
    for r in claims.itertuples(index=False):
        verdicts = [v.split(" ", 1)[1] for v in r.per_seed.split("; ")] if r.per_seed else []
        if len(verdicts) >= 2:
            assert r.stable == ("yes" if all(v == r.verdict for v in verdicts) else "no"), r.statement
    text = (out / "claims.md").read_text()
    assert "| per-seed verdicts (a/b) | stable |" in text and "~" not in text.replace("\\~", "")


def test_nbval_strict_reproduces_the_executed_notebooks(smoke_run, tmp_path, capsys):
    """nbval reruns the executed copies and compares every cell's outputs (tests/nbval_sanitize.cfg
    masks paths, timings, addresses and cuts numbers to two decimals; only media and widget cells
    are tagged nbval-ignore-output). Same machine, same cache: every cell must match. The rerun
    finds every model in the cache, so this also checks that cached and fresh runs show the same."""
    from s2v_lib.verify import verify
    code = verify("smoke", work=tmp_path / "verify")
    report = capsys.readouterr().out
    assert code == 0, f"nbval found cells whose outputs differ:\n{report[-6000:]}"
    assert "every compared cell matches" in report
    compared = json.loads((tmp_path / "verify" / "report.json").read_text())
    assert sum(r["passed"] for r in compared.values()) >= 40       # strict mode: (nearly) all cells compared


def test_doctor_passes_on_cpu(smoke_run):
    """`python -m s2v_lib doctor --device cpu` on the smoke cache the chain just filled. Its smoke_chain
    check is the run above (the same assertions), so it is not run twice here."""
    prov = json.loads((results_dir("smoke") / "provenance.json").read_text())
    assert prov["parameters"]["DEVICE"] == "cpu" and prov["complete"]
    assert not [p.name for p in results_dir("smoke").glob("*.json") if "NaN" in p.read_text()]
    r = subprocess.run([sys.executable, "-m", "s2v_lib", "doctor", "--device", "cpu", "--skip", "smoke_chain"],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    report = json.loads(r.stdout)
    assert r.returncode == 0, {k: v for k, v in report.items() if isinstance(v, dict) and not v["ok"]}
    assert set(report) >= {"ssim_torch_vs_skimage", "deterministic", "autocast_bf16", "resume_roundtrip",
                           "throughput", "device_boundary"}
    assert report["deterministic"]["warn_only"] is False
    assert report["throughput"]["projected_training_min"] > 0


def test_generate_cli_on_a_voice_recorded_elsewhere(smoke_run, tmp_path):
    """`python -m s2v_lib generate --wav my.wav --out me.mp4` on a TTS voice that is none of the twin's (a stock
    British-English eSpeak voice, another sentence, 22.05 kHz): a video with the audio, the nearest seen actor,
    and the note that smoke models only prove the plumbing."""
    import av
    import soundfile as sf

    from elsewhere_voice import elsewhere_voice
    wav, rate = elsewhere_voice()
    voice = tmp_path / "voice.wav"
    sf.write(voice, wav, rate)
    out = tmp_path / "me.mp4"
    r = subprocess.run([sys.executable, "-m", "s2v_lib", "generate", "--wav", str(voice), "--out", str(out)],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nearest seen actor to your voice" in r.stdout and "only prove the plumbing" in r.stdout
    with av.open(str(out)) as c:
        assert c.streams.video and c.streams.audio
        n_frames = sum(1 for _ in c.decode(video=0))
    assert abs(n_frames - len(wav) / rate * 25) <= 2
    bad = subprocess.run([sys.executable, "-m", "s2v_lib", "generate", "--wav", str(tmp_path / "none.wav"),
                          "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "no such file" in bad.stderr and "Traceback" not in bad.stderr


def test_upload_demo_on_a_voice_recorded_elsewhere(smoke_run):
    """Notebook 06's upload on the models the chain trained (the best in this cache): a 44.1 kHz WAV of a voice
    none of the twin's becomes a video with its audio, the probes' sex / age readout and the nearest seen actors;
    a corrupt file gives one line in the panel."""
    from elsewhere_voice import elsewhere_wav_bytes, upload
    from s2v_lib.demo_models import best_demo_study, demo_widget
    from s2v_lib.widgets import OwnVoicePanel
    demo = best_demo_study("cpu", progress=False)
    assert f"profile <b>{demo.profile}</b>" in demo.note
    assert ("only prove the plumbing" in demo.note) == (demo.profile == "smoke")
    assert len(demo_widget(demo).children) == 3                      # note, clip panel, upload
    panel = OwnVoicePanel.for_study(demo)
    content, seconds = elsewhere_wav_bytes(44100)
    upload(panel, "elsewhere.wav", content)
    panel.button.click()
    assert "error" not in panel.last, panel.status.value
    frames = panel.last["frames"]
    assert frames.shape[1:] == (demo.data.frame_size, demo.data.frame_size, 3) and abs(len(frames) - seconds * 25) <= 2
    assert "44100 Hz, resampled to 16 kHz" in panel.status.value and f"{len(frames)} frames" in panel.status.value
    assert panel.video.value.count("data:video/mp4;base64,") == 1
    facts = panel.last["facts"]
    assert facts["sex (probe on generated face)"] in set(demo.data.manifest["sex"].astype(str))
    assert facts["age group (probe on generated face)"] in set(demo.data.manifest["age_group"].astype(str))
    seen = set(demo.data.clips("train")["actor"].astype(str))
    assert facts["nearest seen actor to the face"].split()[0] in seen
    assert facts["nearest seen actor to the voice (students)"].split()[0] in seen
    upload(panel, "broken.wav", b"RIFF" + bytes(300))
    panel.button.click()
    assert panel.last["error"].startswith("broken.wav: cannot read it as audio") and "\n" not in panel.last["error"]
