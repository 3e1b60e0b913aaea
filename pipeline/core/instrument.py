"""The questionnaire as configuration.

An :class:`Instrument` is read from a YAML file (``config/instrument.yaml`` for the demo study)
and is the only place where stage code learns variable names, labels, codes, scales and the
special roles of variables. Nothing here knows about the Ningxia study itself.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from pipeline.core.errors import PipelineError
from pipeline.core.config import read_yaml
from pipeline.core.schema import Section, parse

# Full-width ASCII (Ｃ０１２, the ideographic space) as typed in Chinese exports -> plain ASCII.
FULLWIDTH_TO_ASCII = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}

TEXT_COMMUNITY = "community"   # the texts' community column in a study without an instrument

VariableType = Literal["categorical", "ordinal", "numeric", "string", "datetime"]
RoleKey = Literal["id", "record", "community", "weight", "duration", "submitted", "interviewer", "group"]
VARIABLE_TYPES = set(get_args(VariableType))
ROLE_KEYS = get_args(RoleKey)


# -- the file's shape: unknown keys are errors (with the nearest known key), see pipeline/core/settings.py --
class VariableEntry(Section):
    name: Annotated[str, Field(min_length=1)]
    type: VariableType
    label: Any = None                      # {zh, en} or one text (checked by _check_label)
    values: str | dict[int, Any] | None = None   # code -> label, or the name of a value set
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    required: bool = False
    free_text: bool = False
    routing: dict[str, Any] | None = None


class ScaleEntry(Section):
    label: Any = None
    items: list[str] = Field(default_factory=list)
    reverse: list[str] = Field(default_factory=list)
    min_items: Annotated[int, Field(ge=1)] | None = None     # None: all items


class AttentionCheck(Section):
    variable: str
    correct: int | float


class CommunitiesEntry(Section):
    id: str | None = None
    variables: list[VariableEntry] = Field(default_factory=list)


class InstrumentFile(Section):
    study: dict[str, Any] = Field(default_factory=dict)
    roles: dict[RoleKey, str | None] = Field(default_factory=dict)
    missing_codes: dict[int, dict[str, Any]] = Field(default_factory=dict)
    value_sets: dict[str, dict[int, Any]] = Field(default_factory=dict)
    variables: list[VariableEntry]
    scales: dict[str, ScaleEntry] = Field(default_factory=dict)
    attention_check: AttentionCheck | None = None
    straightlining_grid: list[str] = Field(default_factory=list)
    communities: CommunitiesEntry | None = None


@dataclass(frozen=True)
class Variable:
    """One questionnaire variable."""

    name: str
    type: str
    label: dict[str, str]
    values: dict[int, dict[str, str]] = field(default_factory=dict)
    range: tuple[float, float] | None = None
    required: bool = False
    free_text: bool = False
    routing: dict[str, Any] | None = None

    def label_in(self, lang: str) -> str:
        return self.label.get(lang) or next(iter(self.label.values()), self.name)

    def value_labels(self, lang: str) -> dict[int, str]:
        return {code: lab.get(lang) or next(iter(lab.values())) for code, lab in self.values.items()}

    @property
    def valid_codes(self) -> list[int]:
        return sorted(self.values)

    def is_valid(self, value: float) -> bool:
        """Whether a non-missing value is a legal answer (inside the labels or the range)."""
        if self.values:
            return float(value) in {float(c) for c in self.values}
        if self.range is not None:
            return self.range[0] <= float(value) <= self.range[1]
        return True


@dataclass(frozen=True)
class Scale:
    name: str
    label: dict[str, str]
    items: tuple[str, ...]
    reverse: tuple[str, ...]
    min_items: int


@dataclass(frozen=True)
class Instrument:
    """Everything study-specific about a questionnaire."""

    path: Path
    study: dict[str, Any]
    roles: dict[str, str]
    missing_codes: dict[int, dict[str, str]]
    variables: dict[str, Variable]
    scales: dict[str, Scale]
    attention_check: dict[str, Any] | None
    straightlining_grid: tuple[str, ...]
    community_id: str | None
    community_variables: dict[str, Variable]
    communities_declared: bool = False   # the file has a communities: section (a community file)
    missing_scope: dict[int, tuple[str, ...]] = field(default_factory=dict)   # code -> the only variables it applies to

    # -- convenience -------------------------------------------------------------------------
    def role(self, key: str) -> str | None:
        return self.roles.get(key)

    def missing_codes_of(self, name: str) -> dict[int, dict[str, str]]:
        """The missing codes of variable ``name``: every code without a ``variables`` list, and the
        codes whose list names it (a code that is an answer elsewhere: 5 "Refused" of a 1-4 item)."""
        return {c: spec for c, spec in self.missing_codes.items() if c not in self.missing_scope or name in self.missing_scope[c]}

    def missing_reason(self, code: float) -> str | None:
        for c, spec in self.missing_codes.items():
            if float(c) == float(code):
                return spec["reason"]
        return None

    @property
    def missing_code_values(self) -> list[int]:
        return sorted(self.missing_codes)

    @property
    def required(self) -> list[str]:
        return [v.name for v in self.variables.values() if v.required]

    @property
    def scale_items(self) -> list[str]:
        return [item for s in self.scales.values() for item in s.items]

    def labels(self, lang: str) -> dict[str, str]:
        return {name: v.label_in(lang) for name, v in self.variables.items()}


LANGUAGES = {"zh", "en"}


def _check_label(label: Any, where: str) -> None:
    """A label is {zh, en}; any other key means YAML split a label at an unquoted comma."""
    if not isinstance(label, dict) or not set(label) <= LANGUAGES or not all(isinstance(v, str) for v in label.values()):
        raise PipelineError(
            f"{where}: label {label!r} is not a mapping of zh/en to text",
            hint="quote labels that contain a comma or a colon",
        )


def _values(spec: Any, value_sets: dict[str, Any], where: str) -> dict[int, dict[str, str]]:
    if spec is None:
        return {}
    if isinstance(spec, str):
        if spec not in value_sets:
            raise PipelineError(f"{where}: unknown value set '{spec}'", hint="define it under value_sets")
        spec = value_sets[spec]
    out: dict[int, dict[str, str]] = {}
    for code, lab in spec.items():
        lab = lab if isinstance(lab, dict) else {"zh": str(lab), "en": str(lab)}
        _check_label(lab, f"{where}: value {code}")
        out[int(code)] = lab
    return out


def _variable(entry: VariableEntry, value_sets: dict[str, Any], where: str) -> Variable:
    name = entry.name
    label = entry.label or {"en": name}
    if isinstance(label, str):
        label = {"zh": label, "en": label}
    _check_label(label, f"{where}: variable '{name}'")
    rng = entry.range
    return Variable(
        name=name,
        type=entry.type,
        label=dict(label),
        values=_values(entry.values, value_sets, f"{where}: {name}"),
        range=(float(rng[0]), float(rng[1])) if rng else None,
        required=entry.required,
        free_text=entry.free_text,
        routing=entry.routing,
    )


SCALE_ITEM_TYPES = ("ordinal", "categorical", "numeric")


def _roles(spec: InstrumentFile, variables: dict[str, Variable], path: Path) -> dict[str, str]:
    """The roles that are set: each names a variable, no variable plays two roles, and the
    community id is text. No role is required here (a stage says what it needs): a study
    without clusters has no community role, an anonymous survey no respondent id."""
    roles = {k: v for k, v in spec.roles.items() if v}
    for key, name in roles.items():
        if name not in variables:
            raise PipelineError(f"{path}: roles.{key} names '{name}', which is not a variable",
                                hint=_did_you_mean(name, variables, "use a variable name of the instrument"))
    seen: dict[str, str] = {}
    for key, name in roles.items():
        if name in seen:
            raise PipelineError(f"{path}: roles.{seen[name]} and roles.{key} both name '{name}'",
                                hint="a variable plays one role; name another variable for one of them")
        seen[name] = key
    com = roles.get("community")
    if com and variables[com].type != "string":
        raise PipelineError(f"{path}: roles.community '{com}' is {variables[com].type}; a community id is text",
                            hint=f"make '{com}' type: string (numbers are read as text: 1224.0 -> '1224')")
    return roles


def _did_you_mean(name: str, names: Iterable[str], otherwise: str) -> str:
    """'did you mean ...?' for the names closest to ``name`` (a case slip first), else ``otherwise``."""
    names = [str(n) for n in names]
    close = [n for n in names if n.lower() == name.lower()] or difflib.get_close_matches(name, names, n=3)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else otherwise


def _scale(name: str, scale: ScaleEntry, variables: dict[str, Variable], path: Path) -> Scale:
    items = tuple(scale.items)
    reverse = tuple(scale.reverse)
    for item in items + reverse:
        if item not in variables:
            raise PipelineError(f"{path}: scale '{name}' names '{item}', which is not a variable",
                                hint=_did_you_mean(item, variables, "use a variable name of the instrument"))
    for item in items:
        if variables[item].type not in SCALE_ITEM_TYPES:
            raise PipelineError(f"{path}: scale '{name}' item '{item}' is {variables[item].type}, not a number",
                                hint=f"scale items are {', '.join(SCALE_ITEM_TYPES)}")
        codes = sorted(float(c) for c in variables[item].values)
        steps = {b - a for a, b in zip(codes, codes[1:])}
        if len(steps) > 1:
            shown = ", ".join(f"{c:g}" for c in codes[:8]) + (", ..." if len(codes) > 8 else "")
            raise PipelineError(f"{path}: scale '{name}' item '{item}' has codes {shown}, not one evenly spaced response "
                                "scale (a multiple choice coded 13, 145, ...? a missing-value code among the values?); "
                                "its codes would be averaged as numbers",
                                hint=f"remove '{item}' from scales.{name}.items, or move missing-value codes to "
                                     "missing_codes")
    outside = [item for item in reverse if item not in items]
    if outside:
        raise PipelineError(f"{path}: scale '{name}' reverses items that are not in it: {', '.join(outside)}",
                            hint=f"add them to scales.{name}.items or remove them from its reverse list")
    unlabelled = [item for item in reverse if not variables[item].values]
    if unlabelled:
        raise PipelineError(f"{path}: scale '{name}' reverses '{unlabelled[0]}', which has no value labels to reflect over",
                            hint="give the item its value labels (values:); a reversed code is min + max - code")
    if len(set(items)) != len(items):
        raise PipelineError(f"{path}: scale '{name}' lists an item twice")
    if scale.min_items is not None and scale.min_items > len(items):
        raise PipelineError(f"{path}: scale '{name}' needs {scale.min_items} answered items (min_items) but has {len(items)}")
    label = scale.label or {"en": name}
    _check_label(label, f"{path}: scale '{name}'")
    return Scale(name=name, label=dict(label), items=items, reverse=reverse,
                 min_items=scale.min_items if scale.min_items is not None else len(items))


def load_instrument(path: str | Path | None) -> Instrument:
    """Read and check an instrument YAML file (None: the parameter file names none, an error)."""
    if path is None or str(path).strip() == "":
        raise PipelineError("params.yaml: no instrument", hint="the survey's stages need `instrument: <file>` "
                            "(the questionnaire as configuration); only a study of texts alone can do without")
    path = Path(path)
    raw = read_yaml(path, "instrument file", "check params.yaml: instrument")
    if not isinstance(raw, dict) or "variables" not in raw:
        raise PipelineError(f"{path}: no 'variables' list", hint="see config/instrument.yaml for the format")
    spec = parse(InstrumentFile, raw, source=path)

    value_sets = spec.value_sets
    variables: dict[str, Variable] = {}
    for entry in spec.variables:
        var = _variable(entry, value_sets, str(path))
        if var.name in variables:
            raise PipelineError(f"{path}: variable '{var.name}' defined twice")
        variables[var.name] = var

    roles = _roles(spec, variables, path)
    missing_codes = {
        code: {"reason": str(what.get("reason", f"code_{code}")), **{k: str(v) for k, v in what.items() if k != "variables"}}
        for code, what in spec.missing_codes.items()
    }
    missing_scope = {code: _scope(code, what["variables"], variables, path)
                     for code, what in spec.missing_codes.items() if "variables" in what}

    scales = {name: _scale(name, scale, variables, path) for name, scale in spec.scales.items()}

    attention = spec.attention_check
    if attention and attention.variable not in variables:
        raise PipelineError(f"{path}: attention_check names '{attention.variable}', which is not a variable")
    grid = tuple(spec.straightlining_grid)
    for item in grid:
        if item not in variables:
            raise PipelineError(f"{path}: straightlining_grid names '{item}', which is not a variable")

    if spec.communities is not None and not roles.get("community"):
        raise PipelineError(f"{path}: the communities: section describes a community file, but roles.community is not set",
                            hint="name the survey variable that holds the community id under roles.community, "
                            "or remove the communities: section")
    comm = spec.communities or CommunitiesEntry()
    comm_vars = {}
    for entry in comm.variables:
        var = _variable(entry, value_sets, f"{path} (communities)")
        comm_vars[var.name] = var

    return Instrument(
        path=path,
        study=dict(spec.study),
        roles=roles,
        missing_codes=missing_codes,
        variables=variables,
        scales=scales,
        attention_check=attention.given() if attention else None,
        straightlining_grid=grid,
        community_id=comm.id,
        community_variables=comm_vars,
        communities_declared=spec.communities is not None,
        missing_scope=missing_scope,
    )


def _scope(code: int, names: Any, variables: dict[str, Variable], path: Path) -> tuple[str, ...]:
    """``missing_codes.<code>.variables``: the variables the code is missing in (elsewhere an answer)."""
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise PipelineError(f"{path}: missing_codes.{code}.variables must be a list of variable names",
                            hint="leave it out for a code that is missing in every variable")
    for name in names:
        if name not in variables:
            raise PipelineError(f"{path}: missing_codes.{code}.variables names '{name}', which is not a variable",
                                hint=_did_you_mean(name, variables, "use a variable name of the instrument"))
    return tuple(names)


def no_instrument() -> Instrument:
    """The instrument of a study of texts alone: no variables, scales or roles (labels then come
    from the names themselves)."""
    return Instrument(path=Path("(no instrument)"), study={}, roles={}, missing_codes={}, variables={}, scales={},
                      attention_check=None, straightlining_grid=(), community_id=None, community_variables={})


def community_column(path: str | Path | None) -> str:
    """The name of the community id column of the text stages' outputs (units, questions, codes,
    documents): the instrument's ``communities.id``, else its community role; without an
    instrument (a study of texts alone) ``community``."""
    if path is None or str(path).strip() == "":
        return TEXT_COMMUNITY
    instrument = load_instrument(path)
    return instrument.community_id or instrument.role("community") or TEXT_COMMUNITY


def text_community(path: str | Path | None, columns: Iterable[str]) -> str | None:
    """The community column of the text stages' outputs whose columns are ``columns``
    (:func:`community_column` of the instrument at ``path``), or None when they have none."""
    name = community_column(path)
    return name if name in set(columns) else None
