"""The questionnaire as configuration.

An :class:`Instrument` is read from a YAML file (``config/instrument.yaml`` for the demo study)
and is the only place where stage code learns variable names, labels, codes, scales and the
special roles of variables. Nothing here knows about the Ningxia study itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from pipeline.core.errors import PipelineError
from pipeline.core.config import read_yaml

# Full-width ASCII (Ｃ０１２, the ideographic space) as typed in Chinese exports -> plain ASCII.
FULLWIDTH_TO_ASCII = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}

VARIABLE_TYPES = {"categorical", "ordinal", "numeric", "string", "datetime"}
ROLE_KEYS = ("id", "record", "community", "weight", "duration", "submitted", "interviewer", "group")


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

    # -- convenience -------------------------------------------------------------------------
    def role(self, key: str) -> str | None:
        return self.roles.get(key)

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


def _variable(raw: dict[str, Any], value_sets: dict[str, Any], where: str) -> Variable:
    name = raw.get("name")
    if not name:
        raise PipelineError(f"{where}: a variable without a name", hint="every entry needs 'name'")
    vtype = raw.get("type")
    if vtype not in VARIABLE_TYPES:
        raise PipelineError(
            f"{where}: variable '{name}' has type '{vtype}'",
            hint=f"use one of {sorted(VARIABLE_TYPES)}",
        )
    label = raw.get("label") or {"en": name}
    if isinstance(label, str):
        label = {"zh": label, "en": label}
    _check_label(label, f"{where}: variable '{name}'")
    rng = raw.get("range")
    return Variable(
        name=name,
        type=vtype,
        label=dict(label),
        values=_values(raw.get("values"), value_sets, f"{where}: {name}"),
        range=(float(rng[0]), float(rng[1])) if rng else None,
        required=bool(raw.get("required", False)),
        free_text=bool(raw.get("free_text", False)),
        routing=raw.get("routing"),
    )


def load_instrument(path: str | Path) -> Instrument:
    """Read and check an instrument YAML file."""
    path = Path(path)
    raw = read_yaml(path, "instrument file", "check params.yaml: instrument")
    if not isinstance(raw, dict) or "variables" not in raw:
        raise PipelineError(f"{path}: no 'variables' list", hint="see config/instrument.yaml for the format")

    value_sets = raw.get("value_sets") or {}
    variables: dict[str, Variable] = {}
    for entry in raw["variables"]:
        var = _variable(entry, value_sets, str(path))
        if var.name in variables:
            raise PipelineError(f"{path}: variable '{var.name}' defined twice")
        variables[var.name] = var

    roles = {k: v for k, v in (raw.get("roles") or {}).items() if v}
    unknown_roles = set(roles) - set(ROLE_KEYS)
    if unknown_roles:
        raise PipelineError(f"{path}: unknown roles {sorted(unknown_roles)}", hint=f"roles are {ROLE_KEYS}")
    for key in ("id", "community"):
        if key not in roles:
            raise PipelineError(f"{path}: roles.{key} is not set", hint="name the variable that plays it")
    for key, name in roles.items():
        if name not in variables:
            raise PipelineError(f"{path}: roles.{key} names '{name}', which is not a variable")

    missing_codes = {
        int(code): {"reason": str(spec.get("reason", f"code_{code}")), **{k: str(v) for k, v in spec.items()}}
        for code, spec in (raw.get("missing_codes") or {}).items()
    }

    scales: dict[str, Scale] = {}
    for name, spec in (raw.get("scales") or {}).items():
        items = tuple(spec.get("items") or ())
        reverse = tuple(spec.get("reverse") or ())
        for item in items + reverse:
            if item not in variables:
                raise PipelineError(f"{path}: scale '{name}' names '{item}', which is not a variable")
        if not set(reverse) <= set(items):
            raise PipelineError(f"{path}: scale '{name}' reverses items that are not in it")
        label = spec.get("label") or {"en": name}
        _check_label(label, f"{path}: scale '{name}'")
        scales[name] = Scale(
            name=name,
            label=dict(label),
            items=items,
            reverse=reverse,
            min_items=int(spec.get("min_items", len(items))),
        )

    attention = raw.get("attention_check")
    if attention and attention.get("variable") not in variables:
        raise PipelineError(f"{path}: attention_check names an unknown variable")
    grid = tuple(raw.get("straightlining_grid") or ())
    for item in grid:
        if item not in variables:
            raise PipelineError(f"{path}: straightlining_grid names '{item}', which is not a variable")

    comm = raw.get("communities") or {}
    comm_vars = {}
    for entry in comm.get("variables") or []:
        var = _variable(entry, value_sets, f"{path} (communities)")
        comm_vars[var.name] = var

    return Instrument(
        path=path,
        study=dict(raw.get("study") or {}),
        roles=roles,
        missing_codes=missing_codes,
        variables=variables,
        scales=scales,
        attention_check=dict(attention) if attention else None,
        straightlining_grid=grid,
        community_id=comm.get("id"),
        community_variables=comm_vars,
    )


def read_community_ids(path: str | Path, instrument: Instrument) -> set[str]:
    """The community ids of the community file, in the column the instrument names
    (``communities.id``, else the community role), full-width digits normalised."""
    from pipeline.core.files import read_csv_strings

    path = Path(path)
    column = instrument.community_id or instrument.role("community")
    df = read_csv_strings(path, "community file", "pass --communities '' to skip the check")
    if column not in df.columns:
        raise PipelineError(f"{path}: no column '{column}' (the instrument's communities.id)",
                            hint=f"columns are {list(df.columns)[:10]}")
    return {v.translate(FULLWIDTH_TO_ASCII).strip() for v in df[column]}
