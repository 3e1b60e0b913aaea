"""``python -m pipeline <stage> [options]``: run one stage of the pipeline."""
from __future__ import annotations

import importlib
import sys

from pipeline.errors import run_cli

STAGES = {
    "simulate": "pipeline.simulate",
    "survey": "pipeline.survey",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in STAGES:
        print(f"usage: python -m pipeline {{{','.join(STAGES)}}} [options]", file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(STAGES[argv[0]])
    return run_cli(lambda: module.main(argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
