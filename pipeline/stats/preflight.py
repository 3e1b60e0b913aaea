"""Checks before the long work: what ``params.yaml``, the instrument and the data's columns can
tell is checked before the first scale is bootstrapped or the first model is fitted.

:func:`check_measurement` (the measurement stage) and :func:`check_models` (the models stage)
return a list of problems, one line each, naming the file and the key or variable and, for a
misspelled name, the nearest names (``params.yaml: models.specs[1] (id M2): variable
'sector_typ' is not in processed/indices.parquet (did you mean 'sector_type'?)``);
:func:`raise_problems` turns them into one :class:`~pipeline.core.errors.PipelineError`.
Nothing is fitted here: the checks read column names, count values and evaluate the derived
variables, so they take a fraction of a second where a model can take minutes.

Identification of a confirmatory factor model (:func:`factor_problems`), from the item counts
alone, in the simple-structure models :func:`pipeline.stats.cfa.fit_cfa` fits (every item on
one factor, the first loading of each factor fixed to 1):

* a factor measured by one item is not identified (its variance and the item's residual
  variance cannot be told apart);
* one factor alone with k items has k(k+1)/2 variances and covariances for 2k free parameters:
  it needs k >= 3; k = 3 is just identified (df = 0: the loadings are estimated but the fit
  indices test nothing, which the CFA table says), k >= 4 leaves degrees of freedom;
* several correlated factors need at least 2 items each (a two-item factor is identified through
  its covariance with another factor; when that covariance is near zero the information matrix
  is singular and the fit is reported as ``not_identified``, not as numbers);
* an item may load on one factor only.

The same rules hold for the factor model of the invariance test, fitted in every group.
"""
from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.core.settings import Measurement, Models
from pipeline.stats.frame import formula_variables
from pipeline.stats.scoring import measured_scales
from pipeline.stats.spec import CLUSTER_COVARIANCES, derive, expand_specs, parse_spec

MIN_CLUSTERS = 5   # fewest clusters (groups) for clustered errors, random effects, a cluster bootstrap
MEDIATION_EFFECTS = ("a", "b", "direct", "indirect", "total", "proportion_mediated")


def near(name: str, names: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` with the closest of ``names`` (case aside), or ``""``."""
    by_lower: dict[str, str] = {}
    for n in names:
        by_lower.setdefault(str(n).lower(), str(n))
    close = [by_lower[c] for c in difflib.get_close_matches(str(name).lower(), list(by_lower), n=3)]
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def raise_problems(problems: Sequence[str], hint: str | None = None) -> None:
    """One PipelineError listing every problem (one line each); nothing when there are none."""
    if problems:
        raise PipelineError("\n".join(dict.fromkeys(problems)), hint=hint)


# ---------------------------------------------------------------------------------------------
# measurement


def factor_problems(where: str, factors: Mapping[str, Sequence[str]]) -> list[str]:
    """Why a simple-structure factor model with these factors is not identified (see the
    module docstring); ``where`` names the key (``params.yaml: measurement.cfa.scales``)."""
    problems = []
    if len(factors) == 1:
        (name, items), = factors.items()
        if len(items) < 3:
            problems.append(f"{where}: a one-factor model of '{name}' needs at least 3 items, the scale has "
                            f"{len(items)} (not identified); add a scale to the model or leave it out")
    else:
        for name, items in factors.items():
            if len(items) < 2:
                problems.append(f"{where}: factor '{name}' has {len(items)} item(s); a factor needs at least 2 "
                                "(with one the model is not identified)")
    seen: dict[str, str] = {}
    for name, items in factors.items():
        for item in items:
            if item in seen and seen[item] != name:
                problems.append(f"{where}: item '{item}' is in scales '{seen[item]}' and '{name}'; an item may "
                                "load on one factor only")
            seen.setdefault(item, name)
    return problems


def _scale_list(where: str, names: Sequence[str], instrument: Instrument) -> tuple[list[str], list[str]]:
    known = [n for n in names if n in instrument.scales]
    problems = [f"{where}: '{n}' is not a scale of {instrument.path}{near(n, list(instrument.scales))}"
                for n in names if n not in instrument.scales]
    return known, problems


def check_measurement(clean: pd.DataFrame, communities: pd.DataFrame | None, instrument: Instrument,
                      cfg: Measurement, *, params_name: str = "params.yaml",
                      survey_name: str = "the cleaned survey",
                      communities_name: str = "the community file") -> list[str]:
    """Everything the measurement stage can check before scoring: scale, covariate, community,
    CFA and invariance names; identification of the factor models; the groups' codes."""
    ip, columns = instrument.path, list(clean.columns)
    id_var, comm_var = instrument.role("id"), instrument.role("community")
    problems = [f"{ip}: roles.{key} '{var}' is not a column of {survey_name}{near(var, columns)}"
                for key, var in (("id", id_var), ("community", comm_var)) if var and var not in columns]
    scales, found = _scale_list(f"{params_name}: measurement.scales", measured_scales(instrument, cfg), instrument)
    problems += found
    for name in scales:
        absent = [i for i in instrument.scales[name].items if i not in columns]
        if absent:
            problems.append(f"{ip}: scale '{name}': items {absent} are not columns of {survey_name}")
    made = {c for s in scales for c in (s, f"{s}_z", f"{s}_n_items")}
    for c in dict.fromkeys(cfg.covariates):
        if c in (id_var, comm_var):
            continue                                   # in the indices already
        if c in made:
            problems.append(f"{params_name}: measurement.covariates: '{c}' is also a column the stage makes "
                            "(a scale score); rename the variable or leave it out")
        elif c not in columns:
            problems.append(f"{params_name}: measurement.covariates: '{c}' is not a column of {survey_name}"
                            f"{near(c, columns)}")
    problems += _community_problems(communities, instrument, cfg, params_name, communities_name)
    if cfg.cfa is not None:
        where = f"{params_name}: measurement.cfa.scales"
        known, found = _scale_list(where, cfg.cfa.scales, instrument)
        problems += found or factor_problems(where, {s: instrument.scales[s].items for s in known})
    if cfg.invariance is not None:
        problems += _invariance_problems(clean, instrument, cfg, params_name, survey_name)
    return problems


def _community_problems(communities: pd.DataFrame | None, instrument: Instrument, cfg: Measurement,
                        params_name: str, communities_name: str) -> list[str]:
    comm_var = instrument.role("community")
    wanted = list(dict.fromkeys(cfg.community_covariates))
    if not wanted:
        return []
    key = f"{params_name}: measurement.community_covariates"
    if not comm_var:
        return [f"{key} needs roles.community in {instrument.path} (the community id the community file "
                "is joined on); set it, or leave community_covariates empty"]
    if communities is None:
        return [f"{key} needs the community file (--communities)"]
    comm_id = instrument.community_id or comm_var
    cols = list(communities.columns)
    if comm_id not in cols:
        return [f"{communities_name}: no column '{comm_id}' (the instrument's community id){near(comm_id, cols)}"]
    problems = [f"{key}: '{c}' is not a column of {communities_name}{near(c, cols)}"
                for c in wanted if c not in (comm_id, comm_var) and c not in cols]
    problems += [f"{key}: '{c}' is also in measurement.covariates; keep it in one list"
                 for c in wanted if c in cfg.covariates and c not in (comm_id, comm_var)]
    ids = communities[comm_id].astype(str)
    twice = sorted(ids[ids.duplicated()].unique())
    if twice:
        problems.append(f"{communities_name}: community ids {twice[:5]} appear more than once in '{comm_id}'")
    return problems


def _invariance_problems(clean: pd.DataFrame, instrument: Instrument, cfg: Measurement, params_name: str,
                         survey_name: str) -> list[str]:
    inv = cfg.invariance
    where = f"{params_name}: measurement.invariance"
    known, problems = _scale_list(f"{where}.scales", inv.scales, instrument)
    if not problems:
        problems = factor_problems(f"{where}.scales", {s: instrument.scales[s].items for s in known})
    group = instrument.role("group")
    if not group:
        return problems + [f"{where} needs roles.group in {instrument.path} (the variable whose groups are "
                           "compared); set it, or leave measurement.invariance out"]
    if group not in clean.columns:
        return problems + [f"{instrument.path}: roles.group '{group}' is not a column of {survey_name}"
                           f"{near(group, list(clean.columns))}"]
    values = pd.to_numeric(clean[group], errors="coerce").dropna()
    present = set(values.astype(float))
    absent = [c for c in inv.groups if float(c) not in present]
    if absent:
        shown = ", ".join(f"{v:g}" for v in sorted(present)[:10])
        problems.append(f"{where}.groups: code(s) {absent} do not occur in '{group}' (codes in the data: "
                        f"{shown or 'none'})")
    return problems


# ---------------------------------------------------------------------------------------------
# models


class _Names(ast.NodeVisitor):
    """Names an expression reads (not the names of functions it calls)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            self.visit(node.func)
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            self.visit(arg)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in ("True", "False", "None") and node.id not in self.names:
            self.names.append(node.id)


def _expression_names(expr: str) -> list[str] | None:
    try:
        tree = ast.parse(str(expr).strip(), mode="eval")
    except SyntaxError:
        return None                                    # e.g. `backticked names`: evaluating it tells
    visitor = _Names()
    visitor.visit(tree)
    return visitor.names


def _derived(cfg: Models, data: pd.DataFrame, params_name: str,
             data_name: str) -> tuple[pd.DataFrame, list[str], set[str]]:
    """The data with the derived variables, the problems, and the derived names that failed
    (not reported again where a model uses them)."""
    problems, failed = [], set()
    for name, expr in cfg.derived.items():
        names = _expression_names(expr) or []
        absent = [n for n in names if n not in data.columns and n not in failed]
        if absent or failed.intersection(names):
            problems += [f"{params_name}: models.derived.{name}: '{n}' is not in {data_name}"
                         f"{near(n, list(data.columns))}" for n in absent]
            failed.add(name)
            continue
        try:
            data = derive(data, {name: expr})
        except PipelineError as exc:
            problems.append(exc.message.replace("params.yaml:", f"{params_name}:", 1))
            failed.add(name)
    return data, problems, failed


def _clusters(data: pd.DataFrame, rows: pd.Series, var: str) -> int:
    return int(data.loc[rows, var].nunique())


def _spec_problems(where: str, spec: dict[str, Any], data: pd.DataFrame, data_name: str,
                   failed: set[str]) -> list[str]:
    columns = list(data.columns)
    cov = str(spec.get("covariance") or "")
    if cov in CLUSTER_COVARIANCES and not spec.get("cluster"):
        return [f"{where}: covariance '{cov}' needs a cluster variable and neither the spec's cluster nor "
                "models.cluster is set (set models.cluster to the community id, or use covariance hc1)"]
    try:
        ms = parse_spec(spec)
        rhs_vars = formula_variables(ms.rhs, columns, ms.id)
    except PipelineError as exc:
        prefix = f"model {spec.get('id')!r}: "
        return [f"{where}: {str(exc).removeprefix(prefix)}"]
    roles = [("outcome", ms.outcome), *(("variable", v) for v in rhs_vars), ("cluster variable", ms.cluster),
             ("weights variable", ms.weights), ("random-effects group", ms.group),
             *(("random slope", v) for v in ms.slopes)]
    absent = [f"{where}: {role} '{v}' is not in {data_name}{near(v, columns)}"
              for role, v in roles if v is not None and v not in columns and v not in failed]
    if absent or any(v in failed for _, v in roles):
        return list(dict.fromkeys(absent)) or [""]     # [""]: a failed derived variable, said above
    problems = []
    needed = list(dict.fromkeys([ms.outcome, *rhs_vars, *ms.slopes]))
    design = [v for v in (ms.cluster, ms.weights, ms.group) if v is not None]
    for v in dict.fromkeys(design):
        n_missing = int(data[v].isna().sum())
        if n_missing:
            problems.append(f"{where}: {n_missing} row(s) of {data_name} have no value of '{v}' (a cluster, "
                            "weights or group variable must be complete)")
    rows = data[needed].notna().all(axis=1)
    n = int(rows.sum())
    if n == 0:
        return problems + [f"{where}: no row of {data_name} has all of {needed}"]
    if data.loc[rows, ms.outcome].nunique() < 2:
        value = data.loc[rows, ms.outcome].iloc[0]
        problems.append(f"{where}: outcome '{ms.outcome}' is constant ({value}) in the {n} rows the model uses")
    for var, what in ((ms.cluster, "clustered standard errors need"), (ms.group, "a random-effects model needs")):
        if var is not None and not problems:
            g = _clusters(data, rows, var)
            if g < MIN_CLUSTERS:
                problems.append(f"{where}: '{var}' has {g} value(s) in the {n} rows the model uses; {what} at "
                                f"least {MIN_CLUSTERS} (use covariance hc1 without cluster, or enter "
                                f"C({var}) as fixed effects)")
    return problems


def check_models(cfg: Models, data: pd.DataFrame, *, params_name: str = "params.yaml",
                 data_name: str = "processed/indices.parquet") -> list[str]:
    """Everything the models stage can check before fitting (see the module docstring): the
    derived variables, every variable each spec names (formula, cluster, weights, random
    effects), the number of clusters of clustered or multilevel specs (at least
    :data:`MIN_CLUSTERS`), constant outcomes, and the names mediation, the ICCs, imputation,
    predictions and hypotheses refer to."""
    twice = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if twice:
        return [f"{data_name}: columns {twice} appear more than once (rerun the measurement stage)"]
    data, problems, failed = _derived(cfg, data, params_name, data_name)
    specs = expand_specs(cfg)
    spec_vars: dict[str, list[str]] = {}
    for i, spec in enumerate(specs):
        where = f"{params_name}: models.specs[{i}] (id {spec['id']})"
        found = _spec_problems(where, spec, data, data_name, failed)
        problems += [p for p in found if p]
        if not found:
            ms = parse_spec(spec)
            spec_vars[ms.id] = [ms.outcome, *formula_variables(ms.rhs, list(data.columns), ms.id)]
    problems += _mediation_problems(cfg, data, params_name, data_name, failed)
    problems += _icc_problems(cfg, data, params_name, data_name, failed)
    problems += [f"{params_name}: models.mi.auxiliary: '{v}' is not in {data_name}{near(v, list(data.columns))}"
                 for v in cfg.mi.auxiliary if v not in data.columns and v not in failed]
    if cfg.predictions is not None and cfg.predictions.model in spec_vars:
        used = spec_vars[cfg.predictions.model]
        problems += [f"{params_name}: models.predictions.grid: '{v}' is not a variable of model "
                     f"{cfg.predictions.model}'s formula{near(v, used)}" for v in cfg.predictions.grid if v not in used]
    problems += _hypothesis_problems(cfg, spec_vars, params_name)
    return problems


def _mediation_problems(cfg: Models, data: pd.DataFrame, params_name: str, data_name: str,
                        failed: set[str]) -> list[str]:
    med = cfg.mediation
    if med is None:
        return []
    where, columns = f"{params_name}: models.mediation (id {med.id})", list(data.columns)
    try:
        covs = formula_variables(" + ".join(["1", *med.covariates]), columns, med.id)
    except PipelineError as exc:
        return [f"{where}: covariates: {exc.message}"]
    cluster = cfg.mediation_cluster()
    named = [("x", med.x), ("m", med.m), ("y", med.y), *(("covariate", v) for v in covs), ("cluster", cluster)]
    problems = [f"{where}: {role} '{v}' is not in {data_name}{near(v, columns)}"
                for role, v in named if v is not None and v not in columns and v not in failed]
    if len({med.x, med.m, med.y}) < 3:
        problems.append(f"{where}: x, m and y must be three different variables")
    if problems or cluster is None or any(v in failed for _, v in named):
        return problems
    rows = data[list(dict.fromkeys([med.x, med.m, med.y, *covs]))].notna().all(axis=1)
    g = _clusters(data, rows, cluster)
    if g < MIN_CLUSTERS:
        problems.append(f"{where}: '{cluster}' has {g} value(s); a cluster bootstrap needs at least {MIN_CLUSTERS} "
                        "(set models.mediation.cluster: null to resample respondents)")
    return problems


def _icc_problems(cfg: Models, data: pd.DataFrame, params_name: str, data_name: str,
                  failed: set[str]) -> list[str]:
    if not cfg.icc:
        return []
    columns, cluster = list(data.columns), cfg.cluster
    problems = [f"{params_name}: models.icc: '{v}' is not in {data_name}{near(v, columns)}"
                for v in cfg.icc if v not in columns and v not in failed]
    if cluster not in columns:
        return problems + [f"{params_name}: models.cluster '{cluster}' is not in {data_name}{near(cluster, columns)}"]
    for v in cfg.icc:
        if v in columns:
            g = _clusters(data, data[v].notna(), cluster)
            if g < MIN_CLUSTERS:
                problems.append(f"{params_name}: models.icc: '{cluster}' has {g} value(s) where '{v}' is "
                                f"observed; an intraclass correlation needs at least {MIN_CLUSTERS}")
    return problems


def _hypothesis_problems(cfg: Models, spec_vars: dict[str, list[str]], params_name: str) -> list[str]:
    problems = []
    for hyp, ref in cfg.hypotheses.items():
        where = f"{params_name}: models.hypotheses.{hyp}"
        if ref.mediation is not None:
            if cfg.mediation is None:
                problems.append(f"{where} reads the mediation effect '{ref.mediation}' but models.mediation is not set")
            elif ref.mediation not in MEDIATION_EFFECTS:
                problems.append(f"{where}: '{ref.mediation}' is not a mediation effect (one of "
                                f"{', '.join(MEDIATION_EFFECTS)}){near(ref.mediation, MEDIATION_EFFECTS)}")
            continue
        used = spec_vars.get(ref.model)
        if used is None or not all(part.isidentifier() for part in ref.term.split(":")):
            continue                                   # a factor level such as C(x)[T.2]: known after fitting
        absent = [p for p in ref.term.split(":") if p != "Intercept" and p not in used]
        if absent:
            problems.append(f"{where}: term '{ref.term}' names {absent}, not variables of model {ref.model}'s "
                            f"formula{near(absent[0], used)}")
    return problems
