"""``vlmhb-synthetic-docs generate|packets|pages OUT_DIR --seed N --count N --noise LEVEL``.

``generate`` writes single-page documents (VQA, OCR, fields); ``packets`` writes multi-page
documents with shuffled pages (doc-classification, page-order); ``pages`` writes full pages
with Markdown references (doc-parsing). Each prints the fingerprint.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from vlmhb_synthetic_docs.generator import generate
from vlmhb_synthetic_docs.noise import MAX_LEVEL
from vlmhb_synthetic_docs.packets import PACKET_CLASSES, generate_packets
from vlmhb_synthetic_docs.pages import PAGE_CLASSES, generate_pages
from vlmhb_synthetic_docs.render import DOC_CLASSES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vlmhb-synthetic-docs",
        description="Seeded synthetic documents with exact ground truth.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write images, annotation.csv and references")
    gen.add_argument("out_dir")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--count", type=int, default=9)
    gen.add_argument("--noise", type=int, default=1, choices=range(MAX_LEVEL + 1))
    gen.add_argument(
        "--doc-class", action="append", choices=DOC_CLASSES, help="repeat to pick several"
    )
    pkt = commands.add_parser("packets", help="write multi-page documents with shuffled pages")
    pkt.add_argument("out_dir")
    pkt.add_argument("--seed", type=int, default=0)
    pkt.add_argument("--count", type=int, default=6)
    pkt.add_argument("--noise", type=int, default=1, choices=range(MAX_LEVEL + 1))
    pkt.add_argument(
        "--doc-class", action="append", choices=PACKET_CLASSES, help="repeat to pick several"
    )
    pages = commands.add_parser("pages", help="write full pages with Markdown references")
    pages.add_argument("out_dir")
    pages.add_argument("--seed", type=int, default=0)
    pages.add_argument("--count", type=int, default=4)
    pages.add_argument("--noise", type=int, default=1, choices=range(MAX_LEVEL + 1))
    pages.add_argument(
        "--doc-class", action="append", choices=PAGE_CLASSES, help="repeat to pick several"
    )
    args = parser.parse_args(argv)
    if args.command == "packets":
        return _packets(args)
    if args.command == "pages":
        return _pages(args)
    try:
        summary = generate(
            args.out_dir,
            seed=args.seed,
            count=args.count,
            noise=args.noise,
            doc_classes=tuple(args.doc_class or DOC_CLASSES),
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    classes = Counter(d.doc_class for d in summary.documents)
    print(
        f"wrote {summary.count} documents "
        f"({', '.join(f'{n} {c}' for c, n in sorted(classes.items()))}) and "
        f"{summary.vqa_questions} VQA questions to {summary.out_dir} "
        f"(seed {summary.seed}, noise {summary.noise})"
    )
    for task, path in summary.files.items():
        print(f"  {task}: {path}")
    print(f"fingerprint {summary.fingerprint}")
    return 0


def _packets(args: argparse.Namespace) -> int:
    try:
        summary = generate_packets(
            args.out_dir,
            seed=args.seed,
            count=args.count,
            noise=args.noise,
            doc_classes=tuple(args.doc_class or PACKET_CLASSES),
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pages = sum(len(p.images) for p in summary.packets)
    print(
        f"wrote {summary.count} packets ({pages} pages) to {summary.out_dir} "
        f"(seed {summary.seed}, noise {summary.noise})"
    )
    for task, path in summary.files.items():
        print(f"  {task}: {path}")
    print(f"fingerprint {summary.fingerprint}")
    return 0


def _pages(args: argparse.Namespace) -> int:
    try:
        summary = generate_pages(
            args.out_dir,
            seed=args.seed,
            count=args.count,
            noise=args.noise,
            doc_classes=tuple(args.doc_class or PAGE_CLASSES),
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    classes = Counter(p.doc_class for p in summary.pages)
    print(
        f"wrote {summary.count} pages "
        f"({', '.join(f'{n} {c}' for c, n in sorted(classes.items()))}) to {summary.out_dir} "
        f"(seed {summary.seed}, noise {summary.noise})"
    )
    for task, path in summary.files.items():
        print(f"  {task}: {path}")
    print(f"fingerprint {summary.fingerprint}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
