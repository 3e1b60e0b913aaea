"""Do the outputs here reproduce the committed ones? For a reviewer: reruns nothing.

``python -m pipeline verify`` compares the current ``processed/``, ``reports/tables/`` and
``metrics/`` with the versions the committed ``dvc.lock`` of the study names (``git show
HEAD:dvc.lock``; the demo study's is ``studies/demo/dvc.lock``). A file's committed content is
read from git when git tracks it (``metrics/``) and otherwise from the DVC cache by the md5 the
lock records (``.dvc/cache/files/md5/..``; a folder's list of files too). It prints, per report
table, whether every displayed number reproduces (the table's displayed cells,
``reports/tables/<table>.csv``, compared as text; its other formats byte for byte), and per
stored file whether it is byte-identical and else the largest relative difference of a value
stored in both. Exit status 0 when every table reproduces and no stored value differs by more
than ``--tolerance``; 1 otherwise (a file missing, a folder whose committed files are not in the
cache and whose hash differs); 2 for a usage error (no committed lock).

Typical use after a fresh clone: ``bash scripts/repro.sh`` (or ``dvc repro``), then
``python -m pipeline verify``. Without the DVC cache of the machine that made the committed
results (no DVC remote is configured), a folder whose hash differs cannot be compared file by
file: verify says so and fails.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.core.compare import Difference, compare_bytes, compare_displayed
from pipeline.core.errors import PipelineError, run_cli

SCOPE = ("processed", "reports/tables", "metrics")
DEMO_LOCK = Path("studies/demo/dvc.lock")
TABLE_FORMATS = (".csv", ".md", ".html", ".tex", ".docx")


@dataclass
class FileCheck:
    """One output file: its path, whether it is byte-identical to the committed version
    (``status``: identical | differs | missing | new | unknown) and, when it differs and the
    committed content is at hand, how (:class:`Difference`)."""
    path: str
    status: str
    diff: Difference = field(default_factory=Difference)
    note: str = ""


# --------------------------------------------------------------------------------------------
# the committed versions: git and the DVC cache
# --------------------------------------------------------------------------------------------
class Committed:
    """Committed content at ``rev``: from git, else from the DVC cache at ``cache``."""

    def __init__(self, rev: str, cache: Path):
        self.rev, self.cache = rev, cache

    def git(self, path: str) -> bytes | None:
        try:
            proc = subprocess.run(["git", "show", f"{self.rev}:{path}"], capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout if proc.returncode == 0 else None

    def cached(self, md5: str) -> bytes | None:
        for place in (self.cache / "files" / "md5" / md5[:2] / md5[2:], self.cache / md5[:2] / md5[2:]):
            if place.is_file():
                return place.read_bytes()
        return None

    def content(self, path: str, md5: str | None) -> bytes | None:
        data = self.git(path)
        if data is not None and (md5 is None or hashlib.md5(data).hexdigest() == md5):
            return data
        return self.cached(md5) if md5 else None

    def listing(self, md5: str) -> dict[str, str] | None:
        """A DVC folder object: relpath -> md5 of each file, or None when not in the cache."""
        data = self.cached(md5)
        if data is None:
            return None
        try:
            return {e["relpath"]: e["md5"] for e in json.loads(data)}
        except (ValueError, KeyError, TypeError):
            return None


def default_cache() -> Path:
    """The DVC cache: ``cache.dir`` of .dvc/config.local or .dvc/config (relative to .dvc/), else .dvc/cache."""
    import configparser

    for name in ("config.local", "config"):
        parser = configparser.ConfigParser()
        try:
            parser.read(Path(".dvc") / name, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option("cache", "dir"):
            return Path(".dvc") / parser.get("cache", "dir").strip().strip("'\"")
    return Path(".dvc/cache")


def default_lock() -> Path:
    """The study's lock: ./dvc.lock when ./dvc.yaml has stages (a study made by init), else the
    demo study's."""
    try:
        top = yaml.safe_load(Path("dvc.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        top = {}
    return Path("dvc.lock") if (top.get("stages") if isinstance(top, dict) else None) else DEMO_LOCK


def committed_outputs(lock: Path, committed: Committed) -> dict[str, str]:
    """Every output the committed lock names (path from the project root -> md5; a folder's
    md5 ends in ``.dir``), with each stage's ``wdir`` from the committed dvc.yaml beside it."""
    text = committed.git(lock.as_posix())
    if text is None:
        raise PipelineError(f"{lock}: no committed version at {committed.rev}",
                            hint="run from the project root of a git checkout; commit dvc.lock after dvc repro "
                                 "(or name the lock with --lock)")
    try:
        stages = (yaml.safe_load(text) or {}).get("stages") or {}
        pipeline = yaml.safe_load(committed.git((lock.parent / "dvc.yaml").as_posix()) or b"") or {}
    except yaml.YAMLError as exc:
        raise PipelineError(f"{lock}: not valid YAML at {committed.rev} ({exc.__class__.__name__})") from None
    defs = pipeline.get("stages") or {} if isinstance(pipeline, dict) else {}
    out: dict[str, str] = {}
    for name, stage in stages.items():
        wdir = (defs.get(name) or {}).get("wdir", ".") if isinstance(defs.get(name), dict) else "."
        base = lock.parent / wdir
        for entry in stage.get("outs") or []:
            path = Path(os.path.normpath(base / entry["path"])).as_posix()
            if entry.get("md5"):
                out[path] = entry["md5"]
    return out


def in_scope(path: str, scope: Iterable[str] = SCOPE) -> bool:
    return any(path == s or path.startswith(s + "/") or s.startswith(path + "/") for s in scope)


# --------------------------------------------------------------------------------------------
# comparing
# --------------------------------------------------------------------------------------------
def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def folder_md5(folder: Path) -> str:
    """The md5 DVC gives a folder: of the sorted list of its files with their md5."""
    listing = sorted(({"md5": _md5(f), "relpath": f.relative_to(folder).as_posix()}
                      for f in folder.rglob("*") if f.is_file()), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def check_file(path: str, md5: str | None, committed: Committed) -> FileCheck:
    here = Path(path)
    if md5 is None:
        return FileCheck(path, "new", note="not in the committed results")
    if not here.is_file():
        return FileCheck(path, "missing", note="committed but not here (run dvc repro)")
    data = here.read_bytes()
    if hashlib.md5(data).hexdigest() == md5:
        return FileCheck(path, "identical")
    old = committed.content(path, md5)
    if old is None:
        return FileCheck(path, "unknown", note="differs; the committed file is not in git or the DVC cache")
    if path.endswith(".csv") and path.startswith("reports/tables/"):
        return FileCheck(path, "differs", compare_displayed(old, data))
    return FileCheck(path, "differs", compare_bytes(path, old, data))


def check_output(path: str, md5: str, committed: Committed, scope: Iterable[str]) -> list[FileCheck]:
    """The files of one committed output (a file, or a folder's files) inside ``scope``."""
    if not md5.endswith(".dir"):
        return [check_file(path, md5, committed)]
    folder = Path(path)
    here = sorted(f.relative_to(folder).as_posix() for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else []
    listing = committed.listing(md5)
    if listing is None:
        if not folder.is_dir():
            return [FileCheck(path + "/", "missing", note="committed but not here (run dvc repro)")]
        if folder_md5(folder) == md5:
            return [FileCheck(f"{path}/{rel}", "identical") for rel in here if in_scope(f"{path}/{rel}", scope)]
        return [FileCheck(path + "/", "unknown", note="the folder differs, and its committed files are not in the "
                                                      "DVC cache here: cannot compare them one by one")]
    names = sorted(set(listing) | set(here))
    return [check_file(f"{path}/{rel}", listing.get(rel), committed) for rel in names if in_scope(f"{path}/{rel}", scope)]


def verify(lock: Path, committed: Committed, scope: Iterable[str] = SCOPE) -> list[FileCheck]:
    scope = tuple(scope)
    checks: list[FileCheck] = []
    for path, md5 in sorted(committed_outputs(lock, committed).items()):
        if in_scope(path, scope):
            checks.extend(check_output(path, md5, committed, scope))
    return checks


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
def _table_files(checks: list[FileCheck]) -> dict[str, dict[str, FileCheck]]:
    """The report's tables: stem -> {suffix: check} for every stem of reports/tables/ with a .csv
    of displayed cells. Other files there (preamble.tex, which every .tex table shares) are no
    table: they are compared as stored files."""
    tables: dict[str, dict[str, FileCheck]] = {}
    for c in checks:
        if c.path.startswith("reports/tables/") and "." in c.path.rsplit("/", 1)[-1]:
            stem, suffix = c.path.rsplit("/", 1)[-1].rsplit(".", 1)
            tables.setdefault(stem, {})["." + suffix] = c
    return {stem: files for stem, files in tables.items() if ".csv" in files}


def _table_lines(tables: dict[str, dict[str, FileCheck]]) -> tuple[list[str], int, int]:
    """One line per report table: its displayed cells and its other formats."""
    lines, ok = [], 0
    for stem, files in sorted(tables.items()):
        shown = files[".csv"]
        others = [s for s, c in sorted(files.items()) if s != ".csv" and c.status != "identical"]
        if shown.status == "identical":
            verdict, good = "every displayed number reproduces", True
        elif shown.status == "differs":
            d = shown.diff
            verdict = (f"DIFFERS: {d.note}" if d.note else
                       f"DIFFERS: {d.n_differ} of {d.n_cells} cells print differently, e.g. {d.example}")
            good = False
        else:
            verdict, good = f"{shown.status.upper()}: {shown.note}", False
        if others:
            verdict += f" (files that differ: {', '.join(others)})"
        ok += good
        lines.append(f"  {stem:<40} {verdict}")
    return lines, ok, len(tables)


def _stored_line(c: FileCheck, tolerance: float) -> str:
    if c.status != "differs":
        return f"  {c.path:<48} {c.status}" + (f": {c.note}" if c.note else "")
    d = c.diff
    if d.note:
        return f"  {c.path:<48} DIFFERS: {d.note}"
    mark = "differs" if d.max_rel <= tolerance else "DIFFERS"
    rel = "a text cell" if math.isinf(d.max_rel) else f"{d.max_rel:.2g}"
    return f"  {c.path:<48} {mark}: {d.n_differ} of {d.n_cells} values, largest relative difference {rel} ({d.where})"


def render(checks: list[FileCheck], lock: Path, rev: str, tolerance: float) -> tuple[str, bool]:
    """The printed report and whether everything reproduces."""
    tables = _table_files(checks)
    table_lines, tables_ok, n_tables = _table_lines(tables)
    in_tables = {id(c) for files in tables.values() for c in files.values()}
    stored = [c for c in checks if id(c) not in in_tables]
    identical = sum(c.status == "identical" for c in stored)
    worst = max((c for c in stored if c.status == "differs"), key=lambda c: c.diff.max_rel, default=None)
    bad = [c for c in stored if c.status in ("missing", "unknown") or
           (c.status == "differs" and (c.diff.note or c.diff.max_rel > tolerance))]
    lines = [f"verify: the outputs here against the results committed in {lock} at {rev}", "",
             f"Report tables ({tables_ok} of {n_tables} reproduce every displayed number)", *table_lines, "",
             f"Stored values ({identical} of {len(stored)} files byte-identical)",
             *(_stored_line(c, tolerance) for c in stored if c.status != "identical")]
    if identical == len(stored):
        lines.append("  every file byte-identical")
    largest = "none" if worst is None else f"{worst.diff.max_rel:.2g} in {worst.path}"
    good = tables_ok == n_tables and not bad
    lines += ["", f"{'REPRODUCES' if good else 'DOES NOT REPRODUCE'}: {tables_ok} of {n_tables} tables reproduce every "
                  f"displayed number; {identical} of {len(stored)} stored files byte-identical; largest relative "
                  f"difference of a stored value: {largest} (tolerance {tolerance:g})"]
    return "\n".join(lines) + "\n", good


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipeline verify", description=__doc__.split("\n")[0])
    ap.add_argument("--lock", default=None, help=f"the study's dvc.lock (default: dvc.lock when dvc.yaml has stages, "
                                                 f"else {DEMO_LOCK})")
    ap.add_argument("--rev", default="HEAD", help="the commit whose results to compare with (default HEAD)")
    ap.add_argument("--cache", default=None, help="the DVC cache holding the committed outputs (default: "
                                                  "cache.dir of .dvc/config, else .dvc/cache)")
    ap.add_argument("--tolerance", type=float, default=1e-8,
                    help="largest relative difference of a stored value still counted as reproduced (default 1e-8: "
                         "a last-digit difference at the 10 significant digits outputs are written with); 0: exact")
    ap.add_argument("--scope", nargs="+", default=list(SCOPE), help=f"output folders to compare (default {' '.join(SCOPE)})")
    args = ap.parse_args(argv)
    lock = Path(args.lock) if args.lock else default_lock()
    checks = verify(lock, Committed(args.rev, Path(args.cache) if args.cache else default_cache()), args.scope)
    text, good = render(checks, lock, args.rev, args.tolerance)
    sys.stdout.write(text)
    if not good:
        raise SystemExit(1)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
