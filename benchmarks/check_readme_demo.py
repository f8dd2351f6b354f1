"""Check that the README's demo table is the one `make demo` writes (`results/demo.json`).

The demo is deterministic (same seed, same bits), so the table in the README must equal the
table rendered from a fresh run's `results/demo.json`. Run after `make demo`:

    python benchmarks/check_readme_demo.py [--readme README.md] [--results results/demo.json]

Exit status 0 when they agree; 1 with both tables printed when they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossbar import format_drift_table

HEAD = "test accuracy (%), median [min, max] of"


def readme_table(text: str) -> str:
    """The first fenced block of the README that starts with the demo table's title."""
    blocks = text.split("```")
    for block in blocks[1::2]:  # the insides of the fences
        body = block.split("\n", 1)[1] if "\n" in block else ""
        if body.lstrip().startswith(HEAD):
            return body.strip("\n")
    raise SystemExit(f"check_readme_demo: no block starting with {HEAD!r} in the README")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--results", type=Path, default=Path("results/demo.json"))
    args = parser.parse_args(argv)
    if not args.results.is_file():
        parser.error(f"--results: {args.results} is not a file (run `make demo` first)")
    fresh = format_drift_table(json.loads(args.results.read_text())).strip("\n")
    written = readme_table(args.readme.read_text())
    if fresh == written:
        print(f"the README's demo table equals {args.results}")
        return 0
    print(f"the README's demo table differs from {args.results}:\n\nREADME:\n{written}\n")
    print(f"{args.results}:\n{fresh}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
