"""The in-browser site's speed in Debian's Chromium: load to first pose, ms per frame, webcam frames/s, file sizes.

    python bench/web_page.py [--weights default] [--seconds 10]

Exports the site (``hpe export --format web``) into a temporary folder, serves it on 127.0.0.1 twice — plainly, as
``python -m http.server`` does (one wasm thread), and with the cross-origin isolation headers (threads) — and
measures both in one run, side by side: the time from opening the page to the first pose on the Messi image,
the median ms per still frame with the flip test on and off (the pose model on one box), the person detector's
ms and a whole photo's (detector + every person, flip on, as the page does when a photo is chosen), and the
webcam's frames/s (flip off, Chromium's fake camera playing a clip that pans over the Messi photo; the detector
runs on the first frame and every meta.json ``detector.redetect_every`` frames). Prints a table and the size of
every file.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from hpe_utils import web
from hpe_utils.images import read_image
from hpe_utils.video import panning_frames, write_y4m

REPO = Path(__file__).resolve().parent.parent
MESSI = REPO / "data" / "messi_kick.webp"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
STILL = """async ([url, flip, n]) => {
    const img = await hpe.readImage(await (await fetch(url)).blob());
    await hpe.predict(img, {flip});  // warm-up
    const out = [];
    for (let i = 0; i < n; i++) out.push((await hpe.predict(img, {flip})).ms);
    return out;
}"""
FIRST = """async (url) => { await hpe.ready; const img = await hpe.readImage(await (await fetch(url)).blob());
    await hpe.predictPeople(img, {flip: true}); return performance.now(); }"""
DETECT = """async ([url, n]) => {
    const img = await hpe.readImage(await (await fetch(url)).blob());
    await hpe.detectPeople(img);  // warm-up
    const out = [];
    for (let i = 0; i < n; i++) out.push((await hpe.detectPeople(img)).ms);
    const photo = [];
    for (let i = 0; i < n; i++) photo.push((await hpe.predictPeople(img, {flip: true})).ms.total);
    return [out, photo];
}"""


def measure(chromium: str, url: str, clip: Path, seconds: float) -> dict[str, float]:
    """One row of the table for the site at ``url``."""
    from playwright.sync_api import sync_playwright

    row: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
            *ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}"])
        page = browser.new_page()
        t0 = time.perf_counter()
        page.goto(url)
        page.evaluate(FIRST, f"{url}_bench/{MESSI.name}")
        row["load_to_first_pose_s"] = time.perf_counter() - t0
        row["threads"] = page.evaluate("hpe.threads")
        for flip in (True, False):
            ms = page.evaluate(STILL, [f"{url}_bench/{MESSI.name}", flip, 5])
            row[f"frame_ms_flip_{'on' if flip else 'off'}"] = statistics.median(m["total"] for m in ms)
            row[f"model_ms_flip_{'on' if flip else 'off'}"] = statistics.median(m["model"] for m in ms)
        det, photo = page.evaluate(DETECT, [f"{url}_bench/{MESSI.name}", 5])
        row["detector_ms"] = statistics.median(m["total"] for m in det)
        row["detector_model_ms"] = statistics.median(m["model"] for m in det)
        row["photo_ms"] = statistics.median(photo)
        page.click("#webcam")
        page.wait_for_function("hpe.stats && hpe.stats.frames >= 3", timeout=180_000)
        start = page.evaluate("[hpe.stats.frames, performance.now()]")
        time.sleep(seconds)
        end = page.evaluate("[hpe.stats.frames, performance.now(), hpe.stats.modelMs, hpe.stats.frameMs, hpe.stats.lost, "
                            "hpe.stats.detections, hpe.stats.detectMs]")
        row["webcam_lost_share"] = end[4] / max(1, end[0])
        row["webcam_detect_share"], row["webcam_detect_ms"] = end[5] / max(1, end[0]), end[6]
        row["webcam_fps"] = (end[0] - start[0]) / ((end[1] - start[1]) / 1000)
        row["webcam_model_ms"], row["webcam_frame_ms"] = end[2], end[3]
        browser.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default")
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to count webcam frames")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed: make setup-browser")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        t0 = time.perf_counter()
        report = web.export_web(args.weights, site, [str(MESSI)], log=lambda _m: None)
        export_s = time.perf_counter() - t0
        (site / "_bench").mkdir()
        shutil.copyfile(MESSI, site / "_bench" / MESSI.name)
        clip = Path(tmp) / "pan.y4m"
        sweep = panning_frames(read_image(MESSI), (640, 480), 12)
        write_y4m([f for f, _ in sweep + sweep[-2:0:-1]], clip, fps=30)
        rows = {}
        for label, isolate in (("plain host (python -m http.server)", False), ("cross-origin isolated", True)):
            with web.serve_site(site, isolate=isolate) as url:
                rows[label] = measure(chromium, url, clip, args.seconds)
    print(f"site exported in {export_s:.0f} s; files:")
    for name, size in sorted(report.files.items()):
        print(f"  {name:34s} {size / 1e6:8.2f} MB")
    print(f"  {'total':34s} {sum(report.files.values()) / 1e6:8.2f} MB\n")
    keys = [("threads", "wasm threads", "{:.0f}"), ("load_to_first_pose_s", "open page -> first pose (s)", "{:.2f}"),
            ("frame_ms_flip_on", "still image, flip on (ms)", "{:.0f}"), ("model_ms_flip_on", "  of which model", "{:.0f}"),
            ("frame_ms_flip_off", "still image, flip off (ms)", "{:.0f}"), ("model_ms_flip_off", "  of which model", "{:.0f}"),
            ("detector_ms", "person detector (ms)", "{:.0f}"), ("detector_model_ms", "  of which model", "{:.0f}"),
            ("photo_ms", "photo: detector + poses, flip on (ms)", "{:.0f}"),
            ("webcam_fps", "webcam, flip off (frames/s)", "{:.1f}"), ("webcam_model_ms", "  model ms per frame", "{:.0f}"),
            ("webcam_frame_ms", "  ms per frame", "{:.0f}"),
            ("webcam_detect_ms", "  detector ms, when it runs", "{:.0f}"),
            ("webcam_detect_share", "  frames the detector ran on", "{:.0%}"),
            ("webcam_lost_share", "  frames tracking lost everyone", "{:.0%}")]
    labels = list(rows)
    print(f"| {'':37s} | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for key, name, fmt in keys:
        print(f"| {name:37s} | " + " | ".join(fmt.format(rows[lab][key]) for lab in labels) + " |")
    a, b = rows[labels[0]], rows[labels[1]]
    print(f"\nratio isolated / plain: webcam fps x{b['webcam_fps'] / a['webcam_fps']:.2f}, "
          f"still flip-off ms x{b['frame_ms_flip_off'] / a['frame_ms_flip_off']:.2f}")


if __name__ == "__main__":
    main()
