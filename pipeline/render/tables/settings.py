"""The report's table settings: ``params.yaml: report`` as the renderer reads it, a plain dict.

The keys and their defaults are written once, in :class:`pipeline.core.settings.Report`; this
module only turns the checked section into the dict the table builders take, and adds what the
report stage gathers from elsewhere (``themes``, ``derived``, ``invariance``, ``model_specs``)."""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.core.schema import parse
from pipeline.core.settings import Invariance, Report

LABEL_MAPS = ("term_labels", "role_labels", "model_tables")   # {key: {zh, en}}: a language left out stays out
UNTITLED = {"zh": "", "en": ""}                                # the title is the report stage's to check


def _as_dict(report: Report) -> dict[str, Any]:
    out = report.model_dump(exclude={"title"})
    for key in LABEL_MAPS:
        out[key] = {k: v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v
                    for k, v in getattr(report, key).items()}
    return {**out, "themes": {}, "derived": {}, "invariance": {}}


DEFAULTS: dict[str, Any] = _as_dict(Report.model_validate({"title": UNTITLED}))


def settings_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``report`` section of params.yaml with its defaults, checked (one PipelineError line
    naming the key otherwise), as the table builders read it."""
    out = _as_dict(parse(Report, {"title": UNTITLED, **dict(params.get("report") or {})}, "report"))
    if "models" in params:
        out["model_specs"] = (params.get("models") or {}).get("specs") or []
        out["derived"] = (params.get("models") or {}).get("derived") or {}
    invariance = (params.get("measurement") or {}).get("invariance") or {}
    defaults = Invariance.model_fields
    out["invariance"] = {k: invariance.get(k, defaults[k].default) for k in ("max_delta_cfi", "max_delta_rmsea")}
    return out
