"""vlmhb-data: copy datasets and results between local folders and S3.

  vlmhb-data sync SRC DST [--delete]     mirror the CONTENTS of SRC into DST, like `aws s3 sync`
                                         (local -> s3, s3 -> local, local -> local); only new or
                                         changed files are copied; extra files at DST are kept
                                         unless --delete is given
  vlmhb-data upload-run RUN_DIR URL      upload a run bundle to URL/<run id>/ with a manifest.json

Exit status: 0 done, 1 a transfer failed or was interrupted (run it again to resume),
2 bad input (the message names the URL, key or file).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .sync import SmartSyncManager
from .upload import upload_run
from .urls import DataLayerError, parse_location


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"vlmhb-data: warning: {warning}", file=sys.stderr)


def _sync(args: argparse.Namespace) -> int:
    src, dst = parse_location(args.src), parse_location(args.dst)
    if src.scheme == "local" and (src.path is None or not src.path.is_dir()):
        print(f"vlmhb-data: SRC {args.src!r}: expected an existing folder", file=sys.stderr)
        return 2
    if src.scheme == "s3" and dst.scheme == "s3":
        print(
            "vlmhb-data: copying between two s3:// locations is not supported; "
            "sync through a local folder",
            file=sys.stderr,
        )
        return 2
    manager = SmartSyncManager(endpoint_url=args.endpoint_url)
    result = manager.mirror(args.src, args.dst, delete="all" if args.delete else "none")
    _warn(result.warnings)
    print(result.summary())
    return 0


def _upload_run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        print(f"vlmhb-data: RUN_DIR {args.run_dir!r}: expected an existing folder", file=sys.stderr)
        return 2
    run_id = args.run_id or run_dir.resolve().name
    uploaded = upload_run(run_dir, args.url, run_id, endpoint_url=args.endpoint_url)
    _warn(uploaded.warnings)
    print(
        f"transferred {len(uploaded.uploaded)}, skipped {len(uploaded.skipped)}, "
        f"failed {len(uploaded.missing)}"
    )
    for key in uploaded.missing:
        print(f"  failed {key}: {uploaded.errors.get(key, '')}", file=sys.stderr)
    return 0 if uploaded.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vlmhb-data",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sync = sub.add_parser(
        "sync",
        help="mirror the contents of SRC into DST (each a local folder or s3:// URL)",
        description="Mirror the contents of SRC into DST, like `aws s3 sync`: SRC/x/y lands "
        "at DST/x/y, so syncing back gives the same files. Only new or changed files are "
        "copied. Extra files at DST are kept unless --delete is given. Symbolic links are "
        "not followed out of SRC; S3 folder markers are skipped; names starting with "
        ".vlmhb- are reserved for sync state.",
    )
    sync.add_argument("src", help="local folder or s3://bucket/prefix")
    sync.add_argument("dst", help="local folder or s3://bucket/prefix")
    sync.add_argument(
        "--delete",
        action="store_true",
        help="remove files at DST that are not at SRC (default: keep them)",
    )
    upload = sub.add_parser(
        "upload-run",
        help="upload a run bundle to URL/<run id>/ with a manifest.json",
        description="Upload RUN_DIR to URL/<run id>/ with a manifest.json of sizes and "
        "sha256; unchanged files are skipped on re-upload, and failures list what is missing.",
    )
    upload.add_argument("run_dir", help="the run folder to upload")
    upload.add_argument("url", help="s3://bucket/prefix or a local folder")
    upload.add_argument("--run-id", default=None, help="folder name under URL (default: RUN_DIR's)")
    for command in (sync, upload):
        command.add_argument(
            "--endpoint-url",
            default=None,
            help="S3-compatible server, e.g. http://127.0.0.1:9000 (credentials in it are used "
            "as the key pair and never shown)",
        )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="vlmhb-data: %(message)s")
    try:
        return _sync(args) if args.command == "sync" else _upload_run(args)
    except DataLayerError as exc:
        print(f"vlmhb-data: {exc}", file=sys.stderr)
        return 1 if "interrupted" in str(exc) else 2
    except KeyboardInterrupt:
        print("vlmhb-data: interrupted; run it again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
