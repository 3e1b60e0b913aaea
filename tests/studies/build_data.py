"""Raw files of two test studies that are not the demo, built from public data sets (issue 15).

The data and their R reference numbers come from ``tests/reference/study_references.R``
(``tests/reference/study_references.json``); this module only turns the stored CSVs into what a
study's ``raw/`` folder would hold, with the metadata a Chinese survey export carries:

* :func:`write_bfi_sav` -- S1, survey only, scales, no clusters: ``psych::bfi`` (A1-A5, C1-C5,
  gender, education, age, id) as ``raw/survey.sav`` with Chinese variable and value labels and
  every missing answer coded 99 ("拒绝回答"), declared user-missing.
* :func:`write_hsb_sav` -- S2, multilevel, numeric cluster ids, a cluster-level covariate: the
  High School and Beyond students as ``raw/survey.sav`` (School numeric) and the schools as
  ``raw/schools.csv`` with School written as text, so a reader has to reconcile 1224.0 and "1224".

Both writers are deterministic: the SPSS header's creation date and time are fixed.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyreadstat

DATA = Path(__file__).resolve().parents[1] / "reference" / "data"
REFERENCES = Path(__file__).resolve().parents[1] / "reference" / "study_references.json"

MISSING_CODE = 99
MISSING_LABEL = "拒绝回答"
SAV_DATE, SAV_TIME = b"01 Jan 25", b"00:00:00"

# IPIP item texts of psych::bfi (help("bfi", package = "psych")), translated
BFI_ITEMS = {
    "A1": "不关心别人的感受",          # Am indifferent to the feelings of others. (reverse-keyed)
    "A2": "询问别人过得好不好",        # Inquire about others' well-being.
    "A3": "知道如何安慰别人",          # Know how to comfort others.
    "A4": "喜欢孩子",                  # Love children.
    "A5": "让别人感到自在",            # Make people feel at ease.
    "C1": "对工作要求严格",            # Am exacting in my work.
    "C2": "坚持到一切都完美为止",      # Continue until everything is perfect.
    "C3": "按计划做事",                # Do things according to a plan.
    "C4": "做事马马虎虎、半途而废",    # Do things in a half-way manner. (reverse-keyed)
    "C5": "浪费时间",                  # Waste my time. (reverse-keyed)
}
LIKERT6 = {1: "非常不准确", 2: "比较不准确", 3: "有点不准确", 4: "有点准确", 5: "比较准确", 6: "非常准确"}
GENDER = {1: "男", 2: "女"}
# psych: 1 = HS, 2 = finished HS, 3 = some college, 4 = college graduate, 5 = graduate degree
EDUCATION = {1: "高中在读或未毕业", 2: "高中毕业", 3: "大学肄业", 4: "大学毕业", 5: "研究生学历"}
BFI_LABELS = {"id": "受访者编号", **BFI_ITEMS, "gender": "性别", "education": "受教育程度", "age": "年龄"}

HSB_STUDENT_LABELS = {"student_id": "学生编号", "School": "学校编号", "Minority": "是否少数族裔",
                      "Sex": "性别", "SES": "家庭社会经济地位", "MathAch": "数学成绩"}
HSB_SCHOOL_LABELS = {"School": "学校编号", "Size": "学校规模（学生人数）",
                     "Sector": "学校类型", "PRACAD": "学术方向课程学生比例",
                     "DISCLIM": "纪律氛围", "HIMINTY": "少数族裔学生超过40%",
                     "MEANSES": "学校平均社会经济地位"}
YES_NO = {0: "否", 1: "是"}
SECTOR = {0: "公立", 1: "天主教"}


def _write_sav(df: pd.DataFrame, path: Path, labels: dict[str, str],
               value_labels: dict[str, dict[int, str]], measure: dict[str, str],
               missing: list[str]) -> None:
    """An SPSS file; the columns in ``missing`` get code 99 declared user-missing and labelled."""
    vl = {name: {float(c): t for c, t in codes.items()} for name, codes in value_labels.items()}
    for name in missing:
        vl[name] = {**vl.get(name, {}), float(MISSING_CODE): MISSING_LABEL}
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(df, str(path), column_labels=[labels[c] for c in df.columns],
                         variable_value_labels=vl, variable_measure=measure,
                         missing_ranges={name: [float(MISSING_CODE)] for name in missing})
    data = bytearray(path.read_bytes())
    assert data[:4] == b"$FL2", "pyreadstat wrote an unexpected header"
    data[92:101], data[101:109] = SAV_DATE, SAV_TIME
    path.write_bytes(bytes(data))


def read_bfi() -> pd.DataFrame:
    """The bfi subset as stored (NaN = missing)."""
    return pd.read_csv(DATA / "bfi.csv")


def read_hsb() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The High School and Beyond students and schools as stored (School an integer in both)."""
    return pd.read_csv(DATA / "hsb_students.csv"), pd.read_csv(DATA / "hsb_schools.csv")


def write_bfi_sav(folder: str | Path) -> Path:
    """``<folder>/raw/survey.sav`` of study S1; returns its path."""
    df = read_bfi()
    coded = [c for c in df.columns if c != "id"]
    out = df.copy()
    out[coded] = out[coded].fillna(MISSING_CODE)
    if (df[coded] == MISSING_CODE).any().any():
        raise ValueError(f"bfi.csv already holds the missing code {MISSING_CODE}")
    value_labels = {**{item: LIKERT6 for item in BFI_ITEMS}, "gender": GENDER, "education": EDUCATION}
    measure = {**{item: "ordinal" for item in BFI_ITEMS}, "id": "nominal", "gender": "nominal",
               "education": "ordinal", "age": "scale"}
    path = Path(folder) / "raw" / "survey.sav"
    _write_sav(out, path, BFI_LABELS, value_labels, measure, missing=coded)
    return path


def write_hsb_sav(folder: str | Path) -> tuple[Path, Path]:
    """``<folder>/raw/survey.sav`` (students, School numeric) and ``<folder>/raw/schools.csv``
    (School as quoted text) of study S2; returns both paths."""
    students, schools = read_hsb()
    raw = Path(folder) / "raw"
    sav = raw / "survey.sav"
    measure = {"student_id": "nominal", "School": "nominal", "Minority": "nominal",
               "Sex": "nominal", "SES": "scale", "MathAch": "scale"}
    _write_sav(students, sav, HSB_STUDENT_LABELS, {"Minority": YES_NO, "Sex": GENDER}, measure,
               missing=[])
    text = schools.assign(School=schools["School"].astype(int).astype(str))
    csv_path = raw / "schools.csv"
    text.to_csv(csv_path, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    return sav, csv_path
