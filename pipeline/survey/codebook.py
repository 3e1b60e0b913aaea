"""The codebook of the clean survey data (step 8 of the survey stage; see
:mod:`pipeline.stages.survey`): one frame of variables and one of values, rendered as Markdown and
as an Excel workbook with reproducible bytes, and the labels sidecar of the clean data.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core.digits import rounded
from pipeline.core.files import office_bytes
from pipeline.core.instrument import Instrument
from pipeline.survey.missing import NUM_SUFFIX, SOFT_REASONS, answer_variables, missing_reasons

BLANK = {"en": "blank in the file (system-missing)", "zh": "空白（系统缺失）"}
LANGS = ("zh", "en")
MD_TOP_VALUES = 10  # text variables: the most frequent values listed in codebook.md (all in the .xlsx)
MISSING_TABLE = "survey_missing.parquet"  # the missing-reasons table, as the labels sidecar names it


def instrument_languages(instrument: Instrument) -> list[str]:
    return [lang for lang in LANGS if any(lang in v.label for v in instrument.variables.values())] or ["en"]


def derived_label(instrument: Instrument, base: str) -> dict[str, str]:
    """Labels of ``<base>_num``."""
    return {lang: f"{text}（数值）" if lang == "zh" else f"{text} (number)"
            for lang, text in instrument.variables[base].label.items() if text}


def role_of(instrument: Instrument, name: str) -> str:
    return ", ".join(k for k, v in instrument.roles.items() if v == name)


def codebook(clean: pd.DataFrame, missing: pd.DataFrame, instrument: Instrument, derived: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per variable (instrument order, then derived columns) and one per (variable, value)."""
    rec = instrument.role("record")
    rid = instrument.role("id")
    reasons = missing_reasons(instrument)
    by_reason = (missing.groupby(["variable", "reason"], observed=False).size().unstack("reason", fill_value=0)
                 if len(missing) else pd.DataFrame(0, index=pd.Index([], name="variable"), columns=reasons))
    var_rows, value_rows = [], []
    n = len(clean)
    names = list(instrument.variables) + derived
    for name in names:
        var = instrument.variables.get(name)
        base = name[: -len(NUM_SUFFIX)] if var is None else name
        label = var.label if var is not None else derived_label(instrument, base)
        row = {"variable": name, **{f"label_{lang}": label.get(lang, "") for lang in LANGS},
               "type": var.type if var is not None else "numeric", "role": role_of(instrument, name) if var else "",
               "required": bool(var.required) if var else False, "in_file": name in clean.columns,
               "derived_from": "" if var is not None else base}
        if name not in clean.columns:
            var_rows.append(row)
            continue
        s = clean[name]
        valid = int(s.notna().sum())
        row["valid_n"] = valid
        counts = by_reason.loc[name] if name in by_reason.index else pd.Series(0, index=reasons)
        row["missing_n"] = n - valid
        for reason in reasons:
            row[f"missing_{reason}"] = int(counts.get(reason, 0))
        kind = var.type if var is not None else "numeric"
        if name == rid:
            row["distinct"] = int(s.nunique())
            row["note"] = "pseudonymised (keyed HMAC-SHA256)"
        elif name == rec:
            row["distinct"] = int(s.nunique())
            row["note"] = "one per submission"
        elif kind == "string":
            row["distinct"] = int(s.nunique())
            if var.free_text:
                row["note"] = "free text (values not listed); full-width digits and spaces normalised"
            else:
                for value, count in s.value_counts().sort_index().items():
                    value_rows.append({"variable": name, "code": str(value), **{f"label_{lang}": "" for lang in LANGS},
                                       "n": int(count), "percent": round(100 * count / valid, 1) if valid else None,
                                       "missing_reason": ""})
        elif kind == "datetime":
            row["min"] = str(s.min()) if valid else ""
            row["max"] = str(s.max()) if valid else ""
        elif var is not None and var.values and name != rec:
            freq = s.value_counts()
            for code, labs in sorted(var.values.items()):
                count = int(freq.get(float(code), 0))
                value_rows.append({"variable": name, "code": f"{code:g}", **{f"label_{lang}": labs.get(lang, "") for lang in LANGS},
                                   "n": count, "percent": round(100 * count / valid, 1) if valid else None, "missing_reason": ""})
            if name in answer_variables(instrument, [name]):
                for code, spec in sorted(instrument.missing_codes_of(name).items()):
                    value_rows.append({"variable": name, "code": f"{code:g}", **{f"label_{lang}": spec.get(lang, "") for lang in LANGS},
                                       "n": int(counts.get(spec["reason"], 0)), "percent": None, "missing_reason": spec["reason"]})
        else:
            x = s.dropna().astype(float)
            if valid:
                row.update({"mean": round(float(x.mean()), 4), "sd": round(float(x.std(ddof=1)), 4) if valid > 1 else None,
                            "min": float(x.min()), "p25": round(float(x.quantile(0.25)), 4), "median": round(float(x.median()), 4),
                            "p75": round(float(x.quantile(0.75)), 4), "max": float(x.max())})
        var_rows.append(row)
    variables = pd.DataFrame(var_rows)
    values = pd.DataFrame(value_rows, columns=["variable", "code", *[f"label_{lang}" for lang in LANGS], "n", "percent", "missing_reason"])
    return variables, values


def _md(text: Any) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render_codebook_md(variables: pd.DataFrame, values: pd.DataFrame, instrument: Instrument, about: dict[str, Any]) -> str:
    langs = instrument_languages(instrument)
    reasons = missing_reasons(instrument)
    title = instrument.study.get("title") or {}
    head = " / ".join(str(title[lang]) for lang in langs if lang in title) or str(instrument.study.get("id", ""))
    zh = "zh" in langs
    lines = [f"# Codebook{'（变量手册）' if zh else ''}: {head}", ""]
    lines.append(
        f"Study `{instrument.study.get('id', '')}`. Source `{about['source']}` ({about['format']}"
        f"{', encoding ' + str(about['encoding']) if about.get('encoding') else ''}): {about['raw']} raw submissions, "
        f"{about['analysed']} analysed. Counts and statistics are over the analysed submissions. "
        "Made by `python -m pipeline survey` (the `survey` stage); do not edit by hand."
    )
    lines += ["", "Missing values: every missing cell has one reason.", ""]
    lines += ["| reason | code | " + " | ".join(f"meaning ({lang})" for lang in langs) + " |",
              "|---|---|" + "---|" * len(langs)]
    for code, spec in sorted(instrument.missing_codes.items()):
        lines.append(f"| `{spec['reason']}` | {_scoped(code, instrument)} | " + " | ".join(_md(spec.get(lang, "")) for lang in langs) + " |")
    for reason, spec in list(SOFT_REASONS.items()) + [("blank", BLANK)]:
        lines.append(f"| `{reason}` | | " + " | ".join(_md(spec[lang]) for lang in langs) + " |")
    lines += ["", "## Variables", ""]
    label_heads = ["标签" if lang == "zh" else "label" for lang in langs]
    lines.append("| variable | " + " | ".join(label_heads) + " | type | role | valid N | missing |")
    lines.append("|---|" + "---|" * len(langs) + "---|---|---|---|")
    for r in variables.to_dict(orient="records"):
        labels = " | ".join(_md(r.get(f"label_{lang}", "")) for lang in langs)
        valid = r.get("valid_n")
        valid_text = "not in file" if not r["in_file"] else str(int(valid))
        miss = "" if not r["in_file"] else str(int(r["missing_n"]))
        lines.append(f"| `{r['variable']}` | {labels} | {r['type']} | {r['role']} | {valid_text} | {miss} |")
    for r in variables.to_dict(orient="records"):
        name = r["variable"]
        labels = " / ".join(_md(r.get(f"label_{lang}", "")) for lang in langs if r.get(f"label_{lang}"))
        lines += ["", f"### `{name}` {labels}", ""]
        facts = [r["type"]]
        if r["role"]:
            facts.append(f"role: {r['role']}")
        if r["required"]:
            facts.append("required")
        if r.get("derived_from"):
            facts.append(f"derived from `{r['derived_from']}` (the number in the answer)")
        var = instrument.variables.get(name)
        if var is not None and var.range is not None:
            facts.append(f"valid range {var.range[0]:g} to {var.range[1]:g}")
        if var is not None and var.routing:
            facts.append("routing: " + ", ".join(f"{k} {v}" for k, v in var.routing.items()))
        if not r["in_file"]:
            lines.append(" · ".join(facts) + " · **not in the file**")
            continue
        miss = [f"{reason} {int(r.get(f'missing_{reason}', 0))}" for reason in reasons if int(r.get(f"missing_{reason}", 0) or 0)]
        facts.append(f"valid N {int(r['valid_n'])}")
        facts.append("missing: " + (", ".join(miss) if miss else "none"))
        if r.get("note") and isinstance(r.get("note"), str):
            facts.append(r["note"])
        lines.append(" · ".join(facts))
        vals = values[values["variable"] == name]
        if len(vals) and r["type"] == "string":
            top = vals.sort_values("n", ascending=False, kind="stable").head(MD_TOP_VALUES)
            lines += ["", f"{int(r['distinct'])} distinct values" + (f"; the {len(top)} most frequent:" if len(vals) > len(top) else ":"),
                      "", "| value | n | % |", "|---|---|---|"]
            for v in top.to_dict(orient="records"):
                lines.append(f"| {_md(v['code'])} | {int(v['n'])} | {v['percent']:.1f} |")
        elif len(vals):
            lines += ["", "| code | " + " | ".join(label_heads) + " | n | % |", "|---|" + "---|" * len(langs) + "---|---|"]
            for v in vals.to_dict(orient="records"):
                labs = " | ".join(_md(v.get(f"label_{lang}", "")) for lang in langs)
                pct = "" if v["percent"] is None or (isinstance(v["percent"], float) and math.isnan(v["percent"])) else f"{v['percent']:.1f}"
                tag = f" ({v['missing_reason']})" if v["missing_reason"] else ""
                lines.append(f"| {_md(v['code'])}{tag} | {labs} | {int(v['n'])} | {pct} |")
        elif r["type"] == "datetime":
            lines += ["", f"from {r.get('min', '')} to {r.get('max', '')}"]
        elif r.get("distinct") is not None and not (isinstance(r.get("distinct"), float) and math.isnan(r["distinct"])):
            lines += ["", f"{int(r['distinct'])} distinct values"]
        elif r.get("mean") is not None and not (isinstance(r.get("mean"), float) and math.isnan(r["mean"])):
            stats = ["mean", "sd", "min", "p25", "median", "p75", "max"]
            lines += ["", "| " + " | ".join(stats) + " |", "|" + "---|" * len(stats),
                      "| " + " | ".join(_num(r.get(k)) for k in stats) + " |"]
    return "\n".join(lines) + "\n"


def codebook_xlsx(variables: pd.DataFrame, values: pd.DataFrame, instrument: Instrument, about: dict[str, Any]) -> bytes:
    """The codebook as an Excel workbook; fixed timestamps so equal content gives equal bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    langs = instrument_languages(instrument)
    drop = [f"label_{lang}" for lang in LANGS if lang not in langs]
    wb = Workbook()
    ws = wb.active
    ws.title = "about"
    rows = [("study", str(instrument.study.get("id", ""))), ("source", about["source"]), ("format", about["format"]),
            ("encoding", str(about.get("encoding") or "")), ("raw submissions", about["raw"]),
            ("analysed", about["analysed"]), ("statistics over", "analysed submissions"),
            ("made by", "python -m pipeline survey (do not edit)")]
    for row in rows:
        ws.append(row)
    reasons = [(spec["reason"], _scoped(code, instrument), *[spec.get(lang, "") for lang in langs])
               for code, spec in sorted(instrument.missing_codes.items())]
    reasons += [(r, "", *[spec[lang] for lang in langs]) for r, spec in list(SOFT_REASONS.items()) + [("blank", BLANK)]]
    for title, frame in (("variables", variables.drop(columns=drop, errors="ignore")),
                         ("values", values.drop(columns=drop, errors="ignore")),
                         ("missing reasons", pd.DataFrame(reasons, columns=["reason", "code", *[f"meaning_{lang}" for lang in langs]]))):
        sheet = wb.create_sheet(title)
        sheet.append(list(frame.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for rec in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in rec])
        sheet.freeze_panes = "A2"
    wb.properties.creator = "pipeline survey"
    buf = io.BytesIO()
    wb.save(buf)
    return office_bytes(buf.getvalue())


def _cell(v: Any) -> Any:
    """A value as a workbook cell; floats by the one rounding rule (pipeline/core/digits.py), so
    the workbook's bytes do not depend on the CPU."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else rounded(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def labels_sidecar(instrument: Instrument, derived: list[str], about: dict[str, Any]) -> dict[str, Any]:
    """Variable labels and value labels (zh/en) of the clean data, and the missing reasons."""
    variables = {}
    for name, var in instrument.variables.items():
        variables[name] = {
            "type": var.type, "role": role_of(instrument, name), "label": var.label,
            "values": {f"{c:g}": lab for c, lab in sorted(var.values.items())},
            "range": list(var.range) if var.range else None, "free_text": var.free_text,
            "in_data": name in about["columns"],
        }
    for name in derived:
        base = name[: -len(NUM_SUFFIX)]
        variables[name] = {"type": "numeric", "role": "", "derived_from": base, "in_data": True,
                           "label": derived_label(instrument, base), "values": {}}
    reasons = {spec["reason"]: {"code": code, **{k: v for k, v in spec.items() if k != "reason"},
                                **({"variables": list(instrument.missing_scope[code])} if code in instrument.missing_scope else {})}
               for code, spec in sorted(instrument.missing_codes.items())}
    reasons.update({r: dict(spec) for r, spec in SOFT_REASONS.items()})
    reasons["blank"] = dict(BLANK)
    return {
        "study": instrument.study.get("id"),
        "columns": about["columns"],
        "id": ({"variable": instrument.role("id"), "pseudonym": "P + HMAC-SHA256(key, id) truncated; raw ids are not kept"}
               if instrument.role("id") else {"variable": None, "pseudonym": "no respondent id (roles.id is not set)"}),
        "record": instrument.role("record"),
        "missing_reasons": reasons,
        "missing_table": MISSING_TABLE,
        "variables": variables,
    }


def _scoped(code: int, instrument: Instrument) -> str:
    """A missing code as the codebook shows it: the code, and the variables it is missing in when
    it is an answer elsewhere (``5 (q12, q13 only)``)."""
    scope = instrument.missing_scope.get(code)
    return f"{code:g}" + (f" ({', '.join(scope)} only)" if scope else "")
