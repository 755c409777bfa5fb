"""The web page in a real browser: Playwright drives Debian's Chromium against a server on 127.0.0.1."""
import shutil
from pathlib import Path

import pytest
import torch

from hpe_utils.model import PoseResNet
from hpe_utils.predictor import Predictor
from hpe_utils.serve import BackgroundServer, create_app
from hpe_utils.weights import save_checkpoint

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:  # CI installs it (make setup-browser); say so rather than pass silently
    pytest.skip("Debian's chromium is not installed: run `make setup-browser`", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    weights = REPO / "weights" / "hpe_default.pt"
    if weights.exists():
        predictor = Predictor(weights, progress=False, backend="torch")
    else:
        torch.manual_seed(0)
        m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
        predictor = Predictor(save_checkpoint(m, tmp_path_factory.mktemp("w") / "t.pt", skeleton="mpii16",
                                              input_size=(64, 64)), progress=False, backend="torch")
    with BackgroundServer(create_app(predictor=predictor)) as url:
        yield url + "/"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1200, "height": 900})
        yield pg
        browser.close()


def test_uploading_the_messi_image_draws_the_skeleton_and_the_table(server, page):
    page.goto(server)
    page.set_input_files("#file", str(REPO / "data" / "messi_kick.webp"))
    page.wait_for_selector("#joints tbody tr", timeout=60_000)
    rows = page.locator("#joints tbody tr")
    assert rows.count() == 16
    assert "r_ankle" in rows.nth(0).inner_text()
    assert "1 person(s)" in page.inner_text("#msg")
    size = page.evaluate("[document.getElementById('canvas').width, document.getElementById('canvas').height]")
    assert size == [912, 516]
    # the skeleton is drawn on the canvas: pixels change when the threshold hides every joint
    grab = """() => { const c = document.getElementById('canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }"""

    def set_threshold(v: str) -> None:
        page.fill("#thr", v)
        page.dispatch_event("#thr", "input")

    set_threshold("0")
    drawn = page.evaluate(grab)
    set_threshold("1")
    bare = page.evaluate(grab)
    changed = sum(1 for a, b in zip(drawn, bare) if a != b)
    assert changed > 500
    assert page.locator("#joints tbody tr.hidden").count() >= 15
    set_threshold("0.3")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_page_messi.png"), full_page=True)


def test_a_bad_upload_shows_a_clear_error(server, page, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    page.goto(server)
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#msg.error", timeout=30_000)
    assert "not an image" in page.inner_text("#msg")
