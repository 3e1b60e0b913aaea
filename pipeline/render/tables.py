"""The publication tables of the report, built from the tidy results (report stage).

``load_results`` reads the tidy outputs of the earlier stages into a dict keyed by their path
under ``processed/`` (``"models/coefficients.csv"``); ``derive_results`` adds the few tidy frames
the tables compute themselves (sample characteristics by group with their tests, index
descriptives, the codebook summary) under ``"derived/..."``; ``build_tables`` turns them into
:class:`pipeline.render.table.Table` objects, one builder per table; ``check_numbers`` checks that every
number a table shows equals its tidy source rounded to the shown decimals.

Labels come from the instrument (zh or en by ``settings["lang"]``), term labels of derived model
variables from ``params.yaml: report.term_labels``. Pure functions except ``load_results``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.core.errors import PipelineError
from pipeline.core.instrument import Instrument
from pipeline.render.table import Cell, HeaderCell, Row, Source, Table

Results = Mapping[str, pd.DataFrame]

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

# Fixed wording of the tables (not study knowledge): one entry per phrase, both languages.
TEXT: dict[str, dict[str, str]] = {
    "sample_flow": {"en": "Sample flow", "zh": "样本流程"},
    "regression_models": {"en": "Regression models", "zh": "回归模型"},
    "step": {"en": "Step", "zh": "步骤"},
    "flagged": {"en": "Flagged", "zh": "标记"},
    "excluded": {"en": "Excluded", "zh": "剔除"},
    "remaining": {"en": "Remaining", "zh": "剩余"},
    "flow_note": {"en": "A submission is counted under the first exclusion rule that applies, in the order shown; "
                        "'Flagged' counts every submission the rule flags.",
                  "zh": "每份提交只计入按所列顺序首先适用的剔除规则；“标记”为该规则标记的全部提交数。"},
    "characteristics": {"en": "Sample characteristics by {group}", "zh": "按{group}分组的样本特征"},
    "total": {"en": "Total", "zh": "合计"},
    "test": {"en": "Test", "zh": "检验"},
    "statistic": {"en": "Statistic", "zh": "统计量"},
    "p": {"en": "p", "zh": "p"},
    "mean_sd": {"en": "mean (SD)", "zh": "均值（标准差）"},
    "chi2": {"en": "χ²", "zh": "χ²"},
    "anova": {"en": "F", "zh": "F"},
    "char_note": {"en": "Categorical variables: n (column %); χ² test of independence over the answered categories. "
                        "Numeric variables: mean (SD); one-way ANOVA F test. Percentages exclude missing answers.",
                  "zh": "分类变量：人数（列百分比），χ²独立性检验（不含缺失）；数值变量：均值（标准差），单因素方差分析F检验。百分比不含缺失。"},
    "suppression_note": {"en": "Cells with fewer than {k} respondents are shown as <{k}; where one withheld cell could be "
                               "recovered from a row or column total, the next smallest cell of that row or column is "
                               "withheld too, shown as · (complementary suppression). Tests use all respondents.",
                         "zh": "少于{k}人的单元格显示为<{k}；若某个被隐藏的单元格可由行或列合计推出，则同时隐藏该行或该列中次小的单元格，显示为·（互补隐藏）。检验使用全部受访者。"},
    "codebook": {"en": "Codebook summary", "zh": "变量手册摘要"},
    "variable": {"en": "Variable", "zh": "变量"},
    "label": {"en": "Label", "zh": "标签"},
    "type": {"en": "Type", "zh": "类型"},
    "valid_n": {"en": "Valid N", "zh": "有效样本"},
    "missing": {"en": "Missing", "zh": "缺失"},
    "other_missing": {"en": "other", "zh": "其他"},
    "codebook_note": {"en": "Missing answers by reason; 'other' adds out-of-range, unlabelled, invalid and blank cells. "
                            "Full codebook: reports/codebook.md.",
                      "zh": "按原因列出缺失；“其他”为超出取值范围、无标签代码、无效值和空白之和。完整变量手册见 reports/codebook.md。"},
    "measurement": {"en": "Measurement: items and standardised loadings", "zh": "测量：题项与标准化因子载荷"},
    "item": {"en": "Item", "zh": "题项"},
    "mean": {"en": "M", "zh": "均值"},
    "sd": {"en": "SD", "zh": "标准差"},
    "r_drop": {"en": "r(item-rest)", "zh": "校正题总相关"},
    "alpha_if_deleted": {"en": "α if deleted", "zh": "删除后α"},
    "loading": {"en": "λ (std.)", "zh": "标准化载荷λ"},
    "reverse": {"en": " (R)", "zh": "（反向）"},
    "measurement_note": {"en": "(R) reverse-keyed item. λ: standardised loading of the confirmatory factor model "
                               "(Table of CFA fit); scales outside that model have none.",
                         "zh": "（反向）为反向计分题。λ为验证性因子模型的标准化载荷；未纳入该模型的量表无载荷。"},
    "reliability": {"en": "Reliability and convergent validity of the scales", "zh": "量表信度与聚合效度"},
    "scale": {"en": "Scale", "zh": "量表"},
    "k": {"en": "Items", "zh": "题数"},
    "n": {"en": "N", "zh": "N"},
    "ci95": {"en": "95% CI", "zh": "95%置信区间"},
    "cr": {"en": "CR", "zh": "组合信度CR"},
    "ave": {"en": "AVE", "zh": "AVE"},
    "reliability_note": {"en": "α: Cronbach's alpha; ω: omega total (one-factor model); intervals from a cluster "
                               "bootstrap over communities ({n_boot} replications). CR and AVE from the confirmatory "
                               "factor model. Empty: not estimable (ω needs three or more items).",
                         "zh": "α为Cronbach's α；ω为单因子模型的ω总系数；置信区间来自按社区的整群自助法（{n_boot}次）。CR与AVE来自验证性因子模型。空白：无法估计（ω需要至少三个题项）。"},
    "cfa_fit": {"en": "Fit of the confirmatory factor model", "zh": "验证性因子模型拟合"},
    "model": {"en": "Model", "zh": "模型"},
    "df": {"en": "df", "zh": "df"},
    "rmsea_ci": {"en": "RMSEA 90% CI", "zh": "RMSEA 90%置信区间"},
    "cfa_note": {"en": "Maximum likelihood on complete cases; χ² test of exact fit.", "zh": "完整个案的最大似然估计；χ²为精确拟合检验。"},
    "invariance": {"en": "Measurement invariance across {group}", "zh": "跨{group}的测量不变性"},
    "compared_with": {"en": "vs", "zh": "对比"},
    "delta_chisq": {"en": "Δχ²", "zh": "Δχ²"},
    "delta_df": {"en": "Δdf", "zh": "Δdf"},
    "delta_cfi": {"en": "ΔCFI", "zh": "ΔCFI"},
    "delta_rmsea": {"en": "ΔRMSEA", "zh": "ΔRMSEA"},
    "holds": {"en": "Holds", "zh": "成立"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "configural": {"en": "configural", "zh": "形态等值"},
    "metric": {"en": "metric", "zh": "弱等值（载荷）"},
    "scalar": {"en": "scalar", "zh": "强等值（截距）"},
    "partial": {"en": "partial scalar", "zh": "部分强等值"},
    "invariance_note": {"en": "Each step is compared with the one before; 'Holds' applies the ΔCFI/ΔRMSEA criteria of "
                              "params.yaml measurement.invariance.",
                        "zh": "每一步与前一步比较；“成立”依据 params.yaml measurement.invariance 中的ΔCFI/ΔRMSEA标准。"},
    "correlations": {"en": "Descriptive statistics and correlations of the indices", "zh": "指数的描述统计与相关"},
    "corr_note": {"en": "Pearson correlations, pairwise complete cases (N {nmin}–{nmax}).",
                  "zh": "Pearson相关，成对删除（N {nmin}–{nmax}）。"},
    "models_of": {"en": "Models of {y}", "zh": "{y}的回归模型"},
    "cut_points": {"en": "Cut points", "zh": "切点"},
    "model_stats": {"en": "Model statistics", "zh": "模型统计量"},
    "intercept": {"en": "Constant", "zh": "常数项"},
    "n_obs": {"en": "N", "zh": "样本量"},
    "n_clusters": {"en": "Communities", "zh": "社区数"},
    "r2": {"en": "R²", "zh": "R²"},
    "pseudo_r2": {"en": "Pseudo R²", "zh": "伪R²"},
    "icc": {"en": "ICC", "zh": "组内相关系数ICC"},
    "aic": {"en": "AIC", "zh": "AIC"},
    "var_community": {"en": "Var(community intercept)", "zh": "社区截距方差"},
    "var_residual": {"en": "Var(residual)", "zh": "残差方差"},
    "m": {"en": "Imputations", "zh": "插补次数"},
    "se_beneath": {"en": "Standard errors in parentheses.", "zh": "括号内为标准误。"},
    "ci_beneath": {"en": "95% confidence intervals in brackets.", "zh": "方括号内为95%置信区间。"},
    "cov_cluster_cr2": {"en": "{models}: CR2 cluster-robust standard errors (clustered by {cluster}, {g} clusters); "
                              "t tests with Satterthwaite degrees of freedom per coefficient ({dfmin}–{dfmax}).",
                        "zh": "{models}：CR2聚类稳健标准误（按{cluster}聚类，{g}个聚类）；t检验使用逐系数Satterthwaite自由度（{dfmin}–{dfmax}）。"},
    "cov_cluster": {"en": "{models}: CR1 cluster-robust standard errors (clustered by {cluster}, {g} clusters){tests}.",
                    "zh": "{models}：CR1聚类稳健标准误（按{cluster}聚类，{g}个聚类）{tests}。"},
    "cov_model_bw": {"en": "{models}: model-based standard errors of the {reml}random-intercept model; between-within "
                           "degrees of freedom ({dfb} for community-level terms, {dfw} for individual-level terms).",
                     "zh": "{models}：{reml}随机截距模型的模型标准误；between-within自由度（社区层变量{dfb}，个体层变量{dfw}）。"},
    "cov_model": {"en": "{models}: model-based standard errors{tests}.", "zh": "{models}：模型标准误{tests}。"},
    "cov_other": {"en": "{models}: {cov} standard errors{tests}.", "zh": "{models}：{cov}标准误{tests}。"},
    "mi_note": {"en": "{models}: pooled over m = {m} multiply imputed datasets by Rubin's rules (N = {n}; "
                      "{ncc} complete cases).",
                "zh": "{models}：{m}个多重插补数据集按Rubin规则合并（N = {n}；完整个案{ncc}）。"},
    "z_tests": {"en": "; z tests", "zh": "；z检验"},
    "t_tests": {"en": "; t tests with {df} df", "zh": "；t检验（自由度{df}）"},
    "reml": {"en": "REML ", "zh": "REML"},
    "complete_cases": {"en": "complete cases", "zh": "完整个案"},
    "imputed": {"en": "multiple imputation", "zh": "多重插补"},
    "community": {"en": "community", "zh": "社区"},
    "stars_note": {"en": "{legend}.", "zh": "{legend}。"},
    "mediation": {"en": "Mediation: {x} → {m} → {y}", "zh": "中介效应：{x} → {m} → {y}"},
    "effect": {"en": "Effect", "zh": "效应"},
    "estimate": {"en": "Estimate", "zh": "估计值"},
    "se": {"en": "SE", "zh": "标准误"},
    "boot_se": {"en": "Bootstrap SE", "zh": "自助标准误"},
    "eff_a": {"en": "a: {x} → {m}", "zh": "a：{x} → {m}"},
    "eff_b": {"en": "b: {m} → {y}", "zh": "b：{m} → {y}"},
    "eff_direct": {"en": "Direct effect (c′)", "zh": "直接效应（c′）"},
    "eff_indirect": {"en": "Indirect effect (a × b)", "zh": "间接效应（a × b）"},
    "eff_total": {"en": "Total effect (c)", "zh": "总效应（c）"},
    "eff_proportion_mediated": {"en": "Proportion mediated", "zh": "中介比例"},
    "mediation_note": {"en": "Intervals: {method}, {n_boot} resamples of the {g} communities; N = {n}. Covariates: {cov}.",
                       "zh": "置信区间：{method}，对{g}个社区重抽样{n_boot}次；N = {n}。控制变量：{cov}。"},
    "icc_table": {"en": "Intraclass correlation of the outcomes (null models)", "zh": "结果变量的组内相关（零模型）"},
    "outcome": {"en": "Outcome", "zh": "结果变量"},
    "var_between": {"en": "Var(between)", "zh": "组间方差"},
    "var_within": {"en": "Var(within)", "zh": "组内方差"},
    "lrt": {"en": "LR χ²", "zh": "似然比χ²"},
    "icc_note": {"en": "Random-intercept null models by REML; the likelihood-ratio test of the community variance "
                       "against the single-level model uses the boundary mixture 0.5·χ²(0) + 0.5·χ²(1).",
                 "zh": "REML随机截距零模型；社区方差的似然比检验（对比单层模型）使用边界混合分布0.5·χ²(0) + 0.5·χ²(1)。"},
    "topics": {"en": "Topic model: labels, prevalence and words", "zh": "主题模型：标签、比重与关键词"},
    "topic": {"en": "Topic", "zh": "主题"},
    "prevalence": {"en": "Prevalence (%)", "zh": "比重（%）"},
    "top_words": {"en": "Top words", "zh": "高频词"},
    "frex_words": {"en": "Exclusive words (FREX)", "zh": "排他词（FREX）"},
    "topics_note": {"en": "Prevalence: mean share of the units' topic proportions.", "zh": "比重：各分析单元主题比例的均值。"},
    "k_selection": {"en": "Choice of the number of topics K", "zh": "主题数K的选择"},
    "coherence": {"en": "Coherence (NPMI)", "zh": "一致性（NPMI）"},
    "exclusivity": {"en": "Exclusivity", "zh": "排他性"},
    "stability": {"en": "Stability", "zh": "稳定性"},
    "perplexity": {"en": "Perplexity", "zh": "困惑度"},
    "chosen": {"en": "Chosen", "zh": "选定"},
    "theme_freq": {"en": "Theme frequencies by interviewee role and community type", "zh": "按受访者角色和社区类型的主题频率"},
    "theme": {"en": "Theme", "zh": "主题"},
    "role": {"en": "Role", "zh": "角色"},
    "freq_note": {"en": "Share of coded interview units that carry the theme, % (units coded with it). Units are "
                        "sentences of respondent speech, not respondents.",
                  "zh": "带有该主题的已编码访谈单元比例，%（带该主题的单元数）。单元为受访者话语的句子，而非受访者。"},
    "agreement": {"en": "Coder agreement", "zh": "编码者一致性"},
    "kappa": {"en": "κ", "zh": "κ"},
    "precision": {"en": "Precision", "zh": "精确率"},
    "recall": {"en": "Recall", "zh": "召回率"},
    "f1": {"en": "F1", "zh": "F1"},
    "overall": {"en": "Overall (Krippendorff's α)", "zh": "总体（Krippendorff's α）"},
    "agreement_note": {"en": "Cohen's κ per theme with its 95% interval; precision, recall and F1 of the deductive "
                             "coding against the reference coder.",
                       "zh": "各主题的Cohen's κ及95%置信区间；演绎编码相对参照编码者的精确率、召回率与F1。"},
    "absent": {"en": "Not available: {what} not found ({hint}).", "zh": "暂无：未找到{what}（{hint}）。"},
}

METHOD = {
    "ols": {"en": "OLS", "zh": "OLS"},
    "wls": {"en": "WLS, design weights", "zh": "加权（设计权重）"},
    "mixed": {"en": "Random intercept", "zh": "随机截距"},
    "ordered_logit": {"en": "Ordered logit", "zh": "有序logit"},
    "binary_logit": {"en": "Logit", "zh": "logit"},
    "mi": {"en": "OLS, imputed", "zh": "OLS，多重插补"},
    "cc": {"en": "OLS, complete cases", "zh": "OLS，完整个案"},
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


def _t(key: str, lang: str, **kw: Any) -> str:
    text = TEXT[key][lang]
    return text.format(**kw) if kw else text


# -- reading -----------------------------------------------------------------------------------
INPUTS = {
    "sample_flow.csv": "survey", "exclusions.csv": "survey",
    "measurement/items.csv": "measurement", "measurement/reliability.csv": "measurement",
    "measurement/cfa_fit.csv": "measurement", "measurement/cfa_loadings.csv": "measurement",
    "measurement/cfa_validity.csv": "measurement", "measurement/invariance.csv": "measurement",
    "measurement/correlations.csv": "measurement",
    "models/coefficients.csv": "models", "models/fits.csv": "models", "models/components.csv": "models",
    "models/mi_pooled.csv": "models", "models/mediation.csv": "models", "models/icc.csv": "models",
    "topics/k_selection.csv": "topics", "topics/topic_words.csv": "topics", "topics/topics.csv": "topics",
    "coding/frequencies.csv": "coding", "coding/agreement.csv": "coding",
}
PARQUETS = {"survey_clean.parquet": "survey", "survey_missing.parquet": "survey", "indices.parquet": "measurement"}


def load_results(processed: str | Path) -> dict[str, pd.DataFrame]:
    """Every tidy input the tables use that exists under ``processed``, keyed by its relative
    path. Absent files are left out (their tables are then skipped with a note); an unreadable
    file is an error."""
    processed = Path(processed)
    out: dict[str, pd.DataFrame] = {}
    for rel in list(INPUTS) + list(PARQUETS):
        path = processed / rel
        if not path.exists():
            continue
        try:
            out[rel] = pd.read_parquet(path) if rel.endswith(".parquet") else pd.read_csv(path, keep_default_na=True)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise PipelineError(f"{path}: not readable ({exc.__class__.__name__})",
                                f"re-run the {(INPUTS | PARQUETS)[rel]} stage") from None
    return out


# -- derived tidy frames -------------------------------------------------------------------------
def derive_results(results: Results, instrument: Instrument, settings: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """A new dict: ``results`` plus the tidy frames the tables compute (``derived/...``)."""
    out = dict(results)
    if "survey_clean.parquet" in results:
        clean = results["survey_clean.parquet"]
        comm = results.get("indices.parquet")
        char, tests = sample_characteristics(clean, comm, instrument, settings)
        out["derived/sample_characteristics"] = char
        out["derived/sample_tests"] = tests
        if "survey_missing.parquet" in results:
            out["derived/codebook"] = codebook_summary(clean, results["survey_missing.parquet"], instrument)
    if "indices.parquet" in results:
        out["derived/index_descriptives"] = index_descriptives(results["indices.parquet"], list(instrument.scales))
    return out


def _variable(instrument: Instrument, name: str):
    return instrument.variables.get(name) or instrument.community_variables.get(name)


def sample_characteristics(clean: pd.DataFrame, communities: pd.DataFrame | None, instrument: Instrument,
                           settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and column percents (categorical) or mean and SD (numeric) of each characteristic by
    the instrument's group variable and in total, with the small-cell rule applied
    (``suppressed``), and one test per characteristic (χ² of independence / one-way ANOVA)."""
    group = instrument.role("group")
    rec = instrument.role("record")
    if group is None or group not in clean.columns:
        raise PipelineError("instrument: roles.group is not set or not in the clean survey",
                            "name the variable respondents are compared by (e.g. ethnicity)")
    data = clean
    comm_vars = [v for v in settings.get("community_characteristics", []) if v not in clean.columns]
    if comm_vars:
        if communities is None or rec not in communities.columns:
            raise PipelineError(f"report.community_characteristics {comm_vars}: processed/indices.parquet is missing",
                                "run the measurement stage")
        data = clean.merge(communities[[rec] + comm_vars], on=rec, how="left")
    names = list(settings.get("characteristics", [])) + comm_vars
    unknown = [n for n in names if n not in data.columns or _variable(instrument, n) is None]
    if unknown:
        raise PipelineError(f"params.yaml: report.characteristics names {unknown}, not variables of the instrument "
                            "and the clean survey", "use instrument variable names")
    gvar = _variable(instrument, group)
    groups = [g for g in sorted(gvar.values) if (data[group] == g).any()]
    k = int(settings.get("min_cell", 5))
    rows, tests = [], []
    for name in names:
        var = _variable(instrument, name)
        s = data[name]
        if var.values:
            levels = sorted(var.values)
            counts = pd.crosstab(s, data[group]).reindex(index=[float(c) for c in levels], columns=[float(g) for g in groups],
                                                         fill_value=0)
            col_n = counts.sum(axis=0)
            table_rows = []
            for code in levels:
                for g in groups + ["total"]:
                    n = int(counts.loc[float(code)].sum()) if g == "total" else int(counts.loc[float(code), float(g)])
                    denom = int(col_n.sum()) if g == "total" else int(col_n[float(g)])
                    table_rows.append({"variable": name, "level": str(code), "group": str(g), "n": n,
                                       "percent": 100 * n / denom if denom else np.nan, "mean": np.nan, "sd": np.nan})
            rows += _suppress(table_rows, [str(c) for c in levels], [str(g) for g in groups], k)
            obs = counts.loc[counts.sum(axis=1) > 0, counts.sum(axis=0) > 0].to_numpy()
            if obs.shape[0] > 1 and obs.shape[1] > 1:
                chi2, p, dof, _ = stats.chi2_contingency(obs, correction=False)
                tests.append({"variable": name, "test": "chi2", "statistic": chi2, "df": float(dof), "p_value": p,
                              "n": int(obs.sum())})
        else:
            samples = []
            for g in groups + ["total"]:
                x = (s if g == "total" else s[data[group] == g]).dropna().astype(float)
                if g != "total":
                    samples.append(x.to_numpy())
                rows.append({"variable": name, "level": "", "group": str(g), "n": int(len(x)),
                             "percent": np.nan, "mean": float(x.mean()) if len(x) else np.nan,
                             "sd": float(x.std(ddof=1)) if len(x) > 1 else np.nan,
                             "suppressed": bool(len(x) < k)})
            usable = [x for x in samples if len(x) > 1]
            if len(usable) > 1:
                f, p = stats.f_oneway(*usable)
                tests.append({"variable": name, "test": "anova", "statistic": float(f),
                              "df": float(len(usable) - 1), "p_value": float(p), "n": int(sum(len(x) for x in usable))})
    char = pd.DataFrame(rows, columns=["variable", "level", "group", "n", "percent", "mean", "sd", "suppressed"])
    char["suppressed"] = char["suppressed"].astype(bool)
    return char, pd.DataFrame(tests, columns=["variable", "test", "statistic", "df", "p_value", "n"])


def _suppress(rows: list[dict[str, Any]], levels: list[str], groups: list[str], k: int) -> list[dict[str, Any]]:
    """Primary suppression (0 < n < k; an empty cell discloses nothing) and complementary
    suppression: a row of groups (whose total is shown) or a group's column of levels (whose
    column N is known) with exactly one withheld cell gets its next smallest shown cell withheld
    too; repeated until no withheld cell can be derived by subtraction."""
    cell = {(r["level"], r["group"]): r for r in rows}
    for r in rows:
        r["suppressed"] = 0 < r["n"] < k
    changed = True
    while changed:
        changed = False
        lines = [[(lv, g) for g in groups + ["total"]] for lv in levels] + [[(lv, g) for lv in levels] for g in groups + ["total"]]
        for line in lines:
            hidden = [c for c in line if cell[c]["suppressed"]]
            if len(hidden) == 1:
                shown = sorted((c for c in line if not cell[c]["suppressed"]), key=lambda c: (cell[c]["n"], c))
                if shown:
                    cell[shown[0]]["suppressed"] = True
                    changed = True
    return rows


def codebook_summary(clean: pd.DataFrame, missing: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """One row per instrument variable in the clean data: type, valid N and missing by reason."""
    reasons = sorted(set(missing["reason"].astype(str))) if len(missing) else []
    by = missing.assign(variable=missing["variable"].astype(str), reason=missing["reason"].astype(str)) \
        .groupby(["variable", "reason"]).size() if len(missing) else pd.Series(dtype=int)
    rows = []
    for name, var in instrument.variables.items():
        if name not in clean.columns:
            continue
        row = {"variable": name, "type": var.type, "valid_n": int(clean[name].notna().sum()),
               "missing_n": int(clean[name].isna().sum())}
        for reason in ("dont_know", "refused", "skipped"):
            row[f"missing_{reason}"] = int(by.get((name, reason), 0))
        row["missing_other"] = int(sum(by.get((name, r), 0) for r in reasons if r not in ("dont_know", "refused", "skipped")))
        rows.append(row)
    return pd.DataFrame(rows)


def index_descriptives(indices: pd.DataFrame, scales: Sequence[str]) -> pd.DataFrame:
    rows = []
    for name in scales:
        if name in indices.columns:
            x = indices[name].dropna().astype(float)
            rows.append({"scale": name, "n": int(len(x)), "mean": float(x.mean()), "sd": float(x.std(ddof=1))})
    return pd.DataFrame(rows, columns=["scale", "n", "mean", "sd"])


# -- cells ---------------------------------------------------------------------------------------
def fmt(value: float, decimals: int) -> str:
    """Fixed decimals; no "-0.000"."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)) or v is pd.NA


def source(results: Results, file: str, row: Mapping[str, Any], column: str, scale: float = 1.0) -> Source | None:
    """The Source of ``column`` in the one row of ``results[file]`` that ``row`` selects
    (None if the value is missing)."""
    df = results[file]
    mask = np.ones(len(df), dtype=bool)
    for col, val in row.items():
        mask &= (df[col].astype(str) == str(val)).to_numpy()
    hit = df.loc[mask]
    if len(hit) != 1:
        raise PipelineError(f"{file}: {len(hit)} rows match {dict(row)}, expected one",
                            "the tidy results have duplicate or missing keys; re-run the stage that writes them")
    value = hit.iloc[0][column]
    if _isnan(value):
        return None
    return Source(file, tuple((k, str(v)) for k, v in row.items()), column, float(value), scale)


def num(*sources: Source | None, decimals: int, template: str = "{}", stars: Source | None = None,
        thresholds: Sequence[float] = (), p_style: bool = False) -> Cell:
    """A cell showing ``sources`` (in order) in ``template`` with fixed decimals; an empty cell if
    any source is missing. ``stars`` appends one star per threshold the p value is below;
    ``p_style`` shows values under 10^-decimals as "<0.001"."""
    if not sources or any(s is None for s in sources):
        return Cell("")
    parts = []
    for s in sources:
        v = s.value * s.scale
        if p_style and v < 10 ** -decimals:
            parts.append("<" + fmt(10 ** -decimals, decimals))
        else:
            parts.append(fmt(v, decimals))
    text = template.format(*parts)
    if stars is not None:
        text += "*" * sum(stars.value < t for t in thresholds)
    return Cell(text, sources=tuple(sources), stars=stars, numeric=True)


def text(value: str) -> Cell:
    return Cell(value)


def _absent(key: str, caption: str, what: str, hint: str, lang: str) -> Table:
    return Table(key=key, caption=caption, header=(), rows=(), skipped=_t("absent", lang, what=what, hint=hint), lang=lang)


def _need(results: Results, files: Sequence[str]) -> list[str]:
    return [f for f in files if f not in results]


def _header(*rows: Sequence[str | tuple[str, int]]) -> tuple[tuple[HeaderCell, ...], ...]:
    return tuple(tuple(HeaderCell(c) if isinstance(c, str) else HeaderCell(*c) for c in row) for row in rows)


def _star_legend(settings: Mapping[str, Any]) -> str:
    parts = [f"{'*' * (i + 1)} p < {t:g}" for i, t in enumerate(settings["stars"])]
    return _t("stars_note", settings["lang"], legend=", ".join(parts))


def value_label(instrument: Instrument, name: str, code: Any, lang: str) -> str:
    var = _variable(instrument, name)
    try:
        return var.value_labels(lang).get(int(float(code)), str(code)) if var else str(code)
    except ValueError:
        return str(code)


def term_label(term: str, instrument: Instrument, settings: Mapping[str, Any]) -> str:
    """A model term in words: report.term_labels, then the instrument's variable or scale label;
    interactions as "a × b"; cut points "1|2" as they are."""
    lang = settings["lang"]
    custom = settings.get("term_labels") or {}
    if term in custom:
        lab = custom[term]
        return lab.get(lang) or next(iter(lab.values())) if isinstance(lab, Mapping) else str(lab)
    if term == "Intercept":
        return _t("intercept", lang)
    if ":" in term:
        return " × ".join(term_label(t, instrument, settings) for t in term.split(":"))
    if term in instrument.scales:
        return instrument.scales[term].label.get(lang, term)
    var = _variable(instrument, term)
    return var.label_in(lang) if var else term


# -- builders: survey ----------------------------------------------------------------------------
def table_sample_flow(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("sample_flow", lang)
    if _need(results, ["sample_flow.csv"]):
        return _absent(key, cap, "processed/sample_flow.csv", "run the survey stage", lang)
    flow = results["sample_flow.csv"]
    rows = []
    last = len(flow) - 1
    for i, r in flow.iterrows():
        sel = {"rule": r["rule"]}
        mid = 0 < i < last
        cells = [text(str(r.get(f"label_{lang}", r["rule"])))]
        cells.append(num(source(results, "sample_flow.csv", sel, "flagged"), decimals=0) if mid else text(""))
        cells.append(num(source(results, "sample_flow.csv", sel, "excluded"), decimals=0) if i > 0 else text(""))
        cells.append(num(source(results, "sample_flow.csv", sel, "remaining"), decimals=0))
        rows.append(Row(tuple(cells)))
    return Table(key, cap, _header(["", _t("flagged", lang), _t("excluded", lang), _t("remaining", lang)]),
                 tuple(rows), (_t("flow_note", lang),), lang=lang)


def table_sample_characteristics(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    group = instrument.role("group")
    gvar = _variable(instrument, group) if group else None
    cap = _t("characteristics", lang, group=gvar.label_in(lang) if gvar else "group")
    if "derived/sample_characteristics" not in results:
        return _absent(key, cap, "processed/survey_clean.parquet", "run the survey stage", lang)
    char, tests = results["derived/sample_characteristics"], results["derived/sample_tests"]
    groups = [g for g in dict.fromkeys(char["group"]) if g != "total"]
    d = settings["decimals"]
    k = int(settings["min_cell"])
    F = "derived/sample_characteristics"
    head = [""] + [value_label(instrument, group, g, lang) for g in groups] + [_t("total", lang), _t("test", lang), _t("p", lang)]
    rows: list[Row] = []
    any_suppressed = False
    for name in dict.fromkeys(char["variable"]):
        var = _variable(instrument, name)
        sub = char[char["variable"] == name]
        trow = tests[tests["variable"] == name]
        tsel = {"variable": name}
        test_cells = [text(""), text("")]
        if len(trow):
            kind = trow.iloc[0]["test"]
            test_cells = [num(source(results, "derived/sample_tests", tsel, "statistic"), decimals=d["stat"],
                              template=("χ² = {}" if kind == "chi2" else "F = {}")),
                          num(source(results, "derived/sample_tests", tsel, "p_value"), decimals=d["p"], p_style=True)]
        if var.values:
            rows.append(Row(tuple([text(var.label_in(lang))] + [text("")] * (len(groups) + 1) + test_cells)))
            for level in dict.fromkeys(sub["level"]):
                cells = [text("  " + value_label(instrument, name, level, lang))]
                for g in groups + ["total"]:
                    r = sub[(sub["level"] == level) & (sub["group"] == g)].iloc[0]
                    if r["suppressed"]:
                        cells.append(Cell(f"<{k}" if 0 < r["n"] < k else "·", suppressed=True))
                        any_suppressed = True
                    else:
                        cells.append(_n_pct(results, F, {"variable": name, "level": level, "group": g}, d["percent"]))
                rows.append(Row(tuple(cells + [text(""), text("")])))
        else:
            cells = [text(f"{var.label_in(lang)}, {_t('mean_sd', lang)}")]
            for g in groups + ["total"]:
                r = sub[sub["group"] == g].iloc[0]
                if r["suppressed"]:
                    cells.append(Cell(f"n<{k}", suppressed=True))
                    any_suppressed = True
                else:
                    sel = {"variable": name, "level": "", "group": g}
                    cells.append(num(source(results, F, sel, "mean"), source(results, F, sel, "sd"),
                                     decimals=d["mean"], template="{} ({})"))
            rows.append(Row(tuple(cells + test_cells)))
    notes = [_t("char_note", lang)]
    if any_suppressed or k > 1:
        notes.append(_t("suppression_note", lang, k=k))
    return Table(key, cap, _header(head), tuple(rows), tuple(notes), lang=lang)


def _n_pct(results: Results, file: str, sel: Mapping[str, Any], decimals: int) -> Cell:
    n = source(results, file, sel, "n")
    p = source(results, file, sel, "percent")
    if n is None or p is None:
        return num(n, decimals=0)
    a, b = num(n, decimals=0), num(p, decimals=decimals)
    return Cell(f"{a.text} ({b.text})", sources=(n, p), numeric=True)


def table_codebook(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("codebook", lang)
    if "derived/codebook" not in results:
        return _absent(key, cap, "processed/survey_clean.parquet, survey_missing.parquet", "run the survey stage", lang)
    F = "derived/codebook"
    reasons = {r: instrument.missing_codes[c].get(lang, r) for c, r in
               ((c, spec["reason"]) for c, spec in instrument.missing_codes.items())}
    head_top = ["", "", "", ("", 1), (_t("missing", lang), 4)]
    head = [_t("variable", lang), _t("label", lang), _t("type", lang), _t("valid_n", lang),
            reasons.get("dont_know", "dont_know"), reasons.get("refused", "refused"), reasons.get("skipped", "skipped"),
            _t("other_missing", lang)]
    rows = []
    for name in results[F]["variable"]:
        sel = {"variable": name}
        var = instrument.variables[name]
        rows.append(Row((text(name), text(var.label_in(lang)), text(var.type),
                         *(num(source(results, F, sel, c), decimals=0) for c in
                           ("valid_n", "missing_dont_know", "missing_refused", "missing_skipped", "missing_other")))))
    return Table(key, cap, _header(head_top, head), tuple(rows), (_t("codebook_note", lang),), label_columns=3, lang=lang)


# -- builders: measurement -----------------------------------------------------------------------
def table_measurement_items(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("measurement", lang)
    if _need(results, ["measurement/items.csv"]):
        return _absent(key, cap, "processed/measurement/items.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    items = results["measurement/items.csv"]
    loadings = results.get("measurement/cfa_loadings.csv")
    rows: list[Row] = []
    for scale in dict.fromkeys(items["scale"]):
        label = instrument.scales[scale].label.get(lang, scale) if scale in instrument.scales else scale
        rows.append(Row(panel=label))
        for _, r in items[items["scale"] == scale].iterrows():
            sel = {"scale": scale, "item": r["item"]}
            var = instrument.variables.get(r["item"])
            lab = f"{r['item']} {var.label_in(lang) if var else r['item']}" + (_t("reverse", lang) if bool(r["reverse"]) else "")
            lam = Cell("")
            if loadings is not None:
                hit = loadings[(loadings["factor"] == scale) & (loadings["item"] == r["item"])]
                if len(hit):
                    lam = num(source(results, "measurement/cfa_loadings.csv", {"factor": scale, "item": r["item"]}, "std_all"),
                              decimals=d["fit"])
            F = "measurement/items.csv"
            rows.append(Row((text(lab), num(source(results, F, sel, "mean"), decimals=d["mean"]),
                             num(source(results, F, sel, "sd"), decimals=d["mean"]),
                             num(source(results, F, sel, "r_drop"), decimals=d["fit"]),
                             num(source(results, F, sel, "alpha_if_deleted"), decimals=d["fit"]), lam)))
    head = [_t("item", lang), _t("mean", lang), _t("sd", lang), _t("r_drop", lang), _t("alpha_if_deleted", lang), _t("loading", lang)]
    return Table(key, cap, _header(head), tuple(rows), (_t("measurement_note", lang),), lang=lang)


def table_reliability(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("reliability", lang)
    if _need(results, ["measurement/reliability.csv"]):
        return _absent(key, cap, "processed/measurement/reliability.csv", "run the measurement stage", lang)
    d = settings["decimals"]["fit"]
    rel = results["measurement/reliability.csv"]
    val = results.get("measurement/cfa_validity.csv")
    F, V = "measurement/reliability.csv", "measurement/cfa_validity.csv"
    rows = []
    for scale in rel["scale"]:
        sel = {"scale": scale}
        label = instrument.scales[scale].label.get(lang, scale) if scale in instrument.scales else scale
        has_val = val is not None and (val["factor"] == scale).any()
        vsel = {"factor": scale}
        rows.append(Row((text(label), num(source(results, F, sel, "n_items"), decimals=0),
                         num(source(results, F, sel, "n"), decimals=0),
                         num(source(results, F, sel, "raw_alpha"), decimals=d),
                         num(source(results, F, sel, "alpha_low"), source(results, F, sel, "alpha_high"), decimals=d, template="[{}, {}]"),
                         num(source(results, F, sel, "omega_total"), decimals=d),
                         num(source(results, F, sel, "omega_low"), source(results, F, sel, "omega_high"), decimals=d, template="[{}, {}]"),
                         num(source(results, V, vsel, "cr"), decimals=d) if has_val else text(""),
                         num(source(results, V, vsel, "ave"), decimals=d) if has_val else text(""))))
    n_boot = int(rel["n_boot"].dropna().iloc[0]) if "n_boot" in rel and rel["n_boot"].notna().any() else 0
    head_top = ["", "", "", ("α", 2), ("ω", 2), "", ""]
    head = [_t("scale", lang), _t("k", lang), _t("n", lang), _t("estimate", lang), _t("ci95", lang),
            _t("estimate", lang), _t("ci95", lang), _t("cr", lang), _t("ave", lang)]
    return Table(key, cap, _header(head_top, head), tuple(rows), (_t("reliability_note", lang, n_boot=n_boot),), lang=lang)


def table_cfa_fit(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("cfa_fit", lang)
    if _need(results, ["measurement/cfa_fit.csv"]):
        return _absent(key, cap, "processed/measurement/cfa_fit.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    F = "measurement/cfa_fit.csv"
    rows = []
    for name in results[F]["model"]:
        sel = {"model": name}
        rows.append(Row((text(name), num(source(results, F, sel, "n"), decimals=0),
                         num(source(results, F, sel, "chisq"), decimals=d["stat"]),
                         num(source(results, F, sel, "df"), decimals=0),
                         num(source(results, F, sel, "pvalue"), decimals=d["p"], p_style=True),
                         num(source(results, F, sel, "cfi"), decimals=d["fit"]),
                         num(source(results, F, sel, "tli"), decimals=d["fit"]),
                         num(source(results, F, sel, "rmsea"), decimals=d["fit"]),
                         num(source(results, F, sel, "rmsea_ci_lower"), source(results, F, sel, "rmsea_ci_upper"),
                             decimals=d["fit"], template="[{}, {}]"),
                         num(source(results, F, sel, "srmr"), decimals=d["fit"]))))
    head = [_t("model", lang), "N", "χ²", "df", "p", "CFI", "TLI", "RMSEA", _t("rmsea_ci", lang), "SRMR"]
    return Table(key, cap, _header(head), tuple(rows), (_t("cfa_note", lang),), lang=lang)


def table_invariance(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    group = instrument.role("group")
    gvar = _variable(instrument, group) if group else None
    cap = _t("invariance", lang, group=gvar.label_in(lang) if gvar else "groups")
    if _need(results, ["measurement/invariance.csv"]):
        return _absent(key, cap, "processed/measurement/invariance.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    F = "measurement/invariance.csv"
    rows = []
    for _, r in results[F].iterrows():
        sel = {"group_variable": r["group_variable"], "model": r["model"]}
        name = TEXT[r["model"]][lang] if r["model"] in TEXT else str(r["model"])
        holds = "" if _isnan(r.get("holds")) else _t("yes" if str(r["holds"]) == "True" else "no", lang)
        rows.append(Row((text(name), num(source(results, F, sel, "chisq"), decimals=d["stat"]),
                         num(source(results, F, sel, "df"), decimals=0),
                         num(source(results, F, sel, "cfi"), decimals=d["fit"]),
                         num(source(results, F, sel, "rmsea"), decimals=d["fit"]),
                         num(source(results, F, sel, "srmr"), decimals=d["fit"]),
                         num(source(results, F, sel, "chisq_diff"), decimals=d["stat"]),
                         num(source(results, F, sel, "df_diff"), decimals=0),
                         num(source(results, F, sel, "pvalue_diff"), decimals=d["p"], p_style=True),
                         num(source(results, F, sel, "delta_cfi"), decimals=d["fit"]),
                         num(source(results, F, sel, "delta_rmsea"), decimals=d["fit"]), text(holds))))
    head = [_t("model", lang), "χ²", "df", "CFI", "RMSEA", "SRMR", _t("delta_chisq", lang), _t("delta_df", lang), "p",
            _t("delta_cfi", lang), _t("delta_rmsea", lang), _t("holds", lang)]
    return Table(key, cap, _header(head), tuple(rows), (_t("invariance_note", lang),), lang=lang)


def table_correlations(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("correlations", lang)
    if _need(results, ["measurement/correlations.csv"]):
        return _absent(key, cap, "processed/measurement/correlations.csv", "run the measurement stage", lang)
    d = settings["decimals"]
    cor = results["measurement/correlations.csv"]
    F = "measurement/correlations.csv"
    names = list(dict.fromkeys(list(cor["var1"]) + list(cor["var2"])))
    desc = results.get("derived/index_descriptives")
    rows = []
    for i, a in enumerate(names):
        label = instrument.scales[a].label.get(lang, a) if a in instrument.scales else a
        cells = [text(f"{i + 1}. {label}")]
        if desc is not None and (desc["scale"] == a).any():
            cells += [num(source(results, "derived/index_descriptives", {"scale": a}, "mean"), decimals=d["mean"]),
                      num(source(results, "derived/index_descriptives", {"scale": a}, "sd"), decimals=d["mean"])]
        else:
            cells += [text(""), text("")]
        for j, b in enumerate(names):
            if j < i:
                hit = cor[((cor["var1"] == a) & (cor["var2"] == b)) | ((cor["var1"] == b) & (cor["var2"] == a))]
                if len(hit):
                    sel = {"var1": hit.iloc[0]["var1"], "var2": hit.iloc[0]["var2"]}
                    cells.append(num(source(results, F, sel, "r"), decimals=d["fit"],
                                     stars=source(results, F, sel, "p"), thresholds=settings["stars"]))
                else:
                    cells.append(text(""))
            elif j == i:
                cells.append(text("—"))
            else:
                cells.append(text(""))
        rows.append(Row(tuple(cells)))
    head = ["", _t("mean", lang), _t("sd", lang)] + [str(j + 1) for j in range(len(names))]
    notes = (_t("corr_note", lang, nmin=int(cor["n"].min()), nmax=int(cor["n"].max())), _star_legend(settings))
    return Table(key, cap, _header(head), tuple(rows), notes, lang=lang)


# -- builders: models ------------------------------------------------------------------------------
def _model_columns(results: Results, table: str) -> list[str]:
    """The models of one table, in spec order; a pooled imputation fit (``<id>_mi``) sits beside
    its complete-case fit, and models of the same outcome side by side (stable)."""
    fits = results["models/fits.csv"]
    ids = list(fits.loc[fits["table"].astype(str) == table, "model"])
    out = []
    for m in ids:
        out += [m[:-3], m] if m.endswith("_mi") and m[:-3] in set(fits["model"]) else [m]
    out = list(dict.fromkeys(out))
    outcome = {m: str(_fit_row(results, m[:-3] if m.endswith("_mi") else m)["outcome"]) for m in out}
    first = {o: i for i, o in reversed(list(enumerate(outcome[m] for m in out)))}
    return sorted(out, key=lambda m: first[outcome[m]])


def _fit_row(results: Results, model: str) -> pd.Series:
    fits = results["models/fits.csv"]
    return fits[fits["model"] == model].iloc[0]


def _coef_file(results: Results, model: str) -> str:
    mi = results.get("models/mi_pooled.csv")
    if mi is not None and (mi["model"] == model).any():
        return "models/mi_pooled.csv"
    return "models/coefficients.csv"


def regression_table(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str, caption: str,
                     models: Sequence[str]) -> Table:
    """Models in columns; estimate with stars and SE (or CI) beneath; cut points in a panel;
    N, communities, R² / pseudo-R², ICC, AIC, variance components, imputations below; the
    covariance type of each model in a note, read from the results."""
    lang = settings["lang"]
    d = settings["decimals"]["coef"]
    dfit = settings["decimals"]["fit"]
    stars = settings["stars"]
    use_ci = settings["uncertainty"] == "ci"
    fits = {m: _fit_row(results, m) for m in models}
    base = {m: (_fit_row(results, m[:-3]) if m.endswith("_mi") else fits[m]) for m in models}

    def outcome(m: str) -> str:
        o = base[m]["outcome"] if not _isnan(base[m]["outcome"]) else _fit_row(results, m[:-3])["outcome"]
        return term_label(str(o), instrument, settings)

    terms: list[str] = []
    for m in models:
        cf = results[_coef_file(results, m)]
        terms += list(cf.loc[cf["model"] == m, "term"])
    terms = list(dict.fromkeys(terms))
    cuts = [t for t in terms if "|" in t]
    body = [t for t in terms if "|" not in t and t != "Intercept"] + (["Intercept"] if "Intercept" in terms else [])

    def coef_rows(term: str) -> list[Row]:
        est, unc = [text(term_label(term, instrument, settings))], [text("")]
        for m in models:
            F = _coef_file(results, m)
            cf = results[F]
            if not ((cf["model"] == m) & (cf["term"] == term)).any():
                est.append(text(""))
                unc.append(text(""))
                continue
            sel = {"model": m, "term": term}
            est.append(num(source(results, F, sel, "estimate"), decimals=d, stars=source(results, F, sel, "p_value"),
                           thresholds=stars))
            if use_ci:
                unc.append(num(source(results, F, sel, "conf_low"), source(results, F, sel, "conf_high"), decimals=d,
                               template="[{}, {}]"))
            else:
                unc.append(num(source(results, F, sel, "std_error"), decimals=d, template="({})"))
        return [Row(tuple(est)), Row(tuple(unc))]

    rows: list[Row] = []
    for t in body:
        rows += coef_rows(t)
    if cuts:
        rows.append(Row(panel=_t("cut_points", lang)))
        for t in cuts:
            rows += coef_rows(t)
    rows.append(Row(panel=_t("model_stats", lang)))
    FF = "models/fits.csv"

    def stat_row(label: str, column: str, decimals: int) -> None:
        cells = [num(source(results, FF, {"model": m}, column), decimals=decimals) if column in fits[m] else text("")
                 for m in models]
        if any(c.sources for c in cells):
            rows.append(Row(tuple([text(label)] + cells)))

    stat_row(_t("n_obs", lang), "n_obs", 0)
    comm = []
    for m in models:
        f = fits[m] if not (m.endswith("_mi") and _isnan(fits[m].get("n_clusters"))) else base[m]
        col = "n_clusters" if not _isnan(f.get("n_clusters")) else "n_groups"
        comm.append(num(source(results, FF, {"model": f["model"]}, col), decimals=0))
    if not any(c.sources for c in comm):   # an imputed fit reports no clusters: take its complete-case fit's
        comm = []
    if comm:
        rows.append(Row(tuple([text(_t("n_clusters", lang))] + comm)))
    stat_row(_t("r2", lang), "r2", dfit)
    stat_row(_t("pseudo_r2", lang), "pseudo_r2", dfit)
    stat_row(_t("icc", lang), "icc", dfit)
    comp = results.get("models/components.csv")
    if comp is not None:
        for kind, label in (("var", "var_community"), ("residual", "var_residual")):
            cells = []
            for m in models:
                hit = comp[(comp["model"] == m) & (comp["kind"] == kind)]
                if len(hit) == 1:
                    r = hit.iloc[0]
                    cells.append(num(source(results, "models/components.csv", {"model": m, "group": r["group"], "kind": kind},
                                            "estimate"), decimals=dfit))
                else:
                    cells.append(text(""))
            if any(c.sources for c in cells):
                rows.append(Row(tuple([text(_t(label, lang))] + cells)))
    stat_row(_t("aic", lang), "aic", 1)
    stat_row(_t("m", lang), "m", 0)

    # header: outcome spanners over runs of columns with the same outcome, then model ids, then methods
    spans: list[tuple[str, int]] = [("", 1)]
    for m in models:
        o = outcome(m)
        if len(spans) > 1 and spans[-1][0] == o:
            spans[-1] = (o, spans[-1][1] + 1)
        else:
            spans.append((o, 1))
    ids = [""] + [m for m in models]
    methods = [""] + [_method(m, fits, models, lang) for m in models]
    notes = [_t("se_beneath" if not use_ci else "ci_beneath", lang), _star_legend(settings)]
    notes += covariance_notes(results, models, instrument, settings)
    return Table(key, caption, _header(spans, ids, methods), tuple(rows), tuple(notes), lang=lang)


def _method(m: str, fits: Mapping[str, pd.Series], models: Sequence[str], lang: str) -> str:
    f = fits[m]
    if m.endswith("_mi"):
        return METHOD["mi"][lang]
    if f"{m}_mi" in models:
        return METHOD["cc"][lang]
    if f["family"] in METHOD:
        return METHOD[f["family"]][lang]
    return METHOD.get(f["estimator"], {}).get(lang, str(f["estimator"]))


def covariance_notes(results: Results, models: Sequence[str], instrument: Instrument, settings: Mapping[str, Any]) -> list[str]:
    """One note per kind of standard error, naming its models, read from the coefficients
    (cov_type, df) and fits (cluster, number of clusters, REML)."""
    lang = settings["lang"]
    groups: dict[tuple, list[str]] = {}
    info: dict[tuple, dict[str, Any]] = {}
    for m in models:
        f = _fit_row(results, m)
        F = _coef_file(results, m)
        cf = results[F][results[F]["model"] == m]
        cov = str(cf["cov_type"].iloc[0]) if len(cf) else str(f["cov_type"])
        dfs = cf["df"].dropna() if "df" in cf else pd.Series(dtype=float)
        if m.endswith("_mi"):
            kind = ("mi",)
            info[kind] = {"m": int(f["m"]), "n": int(f["n_obs"]), "ncc": int(f["n_obs_complete_case"])}
            groups.setdefault(kind, []).append(m)
            base = m[:-3]
            f = _fit_row(results, base)
        cluster = f.get("cluster")
        cl = "" if _isnan(cluster) else (_t("community", lang) if cluster == instrument.role("community") else str(cluster))
        g = "" if _isnan(f.get("n_clusters")) else int(f["n_clusters"])
        if cov == "cluster_cr2":
            kind = (cov, cl, g)
        elif cov == "model" and f["estimator"] == "mixed" and dfs.nunique() == 2:
            kind = (cov, "bw", bool(f.get("reml")))
            info.setdefault(kind, {"dfb": set(), "dfw": set()})
            info[kind]["dfb"].add(int(dfs.min()))
            info[kind]["dfw"].add(int(dfs.max()))
        else:
            kind = (cov, cl, g, "z" if dfs.empty else f"t{int(dfs.iloc[0])}" if dfs.nunique() == 1 else "t")
        groups.setdefault(kind, []).append(m)
        if cov == "cluster_cr2":
            info.setdefault(kind, {"dfs": []})["dfs"] += list(dfs)
    notes = []
    for kind, ms in groups.items():
        names = ", ".join(ms)
        if kind[0] == "mi":
            notes.append(_t("mi_note", lang, models=names, **info[kind]))
        elif kind[0] == "cluster_cr2":
            dfs = info[kind]["dfs"]
            notes.append(_t("cov_cluster_cr2", lang, models=names, cluster=kind[1], g=kind[2],
                            dfmin=fmt(min(dfs), 1), dfmax=fmt(max(dfs), 1)))
        elif kind[0] == "model" and kind[1] == "bw":
            dfb = "/".join(str(x) for x in sorted(info[kind]["dfb"]))
            dfw = "/".join(str(x) for x in sorted(info[kind]["dfw"]))
            notes.append(_t("cov_model_bw", lang, models=names, reml=_t("reml", lang) if kind[2] else "", dfb=dfb, dfw=dfw))
        else:
            cov, cl, g, tests = kind
            tests_text = _t("z_tests", lang) if tests == "z" else (_t("t_tests", lang, df=tests[1:]) if len(tests) > 1 else "")
            if cov == "cluster":
                notes.append(_t("cov_cluster", lang, models=names, cluster=cl, g=g, tests=tests_text))
            elif cov == "model":
                notes.append(_t("cov_model", lang, models=names, tests=tests_text))
            else:
                notes.append(_t("cov_other", lang, models=names, cov=cov, tests=tests_text))
    return notes


def _models_table(name: str) -> Callable[..., Table]:
    """The regression table of the models whose spec says ``table: <name>``. Its caption is
    ``params.yaml: report.model_tables.<name>`` ({zh, en}) when given, else "Models of <outcome>"
    with the instrument's label of the models' common outcome, else "Models: <name>"."""
    def build(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
        lang = settings["lang"]
        given = (settings.get("model_tables") or {}).get(name)
        fallback = given[lang] if isinstance(given, Mapping) and lang in given else _t("models_of", lang, y=name)
        if _need(results, ["models/fits.csv", "models/coefficients.csv"]):
            return _absent(key, fallback, "processed/models/", "run the models stage", lang)
        models = _model_columns(results, name)
        if not models:
            return _absent(key, fallback, f"models with table '{name}'", "params.yaml models.specs", lang)
        outcomes = {str(_fit_row(results, m[:-3] if m.endswith("_mi") else m)["outcome"]) for m in models}
        cap = fallback
        if not isinstance(given, Mapping) and len(outcomes) == 1:
            (outcome,) = outcomes
            scale = instrument.scales.get(outcome)
            label = scale.label.get(lang, outcome) if scale is not None else outcome
            cap = _t("models_of", lang, y=label[:1].lower() + label[1:] if lang == "en" else label)
        return regression_table(results, instrument, settings, key, cap, models)
    build.__name__ = f"table_{name}_models"
    return build


def table_mediation(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    if _need(results, ["models/mediation.csv"]):
        return _absent(key, _t("mediation", lang, x="x", m="m", y="y"), "processed/models/mediation.csv", "run the models stage", lang)
    F = "models/mediation.csv"
    med = results[F]
    first = med.iloc[0]
    lab = {k: term_label(str(first[k]), instrument, settings) for k in ("x", "m", "y")}
    d = settings["decimals"]["coef"]
    rows = []
    for _, r in med.iterrows():
        sel = {"model": r["model"], "effect": r["effect"]}
        name = f"eff_{r['effect']}"
        label = _t(name, lang, **lab) if name in TEXT else str(r["effect"])
        rows.append(Row((text(label), num(source(results, F, sel, "estimate"), decimals=d),
                         num(source(results, F, sel, "boot_se"), decimals=d),
                         num(source(results, F, sel, "conf_low"), source(results, F, sel, "conf_high"), decimals=d,
                             template="[{}, {}]"))))
    cov = ", ".join(term_label(c.strip(), instrument, settings) for c in str(first["covariates"]).split(","))
    note = _t("mediation_note", lang, method=first["ci_method"], n_boot=int(first["n_boot"]), g=int(first["n_clusters"]),
              n=int(first["n_obs"]), cov=cov)
    head = [_t("effect", lang), _t("estimate", lang), _t("boot_se", lang), _t("ci95", lang)]
    return Table(key, _t("mediation", lang, **lab), _header(head), tuple(rows), (note,), lang=lang)


def table_icc(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("icc_table", lang)
    if _need(results, ["models/icc.csv"]):
        return _absent(key, cap, "processed/models/icc.csv", "run the models stage", lang)
    F = "models/icc.csv"
    d = settings["decimals"]
    rows = []
    for o in results[F]["outcome"]:
        sel = {"outcome": o}
        rows.append(Row((text(term_label(o, instrument, settings)), num(source(results, F, sel, "icc_icc"), decimals=d["fit"]),
                         num(source(results, F, sel, "icc_var_between"), decimals=d["fit"]),
                         num(source(results, F, sel, "icc_var_within"), decimals=d["fit"]),
                         num(source(results, F, sel, "lrt_lr_stat"), decimals=d["stat"]),
                         num(source(results, F, sel, "lrt_p_value"), decimals=d["p"], p_style=True),
                         num(source(results, F, sel, "icc_n_obs"), decimals=0),
                         num(source(results, F, sel, "icc_n_groups"), decimals=0))))
    head = [_t("outcome", lang), "ICC", _t("var_between", lang), _t("var_within", lang), _t("lrt", lang), "p", "N",
            _t("n_clusters", lang)]
    return Table(key, cap, _header(head), tuple(rows), (_t("icc_note", lang),), lang=lang)


# -- builders: topics and coding (skipped with a note when their outputs are absent) -------------
def _label_col(df: pd.DataFrame, lang: str) -> str | None:
    for c in (f"label_{lang}", "label", "label_en", "label_zh"):
        if c in df.columns:
            return c
    return None


def table_topics(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("topics", lang)
    missing = _need(results, ["topics/topics.csv", "topics/topic_words.csv"])
    if missing:
        return _absent(key, cap, ", ".join(f"processed/{m}" for m in missing), "run the topics stage", lang)
    topics, words = results["topics/topics.csv"], results["topics/topic_words.csv"]
    if "model" in topics.columns and topics["model"].nunique() > 1:
        raise PipelineError("processed/topics/topics.csv: topics of several models", "keep only the chosen model's topics")
    lab = _label_col(topics, lang)
    sep = "、" if lang == "zh" else ", "
    d = settings["decimals"]["percent"]
    rows = []
    for _, r in topics.sort_values("topic").iterrows():
        w = words[words["topic"] == r["topic"]].sort_values("rank")
        top = sep.join(w.loc[w["kind"] == "top", "word"].astype(str))
        frex = sep.join(w.loc[w["kind"] == "frex", "word"].astype(str))
        prev = num(source(results, "topics/topics.csv", {"topic": r["topic"]}, "prevalence", scale=100), decimals=d)
        rows.append(Row((text(str(r["topic"])), text(str(r[lab]) if lab and not _isnan(r[lab]) else ""), prev,
                         Cell(top), Cell(frex))))
    head = [_t("topic", lang), _t("label", lang), _t("prevalence", lang), _t("top_words", lang), _t("frex_words", lang)]
    return Table(key, cap, _header(head), tuple(rows), (_t("topics_note", lang),), label_columns=2, lang=lang)


def table_k_selection(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("k_selection", lang)
    if _need(results, ["topics/k_selection.csv"]):
        return _absent(key, cap, "processed/topics/k_selection.csv", "run the topics stage", lang)
    F = "topics/k_selection.csv"
    ks = results[F]
    d = settings["decimals"]["fit"]
    cols = [c for c in ("coherence_npmi", "exclusivity", "stability", "perplexity") if c in ks.columns]
    names = {"coherence_npmi": "coherence", "exclusivity": "exclusivity", "stability": "stability", "perplexity": "perplexity"}
    has_model = "model" in ks.columns
    rows = []
    for _, r in ks.iterrows():
        sel = {"model": r["model"], "k": r["k"]} if has_model else {"k": r["k"]}
        chosen = "✓" if str(r.get("chosen", "")).lower() in ("true", "1", "yes") else ""
        lead = [text(str(r["model"]))] if has_model else []
        rows.append(Row(tuple(lead + [num(source(results, F, sel, "k"), decimals=0)] +
                              [num(source(results, F, sel, c), decimals=1 if c == "perplexity" else d) for c in cols] +
                              [text(chosen)])))
    head = ([_t("model", lang)] if has_model else []) + ["K"] + [_t(names[c], lang) for c in cols] + [_t("chosen", lang)]
    return Table(key, cap, _header(head), tuple(rows), (), label_columns=1, lang=lang)


def _theme_labels(results: Results, settings: Mapping[str, Any], df: pd.DataFrame) -> dict[str, str]:
    lang = settings["lang"]
    out = {str(k): (v.get(lang) or next(iter(v.values()))) if isinstance(v, Mapping) else str(v)
           for k, v in (settings.get("themes") or {}).items()}
    lab = None
    for c in (f"theme_label_{lang}", f"label_{lang}", "theme_label", "label"):
        if c in df.columns:
            lab = c
            break
    if lab:
        for t, l in zip(df["theme"].astype(str), df[lab]):
            out.setdefault(t, str(l))
    return out


def _level_label(dimension: str, level: Any, instrument: Instrument, settings: Mapping[str, Any]) -> str:
    lang = settings["lang"]
    if dimension == "role":
        lab = (settings.get("role_labels") or {}).get(str(level))
        if isinstance(lab, Mapping):
            return lab.get(lang) or next(iter(lab.values()))
        return str(level)
    if _variable(instrument, dimension) is not None:
        return value_label(instrument, dimension, level, lang)
    return str(level)


def table_theme_frequencies(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("theme_freq", lang)
    if _need(results, ["coding/frequencies.csv"]):
        return _absent(key, cap, "processed/coding/frequencies.csv", "run the coding stage", lang)
    F = "coding/frequencies.csv"
    fr = results[F]
    d = settings["decimals"]["percent"]
    dims = list(dict.fromkeys(fr["dimension"]))
    columns = [(dim, lv) for dim in dims for lv in dict.fromkeys(fr.loc[fr["dimension"] == dim, "level"])]
    labels = _theme_labels(results, settings, fr)
    rows = []
    for theme in dict.fromkeys(fr["theme"]):
        cells = [text(labels.get(str(theme), str(theme)))]
        for dim, lv in columns:
            hit = fr[(fr["dimension"] == dim) & (fr["level"] == lv) & (fr["theme"] == theme)]
            if len(hit) != 1:
                cells.append(text(""))
                continue
            sel = {"dimension": dim, "level": lv, "theme": theme}
            share = source(results, F, sel, "share", scale=100)
            coded = source(results, F, sel, "coded")
            cells.append(Cell(f"{fmt(share.value * 100, d)} ({fmt(coded.value, 0)})", sources=(share, coded), numeric=True)
                         if share and coded else text(""))
        rows.append(Row(tuple(cells)))
    dim_label = {"role": _t("role", lang)}
    spans = [("", 1)] + [(dim_label.get(dim) or (_variable(instrument, dim).label_in(lang) if _variable(instrument, dim) else dim),
                          sum(1 for c in columns if c[0] == dim)) for dim in dims]
    head = [_t("theme", lang)] + [_level_label(dim, lv, instrument, settings) for dim, lv in columns]
    return Table(key, cap, _header(spans, head), tuple(rows), (_t("freq_note", lang),), lang=lang)


def table_agreement(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    lang = settings["lang"]
    cap = _t("agreement", lang)
    if _need(results, ["coding/agreement.csv"]):
        return _absent(key, cap, "processed/coding/agreement.csv", "run the coding stage", lang)
    F = "coding/agreement.csv"
    ag = results[F]
    d = settings["decimals"]["fit"]
    labels = _theme_labels(results, settings, ag)
    cols = [c for c in ("precision", "recall", "f1") if c in ag.columns]
    rows = []
    for _, r in ag.iterrows():
        sel = {"theme": r["theme"]}
        overall = str(r["theme"]).lower() in ("overall", "all", "alpha")
        label = _t("overall", lang) if overall else labels.get(str(r["theme"]), str(r["theme"]))
        kappa_col = "alpha" if overall and "alpha" in ag.columns and not _isnan(r.get("alpha")) else "kappa"
        rows.append(Row((text(label), num(source(results, F, sel, "n"), decimals=0),
                         num(source(results, F, sel, kappa_col), decimals=d),
                         num(source(results, F, sel, "kappa_ci_low"), source(results, F, sel, "kappa_ci_high"),
                             decimals=d, template="[{}, {}]") if "kappa_ci_low" in ag.columns else text(""),
                         *(num(source(results, F, sel, c), decimals=d) for c in cols))))
    head = [_t("theme", lang), "n", _t("kappa", lang), _t("ci95", lang)] + [_t(c, lang) for c in cols]
    return Table(key, cap, _header(head), tuple(rows), (_t("agreement_note", lang),), lang=lang)


# -- all tables ----------------------------------------------------------------------------------
# The report's tables in order: (section, name, builder). MODEL_TABLES stands for one regression
# table per `table` group of params.yaml models.specs (in the order the groups first appear in
# processed/models/fits.csv). Tables are numbered in this order: key "table<NN>_<name>".
MODEL_TABLES = "<model tables>"
BUILDERS: tuple[tuple[str, str, Callable[..., Table] | None], ...] = (
    ("sample", "sample_flow", table_sample_flow),
    ("sample", "sample_characteristics", table_sample_characteristics),
    ("sample", "codebook", table_codebook),
    ("measurement", "measurement_items", table_measurement_items),
    ("measurement", "reliability", table_reliability),
    ("measurement", "cfa_fit", table_cfa_fit),
    ("measurement", "invariance", table_invariance),
    ("measurement", "correlations", table_correlations),
    ("models", MODEL_TABLES, None),
    ("models", "mediation", table_mediation),
    ("models", "icc", table_icc),
    ("qualitative", "topics", table_topics),
    ("qualitative", "k_selection", table_k_selection),
    ("qualitative", "theme_frequencies", table_theme_frequencies),
    ("qualitative", "coder_agreement", table_agreement),
)
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def model_groups(results: Results) -> list[str]:
    """The ``table`` groups of the fitted models, in the order they first appear (none when the
    models stage has not run)."""
    fits = results.get("models/fits.csv")
    if fits is None or "table" not in fits.columns:
        return []
    groups = [str(g) for g in dict.fromkeys(fits["table"].dropna().astype(str)) if str(g).strip()]
    bad = [g for g in groups if not _GROUP.fullmatch(g)]
    if bad:
        raise PipelineError(f"params.yaml: models.specs table '{bad[0]}' cannot name a table file",
                            "use letters, digits, _ and - (the caption goes in report.model_tables)")
    return groups


def table_models_absent(results: Results, instrument: Instrument, settings: Mapping[str, Any], key: str) -> Table:
    """Stands for the model tables when there are none: says what to run."""
    lang = settings["lang"]
    if _need(results, ["models/fits.csv", "models/coefficients.csv"]):
        return _absent(key, _t("regression_models", lang), "processed/models/", "run the models stage", lang)
    return _absent(key, _t("regression_models", lang), "models with a table group", "params.yaml models.specs", lang)


def table_plan(results: Results) -> list[tuple[str, str, Callable[..., Table]]]:
    """(section, key, builder) of every table, numbered in report order."""
    plan: list[tuple[str, str, Callable[..., Table]]] = []
    for section, name, build in BUILDERS:
        if build is None:
            groups = model_groups(results)
            plan += [(section, f"{g}_models", _models_table(g)) for g in groups] or [
                (section, "models", table_models_absent)]
        else:
            plan.append((section, name, build))
    return [(section, f"table{i:02d}_{name}", build) for i, (section, name, build) in enumerate(plan, start=1)]


def build_tables(results: Results, instrument: Instrument, settings: Mapping[str, Any]) -> list[Table]:
    """Every table, in report order; a table whose input is absent comes back with ``skipped``
    set (its note says what to run). ``results`` should have passed through derive_results."""
    settings = {**DEFAULTS, **settings, "decimals": {**DEFAULTS["decimals"], **(settings.get("decimals") or {})}}
    return [build(results, instrument, settings, key) for _, key, build in table_plan(results)]


def table_sections(results: Results) -> dict[str, str]:
    """Table key -> report section (sample, measurement, models, qualitative)."""
    return {key: section for section, key, _ in table_plan(results)}


# -- the check: every number shown equals its tidy source ----------------------------------------
_NUMBER = re.compile(r"(<)?(-?\d+(?:\.(\d+))?)")


def check_numbers(table: Table, results: Results, thresholds: Sequence[float] = DEFAULTS["stars"]) -> list[str]:
    """Problems (empty if none): a number shown that is not its source rounded to the shown
    decimals, a source value that differs from the tidy file, stars that do not match the p
    value, or a number in a data column without a source."""
    problems = []
    for i, row in enumerate(table.rows):
        for j, cell in enumerate(row.cells):
            where = f"{table.key} row {i + 1} col {j + 1} '{cell.text}'"
            if cell.suppressed:
                if cell.sources:
                    problems.append(f"{where}: a suppressed cell shows a number with a source")
                continue
            found = _NUMBER.findall(cell.text)
            if not cell.sources:
                if found and j >= table.label_columns and cell.text not in ("—",):
                    problems.append(f"{where}: a number without a source")
                continue
            if len(found) != len(cell.sources):
                problems.append(f"{where}: {len(found)} numbers shown, {len(cell.sources)} sources")
                continue
            for (lt, shown, decimals), src in zip(found, cell.sources):
                tidy = _tidy_value(results, src)
                if isinstance(tidy, str):
                    problems.append(f"{where}: {tidy}")
                    continue
                if not math.isclose(tidy, src.value, rel_tol=1e-12, abs_tol=1e-12):
                    problems.append(f"{where}: source value {src.value} but {src.file} has {tidy}")
                v = tidy * src.scale
                dec = len(decimals)
                if lt:
                    if not v < float(shown):
                        problems.append(f"{where}: shows <{shown} but the value is {v}")
                elif abs(float(shown) - v) > 0.5 * 10 ** -dec + 1e-9 * max(1.0, abs(v)):
                    problems.append(f"{where}: shows {shown} but {src.file} {src.column} is {v}")
            if cell.stars is not None:
                n = len(cell.text) - len(cell.text.rstrip("*"))
                p = _tidy_value(results, cell.stars)
                want = sum(p < t for t in thresholds) if not isinstance(p, str) else -1
                if n != want:
                    problems.append(f"{where}: {n} stars for p = {p}")
    return problems


def _tidy_value(results: Results, src: Source) -> float | str:
    df = results.get(src.file)
    if df is None:
        return f"{src.file} is not among the results"
    mask = np.ones(len(df), dtype=bool)
    for col, val in src.row:
        mask &= (df[col].astype(str) == str(val)).to_numpy()
    hit = df.loc[mask]
    if len(hit) != 1:
        return f"{len(hit)} rows of {src.file} match {dict(src.row)}"
    return float(hit.iloc[0][src.column])
