"""The report's table settings: ``params.yaml: report`` over the defaults."""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.core.errors import PipelineError
from pipeline.core.settings import Invariance

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
    "simulated": False,           # the data are simulated: every note and caption says so
    "derived": {},                # params.yaml models.derived: the indicators' reference categories
    "invariance": {},             # params.yaml measurement.invariance criteria, named in Table 7's note
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
    if not isinstance(out["simulated"], bool):
        raise PipelineError(f"params.yaml: report.simulated is {out['simulated']!r}", "use true (simulated data) or false")
    if not isinstance(out["min_cell"], int) or out["min_cell"] < 1:
        raise PipelineError(f"params.yaml: report.min_cell is {out['min_cell']!r}", "give a positive whole number, e.g. 5")
    if "models" in params:
        out.setdefault("model_specs", (params.get("models") or {}).get("specs") or [])
        out["derived"] = (params.get("models") or {}).get("derived") or {}
    invariance = (params.get("measurement") or {}).get("invariance") or {}
    defaults = Invariance.model_fields
    out["invariance"] = {k: invariance.get(k, defaults[k].default) for k in ("max_delta_cfi", "max_delta_rmsea")}
    return out
