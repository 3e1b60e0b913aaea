"""``python -m pipeline purge``: remove the copies of superseded text after a redaction fix.

Not a stage of dvc.yaml: a command to run after the redaction rules, the word lists, the
manifest's roster or the code changed and ``dvc repro`` made new outputs. Old text that may hold
what the fix now redacts is then still in two caches:

1. the token cache (``params.yaml: transcripts.cache_dir``): its entries are keyed by the
   dictionary and the redaction (config, word lists, code: a fix is a new folder) and named by
   the redacted texts. ``purge`` removes every folder but the current one and, in it, every
   entry the last run of the transcripts stage did not use (its ``index.txt``);
2. DVC's cache (``.dvc/cache``), which keeps every version of ``processed/transcripts`` and
   of what was made from it. ``purge`` prints the ``dvc gc`` command that keeps only what the
   workspace uses, or runs it with ``--dvc``. DVC's own index of file paths outside the project
   (its site cache, which holds the paths of raw files) is named too, and removed with ``--dvc``.

It prints counts, never file names or text.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.core import config
from pipeline.core.errors import PipelineError
from pipeline.text.corpus import token_cache_key
from pipeline.text.rules import load_rules
from pipeline.text.segment import purge_cache, resolve_engine, resolve_userdict, segmenter_spec

DVC_GC = ["dvc", "gc", "--workspace", "--force"]


def current_cache_key(params: dict) -> tuple[str | None, str]:
    """The token cache folder of ``params.yaml: transcripts`` (None: no cache) and its current key."""
    cfg = config.section(params, "transcripts")
    root = cfg.get("cache_dir") or None
    rules = load_rules(cfg.get("config", "config/transcripts.yaml"), cfg.get("stopwords", "config/stopwords.txt"))
    jieba_cache = str(cfg.get("jieba_cache", ".cache/jieba.cache"))
    words = resolve_userdict(cfg.get("userdict", "config/userdict.txt"), jieba_cache)
    spec = segmenter_spec(resolve_engine(str(cfg.get("engine", "auto"))), words, jieba_cache)
    return root, token_cache_key(spec, rules)


def dvc_site_cache() -> Path | None:
    """DVC's folder outside the project for this repository (its hash and path index), if any."""
    try:
        from dvc.repo import Repo

        with Repo(".") as repo:
            path = Path(repo.site_cache_dir)
    except Exception:                         # not a DVC repository, or DVC missing: nothing to name
        return None
    return path if path.exists() else None


def run_dvc_gc(cwd: Path) -> int:
    if shutil.which(DVC_GC[0]) is None:
        raise PipelineError("purge --dvc: the dvc command is not installed", hint="pip install -r requirements.lock")
    return subprocess.run(DVC_GC, cwd=cwd, check=False).returncode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline purge", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--dvc", action="store_true",
                        help=f"also run `{' '.join(DVC_GC)}` and remove DVC's site cache of this repository")
    args = parser.parse_args(argv)
    params = config.load_params(args.params)
    root, key = current_cache_key(params)
    if root is None:
        print("purge: no token cache (params.yaml: transcripts.cache_dir is null)")
    else:
        folders, entries = purge_cache(root, key)
        print(f"purge: token cache {root}: removed {folders} superseded folder(s) and {entries} entr(y/ies) "
              f"the last transcripts run did not use; kept {key[:16]}/")
    site = dvc_site_cache()
    if not args.dvc:
        print(f"purge: DVC's cache still holds earlier versions of the outputs; to keep only what the workspace uses, run:\n"
              f"  {' '.join(DVC_GC)}\n"
              f"  (and `dvc gc --workspace --cloud --force` to do the same on the DVC remote, if the old outputs were pushed)")
        if site is not None:
            print(f"purge: DVC's index outside the project holds the paths of tracked files (raw file names): {site} "
                  "(remove it with --dvc; DVC rebuilds it)")
        return
    code = run_dvc_gc(Path.cwd())
    if code != 0:
        raise PipelineError(f"purge --dvc: `{' '.join(DVC_GC)}` failed (exit {code})", hint="run it by hand to see why")
    if site is not None:
        shutil.rmtree(site, ignore_errors=True)
        print(f"purge: removed DVC's site cache {site}")
    print("purge: done", file=sys.stderr)


if __name__ == "__main__":
    from pipeline.core.errors import run_cli

    raise SystemExit(run_cli(main))
