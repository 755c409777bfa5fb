"""Load benchmark of the REST API: N concurrent clients for a bounded time against a server on 127.0.0.1.

    python bench/serve_load.py --weights default --clients 1 4 8 --seconds 15

Starts `hpe serve` itself on a free loopback port (or use --url for a running one), posts the Messi image,
checks every response and prints requests/s and p50/p99 latency per client count, side by side in one run.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_clients(url: str, image: bytes, clients: int, seconds: float, max_requests: int = 10_000) -> dict[str, float]:
    deadline = time.monotonic() + seconds
    lat: list[float] = []
    errors = 0

    def loop(_: int) -> tuple[list[float], int]:
        out, bad = [], 0
        with httpx.Client(base_url=url, timeout=120) as c:
            while time.monotonic() < deadline and len(out) < max_requests:
                t0 = time.perf_counter()
                r = c.post("/predict", content=image)
                out.append(time.perf_counter() - t0)
                if r.status_code != 200 or not r.json()["people"]:
                    bad += 1
        return out, bad

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for l, b in pool.map(loop, range(clients)):
            lat += l
            errors += b
    wall = time.perf_counter() - t0
    lat.sort()
    return {"clients": clients, "requests": len(lat), "errors": errors, "req_per_s": len(lat) / wall,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server; default: start one")
    ap.add_argument("--weights", default="default")
    ap.add_argument("--backend")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--image", default=str(REPO / "data" / "messi_kick.webp"))
    args = ap.parse_args()
    proc = None
    url = args.url
    if url is None:
        port = free_port()
        cmd = [sys.executable, "-m", "hpe_utils.cli", "serve", "--port", str(port), "--weights", args.weights]
        if args.backend:
            cmd += ["--backend", args.backend]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            proc.kill()
            print("server did not start", file=sys.stderr)
            return 1
    try:
        image = Path(args.image).read_bytes()
        rows = [run_clients(url, image, n, args.seconds) for n in args.clients]
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    base = rows[0]["req_per_s"]
    print(f"| clients | requests | errors | req/s | ratio to {rows[0]['clients']} client(s) | p50 ms | p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['req_per_s']:.2f} | {r['req_per_s'] / base:.2f} | "
              f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} |")
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
