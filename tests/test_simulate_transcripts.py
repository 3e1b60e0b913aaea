"""The synthetic interview transcripts: determinism, decodability, planted personal data and themes."""
from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from pathlib import Path

import docx
import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.core.config import load_params
from pipeline.core.errors import PipelineError
from pipeline.demo.simulate_transcripts import (
    decode_transcript,
    id_check_digit,
    simulate_transcripts,
    valid_id_number,
    write_corpus,
)
from pipeline.demo.transcript_bank import PII_TYPES, load_bank, realisable_sentences

ROOT = Path(__file__).resolve().parents[1]
BANK_PATH = ROOT / "studies" / "demo" / "transcript_bank.yaml"
CITIES = ["银川", "石嘴山", "吴忠", "固原", "中卫"]
LABELS = {"qa": ("问", "答"), "interviewer_respondent": ("访谈者", "受访者")}


def _communities(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A fake communities frame, balanced on governance model and community type."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "comm_id": [f"C{i + 1:03d}" for i in range(n)],
        "city": [CITIES[i % 5] for i in range(n)],
        "comm_type": [i % 4 + 1 for i in range(n)],
        "minority_share": np.round(rng.uniform(0.05, 0.8, n), 3),
        "gov_model": [(i // 4) % 2 for i in range(n)],
        "n_social_orgs": rng.poisson(2.7, n),
        "points_scheme": [(i // 8) % 2 for i in range(n)],
        "n_households": rng.integers(800, 4000, n),
    })


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK_PATH)


@pytest.fixture(scope="module")
def tparams():
    return load_params(ROOT / "studies/demo/params.yaml")["simulate"]["transcripts"]


def _params(tparams, **overrides):
    p = copy.deepcopy(tparams)
    p.update(overrides)
    return p


# Every format and encoding well represented in a small corpus.
MIXED_FILES = {"utf-8": 0.25, "gbk": 0.25, "utf-8-sig": 0.25, "docx": 0.25}
MIXED_CONV = {"qa": 0.4, "interviewer_respondent": 0.3, "named": 0.3}


@pytest.fixture(scope="module")
def small(bank, tparams):
    p = _params(tparams, n_interviews=60, files=MIXED_FILES, conventions=MIXED_CONV, header_name_line=0.5)
    return simulate_transcripts(_communities(), p, np.random.default_rng([11, 2]), bank)


@pytest.fixture(scope="module")
def large(bank, tparams):
    """A large draw for the distributional checks."""
    return simulate_transcripts(_communities(80, seed=1), _params(tparams, n_interviews=1600),
                                np.random.default_rng([12, 2]), bank)


def _texts(corpus) -> dict[str, str]:
    """Decoded text per interview, decoded independently of the module: recorded encoding, or
    python-docx paragraphs joined with newlines."""
    out = {}
    data = dict(corpus.files)
    for r in corpus.interviews.itertuples():
        raw = data[r.file]
        if r.format == "docx":
            out[r.interview_id] = "\n".join(p.text for p in docx.Document(io.BytesIO(raw)).paragraphs)
        else:
            out[r.interview_id] = raw.decode(r.encoding)
    return out


@pytest.fixture(scope="module")
def small_texts(small):
    return _texts(small)


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_different_seed_different(bank, tparams, tmp_path):
    p = _params(tparams, n_interviews=30, files=MIXED_FILES)
    comm = _communities(12)
    a = simulate_transcripts(comm, p, np.random.default_rng([5, 2]), bank)
    b = simulate_transcripts(comm, p, np.random.default_rng([5, 2]), bank)
    assert [n for n, _ in a.files] == [n for n, _ in b.files]
    assert any(n.endswith(".docx") for n, _ in a.files)
    for (na, da), (_, db) in zip(a.files, b.files):
        assert da == db, na
    write_corpus(a, tmp_path / "a" / "transcripts", tmp_path / "a" / "truth")
    write_corpus(b, tmp_path / "b" / "transcripts", tmp_path / "b" / "truth")
    for sub in ("transcripts", "truth"):
        fa = sorted((tmp_path / "a" / sub).iterdir())
        fb = sorted((tmp_path / "b" / sub).iterdir())
        assert [f.name for f in fa] == [f.name for f in fb]
        for x, y in zip(fa, fb):
            assert x.read_bytes() == y.read_bytes(), x.name
    c = simulate_transcripts(comm, p, np.random.default_rng([6, 2]), bank)
    assert [d for _, d in c.files] != [d for _, d in a.files]
    changed = sum(da != dc for (_, da), (_, dc) in zip(a.files, c.files))
    assert changed == len(a.files)


def test_docx_has_fixed_zip_timestamps_and_core_dates(small):
    data = dict(small.files)
    rows = small.interviews[small.interviews["format"] == "docx"]
    assert len(rows) > 0
    for r in rows.itertuples():
        with zipfile.ZipFile(io.BytesIO(data[r.file])) as z:
            assert z.testzip() is None
            assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = z.read("docProps/core.xml").decode("utf-8")
        assert f"{r.date}T00:00:00Z" in core
        props = docx.Document(io.BytesIO(data[r.file])).core_properties
        assert props.created.date().isoformat() == r.date


# ------------------------------------------------------------------------------------------
# files and encodings
# ------------------------------------------------------------------------------------------
def _looks_like_transcript(text: str, row) -> None:
    assert row.interview_id in text.split("\n\n")[0]
    assert row.comm_id in text.split("\n\n")[0]
    assert "\r" not in text and not text.startswith("\ufeff")
    lines = [ln for ln in text.split("\n") if ln]
    if row.convention in LABELS:
        q, a = LABELS[row.convention]
        assert sum(bool(re.match(rf"{q}[：:]", ln)) for ln in lines) >= 5
        assert sum(bool(re.match(rf"{a}[：:]", ln)) for ln in lines) >= 5
    else:
        assert sum(bool(re.match(r"(访谈者|调研员|问)[：:]", ln)) for ln in lines) >= 5


def test_gbk_files_are_gbk_not_utf8(small):
    data = dict(small.files)
    rows = small.interviews[small.interviews["encoding"] == "gbk"]
    assert len(rows) >= 5
    for r in rows.itertuples():
        raw = data[r.file]
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        _looks_like_transcript(raw.decode("gbk"), r)
        assert decode_transcript(r.file, raw) == raw.decode("gbk")     # detection helper agrees


def test_every_format_decodes_to_a_transcript(small, small_texts):
    data = dict(small.files)
    assert set(small.interviews["encoding"]) == {"utf-8", "utf-8-sig", "gbk"}
    assert set(small.interviews["format"]) == {"txt", "docx"}
    for r in small.interviews.itertuples():
        raw = data[r.file]
        assert r.file == f"{r.interview_id}.{r.format}"
        assert raw.startswith(b"\xef\xbb\xbf") == (r.encoding == "utf-8-sig" and r.format == "txt")
        _looks_like_transcript(small_texts[r.interview_id], r)
        assert len(small_texts[r.interview_id]) == r.n_chars
        if r.format == "txt":
            assert b"\r" not in raw


def test_gbk_falls_back_to_utf8_for_unencodable_text(bank, tparams):
    odd = copy.deepcopy(bank)
    odd["fillers"] = ["这个嘛😀说不清。"]        # an emoji has no GBK code
    p = _params(tparams, n_interviews=8, files={"gbk": 1.0}, sentence_mix={"main": 0.0, "filler": 1.0, "other": 0.0})
    c = simulate_transcripts(_communities(4), p, np.random.default_rng(3), odd)
    assert (c.interviews["encoding"] == "utf-8").all() and c.interviews["gbk_fallback"].all()
    for name, raw in c.files:
        assert "😀" in raw.decode("utf-8")
    plain = simulate_transcripts(_communities(4), _params(tparams, n_interviews=8, files={"gbk": 1.0}),
                                 np.random.default_rng(3), bank)
    assert (plain.interviews["encoding"] == "gbk").all() and not plain.interviews["gbk_fallback"].any()


# ------------------------------------------------------------------------------------------
# personal data
# ------------------------------------------------------------------------------------------
def test_every_planted_pii_span_is_in_the_decoded_text(small, small_texts):
    pii = small.pii
    assert set(pii["type"]) == set(PII_TYPES)
    assert set(pii["context"]) == {"header", "speaker", "body"}
    for r in pii.itertuples():
        assert small_texts[r.interview_id][r.offset:r.offset + r.length] == r.value, r
        assert r.file == small.interviews.set_index("interview_id").at[r.interview_id, "file"]
    # named speaker labels: every respondent line of a named file starts with a planted name
    named = small.interviews[small.interviews["convention"] == "named"]
    assert len(named) > 0
    for iid in named["interview_id"]:
        spans = pii[(pii["interview_id"] == iid) & (pii["context"] == "speaker")]
        assert len(spans) >= 5
        text = small_texts[iid]
        for off in spans["offset"]:
            assert off == 0 or text[off - 1] == "\n"


def test_pii_values_are_well_formed(small):
    pii = small.pii
    ids = pii.loc[pii["type"] == "id_number", "value"]
    assert len(ids) > 0
    for v in ids:
        assert valid_id_number(v) and v.startswith("64"), v
        born = pd.Timestamp(v[6:14])
        assert pd.Timestamp("1935-01-01") < born < pd.Timestamp("2008-01-01")
    for v in pii.loc[pii["type"] == "mobile", "value"]:
        assert re.fullmatch(r"1[3-9]\d{9}", re.sub(r"[ -]", "", v)), v
    for v in pii.loc[pii["type"] == "landline", "value"]:
        assert re.fullmatch(r"（?095[1-5]）?[ -]?[2-8]\d{6}", v), v
    for v in pii.loc[pii["type"] == "address", "value"]:
        assert re.search(r"\d+(号楼|栋)\d+单元", v), v
    for v in pii.loc[pii["type"] == "name", "value"]:
        assert 2 <= len(v) <= 4 and not re.search(r"\d", v), v


def test_id_check_digit_is_iso_7064():
    assert id_check_digit("11010519491231002") == "X"          # the standard's worked example
    assert valid_id_number("11010519491231002X") and valid_id_number("11010519491231002x")
    assert not valid_id_number("110105194912310021")
    rng = np.random.default_rng(0)
    for _ in range(200):    # the defining property: sum of d_i * 2^(18-i) over all 18 characters = 1 (mod 11), X = 10
        first17 = "".join(str(d) for d in rng.integers(0, 10, 17))
        c = id_check_digit(first17)
        digits = [int(d) for d in first17] + [10 if c == "X" else int(c)]
        assert sum(d * pow(2, 17 - i, 11) for i, d in enumerate(digits)) % 11 == 1


def test_pii_rates_near_configured(large, tparams):
    n = len(large.interviews)
    body = large.pii[large.pii["context"] == "body"]
    for typ, spec in tparams["pii"]["rates"].items():
        share = body.loc[body["type"] == typ, "interview_id"].nunique() / n
        assert abs(share - spec["p"]) < 0.04, (typ, share)


# ------------------------------------------------------------------------------------------
# shares of formats and conventions
# ------------------------------------------------------------------------------------------
def test_encoding_format_convention_shares_near_configured(large, tparams):
    iv = large.interviews
    kind = np.where(iv["format"] == "docx", "docx", iv["encoding"])
    total = sum(tparams["files"].values())
    for k, share in tparams["files"].items():
        assert abs(np.mean(kind == k) - share / total) < 0.03, k
    for k, share in tparams["conventions"].items():
        assert abs(np.mean(iv["convention"] == k) - share) < 0.03, k
    assert abs(iv["comm_id"].value_counts().max() - iv["comm_id"].value_counts().min()) <= 1   # balanced


# ------------------------------------------------------------------------------------------
# themes
# ------------------------------------------------------------------------------------------
def test_bank_yields_300_distinct_sentences_per_theme_and_is_gbk(bank):
    for theme, spec in bank["themes"].items():
        n_templates = sum(len(v) for v in spec["sentences"].values())
        assert n_templates >= 30, theme
        assert len(realisable_sentences(bank, theme, cap=300)) >= 300, theme
    assert sorted(bank["themes"]) == list(range(1, 10))
    assert [bank["themes"][t]["zh"] for t in range(1, 10)] == [
        "空间互嵌", "治理与议事", "社会组织", "居民参与", "经济互嵌", "文化交融", "心理距离与情感", "公共服务", "共同体意识"]
    BANK_PATH.read_text(encoding="utf-8").encode("gbk")


def _template_regex(text: str, prefixes: list[str]) -> re.Pattern:
    body = "".join(re.escape(p) if i % 2 == 0 else ".+?" for i, p in enumerate(re.split(r"\{([^{}]+)\}", text)))
    if body.endswith("。"):
        body = body[:-1] + "[。，]"
    pre = "|".join(re.escape(p) for p in prefixes)
    return re.compile(rf"(?:{pre})?{body}")


def test_unit_offsets_point_at_sentences_of_their_theme(bank, small, small_texts):
    prefixes = bank["discourse_prefixes"]

    def texts_of(lst):
        return [t if isinstance(t, str) else t["t"] for t in lst]

    patterns = {(t, v): [_template_regex(x, prefixes) for x in texts_of(lst)]
                for t, spec in bank["themes"].items() for v, lst in spec["sentences"].items()}
    fillers = [_template_regex(x, prefixes) for x in bank["fillers"]]
    carriers = [_template_regex(x["t"], prefixes) for x in bank["pii_carriers"]]
    units = small.units
    assert set(units["theme"]) == set(range(10))
    for u in units.itertuples():
        s = small_texts[u.interview_id][u.text_start:u.text_start + u.text_length]
        assert s and "\n" not in s
        if u.variant == "pii":
            pats = carriers
        elif u.turn_kind in ("thematic", "probe") and u.theme == 0:
            pats = fillers
        elif u.theme == 0:
            continue
        else:
            pats = patterns[(u.theme, u.variant)]
        assert any(p.fullmatch(s) for p in pats), (u.theme, u.variant, s)
    # sentences of a turn follow each other on the respondent's lines, in order
    for _, g in units.groupby(["interview_id", "turn"]):
        starts = g["text_start"].to_numpy()
        assert (np.diff(starts) > 0).all() and list(g["sentence"]) == list(range(len(g)))
    # the main theme is the strict plurality of the turn's sentence labels
    th = units[units["turn_kind"].isin(["thematic", "probe"])]
    for (_, _), g in th.groupby(["interview_id", "turn"]):
        counts = g["theme"].value_counts()
        main = g["turn_theme"].iloc[0]
        rivals = counts.drop(main, errors="ignore")
        assert counts.get(main, 0) > (rivals.max() if len(rivals) else 0)


def _turn_shares(corpus, by: str, communities: pd.DataFrame) -> pd.DataFrame:
    turns = corpus.units[corpus.units["turn_kind"].isin(["thematic", "probe"])].drop_duplicates(["interview_id", "turn"])
    iv = corpus.interviews.merge(communities, on="comm_id")
    turns = turns.merge(iv[["interview_id", "role", "gov_model", "comm_type", "points_scheme"]], on="interview_id")
    return pd.crosstab(turns[by].astype(str), turns["turn_theme"], normalize="index")


def test_theme_mixture_shifts_have_planted_signs(large, tparams):
    comm = _communities(80, seed=1)
    eff = large.theme_effects
    checked = 0
    for factor in ("gov_model", "comm_type", "role", "points_scheme"):
        table = _turn_shares(large, factor, comm)
        counts = large.interviews.merge(comm, on="comm_id")[factor].astype(str).value_counts()
        for c in eff["contrasts"]:
            if c["factor"] != factor or not c["planted"] or abs(c["difference"]) < 0.025:
                continue
            ref = c["reference"] if isinstance(c["reference"], list) else [c["reference"]]
            w = counts.reindex(ref).fillna(0).to_numpy()
            rest = (table.loc[ref, c["theme"]].to_numpy() * w).sum() / w.sum()
            observed = table.at[c["level"], c["theme"]] - rest
            assert np.sign(observed) == c["sign"], (c, observed)
            checked += 1
    assert checked >= 15
    # the named example: participation/barrier talk (theme 4) is more common under administrative-led governance
    gov = _turn_shares(large, "gov_model", comm)
    assert gov.at["0", 4] > gov.at["1", 4] + 0.02
    assert gov.at["1", 2] > gov.at["0", 2] + 0.02


def test_variant_shifts_have_planted_signs(large):
    comm = _communities(80, seed=1)
    u = large.units.merge(large.interviews[["interview_id", "comm_id"]], on="interview_id").merge(comm, on="comm_id")
    t4 = u[(u["theme"] == 4) & (u["variant"] != "pii")]
    barrier = t4.groupby("gov_model")["variant"].apply(lambda s: (s == "barrier").mean())
    assert barrier[0] > barrier[1] + 0.1
    t2 = u[(u["theme"] == 2) & (u["variant"] != "pii")]
    delib = t2.groupby("gov_model")["variant"].apply(lambda s: (s == "deliberation").mean())
    assert delib[1] > delib[0] + 0.1
    planted = large.theme_effects["variants"]["4"]["contrasts"]
    g = [c for c in planted if c["factor"] == "gov_model" and c["variant"] == "barrier"][0]
    assert g["sign"] == -1 and g["planted"]     # level 1 vs reference 0: less barrier talk


def test_theme_effects_json_matches_params(large, tparams):
    eff = json.loads(json.dumps(large.theme_effects))   # JSON-serialisable as written
    shifts = tparams["theme_mixture"]["shifts"]
    assert eff["theme_mixture"]["shifts"]["gov_model"]["0"]["4"] == shifts["gov_model"][0][4]
    overall = eff["expected_share_overall"]
    assert abs(sum(overall.values()) - 1) < 1e-5 and set(overall) == {str(t) for t in range(1, 10)}


# ------------------------------------------------------------------------------------------
# writing and configuration
# ------------------------------------------------------------------------------------------
def test_write_corpus_writes_truth_and_removes_stale_transcripts(small, tmp_path):
    tr, truth = tmp_path / "raw" / "transcripts", tmp_path / "raw" / "truth"
    tr.mkdir(parents=True)
    (tr / "I999.txt").write_text("old", encoding="utf-8")
    (tr / "README.txt").write_text("keep", encoding="utf-8")
    write_corpus(small, tr, truth)
    names = {p.name for p in tr.iterdir()}
    assert names == {n for n, _ in small.files} | {"README.txt"}
    assert not list(tmp_path.rglob("*.tmp"))
    for name in ("transcript_interviews.csv", "transcript_pii.csv", "transcript_units.csv",
                 "transcript_theme_effects.json"):
        assert (truth / name).exists()
    pii = pd.read_csv(truth / "transcript_pii.csv", dtype={"value": str})
    assert len(pii) == len(small.pii) and list(pii.columns) == list(small.pii.columns)
    iv = pd.read_csv(truth / "transcript_interviews.csv")
    assert set(iv["encoding"]) <= {"utf-8", "utf-8-sig", "gbk"} and set(iv["format"]) <= {"txt", "docx"}
    units = pd.read_csv(truth / "transcript_units.csv")
    assert list(units.columns)[:6] == ["interview_id", "turn", "sentence", "theme", "text_start", "text_length"]


def test_params_are_checked_by_their_one_description(bank, tparams):
    """simulate.transcripts is checked by pipeline/demo/settings.SimulateTranscripts (no hand
    validator): a misspelt key gets a hint, a rate out of range and a name the bank lacks are one line."""
    cases = {"n_interviwes": ("n_interviews", "did you mean 'n_interviews'"),
             "probe_rate": (1.5, "probe_rate is 1.5"),
             "roles": ({**tparams["roles"], "mayor": 1}, "unknown keys ['mayor']")}
    for key, (value, message) in cases.items():
        p = _params(tparams)
        if key == "n_interviwes":
            p[key] = p.pop(value)
        else:
            p[key] = value
        with pytest.raises(PipelineError, match=re.escape(message)):
            simulate_transcripts(_communities(4), p, np.random.default_rng(0), bank)


def test_missing_or_bad_params_are_reported(bank, tparams):
    p = _params(tparams)
    del p["files"]
    with pytest.raises(PipelineError, match="files"):
        simulate_transcripts(_communities(4), p, np.random.default_rng(0), bank)
    p = _params(tparams)
    p["theme_mixture"] = copy.deepcopy(tparams["theme_mixture"])
    p["theme_mixture"]["shifts"]["district"] = {1: {2: 0.5}}
    with pytest.raises(PipelineError, match="district"):
        simulate_transcripts(_communities(4), p, np.random.default_rng(0), bank)
    with pytest.raises(PipelineError, match="cities"):
        comm = _communities(4).assign(city="北京")
        simulate_transcripts(comm, _params(tparams, n_interviews=3), np.random.default_rng(0), bank)


def test_bank_check_catches_unknown_slot(bank, tmp_path):
    broken = copy.deepcopy(bank)
    broken["themes"][1]["sentences"]["general"].append("我们这儿有{nonexistent_slot}。")
    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PipelineError, match="nonexistent_slot"):
        load_bank(path)
