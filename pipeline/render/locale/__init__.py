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


# What the study's clusters are called ([[unit]], [[units]], [[Units]] in the phrases: not {fields},
# which .format fills): study knowledge,
# so params.yaml report.cluster_unit sets it (:func:`use_cluster_unit`); the default is the demo's.
DEFAULT_UNIT = {"zh": ("社区", "社区", "社区"), "en": ("community", "communities", "Communities")}
_unit = dict(DEFAULT_UNIT)


def use_cluster_unit(zh: str | None = None, en: str | None = None, en_plural: str | None = None) -> None:
    """Name the study's clusters in every phrase from now on (school: 学校, schools); None: the
    default (社区, community). The phrases are read anew."""
    _unit["zh"] = (zh,) * 3 if zh else DEFAULT_UNIT["zh"]
    if en:
        plural = en_plural or (en[:-1] + "ies" if en.endswith("y") and en[-2:-1] not in "aeiou" else en + "s")
        _unit["en"] = (en, plural, plural[:1].upper() + plural[1:])
    else:
        _unit["en"] = DEFAULT_UNIT["en"]
    phrases_of.cache_clear()


def _with_unit(value: Any, words: tuple[str, str, str]) -> Any:
    if isinstance(value, str):
        return value.replace("[[unit]]", words[0]).replace("[[units]]", words[1]).replace("[[Units]]", words[2])
    if isinstance(value, Mapping):
        return {k: _with_unit(v, words) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_unit(v, words) for v in value]
    return value


@lru_cache(maxsize=None)
def phrases_of(lang: str) -> Mapping[str, Any]:
    """Every phrase of ``lang`` (its YAML file, read once), the clusters named as the study names
    them (:func:`use_cluster_unit`)."""
    path = FOLDER / f"{lang}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in FOLDER.glob("*.yaml"))
        raise PipelineError(f"report language '{lang}' has no locale file {path.name}", f"use one of {known}")
    return _with_unit(load_yaml_text(path.read_text(encoding="utf-8")), _unit.get(lang, DEFAULT_UNIT["en"]))


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
