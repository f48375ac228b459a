# Run:  uv run --no-project --with ./data-layer --with 'moto[server]' python bench/bench_sync.py [--files 1000]
"""Smart sync of many small files from a local S3-compatible server (moto's, on 127.0.0.1).

1. the first sync (everything fetched), the reference;
2. an unchanged re-sync: one listing compared with the manifest, nothing fetched
   (goal <= 1 s), printed with its ratio to the first sync;
3. a re-sync after 10 files changed: only those 10 fetched;
4. the mirror the other way (``vlmhb-data sync ./cache s3://...``): the first upload, then an
   unchanged re-upload (one listing and local checksums, nothing sent), printed with its ratio
   to the first upload; the copy must hold exactly the cache's files.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer
from vlmhb_data_layer import SmartSyncManager

sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the server logs every request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        for i in range(args.files):
            client.put_object(
                Bucket="bench", Key=f"ds/images/{i:05d}.txt", Body=f"sample {i}".encode()
            )
        manager = SmartSyncManager(endpoint_url=endpoint)
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            started = time.perf_counter()
            first = manager.sync("s3://bench/ds", cache)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            unchanged = manager.sync("s3://bench/ds", cache)
            unchanged_s = time.perf_counter() - started
            for i in range(0, 10 * (args.files // 10), args.files // 10):
                client.put_object(Bucket="bench", Key=f"ds/images/{i:05d}.txt", Body=b"changed")
            started = time.perf_counter()
            changed = manager.sync("s3://bench/ds", cache)
            changed_s = time.perf_counter() - started
            started = time.perf_counter()
            pushed = manager.mirror(str(cache), "s3://bench/copy")
            push_s = time.perf_counter() - started
            started = time.perf_counter()
            repushed = manager.mirror(str(cache), "s3://bench/copy")
            repush_s = time.perf_counter() - started
            pages = client.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="copy/")
            copied = {o["Key"] for page in pages for o in page.get("Contents", [])}
            identical = copied == {f"copy/images/{i:05d}.txt" for i in range(args.files)}
        print(f"{args.files} files on a local S3-compatible server")
        print(f"first sync        : {first_s:7.2f} s  ({len(first.transferred)} fetched)")
        print(
            f"unchanged re-sync : {unchanged_s:7.2f} s  ({len(unchanged.transferred)} fetched; "
            f"{unchanged_s / first_s:.3f}x the first; goal <= 1 s: {'met' if unchanged_s <= 1 else 'NOT met'})"
        )
        print(
            f"10 files changed  : {changed_s:7.2f} s  ({len(changed.transferred)} fetched; goal: 10)"
        )
        print(f"upload (mirror)   : {push_s:7.2f} s  ({len(pushed.transferred)} sent)")
        print(
            f"unchanged upload  : {repush_s:7.2f} s  ({len(repushed.transferred)} sent; "
            f"{repush_s / push_s:.3f}x the first upload; goal <= 1 s: "
            f"{'met' if repush_s <= 1 else 'NOT met'}; copy identical: {identical})"
        )
        ok = len(changed.transferred) == 10 and not unchanged.transferred
        emit(
            "sync",
            [
                figure(f"first sync of {args.files} files (reference)", round(first_s, 3), "s"),
                figure("unchanged re-sync", round(unchanged_s, 3), "s", "<= 1 s", unchanged_s <= 1),
                figure(
                    "fetched after 10 changed",
                    len(changed.transferred),
                    "files",
                    "10",
                    len(changed.transferred) == 10,
                ),
                figure("unchanged re-upload", round(repush_s, 3), "s", "<= 1 s", repush_s <= 1),
                figure("uploaded copy identical", int(identical), "bool", "1", identical),
            ],
        )
        return 0 if ok and identical and not repushed.transferred else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
