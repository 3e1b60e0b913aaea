"""Errors a researcher can act on.

A :class:`PipelineError` is an expected failure (bad input, bad configuration). The command
line prints it as one message naming the file, variable or rows and what to do, and exits
with status 2. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
from collections.abc import Callable


class PipelineError(Exception):
    """An expected failure, reported without a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


def run_cli(main: Callable[[], None]) -> int:
    """Run a stage entry point, turning a PipelineError into one line on stderr and exit 2."""
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
