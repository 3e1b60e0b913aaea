"""Typed configuration: a strict base model and errors a researcher can act on.

Every configuration file the pipeline reads is described by pydantic models built on
:class:`Section` (``params.yaml`` in :mod:`pipeline.core.settings`, the instrument's shape in
:mod:`pipeline.core.instrument`). :func:`parse` validates a mapping against such a model and
turns every problem into one :class:`~pipeline.core.errors.PipelineError` line naming the file
and the dotted key:

- unknown keys (a typo is never ignored), each with the nearest allowed key:
  ``params.yaml: unknown keys: survey.speeder.fracton (did you mean 'fraction'?)``;
- a wrong type, a value out of range, a missing key: ``params.yaml: models.mediation.n_boot is
  '1000 draws', expected an integer``.

Types are strict: YAML gives ints, floats, strings and booleans as they are, and ``"1000"`` is
not an integer nor ``1`` true; an integer is accepted where a number is expected.
"""
from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.core.errors import PipelineError

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """A part of a configuration file: unknown keys are errors, types are strict, values read-only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def given(self) -> dict[str, Any]:
        """The keys given in the file (nested sections too), without the defaults filled in."""
        return self.model_dump(exclude_unset=True, by_alias=True)


def parse(model: type[M], data: Any, where: str = "", source: str | Path = "params.yaml") -> M:
    """``data`` (a mapping from YAML, or already a ``model``) as ``model``; any problem is one
    PipelineError line naming ``source`` and the dotted key (``where`` is the section's own key)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        prefix = tuple(where.split(".")) if where else ()
        raise PipelineError(describe(exc, model, data, str(source), prefix)) from None


# ---------------------------------------------------------------------------------------------
# error messages
# ---------------------------------------------------------------------------------------------
_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "string_type": "a string",
    "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
    "tuple_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "none_required": "null", "date_type": "a date",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def describe(exc: ValidationError, model: type[BaseModel], data: Any, source: str, prefix: tuple = ()) -> str:
    """One line for every problem pydantic found: the unknown keys (each with the nearest
    allowed key), else the first other problem (and how many more there are)."""
    found = [(_clean_loc(e["loc"], data, e["type"]), {**e, "key": "[key]" in e["loc"]})
             for e in exc.errors(include_url=False)]
    unknown = [(loc, e) for (loc, _), e in found if e["type"] == "extra_forbidden"]
    others = [(loc, tagged, e) for (loc, tagged), e in found if e["type"] != "extra_forbidden"]
    # a union's alternatives: drop the one whose error lies above a more specific one
    deeper = [loc for loc, _, _ in others] + [loc for loc, _ in unknown]
    others = [(loc, tagged, e) for loc, tagged, e in others
              if not (tagged and any(len(o) > len(loc) and o[:len(loc)] == loc for o in deeper))]
    if unknown:
        parts = []
        for loc, _ in unknown:
            allowed = _keys_at(model, loc[:-1])
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            name = _dotted(prefix + loc)
            if near:
                parts.append(f"{name} (did you mean '{near[0]}'?)")
            else:
                parts.append(f"{name} (allowed: {', '.join(allowed)})" if allowed and len(unknown) == 1 else name)
        more = f" (and {len(others)} more problem{'s' * (len(others) > 1)})" if others else ""
        return f"{source}: unknown keys: {', '.join(parts)}{more}"
    merged: dict[tuple, list[dict]] = {}
    for loc, _, e in others:
        merged.setdefault(loc, []).append(e)
    loc, errors = next(iter(merged.items()))
    more = f" (and {len(merged) - 1} more problem{'s' * (len(merged) > 2)})" if len(merged) > 1 else ""
    return f"{source}: {_problem(prefix + loc, errors)}{more}"


def _problem(loc: tuple, errors: list[dict]) -> str:
    name = _dotted(loc) or "the file"
    first = errors[0]
    if first["type"] == "missing":
        return f"{name} is missing"
    if first["type"] in ("value_error", "assertion_error"):
        return f"{name}: {first['ctx']['error']}" if "ctx" in first else f"{name}: {first['msg']}"
    value = _show(first["input"])
    if first["type"] == "literal_error":
        choices = re.findall(r"'([^']*)'", first["ctx"]["expected"])
        near = difflib.get_close_matches(str(first["input"]), choices, n=1)
        return (f"{name} {value} is unknown, expected one of {first['ctx']['expected']}"
                + (f" (did you mean '{near[0]}'?)" if near else ""))
    expected = " or ".join(dict.fromkeys(_expected(e) for e in errors))
    if first.get("key"):
        return f"{name}: the key {value} is not {expected}"
    return f"{name} is {value}, expected {expected}"


def _expected(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in _BOUNDS:
        return f"a number {_BOUNDS[kind]} {next(iter(ctx.values()))}"
    if kind == "literal_error":
        return f"one of {ctx['expected']}"
    if kind == "too_short":
        return f"at least {ctx['min_length']} item{'s' * (ctx['min_length'] != 1)}"
    if kind == "too_long":
        return f"at most {ctx['max_length']} item{'s' * (ctx['max_length'] != 1)}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    return error["msg"][:1].lower() + error["msg"][1:]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) and out else ("." if out else "") + str(part)
    return out


def _clean_loc(loc: tuple, data: Any, kind: str) -> tuple[tuple, bool]:
    """The error's location as keys of the file: pydantic's union-member tags (``int``, a
    class name, ``[key]``) are left out. Returns (location, whether a tag was left out)."""
    out: list = []
    tagged = False
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, Mapping) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, Sequence) and not isinstance(cur, str) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif last and kind in ("missing", "extra_forbidden") and isinstance(cur, Mapping):
            out.append(part)
        else:
            tagged = True
    return tuple(out), tagged


def _keys_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed in the mapping at ``loc`` of ``model`` (for "did you mean")."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    found = _model_in(tp)
    return [f.alias or name for name, f in found.model_fields.items()] if found else []


def _members(tp: Any) -> list[Any]:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [tp]


def _model_in(tp: Any) -> type[BaseModel] | None:
    return next((m for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)), None)


def _step(tp: Any, part: Any) -> Any:
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            for name, f in member.model_fields.items():
                if (f.alias or name) == part:
                    return f.annotation
        elif get_origin(member) in (dict, Mapping) and get_args(member):
            return get_args(member)[1]
        elif get_origin(member) in (list, Sequence) and get_args(member) and isinstance(part, int):
            return get_args(member)[0]
    return None
