"""Nothing unredacted outside raw/ (issue #17, docs/redaction.md).

The hand-labelled turns of ``tests/fixtures/redaction/labelled.yaml`` (every part: the detector
finds all their numbers, tuning 3 included since its rules) become a
planted corpus: interviews of a few turns each, with the planted names and numbers also in the
header's name and phone lines and in the file names (UTF-8, GBK, .docx, a .doc that is skipped
and an undecodable file), and a manifest whose roster lists each interview's names. The
transcripts stage runs on it, then the coding stage (its blank coder sheet leaves the project),
and EVERY file written is scanned for every planted value in every normalised form (as written,
without separators, case-folded, full-width and Chinese digits as ASCII, digits only): Parquet
cells, zip members of .xlsx, the token cache's compressed entries, the CSVs and the metrics, and
what the stages printed.

Then a redaction fix: a first run with names switched off and no roster fills the token cache
with names; after the fixed runs, ``python -m pipeline purge`` leaves a cache without any.
"""
from __future__ import annotations

import contextlib
import copy
import html
import io
import re
import unicodedata
from pathlib import Path

import docx
import pandas as pd
import pytest
import yaml

from pipeline.core.config import load_params
from pipeline.core.errors import run_cli
from scan import file_texts
from pipeline.stages import coding as C
from pipeline.stages import purge as P
from pipeline.stages import transcripts as T
from pipeline.text.numbers import CN_DIGITS, fold
from pipeline.text.redaction_eval import load_labelled

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "fixtures" / "redaction" / "labelled.yaml"
TURNS_PER_FILE = 6
HEX_FORM = re.compile(r"[0-9a-f]+")
SEPARATORS = re.compile(r"[\s\-.·_/()（）]+")


# --------------------------------------------------------------------------------------------
# planted values and the scanner
# --------------------------------------------------------------------------------------------
def normalised(value: str, kind: str = "") -> set[str]:
    """The forms a value may take in an output: as written, folded (full-width and Chinese
    digits as ASCII), case-folded, without separators, and its digits alone (7 or more: of a phone,
    ID, card or long number, or of an identifier whose digits stand together once its separators
    are gone; not of a document number's year and serial, 金阅调〔2024〕第052号, whose 2024052 no output
    writes and a time stamp 2024052213:24 holds by chance). A name's
    Chinese digits stay characters (樊三 is not 樊3: a form of a character and a digit is found in a
    binary cache file's bytes by chance, and no output writes a name so)."""
    folded = fold(unicodedata.normalize("NFKC", value))
    if kind != "name":
        folded = folded.translate(str.maketrans(CN_DIGITS))
    folded = folded.casefold()
    compact = SEPARATORS.sub("", folded)
    forms = {value, folded, compact}
    digits = re.sub(r"\D", "", folded)
    if len(digits) >= 7 and (digits in compact or kind in ("mobile", "landline", "id_number", "bank_card", "long_number")):
        forms.add(digits)
    return {f for f in forms if len(f) >= 2}


def scannable(text: str) -> list[str]:
    """The views of a file's text searched: as written and with XML's character references read
    (a spreadsheet's &#30417; is 监, not the digits 30417), folded, without separators."""
    text = html.unescape(text)
    folded = fold(unicodedata.normalize("NFKC", text)).casefold()
    return [text, folded, SEPARATORS.sub("", folded)]


def _found_in(form: str, view: str) -> bool:
    """A form of digits alone shorter than a phone number (31101 of the address 3-1-101) counts only
    as a whole number, not inside a longer run of digits (a time stamp 202311010800) nor of letters
    and digits (2076 in a file's key 3ab2076c9e01: the keys differ from run to run, so such a hit
    came and went); so does any other form made of hex digits alone (c0412 of the staff number
    C0412: a 12-hex-digit file key holds it by chance about once in 16,000 keys)."""
    if form not in view:
        return False                                     # (the common case, without compiling a pattern per form)
    if form.isdigit() and len(form) < 7 or (not form.isdigit() and HEX_FORM.fullmatch(form)):
        return re.search(rf"(?<![\dA-Za-z]){form}(?![\dA-Za-z])", view) is not None
    return True




def leaks(roots: list[Path], values: dict[str, str], extra: str = "") -> tuple[list[str], int]:
    """``file: category`` for every planted value found (never the value), and the files searched. A
    form of digits shorter than a phone number is not searched in the view without separators (a
    progress bar's 0/837 there is 0837, a planted staff number)."""
    found, n = [], 0
    patterns = {v: [f for f in normalised(v, values[v])] for v in values}
    sources = [(str(p), t) for root in roots for p in sorted(root.rglob("*")) if p.is_file() for t in file_texts(p)]
    n = len({s for s, _ in sources})
    sources.append(("stdout/stderr", extra))
    for where, text in sources:
        views = scannable(text)
        for value, forms in patterns.items():
            if any(_found_in(f, view) for f in forms for view in (views[:2] if f.isdigit() and len(f) < 7 else views)):
                found.append(f"{where}: {values[value]}")
    return sorted(set(found)), n


# --------------------------------------------------------------------------------------------
# the planted corpus
# --------------------------------------------------------------------------------------------
# a blind part whose numbers are not all found yet goes here (labelled.yaml's notes); 22 and 23: tuned in
# round 18. Held-out 28 stays blind (2 addresses missed). Tuning 30-33 (written to train the name tagger)
# and held-out 34 and 35 (blind for names) are planted since round 22 found their last numbers and
# addresses (docs/redaction.md), held-out 36 and 37 since round 23 found theirs, held-out 38 to 41 since round 24,
# held-out 42 to 44, 46 and 47 since round 25, writers 48 to 52 since round 26, 53 and 54 since round 27, 55
# since round 28. Held-out 56 stays out: a miner's lamp number (我的是2-0873, no word for it) is missed
NOT_PLANTED: set[str] = {"heldout28", "heldout56"}


def planted_corpus(folder: Path) -> tuple[dict[str, str], str]:
    """Interview files made of the labelled turns; returns {value: category} of everything
    planted, and the manifest CSV (file, names: the roster)."""
    # every part the detector has been tuned on or passes: it finds every number of each
    # (test_redaction_labelled.py measures it); this test is about where found values go (caches,
    # coder sheet, logs), not about finding them. A blind part not yet tuned on is left out.
    items = [it for it in load_labelled(LABELLED) if it.part not in NOT_PLANTED]
    values: dict[str, str] = {}
    rows = ["file,names"]
    folder.mkdir(parents=True)
    for k in range(0, len(items), TURNS_PER_FILE):
        chunk = items[k:k + TURNS_PER_FILE]
        n = k // TURNS_PER_FILE + 1
        gold = [(it.text[s:e], cat) for it in chunk for s, e, cat in it.gold]
        # the roster as a team writes it: a name without the spaces, 、 or dashes a transcriber put
        # between its characters (马、占、林 -> 马占林; the roster's 、 separates names)
        names = [n for n in (re.sub(r"[\s、·・‧•\-—–－]+", "", v) for v, c in gold if c == "name") if len(n) >= 2]
        phones = [v for v, c in gold if c in ("mobile", "landline")]
        for v, c in gold:
            values[v] = c
        who = names[0] if names else "马玉兰"
        phone = phones[0] if phones else "13909512233"
        values[who], values[phone] = "name", "mobile"
        header = (f"访谈编号：L{n:02d}\n社区编号：C001\n受访者身份：居民\n访谈日期：2025-07-0{n % 9 + 1}\n"
                  f"姓名：{who}\n电话：{phone}\n\n")
        body = "".join(f"问：您再说说？\n答：{it.text}\n" for it in chunk)
        stem = f"{who}_{re.sub(r'[^0-9]', '', fold(phone))}访谈{n:02d}"        # n: chunks without a name share the default
        if n % 4 == 1:
            name = f"{stem}.docx"
            doc = docx.Document()
            for line in (header + body).splitlines():
                doc.add_paragraph(line)
            doc.save(folder / name)
        else:
            name = f"{stem}.txt"
            (folder / name).write_bytes((header + body).encode("gbk" if n % 4 == 2 else "utf-8"))
        rows.append(f"{name},{'、'.join(names)}")
    (folder / "马福成_13909532817.doc").write_bytes(b"\xd0\xcf\x11\xe0 old word file")      # skipped: .doc
    (folder / "王建设 0951-5028316.txt").write_bytes(b"\x00\x01\x02 binary")                   # skipped: undecodable
    (folder / "李秀英.13700001111").write_bytes("答：好。".encode("utf-8"))                    # skipped: its 'extension'
    values.update({"马福成": "name", "王建设": "name", "0951-5028316": "landline", "李秀英": "name",
                   "13700001111": "mobile"})
    words = _also_words(items)
    return {v: c for v, c in values.items() if len(re.sub(r"\s+", "", v)) >= 2 and v not in words}, "\n".join(rows) + "\n"


def _also_words(items) -> set[str]:
    """Names that also stand in the set's text outside every name span (吴忠 the person and the
    city, 燕子 the nickname and the bird, 田野 the person and the fieldwork): a scan for the string
    cannot tell a leak from the ordinary word, so they are not scanned for (the labelled test
    checks that each is redacted where it is a name and kept where it is a word). So are a person's
    names on a platform that are words (微信名叫向日葵 … 头像是个向日葵; 名字叫黄河人家, a farm
    restaurant's name too): accounts in Han characters."""
    def wordy(it, s, e, c):
        return c == "name" or (c == "account" and re.search(r"[\u4e00-\u9fff]", it.text[s:e]) is not None)

    names = {it.text[s:e] for it in items for s, e, c in it.gold if wordy(it, s, e, c)}
    spans = [[(s, e) for s, e, c in it.gold if wordy(it, s, e, c)] for it in items]
    # the texts outside the names, each way, once (not once per name: the set has thousands of both)
    words = "\x00".join(w for it, sp in zip(items, spans) for w in (_words_only(it.text, sp), _words_only(it.text, sp, True),
                                                                   _tokens_only(it.text, sp)))
    out = set()
    for name in names:
        bare = re.sub(r"\s+", "", name)                 # 建 军, spaced out, is the word 建军 (八一建军节) too
        if name in words or bare in words or any(
                bare in it.text and any(not any(s <= m.start() and m.end() <= e for s, e in sp)
                                        for m in re.finditer(re.escape(bare), it.text))
                for it, sp in zip(items, spans)):
            out.add(name)
    return out


STOP_CHARS = frozenset(w for w in (ROOT / "config" / "stopwords.txt").read_text(encoding="utf-8").split()
                       if len(w) == 1 and not w.startswith("#"))
STOP_WORDS = sorted((w for w in (ROOT / "config" / "stopwords.txt").read_text(encoding="utf-8").split()
                     if len(w) > 1 and not w.startswith("#")), key=len, reverse=True)


def _tokens_only(text: str, spans: list[tuple[int, int]]) -> str:
    """The text outside every name span cut by jieba into words, without punctuation and the
    stopword list's words, joined: as the token column's neighbours join (原来在福建 -> 原来 福建:
    来福 is there, though 来 is a one-character stopword inside 原来)."""
    import jieba

    for s, e in sorted(spans, reverse=True):
        text = text[:s] + "\n" + text[e:]
    stop = STOP_CHARS | set(STOP_WORDS)
    return "".join(t for t in jieba.lcut(text) if t.strip() and t not in stop and not re.fullmatch(r"\W+", t))


def _words_only(text: str, spans: list[tuple[int, int]], joined: bool = False) -> str:
    """The text outside the name spans as the token column holds it, without punctuation,
    separators and one-character stopwords: a name spelled out character by character
    (撒种子的撒，国庆节的国庆; 菩萨的萨 holds 萨萨) is there. Spans of one character are not masked:
    they are on no roster and never scanned for, so the text may hold them (玉石的玉，梅花的梅: 玉梅).
    ``joined``: as the tokens join when a redacted name between them is no token and the words
    around it are stopwords (娃娃们就笑，[姓名]自己也笑 -> 娃娃 笑 笑: 笑笑 is there), a redacted
    name of one character included (冶金的[姓名]，大海的[姓名] -> 冶金 大海: 金大海 is there)."""
    for s, e in sorted(spans, reverse=True):
        if joined or len(re.sub(r"\s+", "", text[s:e])) >= 2:
            text = text[:s] + ("" if joined else "□") + text[e:]
    if joined:
        for w in STOP_WORDS:
            text = text.replace(w, "")
    text = "".join(c for c in text if c not in STOP_CHARS)
    return re.sub(r"[\s\-.·_/()（），。、；：！？…—,;:!?]+", "", text)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaks")
    values, manifest = planted_corpus(tmp / "raw" / "transcripts")
    (tmp / "manifest.csv").write_text(manifest, encoding="utf-8")
    params = load_params(ROOT / "studies/demo/params.yaml")
    for key in ("config", "userdict", "stopwords", "jieba_cache"):
        params["transcripts"][key] = str(ROOT / params["transcripts"][key])
    params["instrument"] = str(ROOT / params["instrument"])
    params["transcripts"].update(n_jobs=1, cache_dir=str(tmp / "cache"))
    params["coding"].update(codebook=str(ROOT / params["coding"]["codebook"]), human_codes=None, covariates=[],
                            dimensions=["role"])
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return tmp, values


def run(stage, argv: list[str]) -> tuple[int, str]:
    std, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(std), contextlib.redirect_stderr(err):
        code = run_cli(lambda: stage.main(argv))
    return code, std.getvalue() + err.getvalue()


def transcripts(tmp: Path, params: Path, out: Path, manifest: bool = True) -> tuple[int, str]:
    return run(T, ["--params", str(params), "--transcripts", str(tmp / "raw" / "transcripts"), "--communities", "",
                   "--manifest", str(tmp / "manifest.csv") if manifest else "",
                   "--out", str(out / "transcripts"), "--metrics", str(out / "metrics" / "transcripts.json")])


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------
def test_the_scanner_sees_every_form():
    assert "13909532817" in normalised("139 0953 2817") and "13909512233" in normalised("１３９０９５１２２３３")
    assert "13909512233" in normalised("一三九零九五一二二三三") and "mayulan@qq.com" in normalised("MaYuLan@QQ.COM")
    hits, _ = leaks([], {"139 0953 2817": "mobile"}, "电话139-0953-2817")
    assert hits == ["stdout/stderr: mobile"]
    assert leaks([], {"0837": "staff_id"}, "transcripts: 0%| | 0/837 [00:00<?, ?files]")[0] == []
    assert leaks([], {"0837": "staff_id"}, "工号0837")[0] == ["stdout/stderr: staff_id"]


def test_no_planted_value_in_any_file_a_run_writes(study):
    tmp, values = study
    out = tmp / "out"
    code, log = transcripts(tmp, tmp / "params.yaml", out)
    assert code == 0, log
    code, log2 = run(C, ["--params", str(tmp / "params.yaml"), "--units", str(out / "transcripts" / "units.parquet"),
                         "--questions", str(out / "transcripts" / "questions.parquet"), "--communities", "",
                         "--out", str(out / "coding"), "--metrics", str(out / "metrics" / "coding.json")])
    assert code == 0, log2
    assert (out / "coding" / "coder_sample.xlsx").exists() and (out / "coding" / "coder_sample.csv").exists()
    sheet = pd.read_csv(out / "coding" / "coder_sample.csv")
    assert len(sheet) > 20 and sheet["text"].str.contains(r"\[姓名\d+\]").any()
    skipped = pd.read_csv(out / "transcripts" / "skipped.csv")
    assert sorted(skipped["reason_code"]) == ["undecodable", "unsupported_format", "unsupported_format"]
    assert (tmp / "cache").exists() and list((tmp / "cache").rglob("*.tok"))
    hits, n = leaks([out, tmp / "cache"], values, log + log2)
    assert n >= 12, f"only {n} files searched"
    assert not hits, "planted personal data found: " + "; ".join(hits)
    # role words survive the redaction of the surname before them
    units = pd.read_parquet(out / "transcripts" / "units.parquet")
    text = "".join(units["text"])
    assert "书记" in text and "主任" in text and re.search(r"\[姓名\d+\]书记", text)
    assert units["tokens"].str.split(" ").explode().isin(["书记", "主任"]).any()


def test_the_scanner_sees_the_raw_files(study):
    """Control: planted values of every category are found in raw/ (so a clean output is no accident
    of the scanner); twenty of each category (all of them against every raw file took 20 minutes once
    the labelled set passed 5,000 turns: the scan is values times files)."""
    tmp, values = study
    sample: dict[str, str] = {}
    for value, category in values.items():
        if sum(c == category for c in sample.values()) < 20:
            sample[value] = category
    hits, _ = leaks([tmp / "raw"], sample)
    seen = {h.split(": ")[-1] for h in hits}
    assert {"name", "mobile", "landline", "id_number", "bank_card", "plate", "account", "address"} <= seen


@pytest.mark.slow   # the transcripts stage three times and purge: about 6 s
def test_purge_leaves_no_superseded_text_in_the_token_cache(study, tmp_path, capsys, monkeypatch):
    tmp, values = study
    params = yaml.safe_load((tmp / "params.yaml").read_text(encoding="utf-8"))
    cfg = yaml.safe_load(Path(params["transcripts"]["config"]).read_text(encoding="utf-8"))
    cfg["redaction"]["categories"]["name"] = False                  # a redaction that misses every name
    cfg["redaction"]["names"]["surnames"] = str(ROOT / "config" / "surnames.txt")
    cfg["redaction"]["names"]["given_names"] = str(ROOT / "config" / "given_names.txt")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    bad = copy.deepcopy(params)
    bad["transcripts"].update(config=str(tmp_path / "bad.yaml"), cache_dir=str(tmp_path / "cache"))
    good = copy.deepcopy(params)
    good["transcripts"]["cache_dir"] = str(tmp_path / "cache")
    for name, p in (("bad", bad), ("good", good)):
        (tmp_path / f"{name}.params.yaml").write_text(yaml.safe_dump(p, allow_unicode=True), encoding="utf-8")
    assert transcripts(tmp, tmp_path / "bad.params.yaml", tmp_path / "o1", manifest=False)[0] == 0
    names = {v: c for v, c in values.items() if c == "name"}
    assert leaks([tmp_path / "cache"], names)[0], "the bad run should leave names in the cache"
    # the fix, without the roster first (the same rules: entries in the same folder), then with it
    assert transcripts(tmp, tmp_path / "good.params.yaml", tmp_path / "o2", manifest=False)[0] == 0
    assert transcripts(tmp, tmp_path / "good.params.yaml", tmp_path / "o3")[0] == 0
    assert len([d for d in (tmp_path / "cache").iterdir() if d.is_dir()]) == 2
    capsys.readouterr()
    assert run_cli(lambda: P.main(["--params", str(tmp_path / "good.params.yaml")])) == 0
    printed = capsys.readouterr().out
    assert "dvc gc --workspace --force" in printed and "removed 1 superseded folder(s)" in printed
    assert len([d for d in (tmp_path / "cache").iterdir() if d.is_dir()]) == 1
    hits, n = leaks([tmp_path / "cache"], values)
    assert n > 5 and not hits, "after purge the token cache still holds: " + "; ".join(hits)
    # the next run reads everything from the purged cache
    code, log = transcripts(tmp, tmp_path / "good.params.yaml", tmp_path / "o4")
    assert code == 0 and " 0 units and questions segmented now" in log


def test_purge_runs_dvc_gc_when_asked(study, tmp_path, monkeypatch, capsys):
    tmp, _ = study
    calls = []
    site = tmp_path / "site"
    (site / "index").mkdir(parents=True)
    monkeypatch.setattr(P, "dvc_site_cache", lambda: site)
    monkeypatch.setattr(P.shutil, "which", lambda name: "/usr/bin/dvc")
    monkeypatch.setattr(P.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or type("R", (), {"returncode": 0})())
    assert run_cli(lambda: P.main(["--params", str(tmp / "params.yaml"), "--dvc"])) == 0
    assert calls == [["dvc", "gc", "--workspace", "--force"]] and not site.exists()
    monkeypatch.setattr(P.subprocess, "run", lambda cmd, **kw: type("R", (), {"returncode": 1})())
    assert run_cli(lambda: P.main(["--params", str(tmp / "params.yaml"), "--dvc"])) == 2
    assert "dvc gc" in capsys.readouterr().err                      # a failed gc is one clear message
