"""``vlmhb-synthetic-docs generate|packets|pages OUT_DIR --seed N --count N --noise LEVEL``.

``generate`` writes single-page documents (VQA, OCR, fields); ``packets`` writes multi-page
documents with shuffled pages (doc-classification, page-order); ``pages`` writes full pages
with Markdown references (doc-parsing). Each prints the fingerprint.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vlmhb_synthetic_docs.generator import generate
from vlmhb_synthetic_docs.noise import MAX_LEVEL
from vlmhb_synthetic_docs.packets import PACKET_CLASSES, generate_packets
from vlmhb_synthetic_docs.pages import PAGE_CLASSES, generate_pages
from vlmhb_synthetic_docs.render import DOC_CLASSES


def _classes(items: list[Any]) -> str:
    counts = Counter(item.doc_class for item in items)
    return ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))


@dataclass(frozen=True)
class _Command:
    """One sub-command: its generator, its classes and default count, and its first line."""

    help: str
    make: Callable[..., Any]
    classes: tuple[str, ...]
    count: int
    describe: Callable[[Any], str]


COMMANDS = {
    "generate": _Command(
        "write images, annotation.csv and references",
        generate,
        DOC_CLASSES,
        9,
        lambda s: (
            f"wrote {s.count} documents ({_classes(s.documents)}) and "
            f"{s.vqa_questions} VQA questions"
        ),
    ),
    "packets": _Command(
        "write multi-page documents with shuffled pages",
        generate_packets,
        PACKET_CLASSES,
        6,
        lambda s: f"wrote {s.count} packets ({sum(len(p.images) for p in s.packets)} pages)",
    ),
    "pages": _Command(
        "write full pages with Markdown references",
        generate_pages,
        PAGE_CLASSES,
        4,
        lambda s: f"wrote {s.count} pages ({_classes(s.pages)})",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vlmhb-synthetic-docs",
        description="Seeded synthetic documents with exact ground truth.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help)
        sub.add_argument("out_dir")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--count", type=int, default=command.count)
        sub.add_argument("--noise", type=int, default=1, choices=range(MAX_LEVEL + 1))
        sub.add_argument(
            "--doc-class", action="append", choices=command.classes, help="repeat to pick several"
        )
    args = parser.parse_args(argv)
    command = COMMANDS[args.command]
    try:
        summary = command.make(
            args.out_dir,
            seed=args.seed,
            count=args.count,
            noise=args.noise,
            doc_classes=tuple(args.doc_class or command.classes),
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{command.describe(summary)} to {summary.out_dir} "
        f"(seed {summary.seed}, noise {summary.noise})"
    )
    for task, path in summary.files.items():
        print(f"  {task}: {path}")
    print(f"fingerprint {summary.fingerprint}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
