#!/usr/bin/env python3
"""Prove a course widget works in a real browser: JupyterLab + headless Chromium, driven by Playwright.

    python scripts/lab_widget_check.py [--notebook notebooks/02_decay_masks_and_multiscale_heads.ipynb]
                                       [--out shots] [--chromium /usr/bin/chromium] [--workdir DIR]

What it does (tests/test_browser_widgets.py runs it; CI runs that test):

1. copies the notebook into a temporary folder (JupyterLab autosaves, and must never rewrite the repository's
   copy), with Jupyter's config, data, runtime, workspace and settings folders there too (no state from, or
   into, the user's ~/.jupyter); the news/announcements pop-up is disabled there through ``page_config.json``;
2. starts JupyterLab from this Python on 127.0.0.1, a free port and a random token, with the course's test
   settings (one thread, PYTHONHASHSEED=0, CPU device);
3. opens the notebook in Debian's Chromium (Playwright's ``executable_path``; ``playwright install`` is never
   needed), clears the stored outputs, runs all cells, waits for the γ slider of the decay-mask widget and its
   figure, moves the slider with the keyboard twice and checks each time that the readout and the figure (the
   ``src`` of its ``<img>``) changed;
4. saves screenshots in ``--out`` (``shots/`` is git-ignored): ``lab_02_before.png``, ``lab_02_after.png``
   (the JupyterLab window) and ``lab_02_widget_before.png``, ``lab_02_widget_after.png`` (the widget alone);
5. stops everything it started, even on failure: the browser, the server (which shuts its kernels down), then
   any process still carrying this run's marker in its environment, found by process id and ended one by one.

Prints ``PASS`` and exits 0 when every check held; prints what failed, the server log's tail, saves
``lab_02_failure.png`` when it can, and exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK = ROOT / "notebooks" / "02_decay_masks_and_multiscale_heads.ipynb"
MARKER = "RETNET_EDU_LAB_CHECK"  # set in the environment of every process this script starts
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
TEST_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "RETNET_DEVICE": "cpu",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
SHOTS = ("lab_02_before.png", "lab_02_after.png", "lab_02_widget_before.png", "lab_02_widget_after.png")

T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:6.2f}s] {msg}", flush=True)


def find_chromium(explicit: str | None) -> str | None:
    for candidate in (explicit, shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with_marker(value: str) -> list[int]:
    """Ids of the processes (other than this one) whose environment has MARKER=value."""
    import psutil

    found = []
    needle = value
    for proc in psutil.process_iter(["pid"]):
        if proc.info["pid"] == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER) == needle:
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def end_processes(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM each process by id, wait, then SIGKILL the ones still alive."""
    import psutil

    procs = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            p.terminate()
            procs.append(p)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)


def start_lab(workdir: Path, notebook: Path, marker: str) -> tuple[subprocess.Popen, str, str, Path]:
    nbdir = workdir / "nb"
    nbdir.mkdir(parents=True)
    shutil.copy2(notebook, nbdir / notebook.name)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(TEST_ENV)
    env[MARKER] = marker
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(workdir / sub)
        (workdir / sub).mkdir()
    labconfig = workdir / "config" / "labconfig"
    labconfig.mkdir()
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={nbdir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    logfile = workdir / "lab.log"
    with open(logfile, "wb") as fh:
        lab = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.perf_counter() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if lab.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {lab.returncode} before it was ready")
        if time.perf_counter() > deadline:
            raise RuntimeError("JupyterLab was not ready after 90 s")
        time.sleep(0.25)
    log(f"JupyterLab up on {url} (pid {lab.pid})")
    return lab, url, token, logfile


def stop_lab(lab: subprocess.Popen) -> None:
    if lab.poll() is None:
        lab.send_signal(signal.SIGTERM)  # the server shuts its kernels down on the way out
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait(timeout=10)


def drive(url: str, token: str, notebook_name: str, chromium: str, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: log(f"page error: {e}"))
            try:
                _drive_page(page, expect, url, token, notebook_name, out)
            except Exception:
                try:
                    page.screenshot(path=str(out / "lab_02_failure.png"))
                    log(f"saved {out / 'lab_02_failure.png'}")
                except Exception:  # noqa: BLE001 - the original error matters more
                    pass
                raise
        finally:
            browser.close()


def _drive_page(page, expect, url, token, notebook_name, out) -> None:
    page.goto(f"{url}/lab/tree/{notebook_name}?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   return w && w.sessionContext && w.sessionContext.session &&
                          w.sessionContext.session.kernel &&
                          w.sessionContext.session.kernel.status === 'idle'; }""",
        timeout=90_000,
    )
    log("notebook open, kernel idle")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function("() => document.querySelectorAll('.widget-slider').length === 0", timeout=15_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    log("all cells ran")

    # the slider whose label is γ, and the interact box (slider + output) around it; `has=` is relative
    gamma_slider = page.locator(".widget-slider").filter(has=page.locator("label.widget-label", has_text="γ"))
    box = page.locator(".widget-interact").filter(has=gamma_slider).first
    gamma = box.locator(".widget-slider").filter(has=page.locator("label.widget-label", has_text="γ")).first
    gamma.wait_for(state="attached", timeout=120_000)
    readout = gamma.locator(".widget-readout")
    handle = gamma.locator(".noUi-handle")
    img = box.locator(".widget-output img").first
    numbers = box.locator(".widget-output")  # the line printed under the figure: "γ = 0.900, T = 32: …"
    # let every cell finish first, so nothing is still drawing when the screenshots are taken
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=120_000
    )
    # JupyterLab 4 skips rendering cells far from the viewport: bring the widget into view before looking at it
    box.scroll_into_view_if_needed()
    expect(readout).to_have_text("0.900", timeout=30_000)
    expect(numbers).to_contain_text("γ = 0.900, T = 32", timeout=60_000)
    img.wait_for(timeout=30_000)
    src_before = img.get_attribute("src")
    log(f"γ slider and figure rendered: readout {readout.inner_text()!r}, img {len(src_before)} bytes")
    page.screenshot(path=str(out / "lab_02_before.png"))
    box.screenshot(path=str(out / "lab_02_widget_before.png"))

    # Each key press redraws (one figure per value passed through): wait for the line printed *after* the
    # figure of the final value, so the image compared and photographed is that value's figure.
    handle.focus()
    for _ in range(4):  # step 0.005: 0.900 -> 0.920
        page.keyboard.press("ArrowRight")
    expect(readout).to_have_text("0.920", timeout=30_000)
    expect(numbers).to_contain_text("γ = 0.920, T = 32", timeout=60_000)
    src_after = img.get_attribute("src")
    assert src_after and src_after != src_before, "the figure did not change after moving γ to 0.92"
    log(f"γ moved to {readout.inner_text()!r}: the figure changed ({len(src_after)} bytes)")

    handle.focus()
    page.keyboard.press("Home")  # to the slider's minimum, γ = 0.5
    expect(readout).to_have_text("0.500", timeout=30_000)
    expect(numbers).to_contain_text("γ = 0.500, T = 32", timeout=60_000)
    src_min = img.get_attribute("src")
    assert src_min and src_min not in (src_before, src_after), "the figure did not change after moving γ to 0.5"
    log(f"γ moved to {readout.inner_text()!r}: the figure changed again ({len(src_min)} bytes)")
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "lab_02_after.png"))
    box.screenshot(path=str(out / "lab_02_widget_after.png"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notebook", type=Path, default=DEFAULT_NOTEBOOK)
    ap.add_argument("--out", type=Path, default=ROOT / "shots")
    ap.add_argument(
        "--chromium", default=None, help="the Chromium executable (default: chromium on PATH, or /usr/bin/chromium)"
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="an empty or missing folder for this run's temporary files (default: a new temp folder); "
        "removed at the end",
    )
    a = ap.parse_args(argv)
    chromium = find_chromium(a.chromium)
    if chromium is None:
        print("FAIL: no Chromium found; on Debian/Ubuntu: apt-get install chromium", flush=True)
        return 1
    if not a.notebook.is_file():
        print(f"FAIL: no notebook at {a.notebook}", flush=True)
        return 1
    a.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="retnet-edu-lab-")) if a.workdir is None else a.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    marker = f"{workdir.resolve()}:{os.getpid()}"
    os.environ[MARKER] = marker  # inherited by Playwright's driver and by Chromium
    print(f"marker: {MARKER}={marker}", flush=True)
    lab, logfile, rc = None, workdir / "lab.log", 1
    try:
        lab, url, token, logfile = start_lab(workdir, a.notebook.resolve(), marker)
        drive(url, token, a.notebook.name, chromium, a.out)
        rc = 0
    except Exception as e:  # noqa: BLE001 - report, clean up, exit 1
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        if logfile.exists():
            print("--- JupyterLab log (tail) ---\n" + logfile.read_text(errors="replace")[-4000:], flush=True)
    finally:
        if lab is not None:
            stop_lab(lab)
        left = processes_with_marker(marker)
        if left:
            log(f"ending {len(left)} leftover process(es) of this run: {left}")
            end_processes(left)
        still = processes_with_marker(marker)
        if still:
            print(f"FAIL: processes of this run still alive: {still}", flush=True)
            rc = 1
        shutil.rmtree(workdir, ignore_errors=True)
    if rc == 0:
        log("screenshots: " + ", ".join(str(a.out / s) for s in SHOTS))
        log("PASS")
    return rc


if __name__ == "__main__":
    sys.exit(main())
