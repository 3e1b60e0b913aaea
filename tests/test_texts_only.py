"""A study of texts alone: no survey, no instrument, no community file, no interviewer.

A temporary study folder holds only texts (the 500 sentences of tests/fixtures/corpus/ud_gsdsimp,
one a line, and a few planted messages with personal data), a transcripts config in the
``documents`` format, a codebook and a params.yaml with a seed and no instrument. The
transcripts, topics and coding stages run through their ``main()`` with their default paths
(from the study folder), and give units, a chosen topic model and codes; no planted phone or ID
number survives in any output. The rest are the documents format's small cases (a file a text
with a header, separator files, ids, the optional community) and the errors in the user's terms.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.core.errors import PipelineError
from pipeline.stages import coding as C
from pipeline.stages import topics as TP
from pipeline.stages import transcripts as T
from pipeline.text.corpus import file_key
from pipeline.text.documents import resolve_unit
from pipeline.text.redact import id_check_digit
from pipeline.text.rules import load_rules
from pipeline.text.topicmodel import parse_settings as topic_settings
from pipeline.text.topicmodel import prevalence_design
from pipeline.text.turns import parse_document, split_texts

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "ud_gsdsimp" / "texts.txt"
ID17 = "64010419850315271"
ID_NUMBER = ID17 + id_check_digit(ID17)
PLANTED = {                                    # value -> the message it is planted in
    "13895012345": "我家楼下的路灯坏了三个月，请尽快修理，联系电话13895012345。",
    "0951-5012345": "易书记：麻烦您看一下，座机0951-5012345，白天都有人。",
    ID_NUMBER: f"我的身份证号是{ID_NUMBER}，低保一直没有批下来，希望有人回复。",
    "139 5101 2288": "小区垃圾没人清运，我的手机139 5101 2288，谢谢。",
}
CODEBOOK = {
    "version": "texts-only test",
    "themes": [
        {"id": 1, "code": "history", "name": {"zh": "历史", "en": "History"}, "definition": "Dynasties, wars, past events.",
         "include": ["朝", "世纪", "战争", "皇帝", "年代"]},
        {"id": 2, "code": "nature", "name": {"zh": "自然", "en": "Nature"}, "definition": "Plants, animals, land.",
         "include": ["植物", "动物", "土壤", "科", "属"]},
        {"id": 3, "code": "service", "name": {"zh": "服务", "en": "Public service"}, "definition": "Complaints and requests.",
         "include": ["修理", "清运", "低保", "回复"]},
    ],
}


def documents_config(folder: Path, **fmt) -> Path:
    """A transcripts config in the documents format: the format, and the redaction rules (and
    their surname list) of the generic template init drafts from; no header, roles, speakers or text section."""
    base = yaml.safe_load((ROOT / "pipeline" / "text" / "templates" / "transcripts.yaml").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("surnames.txt", "given_names.txt"):
        shutil.copyfile(ROOT / "config" / name, folder / name)
    cfg = {"format": {"kind": "documents", **fmt}, "redaction": base["redaction"]}
    path = folder / "transcripts.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_study(work: Path) -> None:
    (work / "raw" / "transcripts").mkdir(parents=True)
    shutil.copyfile(CORPUS, work / "raw" / "transcripts" / "gsd.txt")
    (work / "raw" / "transcripts" / "messages.txt").write_text("\n".join(PLANTED.values()) + "\n", encoding="utf-8")
    config = work / "config"
    documents_config(config, texts="line")
    shutil.copyfile(ROOT / "config" / "stopwords.txt", config / "stopwords.txt")
    (config / "userdict.txt").write_text("# the study's terms\n低保 n\n", encoding="utf-8")
    (config / "codebook.yaml").write_text(yaml.safe_dump(CODEBOOK, allow_unicode=True), encoding="utf-8")
    params = {
        "seed": 20250101,
        "transcripts": {"config": "config/transcripts.yaml", "userdict": "config/userdict.txt",
                        "stopwords": "config/stopwords.txt", "n_jobs": 1},
        "topics": {"models": ["dmm"], "k_grid": [4, 5, 6], "seeds": 2, "min_doc_tokens": 2,
                   "vocabulary": {"min_df": 3, "max_df": 0.2}, "dmm": {"n_iter": 10}},
        "coding": {"codebook": "config/codebook.yaml", "sample": {"n": 50}},
    }
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The study folder after transcripts, topics and coding, each run by its main() with its
    default paths (raw/transcripts, processed/..., metrics/...) from the study folder."""
    work = tmp_path_factory.mktemp("texts_only")
    write_study(work)
    assert not (work / "raw" / "communities.csv").exists()
    with contextlib.chdir(work):
        T.main(["--params", "params.yaml"])
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            TP.main(["--params", "params.yaml"])
        (work / "topics_stderr.txt").write_text(err.getvalue(), encoding="utf-8")
        C.main(["--params", "params.yaml"])
    return work


def test_transcripts_of_texts_alone(study):
    out = study / "processed" / "transcripts"
    units = pd.read_parquet(out / "units.parquet")
    interviews = pd.read_csv(out / "interviews.csv", dtype=str, keep_default_na=False)
    assert pd.read_csv(out / "skipped.csv").empty
    assert len(interviews) == 500 + len(PLANTED)
    assert interviews["interview_id"].iloc[0] == "gsd-001" and "messages-4" in set(interviews["interview_id"])
    assert set(interviews["convention"]) == {"document"} and (interviews["n_questions"] == "0").all()
    assert "comm_id" not in units.columns and "community" not in units.columns      # no community anywhere
    assert set(units["speaker"]) == {""} and (units["turn"] == 1).all()
    assert pd.read_parquet(out / "questions.parquet").empty
    metrics = json.loads((study / "metrics" / "transcripts.json").read_text(encoding="utf-8"))
    assert metrics["interviews"] == len(interviews) and metrics["units"] == len(units) > 500
    # a name and a colon in a message is text, not a speaker
    assert any(t.startswith("[姓名") or t.startswith("易书记") for t in units.loc[units["interview_id"] == "messages-2", "text"])


def test_topics_of_texts_alone(study):
    out = study / "processed" / "topics"
    metrics = json.loads((study / "metrics" / "topics.json").read_text(encoding="utf-8"))
    assert metrics["k"] in (4, 5, 6) and metrics["unit"] == "turn" and metrics["n_docs"] > 300
    topics = pd.read_csv(out / "topics.csv")
    assert len(topics) == metrics["k"] and topics["top_words"].str.len().gt(0).all()
    words = pd.read_csv(out / "topic_words.csv")
    assert words.groupby("topic")["word"].count().ge(5).all()
    prevalence = pd.read_csv(out / "prevalence.csv")
    assert set(prevalence["term"]) == {"Intercept"} and len(prevalence) == metrics["k"]   # formula "1", no covariates
    assert prevalence["se"].gt(0).all() and pd.read_csv(out / "prevalence_levels.csv").empty
    doc_topics = pd.read_parquet(out / "doc_topics.parquet")
    assert list(doc_topics.columns[:5]) == ["doc_id", "unit_ids", "interview_id", "role", "n_vocab_tokens"]


def test_texts_without_communities_get_no_word_about_communities(study):
    """A study of texts alone has no communities: the topics stage used to say, of the empty
    community column of init's template, that it 'holds fewer than two communities'."""
    assert "communit" not in (study / "topics_stderr.txt").read_text(encoding="utf-8")
    empty = pd.DataFrame({"community": ["", "", None]})
    assert TP.usable_community(empty, "community") == (None, None)
    one, note = TP.usable_community(pd.DataFrame({"community": ["C1", "", "C1"]}), "community")
    assert one is None and "holds one community only" in note
    assert TP.usable_community(pd.DataFrame({"community": ["C1", "C2"]}), "community") == ("community", None)


def test_coding_of_texts_alone(study):
    out = study / "processed" / "coding"
    for name in ("codes.parquet", "turn_codes.parquet", "frequencies.csv", "cooccurrence.csv", "agreement.csv",
                 "coder_sample.csv", "coder_sample.xlsx"):
        assert (out / name).is_file(), name
    codes = pd.read_parquet(out / "codes.parquet")
    units = pd.read_parquet(study / "processed" / "transcripts" / "units.parquet")
    assert len(codes) == len(units) and {"history", "nature", "service"} <= set(codes.columns)
    assert codes["history"].sum() > 0 and codes["nature"].sum() > 0
    assert len(pd.read_csv(out / "coder_sample.csv")) == 50


def test_no_planted_personal_data_survives(study):
    texts = []
    for path in sorted((study / "processed").rglob("*")) + sorted((study / "metrics").rglob("*")):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            texts += [v for c in frame.columns for v in frame[c].astype(str)]
        elif path.suffix in (".csv", ".json"):
            texts.append(path.read_text(encoding="utf-8"))
    blob = "\n".join(texts)
    digits = blob.replace(" ", "").replace("-", "")
    for value in PLANTED:
        assert value not in blob and value.replace(" ", "").replace("-", "") not in digits, value
    assert "[手机号1]" in blob and "[身份证号1]" in blob and "[电话1]" in blob
    log = pd.read_csv(study / "processed" / "transcripts" / "redaction_log.csv")
    assert {"mobile", "landline", "id_number"} <= set(log["type"])


# --------------------------------------------------------------------------------------------
# the documents format
# --------------------------------------------------------------------------------------------
def test_split_texts_by_line_and_separator(tmp_path):
    text = "第一条留言。\n\n第二条：易书记说要修路。\n---\n社区：C001\n第三条。\n---\n \n---\n"
    rules = load_rules(documents_config(tmp_path / "a", texts="line"), ROOT / "config" / "stopwords.txt")
    assert split_texts(text, rules)[:2] == [(1, "第一条留言。"), (3, "第二条：易书记说要修路。")]
    rules = load_rules(documents_config(tmp_path / "b", texts="separator", separator="---"), ROOT / "config" / "stopwords.txt")
    assert split_texts(text, rules) == [(1, "第一条留言。\n\n第二条：易书记说要修路。"), (5, "社区：C001\n第三条。")]
    one = documents_config(tmp_path / "c")
    assert split_texts(text, load_rules(one, ROOT / "config" / "stopwords.txt")) == [(1, text)]


def test_a_document_has_an_optional_header_and_no_speakers(tmp_path):
    path = documents_config(tmp_path / "cfg")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["header"] = {"fields": {"interview_id": ["编号"], "community": ["社区"]}}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    rules = load_rules(path, ROOT / "config" / "stopwords.txt")
    text = "编号：M01\n社区：C002（东区）\n\n易书记：路灯坏了。\n马玉兰说：我也看见了。\n问：谁来修？\n"
    p = parse_document(text, rules)
    assert p.fields == {"interview_id": "M01", "community": "C002（东区）"} and len(p.turns) == 1
    assert [text[s:e] for s, e in p.turns[0].pieces] == ["易书记：路灯坏了。", "马玉兰说：我也看见了。", "问：谁来修？"]
    assert parse_document("编号：M02\n", rules).turns == ()                            # a header alone: no text


def run_transcripts(work: Path, files: dict[str, str], manifest: str = "", communities: str = "", **fmt) -> Path:
    folder = work / "texts"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    cfg = documents_config(work / "config", **fmt)
    raw = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    raw["header"] = {"fields": {"community": ["社区"]}}
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    params = work / "params.yaml"
    params.write_text(yaml.safe_dump({"seed": 1, "transcripts": {
        "config": str(cfg), "userdict": str(work / "config" / "userdict.txt"),
        "stopwords": str(ROOT / "config" / "stopwords.txt"), "n_jobs": 1}}), encoding="utf-8")
    (work / "config" / "userdict.txt").write_text("", encoding="utf-8")
    argv = ["--params", str(params), "--transcripts", str(folder), "--out", str(work / "out"),
            "--metrics", str(work / "metrics.json"), "--communities", communities, "--manifest", manifest]
    T.main(argv)
    return work / "out"


def test_file_ids_and_an_optional_community(tmp_path):
    out = run_transcripts(tmp_path / "a", {"留言一.txt": "社区：C001\n楼道灯不亮。", "留言二.txt": "垃圾没人收。"})
    units = pd.read_parquet(out / "units.parquet")
    assert units.groupby("interview_id")["community"].first().to_dict() == {"留言一": "C001", "留言二": ""}
    # required: the text without one is skipped, with the reason
    out = run_transcripts(tmp_path / "b", {"a.txt": "社区：C001\n楼道灯不亮。", "b.txt": "垃圾没人收。"},
                          community="required")
    skipped = pd.read_csv(out / "skipped.csv")
    b = file_key("b.txt", "垃圾没人收。".encode("utf-8"))                # outputs name a file by its key
    assert skipped[["file", "reason_code"]].values.tolist() == [[b, "no_community_id"]]
    # a community file: the texts' ids must be in it (the column is 'community' without an instrument)
    comm = tmp_path / "communities.csv"
    comm.write_text("community,city\nC001,x\n", encoding="utf-8")
    out = run_transcripts(tmp_path / "c", {"m.txt": "社区：C001\n楼道灯不亮。\n---\n社区：C009\n垃圾没人收。\n"}, communities=str(comm),
                          texts="separator", separator="---")
    assert pd.read_csv(out / "skipped.csv")["reason"].str.startswith("text 2 (line 4): unknown community id").all()
    assert pd.read_parquet(out / "units.parquet")["interview_id"].tolist() == ["m-1"]


def test_errors_in_the_users_terms(tmp_path):
    with pytest.raises(PipelineError, match="format.kind 'letters' is unknown"):
        load_rules(documents_config(tmp_path / "a", kind="letters"), ROOT / "config" / "stopwords.txt")
    with pytest.raises(PipelineError, match="needs format.separator"):
        load_rules(documents_config(tmp_path / "b", texts="separator"), ROOT / "config" / "stopwords.txt")
    with pytest.raises(PipelineError, match="format.community is required but header.fields declares no community"):
        load_rules(documents_config(tmp_path / "c", community="required"), ROOT / "config" / "stopwords.txt")
    template = (ROOT / "pipeline" / "text" / "templates" / "transcripts.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(template.replace("kind: {kind}", "kind: interview"))
    cfg["header"]["fields"]["comm_id"] = cfg["header"]["fields"].pop("community")
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    for name in ("surnames.txt", "given_names.txt"):
        shutil.copyfile(ROOT / "config" / name, tmp_path / name)
    with pytest.raises(PipelineError, match="called 'community'"):
        load_rules(tmp_path / "old.yaml", ROOT / "config" / "stopwords.txt")
    with pytest.raises(PipelineError, match="exchange, but the texts have no interviewer questions"):
        resolve_unit("exchange", pd.DataFrame({"question_id": []}))
    assert resolve_unit("auto", pd.DataFrame({"question_id": []})) == "turn" and resolve_unit("auto", None) == "turn"
    with pytest.raises(PipelineError, match="covariance: cluster needs a cluster"):
        prevalence_design(topic_settings(covariance="cluster"), None)
    assert prevalence_design(topic_settings(), None) == ("hc1", None)
    assert prevalence_design(topic_settings(), "village") == ("cluster", "village")
    with pytest.raises(PipelineError, match="a community file, but the texts have no community id"):
        comm = tmp_path / "communities.csv"
        comm.write_text("community\nC001\n", encoding="utf-8")
        work = tmp_path / "d"
        (work / "texts").mkdir(parents=True)
        (work / "texts" / "a.txt").write_text("一。", encoding="utf-8")
        documents_config(work / "config")
        (work / "config" / "userdict.txt").write_text("", encoding="utf-8")
        (work / "params.yaml").write_text(yaml.safe_dump({"seed": 1, "transcripts": {
            "config": str(work / "config" / "transcripts.yaml"), "userdict": str(work / "config" / "userdict.txt"),
            "stopwords": str(ROOT / "config" / "stopwords.txt")}}), encoding="utf-8")
        T.main(["--params", str(work / "params.yaml"), "--transcripts", str(work / "texts"), "--communities", str(comm),
                "--out", str(work / "out"), "--metrics", str(work / "m.json")])
