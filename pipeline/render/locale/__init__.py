"""The fixed words of the tables, figures and report, in every language the report speaks.

One YAML file per language beside this module (``zh.yaml``, ``en.yaml``), the same keys in each,
grouped by where they are used: ``tables``, ``methods``, ``figures``, ``report``. Study knowledge
is not here: labels of scales, variables and values come from the instrument, captions and term
labels from ``params.yaml``. The files ship with the package (``pyproject.toml``:
``[tool.setuptools.package-data]``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from pipeline.core.config import load_yaml_text
from pipeline.core.errors import PipelineError

FOLDER = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def phrases_of(lang: str) -> Mapping[str, Any]:
    """Every phrase of ``lang`` (its YAML file, read once)."""
    path = FOLDER / f"{lang}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in FOLDER.glob("*.yaml"))
        raise PipelineError(f"report language '{lang}' has no locale file {path.name}", f"use one of {known}")
    return load_yaml_text(path.read_text(encoding="utf-8"))


def phrases(section: str, lang: str) -> Mapping[str, Any]:
    """One section (``tables``, ``methods``, ``figures``, ``report``) of ``lang``'s phrases."""
    return phrases_of(lang)[section]


def text(key: str, lang: str, **fmt: Any) -> Any:
    """The phrase ``key`` ("<section>.<key>[.<key>...]") in ``lang``, its ``{fields}`` filled from
    ``fmt`` (a phrase is returned as written when no field is given). A key that names a list or a
    mapping (the joint display's column heads, its verdicts) returns it whole."""
    value: Any = phrases_of(lang)
    for part in key.split("."):
        value = value[part]
    return value.format(**fmt) if fmt else value


def lower_first(label: str, lang: str) -> str:
    """A label inside an English sentence ("Models of trust in neighbours"): its first letter
    lower-cased when it begins a plain capitalised word (Trust, Ethnicity), not an acronym or a
    variable name (SSB_CONSUMPTION, HIV status, Q3); other languages as they are."""
    if lang != "en" or len(label) < 2 or not (label[0].isupper() and label[1].islower()):
        return label
    return label[0].lower() + label[1:]
