"""The console end to end in headless Chromium (Debian's, driven by Playwright) against ``reel up``
(API, worker and sender in subprocesses) whose worker runs the shipped generators on tiny
random-weight models (and the test plugin, for a task slow enough to cancel).

first run (admin) → invite → the invited person signs up → a portrait video (the default) and a
landscape one, the progress bar advancing → both play in the gallery with their orientation →
an image and an audio result play → cancel and retry → logout → a person of another project gets
404. Every screen is saved under the test's output folder and checked not to be blank.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.utils.stack import free_port

CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parents[2] / "host" / "src" / "reel_host" / "console" / "static" / "index.html"
PASSWORD = "correct horse battery"
TIMEOUT_MS = 240_000

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not STATIC.exists(), reason="the console is not built (scripts/setup.sh builds it)"),
    pytest.mark.timeout(900),
]

# records every value the progress bars show, from the first paint (a fast task may skip frames)
PROGRESS_RECORDER = """
window.__progress = [];
new MutationObserver(() => {
  for (const bar of document.querySelectorAll('[role=progressbar]')) {
    const v = Number(bar.getAttribute('aria-valuenow'));
    if (window.__progress[window.__progress.length - 1] !== v) window.__progress.push(v);
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow']});
"""


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.plugins.tiny_models import build_shipped

    return build_shipped(tmp_path_factory.mktemp("tiny-console"))


@dataclass
class ReelUp:
    """``reel up`` in a subprocess: API, worker and callback sender, as a person runs it."""

    url: str
    home: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def key(self) -> str:
        return (self.home / "dev-key").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {self.key}"})

    def reel(self, *args: str) -> str:
        env = {**os.environ, "REEL_HOME": str(self.home), "REEL_PUBLIC_URL": self.url}
        return subprocess.run([sys.executable, "-m", "reel_host.cli.main", *args], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()


def _wait(what: str, probe, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"reel up exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if probe():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"reel up: {what} did not happen in {timeout} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def reel_up(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReelUp]:
    tmp = tmp_path_factory.mktemp("reel-up")
    port = free_port()
    env = {**os.environ, "REEL_HOME": str(tmp / "home"), "REEL_PORT": str(port),
           "REEL_ALLOWED_MODELS": str(tiny_root), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "REEL_HEARTBEAT_S": "0.5", "REEL_EVENTS_POLL_S": "0.05"}
    log = tmp / "reel-up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reel_host.cli.main", "up"], env=env, cwd=tmp, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    up = ReelUp(f"http://127.0.0.1:{port}", tmp / "home", proc, log)
    try:
        _wait("the API answering", lambda: httpx.get(up.url + "/api/v1/health", timeout=5).status_code == 200,
              proc, log)
        def worker_online(c: httpx.Client) -> bool:
            r = c.get("/workers/status")  # 503 while the database is busy starting: ask again
            return r.status_code == 200 and any(w["status"] == "online" for w in r.json()["data"])

        with up.client() as c:
            _wait("a worker coming online", lambda: worker_online(c), proc, log)
        yield up
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Screens:
    """Saves each screen as a PNG and checks it shows something (not one flat colour)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def shot(self, page, name: str) -> Path:
        from PIL import Image, ImageStat

        path = self.folder / f"{len(self.saved) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        with Image.open(path) as img:
            gray = img.convert("L")
            assert max(ImageStat.Stat(gray).stddev) > 5, f"{path.name} looks blank"
            assert len(gray.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 8, f"{path.name} looks blank"
        self.saved.append(path)
        return path


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield b
        finally:
            b.close()


def new_page(browser, url: str):
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.add_init_script(PROGRESS_RECORDER)
    page.on("dialog", lambda d: d.accept())
    return page


def wait_status(page, status: str, timeout: float = TIMEOUT_MS) -> None:
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        page.wait_for_selector(f"[data-testid=task-page][data-status={status}]", timeout=timeout)
    except PageTimeout:
        raise AssertionError(f"the task page did not show {status!r}; it shows:\n{page.inner_text('body')[:3000]}"
                             ) from None


def wait_for(page, selector: str, timeout: float = 60_000) -> None:
    """Wait for an element; on a timeout, say what the page shows instead."""
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        page.wait_for_selector(selector, timeout=timeout)
    except PageTimeout:
        raise AssertionError(f"{selector} did not show on {page.url}; the page shows:\n"
                             f"{page.inner_text('body')[:3000]}") from None


def choose_generator(page, name: str) -> None:
    page.goto("/")
    wait_for(page, "[data-testid=generator]")
    page.select_option("[data-testid=generator]", name)
    page.wait_for_selector("#params-form")


def submit_form(page, fields: dict[str, str]) -> str:
    for field, value in fields.items():
        page.fill(f"#root_{field}", value)
    page.click("[data-testid=submit]")
    page.wait_for_url("**/tasks/*")
    return page.url.rsplit("/", 1)[1]


def test_console__the_whole_journey(reel_up, tiny_root, browser, tmp_path):
    screens = Screens(tmp_path / "screens")
    wan, sd, bark = str(tiny_root / "wan"), str(tiny_root / "sd"), str(tiny_root / "bark")

    # 1. first run: the first visitor of an embedded deployment creates the admin
    admin = new_page(browser, reel_up.url)
    admin.goto("/")
    admin.wait_for_url("**/setup")
    screens.shot(admin, "first-run")
    admin.fill("input[name=email]", "admin@example.com")
    admin.fill("input[name=password]", PASSWORD)
    admin.click("button[type=submit]")
    wait_for(admin, "[data-testid=generator]")

    # 2. the admin invites a person into the default project
    admin.goto("/projects/default")
    admin.fill("input[aria-label='invite email']", "bob@example.com")
    admin.click("text=Invite")
    link = admin.inner_text("[data-testid=invite-link]")
    screens.shot(admin, "project-admin")
    admin.goto("/ops")
    admin.wait_for_selector("[data-testid=workers] td")
    screens.shot(admin, "ops")
    admin.click("[data-testid=logout]")
    admin.wait_for_url("**/login")

    # 3. the invited person signs up through the link
    bob = new_page(browser, reel_up.url)
    bob.goto(link)
    assert bob.inner_text("[data-testid=invited-email]") == "bob@example.com"
    screens.shot(bob, "invitation-signup")
    bob.fill("input[name=password]", PASSWORD)
    bob.click("button[type=submit]")
    wait_for(bob, "[data-testid=generator]")

    # 4. a portrait video: the default orientation; the progress bar advances while it runs
    choose_generator(bob, "video.diffusers")
    assert bob.get_attribute("[data-testid=orientation-portrait]", "aria-checked") == "true"
    assert bob.get_attribute("[data-testid=orientation-landscape]", "aria-checked") == "false"
    screens.shot(bob, "create-video")
    # 12 steps: a state between 0 and 100 lasts long enough to reach the page on a loaded machine
    portrait = submit_form(bob, {"prompt": "a cat walks on the beach", "model": wan, "width": "32", "height": "48",
                                 "num_frames": "9", "steps": "12", "fps": "8", "seed": "1"})
    wait_status(bob, "succeeded")
    seen = bob.evaluate("window.__progress")
    assert seen[-1] == 100 and any(0 < v < 100 for v in seen), seen
    assert seen == sorted(seen), seen  # it only moves forward
    bob.wait_for_function("document.querySelector('video') && document.querySelector('video').readyState >= 2")
    screens.shot(bob, "task-video-portrait")

    # 5. a landscape video: one click
    choose_generator(bob, "video.diffusers")
    bob.click("[data-testid=orientation-landscape]")
    landscape = submit_form(bob, {"prompt": "a dog runs in the city", "model": wan, "width": "48", "height": "32",
                                  "num_frames": "9", "steps": "2", "fps": "8", "seed": "2"})
    wait_status(bob, "succeeded")
    with reel_up.client() as c:
        assert c.get(f"/tasks/{portrait}/status").json()["params"]["orientation"] == "portrait"
        assert c.get(f"/tasks/{landscape}/status").json()["params"]["orientation"] == "landscape"

    # 6. an image and an audio result
    choose_generator(bob, "image.diffusers")
    image = submit_form(bob, {"prompt": "a red cube", "model": sd, "width": "64", "height": "64", "steps": "2"})
    wait_status(bob, "succeeded")
    bob.wait_for_function("document.querySelector('figure.media-image img')?.naturalWidth === 64")
    screens.shot(bob, "task-image")
    choose_generator(bob, "audio.bark")
    audio = submit_form(bob, {"text": "hello there", "model": bark, "seed": "1"})
    wait_status(bob, "succeeded")
    bob.wait_for_function("document.querySelector('audio')?.readyState >= 2")
    assert bob.evaluate("document.querySelector('audio').duration") > 0
    screens.shot(bob, "task-audio")

    # 7. the gallery: the two videos play, laid out by their orientation
    bob.goto("/gallery")
    for task_id, tall in ((portrait, True), (landscape, False)):
        card = f"[data-testid=task-card][data-task={task_id}] video"
        bob.wait_for_selector(card)
        bob.wait_for_function(f"document.querySelector('{card}').readyState >= 2")
        width, height = bob.evaluate(f"[document.querySelector('{card}').videoWidth, "
                                     f"document.querySelector('{card}').videoHeight]")
        assert (height > width) is tall, (task_id, width, height)
        assert bob.evaluate(f"document.querySelector('{card}').play().then(() => true)")
    assert bob.locator(f"[data-testid=task-card][data-task={image}] img").count() == 1
    assert bob.locator(f"[data-testid=task-card][data-task={audio}] audio").count() == 1
    assert bob.get_attribute(f"[data-testid=task-card][data-task={portrait}] video", "poster")  # the poster frame
    screens.shot(bob, "gallery")
    bob.click("role=tab[name=Project]")  # every member's results in the project
    bob.wait_for_selector(f"[data-testid=task-card][data-task={portrait}]")
    screens.shot(bob, "gallery-project")
    bob.goto("/profile")
    assert bob.inner_text("[data-testid=profile-email]") == "bob@example.com"
    screens.shot(bob, "profile")

    # 8. cancel a running task from its page, retry it, cancel again
    choose_generator(bob, "test.slow")
    slow = submit_form(bob, {"seconds": "120"})
    wait_status(bob, "running", timeout=60_000)
    bob.click("text=Cancel")
    wait_status(bob, "cancelled", timeout=60_000)
    screens.shot(bob, "task-cancelled")
    bob.click("text=Retry")
    bob.wait_for_selector("[data-testid=task-page]:not([data-status=cancelled])")
    with reel_up.client() as c:
        assert c.get(f"/tasks/{slow}/status").json()["attempts"] == 2
    screens.shot(bob, "task-retried")
    bob.click("text=Cancel")
    wait_status(bob, "cancelled", timeout=60_000)

    # 9. delete a result from the gallery: its record is gone
    bob.goto("/gallery")
    bob.click(f"[aria-label='delete {slow}']")
    bob.wait_for_selector(f"[data-testid=task-card][data-task={slow}]", state="detached")
    with reel_up.client() as c:
        assert c.get(f"/tasks/{slow}/status").status_code == 404

    # 10. log out: back to the login page, the task pages need a login again
    bob.click("[data-testid=logout]")
    bob.wait_for_url("**/login")
    screens.shot(bob, "login")
    bob.goto(f"/tasks/{portrait}")
    bob.wait_for_url("**/login")

    # 11. a person of another project (made with the CLI, signing up through its link) gets 404s
    reel_up.reel("projects", "create", "elsewhere")
    invite = reel_up.reel("users", "invite", "--project", "elsewhere", "carol@example.com")
    eve = new_page(browser, reel_up.url)
    eve.goto(invite)
    eve.fill("input[name=password]", PASSWORD)
    eve.click("button[type=submit]")
    wait_for(eve, "[data-testid=generator]")
    eve.click("[data-testid=logout]")
    eve.wait_for_url("**/login")
    eve.goto("/login")
    eve.fill("input[name=email]", "carol@example.com")
    eve.fill("input[name=password]", PASSWORD)
    eve.click("button[type=submit]")
    wait_for(eve, "[data-testid=generator]")
    for task_id in (portrait, image, audio):
        eve.goto(f"/tasks/{task_id}")
        eve.wait_for_selector("[data-testid=not-found]")
        status = eve.evaluate(f"fetch('/api/v1/tasks/{task_id}/status').then(r => r.status)")
        assert status == 404
    assert eve.evaluate("fetch('/api/v1/projects/default/tasks').then(r => r.status)") == 404
    screens.shot(eve, "other-project-404")
    eve.goto("/gallery")
    eve.wait_for_selector(".empty")
    assert eve.locator("[data-testid=task-card]").count() == 0

    assert len(screens.saved) >= 15
