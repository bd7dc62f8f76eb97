"""Drive the course in a real JupyterLab, in Debian's Chromium, with Playwright.

One JupyterLab server (serving a temporary copy of ``course/``) and one
headless Chromium serve a whole test session; every test gets a fresh browser
context and page, and its kernels are shut down afterwards. The helpers find
cells and widget controls the way a person does: by the text of a cell and the
label of a control.

Use it from a test module with::

    pytest_plugins = ("browser_lab",)  # fixtures, and logs shown on failure

    def test_something(lab):
        cell = run_cell(open_notebook(lab.page, "04_matrix_form.ipynb"), "DescentExplorer(")

Fixtures: ``lab_server`` (session, a :class:`LabServer`), ``chromium``
(session, a Playwright ``Browser``) and ``lab`` (per test, a :class:`LabPage`:
the page, the browser's errors, and ``snap()`` for screenshots saved under
``build/test-artifacts/browser/``). When a test fails, its report shows the end
of the server's log and the browser's errors, and a screenshot of the page is
saved as ``<test>-failure.png``.

PYTEST_DONT_REWRITE: the test module imports its helpers before pytest loads it
as a plugin, too late for pytest to rewrite its asserts; they carry messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the fixtures fail with instructions, instead of a bare ImportError
    expect = sync_playwright = None

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "browser"
INSTALL_HINT = (
    "`make test` installs both. By hand: `.venv/bin/pip install -e '.[dev]'` for Playwright, "
    "and on Debian/Ubuntu `sudo apt-get install chromium` for the browser."
)
# Only Debian's Chromium is used: `playwright install` downloads its own builds,
# which needs network access that CI machines may not have.
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]

# Timeouts (milliseconds for Playwright, seconds otherwise): generous, because the
# machine is shared and slow, but bounded so that a hang fails instead of waiting.
SERVER_START_S = 90
PAGE_LOAD_MS = 60_000
KERNEL_MS = 60_000
CELL_MS = 60_000
WIDGET_MS = 20_000
# The page's size: a common laptop's screen, where the lessons must fit.
LAPTOP_SCREEN = {"width": 1366, "height": 768}

# The server's own settings, kept away from the user's ~/.jupyter.
SERVER_CONFIG = {
    "LabApp": {
        # No news feed and no update check: both would reach out to the network.
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
    },
}
# JupyterLab's user settings for the test session (file -> settings).
USER_SETTINGS = {
    # Without an answer to "fetch news?", a toast asks it on every page, over the
    # notebook; the server's news_url=None does not stop the question.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # The served notebooks stay as copied: one test's outputs and execution
    # counts are not saved into the next test's notebook.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


# -- the server -------------------------------------------------------------------


@dataclass
class LabServer:
    """A running ``jupyter lab`` serving ``root``, answering at ``url`` with ``token``."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen
    python: str  # the interpreter the server runs on

    def api(self, method: str, path: str) -> Any:
        """Call the REST API (``path`` like ``/api/sessions``); the decoded JSON, or None."""
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def status_of(self, method: str, path: str) -> int:
        """The HTTP status the server answers ``path`` with (logged in), errors included."""
        try:
            self.api(method, path)
        except urllib.error.HTTPError as error:
            return error.code
        return 200

    def log_tail(self, chars: int = 6000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:]

    def shut_down_kernels(self) -> None:
        """End every notebook session, so the next test starts with fresh kernels."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_course(target: Path) -> Path:
    """The lessons' notebooks in ``target``, and their solved versions in ``target/solved``.

    The solved ones are what a student has at the end of a lesson (every
    exercise answered from the reference), for widgets that use the
    student's functions. The package itself is imported from .venv.
    """
    from backprop_autograder.assemble import solved
    from backprop_autograder.lessons import LESSONS

    (target / "solved").mkdir(parents=True, exist_ok=True)
    for notebook in sorted((ROOT / "course").glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)
    for lesson in LESSONS:
        answered = solved(nbformat.read(lesson.notebook, as_version=4), lesson.reference())
        nbformat.write(answered, target / "solved" / lesson.notebook.name)
    return target


def start_lab_server(
    workdir: Path,
    root: Path | None = None,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> LabServer:
    """Start JupyterLab on a free port with a random token, serving ``root`` (default: a
    copy of course/ made in ``workdir``), run by ``python`` in ``env`` (default: this
    process's)."""
    root = root or copy_course(workdir / "course")
    jupyter_home = workdir / "jupyter"
    config_dir = jupyter_home / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
    user_settings = jupyter_home / "user-settings"
    for plugin, settings in USER_SETTINGS.items():
        path = user_settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = dict(os.environ if env is None else env)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(jupyter_home / "data"),
        JUPYTER_RUNTIME_DIR=str(jupyter_home / "runtime"),
        IPYTHONDIR=str(jupyter_home / "ipython"),
        MPLCONFIGDIR=str(jupyter_home / "matplotlib"),
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        python, "-m", "jupyter", "lab", "--no-browser",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--LabApp.user_settings_dir={user_settings}",
        f"--LabApp.workspaces_dir={jupyter_home / 'workspaces'}",
    ]  # fmt: skip
    if os.geteuid() == 0:  # Jupyter refuses to run as root unless told
        command.append("--allow-root")
    log = workdir / "jupyter-lab.log"
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it reaches its helpers
        )  # fmt: skip
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log, process, python)
    wait_until_serving(server, SERVER_START_S)
    return server


@contextlib.contextmanager
def running_lab(workdir: Path, **options: Any) -> Iterator[LabServer]:
    """A JupyterLab started by :func:`start_lab_server` (same options), stopped at the end."""
    server = start_lab_server(workdir, **options)
    try:
        yield server
    finally:
        stop_lab_server(server)


def wait_until_serving(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            server.api("GET", "/api/status")
            return
        except OSError:
            time.sleep(0.2)
    stop_lab_server(server)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{server.log_tail()}")


def stop_lab_server(server: LabServer) -> None:
    """Ask the server to shut down (it ends its kernels), then end its process group.

    The kernels run in sessions of their own; on SIGTERM the server still ends
    them, and a kernel whose server died outright exits by itself.
    """
    if server.process.poll() is None:
        try:
            server.api("POST", "/api/shutdown")
            server.process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            pass
    # Kernels or helpers left behind by a server that did not stop cleanly.
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.process.pid, signal_number)
        except ProcessLookupError:
            break  # the group is gone
        if signal_number == signal.SIGTERM:
            wait_for_group_to_end(server.process, timeout=5)
    server.process.wait(timeout=10)


def wait_for_group_to_end(leader: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    leader.poll()  # reap the leader, else its zombie keeps the group alive
    while time.monotonic() < deadline:
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
        leader.poll()


# -- the browser --------------------------------------------------------------------


def require_browser_tools() -> str:
    """The path of Chromium; fails the test (never skips) if it or Playwright is missing."""
    if sync_playwright is None:
        pytest.fail(f"Python's playwright package is not installed. {INSTALL_HINT}")
    # `make test CHROMIUM=/path/to/chromium` picks one; otherwise the one on PATH
    chromium = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if chromium is None:
        pytest.fail(f"Chromium is not installed (no `chromium` on PATH). {INSTALL_HINT}")
    return chromium


@dataclass
class LabPage:
    """What a browser test works with: a fresh page, logged in to ``server``."""

    page: Page
    server: LabServer
    name: str  # the test's name, for the screenshots' file names
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions

    def record_errors(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self.errors.append(
                f"console error: {message.text} ({where['url']}:{where['lineNumber']})"
            )

    def snap(self, step: str, element: Locator | None = None) -> bytes:
        """Save the whole page, and ``element`` if given, as ``<test>-<step>[-widget].png``.

        Returns the element's screenshot (or the page's) as PNG bytes.
        """
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = f"{self.name}-{step}"
        picture = self.page.screenshot(path=ARTIFACTS / f"{stem}.png", full_page=False)
        if element is not None:
            picture = element.screenshot(path=ARTIFACTS / f"{stem}-widget.png")
        return picture


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_browser_tools()
    with running_lab(tmp_path_factory.mktemp("browser-lab")) as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    executable = require_browser_tools()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    expect.set_options(timeout=WIDGET_MS)  # its default, 5 s, is short for this machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def lab(
    lab_server: LabServer, chromium: Browser, request: pytest.FixtureRequest
) -> Iterator[LabPage]:
    """A fresh browser context and page, logged in; kernels are shut down afterwards."""
    yield from browser_page(lab_server, chromium, request)


def browser_page(
    server: LabServer, chromium: Browser, request: pytest.FixtureRequest
) -> Iterator[LabPage]:
    """The ``lab`` fixture's work, for any server (a test module may start its own)."""
    lab_server = server
    context = chromium.new_context(base_url=lab_server.url, viewport=LAPTOP_SCREEN)
    try:
        context.set_default_timeout(WIDGET_MS)  # actions; expect() is set in `chromium`
        # A request with the token sets the login cookie, shared with the context's pages.
        login = context.request.get(f"/api/status?token={lab_server.token}")
        assert login.ok, f"JupyterLab refused the token: {login.status} {login.text()}"
        lab_page = LabPage(context.new_page(), lab_server, safe_name(request.node.name))
        lab_page.record_errors()
        request.node.stash[LAB_PAGE] = lab_page
        yield lab_page
    finally:
        context.close()
        lab_server.shut_down_kernels()


LAB_PAGE = pytest.StashKey[LabPage]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """On a failed browser test: a screenshot, the server's log and the browser's errors."""
    report = yield
    lab_page = item.stash.get(LAB_PAGE, None)
    if lab_page is not None and report.failed and call.when == "call":
        try:
            lab_page.snap("failure")
        except Exception as error:  # the page may be the thing that broke
            report.sections.append(("failure screenshot", f"could not take it: {error}"))
        report.sections.append(("browser errors", "\n".join(lab_page.errors) or "(none)"))
        report.sections.append(("JupyterLab server log (end)", lab_page.server.log_tail()))
    return report


# -- notebooks ------------------------------------------------------------------------


def open_notebook(page: Page, name: str) -> Locator:
    """Open ``name`` (a path in the served course/) and wait until its kernel is idle.

    Returns the notebook's panel. ``?reset`` starts from an empty workspace,
    so tabs left open by an earlier test are not restored.
    """
    page.goto(f"/lab/tree/{name}?reset", timeout=PAGE_LOAD_MS)
    panel = notebook_panel(page, name)
    expect(panel.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=PAGE_LOAD_MS)
    wait_for_idle_kernel(panel)
    return panel


def notebook_panel(page: Page, name: str) -> Locator:
    """The panel of the open notebook ``name``: its tab's ``data-id`` is the panel's id."""
    label = page.locator(".lm-TabBar-tabLabel").get_by_text(Path(name).name, exact=True)
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab").filter(has=label)
    expect(tab).to_have_count(1, timeout=PAGE_LOAD_MS)
    return page.locator(f'[id="{tab.get_attribute("data-id")}"]')


def wait_for_idle_kernel(panel: Locator, timeout_ms: float = KERNEL_MS) -> None:
    """Wait until the notebook has a kernel, connected and idle.

    The notebook's own indicator says "idle" while there is no kernel yet, so
    the status bar (about the notebook in front) must also say so: "Python 3
    (ipykernel) | Idle", not "No Kernel | Initializing".
    """
    status_bar = panel.page.locator('#jp-main-statusbar [title^="Change kernel"]')
    expect(status_bar).to_have_text(re.compile(r"\| Idle$"), timeout=timeout_ms)
    indicator = panel.locator(".jp-Notebook-ExecutionIndicator")
    expect(indicator).to_have_attribute("data-status", "idle", timeout=timeout_ms)


def run_all_cells(panel: Locator, timeout_ms: float = 5 * CELL_MS) -> None:
    """Run → Run All Cells, as a person would; wait until no cell is queued or running.

    This also ends when a cell fails and JupyterLab skips the rest, so that the
    failure is what a test reports, not a timeout.
    """
    page = panel.page
    panel.locator(".jp-Notebook").click()  # the menu acts on the notebook in focus
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
    prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt")
    expect(prompts.first).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout_ms)
    expect(prompts.filter(has_text="*")).to_have_count(0, timeout=timeout_ms)
    wait_for_idle_kernel(panel, timeout_ms)


# nbgrader's tools, as its lab extension names them on screen.
NBGRADER_TOOLS = ("Validate", "Assignment List", "Course List", "Formgrader", "Create Assignment")


def nbgrader_tools_shown(page: Page, panel: Locator) -> set[str]:
    """Which of nbgrader's tools a person can reach: the notebook's toolbar, the menu
    bar, the command palette and the right side bar, as they show on screen."""
    shown = {"Validate"} if panel.get_by_role("button", name="Validate").count() else set()
    labels = page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab").all_inner_texts()
    menu = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$"))
    if menu.count():
        menu.click()
        items = page.locator(".lm-Menu-content .lm-Menu-item:visible .lm-Menu-itemLabel")
        labels += items.all_inner_texts()
        page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")
    for tool in NBGRADER_TOOLS[1:]:
        page.locator(".lm-CommandPalette-input").fill(tool)
        page.wait_for_timeout(300)  # the palette redraws on the next animation frame
        items = page.locator(".lm-CommandPalette-item:visible .lm-CommandPalette-itemLabel")
        labels += items.all_inner_texts()
    page.keyboard.press("Escape")
    found = {label.strip().casefold() for label in labels}
    return shown | {tool for tool in NBGRADER_TOOLS[1:] if tool.casefold() in found}


def find_cell(panel: Locator, containing: str) -> Locator:
    """The one code cell whose source contains ``containing`` (within one line)."""
    cell = panel.locator(".jp-CodeCell").filter(
        has=panel.page.locator(".jp-InputArea-editor", has_text=containing)
    )
    expect(cell, f"no single code cell contains {containing!r}").to_have_count(1)
    return cell


def run_cell(panel: Locator, containing: str, timeout_ms: float = CELL_MS) -> Locator:
    """Run the code cell whose source contains ``containing``; wait until it has finished.

    Finished means: its prompt shows a new execution count (not ``*``, and not
    the one it had before) and the kernel is idle again. Returns the cell.
    """
    cell = find_cell(panel, containing)
    prompt = cell.locator(".jp-InputArea-prompt")
    count_before = prompt.inner_text()
    cell.locator(".jp-InputArea-editor").click()
    panel.page.keyboard.press("Shift+Enter")
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout_ms)
    expect(prompt).not_to_have_text(count_before)
    wait_for_idle_kernel(panel, timeout_ms)
    return cell


# -- widgets --------------------------------------------------------------------------
#
# ipywidgets 8 draws a control with a description as a `.widget-inline-hbox`
# holding a `label.widget-label` with that text: the controls are found by
# that label, as a person would. Sliders are noUiSlider handles with
# role="slider" (focusable, driven by the arrow keys, Home and End); a
# Dropdown is a <select> that its label names (`for=`); a Button is a <button>
# named by its text.

_SETTLED_STATE_JS = """cell => {
    const area = cell.querySelector('.jp-OutputArea');
    const images = Array.from(area ? area.querySelectorAll('img') : []);
    const indicator = cell.closest('.jp-NotebookPanel')
        .querySelector('.jp-Notebook-ExecutionIndicator');
    return {
        kernel: indicator ? indicator.dataset.status : 'missing',
        loaded: images.every(img => img.complete && img.naturalWidth > 0),
        look: JSON.stringify([images.map(img => img.src), area ? area.innerText : '']),
    };
}"""


def wait_until_settled(cell: Locator, quiet_ms: int = 400, timeout_ms: int = WIDGET_MS) -> None:
    """Wait until the kernel is idle and the cell's output has stopped changing.

    Stopped changing: the same images (all loaded) and texts for ``quiet_ms``.
    Several key presses make several updates, so one change is not the end.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    look, quiet_since, state = None, time.monotonic(), None
    while time.monotonic() < deadline:
        state = cell.evaluate(_SETTLED_STATE_JS)
        now = time.monotonic()
        if state["look"] != look or state["kernel"] != "idle" or not state["loaded"]:
            look, quiet_since = state["look"], now
        elif now - quiet_since >= quiet_ms / 1000:
            return
        time.sleep(0.05)  # polling, not waiting for a guessed duration
    raise AssertionError(f"the widget was still changing after {timeout_ms} ms: {state}")


def wait_for_new_picture(image: Locator, old: Picture) -> None:
    """Wait until the kernel has sent ``image`` a picture other than ``old``."""
    expect(image, "the kernel sent no new picture").not_to_have_attribute("src", old.src)


def widget_image(cell: Locator, index: int = 0) -> Locator:
    """The ``index``-th ``ipywidgets.Image`` in the cell's output, once it shows a picture."""
    image = cell.locator(".jp-OutputArea img.widget-image").nth(index)
    expect(image).to_have_attribute("src", re.compile(r"^(blob|data):"), timeout=CELL_MS)
    image.wait_for(state="visible")
    return image


@dataclass(frozen=True)
class Picture:
    """What an image showed: its URL, a SHA-256 of the PNG it got, and a screenshot."""

    src: str
    digest: str
    screenshot: bytes


_PNG_DIGEST_JS = """async img => {
    const src = img.src;
    const bytes = await (await fetch(src)).arrayBuffer();
    const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return [src, Array.from(hash, b => b.toString(16).padStart(2, '0')).join('')];
}"""


def picture_of(image: Locator) -> Picture:
    """The picture an image shows now (call once the widget has settled)."""
    src, digest = image.evaluate(_PNG_DIGEST_JS)
    return Picture(src, digest, image.screenshot())


_CLIPPED_JS = """cell => {
    const describe = e => {
        const labels = Array.from(e.querySelectorAll('.widget-label'), l => l.innerText)
            .filter(text => text.trim());
        if (labels.length) return `the box of "${labels.slice(0, 3).join('", "')}"…`;
        return `${e.tagName.toLowerCase()} "${e.innerText.trim().slice(0, 40)}"`;
    };
    const clipped = [];
    for (const e of cell.querySelectorAll('.jp-OutputArea-output *')) {
        const clips = getComputedStyle(e).overflowX !== 'visible';
        if (clips && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1) {
            clipped.push(`${describe(e)} shows ${e.clientWidth} of its ${e.scrollWidth} px`);
        }
    }
    return clipped;
}"""


def clipped_controls(cell: Locator) -> list[str]:
    """The elements of the cell's output whose content is cut off (or needs scrolling).

    A box squeezed narrower than its controls hides part of them behind a
    scroll bar; a squeezed button or label shows "s..." for "step".
    """
    return cell.evaluate(_CLIPPED_JS)


def widget_text(cell: Locator) -> str:
    """The texts of the HTML and Label widgets in the cell's output (status, captions)."""
    texts = cell.locator(
        ".jp-OutputArea .widget-html-content, .jp-OutputArea .widget-label-basic"
    ).all_inner_texts()
    return "\n".join(texts)


def control(cell: Locator, description: str, kind: str = "widget-inline-hbox") -> Locator:
    """The one control of CSS class ``kind`` in the cell's output labelled ``description``."""
    label = cell.page.locator("label.widget-label").get_by_text(description, exact=True)
    found = cell.locator(f".jp-OutputArea .{kind}").filter(has=label)
    expect(found, f"no single control labelled {description!r}").to_have_count(1)
    return found


def slider_handle(cell: Locator, description: str) -> Locator:
    return control(cell, description, "widget-slider").locator("[role=slider]")


def move_slider_with_keys(cell: Locator, description: str, key: str, presses: int = 1) -> None:
    """Focus the slider's handle and press ``key`` (ArrowRight, End, ...) ``presses`` times.

    Asserts that the slider's value moved and the focus stayed on it: the
    controls are keyboard-usable.
    """
    handle = slider_handle(cell, description)
    value_before = handle.get_attribute("aria-valuenow")
    expect(handle).to_have_attribute("tabindex", "0")  # reachable with Tab
    handle.focus()
    expect(handle).to_be_focused()
    for _ in range(presses):
        cell.page.keyboard.press(key)
    expect(handle, f"{key} did not move {description!r}").not_to_have_attribute(
        "aria-valuenow", value_before or ""
    )
    # JupyterLab's own shortcuts did not take the keys away
    expect(handle, f"{description!r} lost the focus").to_be_focused()


def type_into_slider(cell: Locator, description: str, value: str) -> None:
    """Type ``value`` into the slider's readout (the number beside it) and press Enter."""
    readout = control(cell, description, "widget-slider").locator(".widget-readout")
    readout.fill(value)
    readout.press("Enter")


def click_button(cell: Locator, description: str, keyboard: bool = False) -> None:
    """Press the button named ``description``: a click, or Enter with the focus on it."""
    button = cell.locator(".jp-OutputArea").get_by_role("button", name=description, exact=True)
    if keyboard:
        button.focus()
        expect(button).to_be_focused()
        cell.page.keyboard.press("Enter")
        # JupyterLab did not take Enter (to edit the cell)
        expect(button, f"{description!r} lost the focus").to_be_focused()
    else:
        button.click()


def choose(cell: Locator, dropdown_description: str, option: str) -> None:
    """Pick ``option`` (its value or its label) in the dropdown labelled so."""
    dropdown = cell.locator(".jp-OutputArea").get_by_label(dropdown_description, exact=True)
    dropdown.select_option(option)
    expect(dropdown).to_have_value(option)
