"""Files a machine keeps for every clone of the project: derived from installed packages, the
project's code and a study's configuration (compiled kernels, jieba's dictionary cache and parsed
dictionary, the frequencies jieba gives a user dictionary: numbers only, no word of it), never
from a study's data, and found by content, so they are the same for every clone and commit that
would make them.

``$PIPELINE_MACHINE_CACHE``, else ``$XDG_CACHE_HOME/pipeline`` (``~/.cache/pipeline``). Deleting
the folder costs one slower run; nothing in it is an input or output of a stage.
"""
from __future__ import annotations

import os
from pathlib import Path


def machine_cache_dir(*parts: str) -> Path:
    """The machine's cache folder (or a path inside it); not created here."""
    given = os.environ.get("PIPELINE_MACHINE_CACHE")
    root = Path(given) if given else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pipeline"
    return root.joinpath(*parts)
