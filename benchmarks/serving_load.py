"""Latency and memory of ``make serve`` under concurrent clients: p50/p95 per request, requests/s, server RSS.

    .venv/bin/python benchmarks/serving_load.py [--model models:/diplomatic-events@champion] [--clients 50]

Starts the README's serving command on a free port, sends ``--requests`` single-sentence
requests from ``--clients`` threads (real test sentences), and prints one JSON object;
docs/BENCHMARKS.md records it with the machine and date. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inference_speed import cpu_name  # noqa: E402
from tests.conftest import free_port, group_rss_mb, wait_for_http  # noqa: E402
from training.corpus import ensure_built, load_records  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models:/diplomatic-events@champion")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    texts = [r.text for r in load_records(ensure_built()) if r.split == "test"][: args.requests]
    port = free_port()
    server = subprocess.Popen(["make", "--no-print-directory", "-C", str(ROOT), "serve", f"SERVE_MODEL={args.model}",
                               f"PORT={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server, "make serve")
        idle = group_rss_mb(server.pid)

        def one(text: str) -> float:
            body = json.dumps({"dataframe_records": [{"text": text}]}).encode()
            started = time.perf_counter()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=300) as answer:
                answer.read()
            return time.perf_counter() - started

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            latencies = sorted(pool.map(one, texts))
        wall = time.perf_counter() - started
        loaded = group_rss_mb(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(json.dumps({
        "date": date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} cores", "model": args.model,
        "clients": args.clients, "requests": len(latencies), "requests_per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
        "server_rss_mb_idle": round(idle), "server_rss_mb_after_load": round(loaded),
    }, indent=2))


if __name__ == "__main__":
    main()
