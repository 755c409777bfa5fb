"""The course website (``make book``) crawled in Debian's Chromium, served as GitHub Pages would: plain files, no headers.

Every HTML page of the site is opened (the live page's own files under ``live/`` are checked by the live-page
test): no console error or uncaught exception, every internal link answers 200, every image loaded, each notebook
chapter shows the figures its stored run holds, and no request leaves 127.0.0.1. The search page finds a word.
The live page (the ``hpe export --format web`` site under ``live/``) runs on one wasm thread without
cross-origin isolation and poses the Messi photo within a pixel of Python's ONNX run, as tests/test_web.py
checks for the exported site. Uses ``build/book`` when ``tools/book/build.py --check`` says it is a build of
the current inputs, else builds the site into a temporary folder first (about a minute).
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from hpe_utils import web
from hpe_utils.images import read_image
from hpe_utils.predictor import Predictor

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("sphinx", reason="the book's packages are not installed: run `make setup` (the [book] extra)")
# tests/test_web.py's browser settings and helpers (importing it skips this module too where chromium is absent)
from test_web import CHROMIUM, FLAT_PEAK, LAUNCH_ARGS, LOAD_MS, MESSI, RGB64, TOLERANCE_PX  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "tools" / "book" / "build.py"
BUILT = REPO / "build" / "book"
SKIP_DIRS = ("live", "_static", "_sources", "_images")  # the live site's internals; theme template fragments


def _ipynb_figures(name: str) -> int:
    """How many image outputs the stored run of notebook ``name`` holds."""
    nb = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    return sum(any(k.startswith("image/") for k in o.get("data", {}))
               for c in nb["cells"] for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    if web.ort_cached() is None:
        pytest.skip(f"ONNX Runtime Web {web.ORT_WEB_VERSION} is not in the download cache: run `make setup-web`")
    if subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True).returncode == 0:
        return BUILT
    out = tmp_path_factory.mktemp("book") / "site"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(BUILD), "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"\nbuilt the book in {time.perf_counter() - t0:.0f} s: {done.stdout.strip().splitlines()[-1]}")
    return out


@pytest.fixture(scope="module")
def url(book) -> Iterator[str]:
    with web.serve_site(book, isolate=False) as base:  # as GitHub Pages: no cross-origin isolation headers
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


class Crawl:
    """One browser context that records console errors, uncaught exceptions, failed responses and every request
    to another host (which it aborts)."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(f"{self.page.url}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"{self.page.url}: uncaught {e}"))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def _route(self, route: Any) -> None:
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()


IMAGES_LOADED = """async () => {  // the src of every <img> that did not load (lazy ones are asked to load first)
    const imgs = [...document.images];
    imgs.forEach((i) => { i.loading = "eager"; });
    const broken = await Promise.all(imgs.map((i) => i.decode().then(() => null, () => i.currentSrc || i.src)));
    return broken.filter((b) => b !== null).concat(imgs.filter((i) => i.complete && i.naturalWidth === 0)
        .map((i) => i.currentSrc || i.src));
}"""


def _status(link: str) -> int:
    try:
        with urllib.request.urlopen(link, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_every_page_loads_cleanly_with_working_links_images_and_no_outside_request(book, url, browser, capsys):
    t0 = time.perf_counter()
    pages = sorted(str(p.relative_to(book).as_posix()) for p in book.rglob("*.html")
                   if p.relative_to(book).parts[0] not in SKIP_DIRS)
    assert "index.html" in pages and "search.html" in pages and "live.html" in pages
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert {f"notebooks/{n}.html" for n in notebooks} <= set(pages)
    crawl = Crawl(browser, url)
    links: dict[str, str] = {}  # internal link (no #anchor) -> a page that has it
    broken_images: list[str] = []
    figures: dict[str, int] = {}
    for rel in pages:
        crawl.page.goto(url + rel, wait_until="networkidle", timeout=LOAD_MS)
        for href in crawl.page.evaluate("[...document.querySelectorAll('a[href]')].map((a) => a.href)"):
            if href.startswith(url):
                links.setdefault(href.split("#")[0], rel)
        broken_images += [f"{rel}: {src}" for src in crawl.page.evaluate(IMAGES_LOADED)]
        if rel.startswith("notebooks/"):
            figures[Path(rel).stem] = crawl.page.locator(".cell_output img").count()
    # the search page, asked for a word the course uses everywhere
    crawl.page.goto(url + "search.html?q=heatmap", wait_until="networkidle")
    crawl.page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hits = crawl.page.locator("#search-results ul.search li").count()
    crawl.context.close()
    bad_links = {link: (page, code) for link, page in links.items() if (code := _status(link)) != 200}
    stored = {n: _ipynb_figures(n) for n in notebooks}
    with capsys.disabled():
        print(f"\nbook crawl: {len(pages)} pages, {len(links)} internal links, search 'heatmap': {hits} pages, "
              f"{time.perf_counter() - t0:.0f} s; figures per chapter (page/stored): "
              + ", ".join(f"{n[:2]} {figures[n]}/{stored[n]}" for n in notebooks))
    assert not crawl.errors, crawl.errors
    assert not crawl.outside, sorted(set(crawl.outside))
    assert not crawl.failed, crawl.failed
    assert not bad_links, bad_links
    assert not broken_images, broken_images
    assert hits > 0
    # every chapter shows at least one figure, and each figure of its stored run
    assert all(figures[n] >= max(stored[n], 1) for n in notebooks), (figures, stored)


PREDICT = """async ([b64, flip]) => {  // the Messi photo's bytes -> the page's pose of the whole image, and everyone
    await hpe.ready;
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const img = await hpe.readImage(new Blob([bytes], {type: "image/webp"}));
    const one = await hpe.predict(img, {flip});
    const all = await hpe.predictPeople(img, {flip});
    return {threads: hpe.threads, isolated: window.crossOriginIsolated, width: img.width, height: img.height,
            keypoints: one.keypoints, scores: one.scores, people: all.people, rgb: (%s)(img)};
}""" % RGB64


def test_the_live_page_poses_messi_within_a_pixel_of_python_on_one_thread(book, url, browser, capsys):
    crawl = Crawl(browser, url)
    t0 = time.perf_counter()
    crawl.page.goto(url + "live/index.html")
    got = crawl.page.evaluate(PREDICT, [base64.b64encode(MESSI.read_bytes()).decode(), True])
    seconds = time.perf_counter() - t0
    about = crawl.page.inner_text("#about")
    crawl.context.close()
    assert got["threads"] == 1 and got["isolated"] is False  # no isolation headers: one thread, and it works
    assert "1 thread(s) (threads need cross-origin isolation)" in about, about
    rgb = read_image(MESSI)
    seen = np.frombuffer(base64.b64decode(got["rgb"]), np.uint8).reshape(got["height"], got["width"], 3)
    assert seen.shape == rgb.shape
    reference = Predictor("default", backend="onnx", progress=False)
    whole = reference(seen, [[0, 0, seen.shape[1], seen.shape[0]]]).people[0]
    d = np.linalg.norm(np.asarray(got["keypoints"]) - whole.keypoints, axis=1)
    assert float(np.abs(np.asarray(got["scores"]) - whole.scores).max()) < 1e-3
    everyone = reference(seen).people  # the detector too: the same people, each posed within a pixel
    assert len(got["people"]) == len(everyone) >= 1
    worst = 0.0
    for person, ref in zip(got["people"], everyone):
        assert np.abs(np.asarray(person["box"]) - ref.box).max() <= 1.0
        off = np.linalg.norm(np.asarray(person["keypoints"]) - ref.keypoints, axis=1)
        worst = max(worst, float(off[ref.scores >= FLAT_PEAK].max(initial=0.0)))
    with capsys.disabled():
        print(f"\nlive page (no isolation, wasm {got['threads']} thread): Messi whole image max {d.max():.1e} px, "
              f"{len(everyone)} person(s) via the detector max {worst:.1e} px; open to poses {seconds:.1f} s")
    assert float(d.max()) <= TOLERANCE_PX, d
    assert worst <= TOLERANCE_PX, worst
    assert not crawl.errors, crawl.errors
    assert not crawl.outside, crawl.outside
