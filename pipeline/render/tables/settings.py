"""The report's table settings: ``params.yaml: report`` over the defaults."""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.core.errors import PipelineError

DEFAULTS: dict[str, Any] = {
    "lang": "en",
    "decimals": {"coef": 3, "fit": 3, "percent": 1, "mean": 2, "stat": 2, "p": 3},
    "uncertainty": "se",          # se | ci: what is printed beneath a coefficient
    "stars": [0.05, 0.01, 0.001],
    "min_cell": 5,
    "formats": ["csv", "md", "html", "tex", "docx"],
    "characteristics": [],
    "community_characteristics": [],
    "term_labels": {},
    "role_labels": {},
    "themes": {},
    "model_tables": {},           # captions of the model tables by `table` group: {group: {zh, en}}
}



def settings_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``report`` section of params.yaml merged over the defaults, checked."""
    cfg = dict(params.get("report") or {})
    out = {**DEFAULTS, **cfg}
    out["decimals"] = {**DEFAULTS["decimals"], **(cfg.get("decimals") or {})}
    if out["lang"] not in ("zh", "en"):
        raise PipelineError(f"params.yaml: report.lang is '{out['lang']}'", "use zh or en")
    if out["uncertainty"] not in ("se", "ci"):
        raise PipelineError(f"params.yaml: report.uncertainty is '{out['uncertainty']}'", "use se or ci")
    stars = out["stars"]
    if not isinstance(stars, list) or sorted(stars, reverse=True) != stars or not all(0 < s < 1 for s in stars):
        raise PipelineError(f"params.yaml: report.stars is {stars!r}", "give decreasing p thresholds, e.g. [0.05, 0.01, 0.001]")
    if not isinstance(out["min_cell"], int) or out["min_cell"] < 1:
        raise PipelineError(f"params.yaml: report.min_cell is {out['min_cell']!r}", "give a positive whole number, e.g. 5")
    if "models" in params:
        out.setdefault("model_specs", (params.get("models") or {}).get("specs") or [])
    return out
