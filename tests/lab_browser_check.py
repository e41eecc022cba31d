"""JupyterLab in a real browser (make test-lab; not part of `make test`, which needs no browser).

Debian's chromium driven by Playwright (pointed at /usr/bin/chromium: Playwright cannot download its
own browser here) against `python -m s2v_lib.lab` on 127.0.0.1 with a token, on the smoke cache that
`make test` leaves (the smoke chain trains the models the demo shows). It runs notebook 01 and checks
that the clip browser updates on a change, runs notebook 06 and checks that Generate produces a
playing <video> and that an uploaded WAV (your own voice) does too, saves both and checks `git status`
stays clean, reloads and checks no widget error shows. Screenshots go to tests/artifacts/ (git-ignored),
kept for the CI log.
"""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = os.environ.get("S2V_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
RUN_TIMEOUT_MS = 15 * 60 * 1000          # a notebook on 2 busy cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: `make test-lab` installs it (apt-get install -y chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):               # screenshots of this run only
        old.unlink()
    port, token = free_port(), secrets.token_hex(16)
    log = open(ARTIFACTS / "jupyterlab.log", "w")
    settings = ARTIFACTS / "lab-settings"                 # fresh user settings: every cell in the DOM, no news toast
    for rel, text in {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
                      "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}'}.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(text)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(ARTIFACTS / "lab-workspaces"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "s2v_lib.lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({proc.returncode}); see {ARTIFACTS / 'jupyterlab.log'}")
            time.sleep(1)
    yield base, token
    proc.terminate()
    proc.wait(30)
    log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield pg
        browser.close()


def git_status(*paths) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout


def open_and_run_all(page, lab, name: str):
    base, token = lab
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
    started = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
                       .some(e => /\\[(\\*|\\d+)\\]/.test(e.innerText))"""
    # Run All before the kernel is ready runs nothing: wait for the status bar's "| Idle"
    page.locator(".jp-StatusBar-Item", has_text="| Idle").first.wait_for(timeout=180_000)
    for attempt in range(3):           # a click while the app is still starting can be lost: retry
        page.wait_for_timeout(2000)
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=90_000, polling=1000)
            return
        except Exception:
            page.keyboard.press("Escape")
            page.screenshot(path=str(ARTIFACTS / f"{Path(name).stem}_run_all_not_started_{attempt}.png"))
    raise AssertionError(f"Run All Cells did not start {name}; screenshots in {ARTIFACTS}")


def wait_idle(page, name: str = "notebook"):
    """Every code cell of the open notebook has run: each prompt shows a number, none shows [*]."""
    page.wait_for_function("""() => {
        const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
        const p = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.innerText.trim());
        return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t));
    }""", timeout=RUN_TIMEOUT_MS, polling=1000)
    page.screenshot(path=str(ARTIFACTS / f"{name}_ran.png"), full_page=False)


def save_and_check_clean(page, name: str):
    page.keyboard.press("Control+s")
    page.wait_for_timeout(3000)
    assert git_status("notebooks") == "", f"saving {name} left git status dirty:\n{git_status('notebooks')}"


def no_errors(page, name):
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not tracebacks, f"{name} printed errors: {tracebacks[:2]}"


def test_clip_browser_updates_on_a_change(page, lab):
    assert git_status("notebooks") == "", "start from a clean checkout of notebooks/"
    open_and_run_all(page, lab, "01_data.ipynb")
    dropdowns = page.locator(".widget-dropdown select")
    dropdowns.nth(3).wait_for(timeout=RUN_TIMEOUT_MS)            # actor, sentence, emotion, level
    wait_idle(page, "01_data")
    no_errors(page, "01_data")
    caption = page.locator(".widget-html", has_text="split").last
    before, video_before = caption.inner_text(), page.locator(".widget-html video").last.get_attribute("src")
    actor = dropdowns.nth(0)
    options = actor.locator("option").all_inner_texts()
    assert len(options) > 1
    actor.select_option(index=len(options) - 1)
    page.wait_for_function("([el, old]) => el.innerText !== old", arg=[caption.element_handle(), before],
                           timeout=60_000)
    page.wait_for_function("old => { const v = [...document.querySelectorAll('.widget-html video')].pop();"
                           " return v && v.getAttribute('src') !== old; }", arg=video_before, timeout=60_000)
    assert caption.inner_text() != before                       # the new clip's name, split, sex, age
    actor.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "01_clip_browser.png"), full_page=False)
    save_and_check_clean(page, "01_data.ipynb")


def test_demo_generate_plays_a_video(page, lab):
    open_and_run_all(page, lab, "06_unseen_voice.ipynb")
    button = page.get_by_role("button", name="Generate")
    button.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page, "06_unseen_voice")
    no_errors(page, "06_unseen_voice")
    button.scroll_into_view_if_needed()
    button.click()
    status = page.locator(".widget-html", has_text="frames")
    status.first.wait_for(timeout=300_000)
    videos = page.locator(".widget-html video")
    assert videos.count() >= 2                                   # generated and ground truth
    generated = videos.nth(videos.count() - 2)
    generated.scroll_into_view_if_needed()
    playing = generated.evaluate("""v => new Promise(resolve => {
        v.muted = true;                       // headless: no audio device; the track is still there
        v.play().catch(() => resolve({error: 'play() refused'}));
        setTimeout(() => resolve({paused: v.paused, t: v.currentTime, w: v.videoWidth, ready: v.readyState}), 2500);
    })""")
    assert playing.get("error") is None and not playing["paused"] and playing["t"] > 0 and playing["w"] > 0, playing
    page.screenshot(path=str(ARTIFACTS / "06_demo_generate.png"), full_page=False)
    save_and_check_clean(page, "06_unseen_voice.ipynb")


def test_own_voice_upload_plays_a_video(page, lab):
    """The upload under the demo: a WAV of a voice none of the twin's, chosen through the browser's file chooser
    (ipywidgets' FileUpload opens it from a detached <input type=file>), then Run on my voice."""
    from elsewhere_voice import elsewhere_wav_bytes
    voice = ARTIFACTS / "elsewhere_voice.wav"
    voice.write_bytes(elsewhere_wav_bytes(44100)[0])
    upload = page.locator(".widget-upload").first
    upload.scroll_into_view_if_needed()
    with page.expect_file_chooser(timeout=30_000) as chooser:
        upload.click()
    chooser.value.set_files(str(voice))
    page.locator(".widget-html", has_text="uploaded").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Run on my voice").click()
    page.locator(".widget-html", has_text="frames at 25 fps").first.wait_for(timeout=300_000)
    assert page.locator(".widget-html", has_text="resampled to 16 kHz").count() >= 1
    assert page.get_by_text("sex (probe on generated face)").count() >= 1
    mine = page.locator(".widget-html video").last
    mine.scroll_into_view_if_needed()
    playing = mine.evaluate("""v => new Promise(resolve => {
        v.muted = true;
        v.play().catch(() => resolve({error: 'play() refused'}));
        setTimeout(() => resolve({paused: v.paused, t: v.currentTime, w: v.videoWidth}), 2500);
    })""")
    assert playing.get("error") is None and not playing["paused"] and playing["t"] > 0 and playing["w"] > 0, playing
    page.screenshot(path=str(ARTIFACTS / "06_own_voice.png"), full_page=False)
    save_and_check_clean(page, "06_unseen_voice.ipynb")


def test_reload_shows_no_widget_errors(page, lab):
    page.reload()
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(state="attached", timeout=120_000)   # windowed: may be hidden
    page.wait_for_timeout(5000)
    assert page.get_by_text("Error displaying widget").count() == 0
    page.screenshot(path=str(ARTIFACTS / "06_after_reload.png"), full_page=False)
    assert git_status("notebooks") == ""
