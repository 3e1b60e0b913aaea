"""LaTeX tables: every character the tables use is escaped (a property test over the demo study's
own characters), the .tex is well formed (balanced braces and environments, the right number of
cells in every row and column spec, every command from a package the one preamble loads), and
every table of the demo study compiles with xelatex + ctex without an error, a missing glyph or a
line wider than the page.

xelatex comes from Debian's texlive-xetex, texlive-lang-chinese, texlive-latex-extra and
texlive-science (about 610 MB installed). Without it the compiling tests skip here, and fail in CI
(``CI=true``), where the set-up installs it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.render import latex as tex
from pipeline.render.table import Cell, HeaderCell, Row, Table

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "studies" / "demo"

# -- what a table may use: each command and environment with the package that defines it -----------
KERNEL = "LaTeX"
COMMANDS = {
    **dict.fromkeys(["begin", "end", "caption", "label", "centering", "item", "multicolumn", "textit", "small",
                     "footnotesize", "scriptsize", "tablename", "thetable", "begingroup", "endgroup", "textbackslash",
                     "textasciitilde", "textasciicircum", "textless", "textgreater", "textbar", "textperiodcentered",
                     "textsuperscript", "ensuremath", "linewidth", "hsize", "raggedright", "centering",
                     "times", "div", "dagger", "ddagger", "pm", "leq", "geq", "neq", "approx", "rightarrow", "infty", "alpha", "beta", "gamma",
                     "delta", "varepsilon", "eta", "theta", "kappa", "lambda", "mu", "rho", "sigma", "tau", "phi",
                     "chi", "psi", "omega", "Delta", "Sigma", "Omega"], KERNEL),
    "arraybackslash": "array",
    **dict.fromkeys(["toprule", "midrule", "bottomrule", "cmidrule", "addlinespace"], "booktabs"),
    **dict.fromkeys(["endfirsthead", "endhead", "endfoot", "endlastfoot"], "longtable"),
    "insertTableNotes": "threeparttablex",
    "checkmark": "amssymb",
}
ENVIRONMENTS = {"table": KERNEL, "tabular": KERNEL, "threeparttable": "threeparttable", "tablenotes": "threeparttable",
                "tabularx": "tabularx", "longtable": "longtable", "xltabular": "xltabular",
                "ThreePartTable": "threeparttablex", "TableNotes": "threeparttablex", "landscape": "pdflscape"}
COLUMN_TYPES = {"l": KERNEL, "r": KERNEL, "c": KERNEL, "p": KERNEL, "X": "tabularx", "S": "siunitx"}
# characters that may stand unescaped in the .tex besides ASCII and wide (CJK) ones: both Latin
# Modern and the Chinese fonts carry them
SAFE = set("“”‘’…")


def preamble_packages(lang: str = "zh", cjk: bool = False) -> set[str]:
    return set(re.findall(r"\\usepackage(?:\[[^\]]*\])?\{([^}]+)\}", tex.preamble(lang, cjk))) | {KERNEL}


def _strip_escapes(text: str) -> str:
    """``text`` without its escapes and the commands the renderer writes: what is left must be
    plain text."""
    text = re.sub(r"\\ensuremath\{(?:\\[A-Za-z]+|[-'])\}", "", text)
    text = re.sub(r"\\textsuperscript\{\d\}", "", text)
    text = re.sub(r"\\[A-Za-z]+\{\}|\\[&%$#_{} ]", "", text)
    return text.replace("{[}", "").replace("{]}", "").replace("{}", "", 1 if text.startswith("{}") else 0)


def assert_escaped(source: str) -> None:
    out = tex.tex_escape(source)
    rest = _strip_escapes(out)
    assert not re.search(r"[\\&%$#_^~{}\[\]|<>]", rest), (source, out, rest)
    odd = [ch for ch in rest if ord(ch) > 126 and unicodedata.east_asian_width(ch) not in "WF" and ch not in SAFE]
    assert not odd, (source, odd)
    assert not out.startswith("*")
    bare = out.replace("\\$", "")                          # an escaped dollar next to a dash is text ("$–": \$--)
    assert "-$" not in bare and "$-" not in bare          # the old "-$-$" for an en dash (math mode)


def assert_well_formed(src: str, n_columns: int, packages: set[str]) -> None:
    """Balanced braces and environments; commands, environments and column types from loaded
    packages; every row with ``n_columns`` cells; every column spec with ``n_columns`` columns."""
    depth = 0
    for ch in re.sub(r"\\[{}\\]", "", src):
        depth += (ch == "{") - (ch == "}")
        assert depth >= 0, "a } closes nothing"
    assert depth == 0, "unbalanced braces"
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{([A-Za-z*]+)\}", src):
        assert ENVIRONMENTS.get(env) in packages, f"environment {env} from a package the preamble does not load"
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"\\end{{{env}}} closes another environment"
    assert not stack, f"unclosed {stack}"
    for cmd in set(re.findall(r"\\([A-Za-z]+)", src)):
        assert COMMANDS.get(cmd) in packages, f"\\{cmd} is not known to come from a package the preamble loads"
    for spec in re.findall(r"\\begin\{(?:tabular|longtable)\}\{(.*)\}$|\\begin\{(?:tabularx|xltabular)\}\{\\linewidth\}\{(.*)\}$",
                           src, flags=re.M):
        spec = "".join(spec)
        spec = re.sub(r">\{(?:[^{}]|\{[^{}]*\})*\}", "", spec)       # >{\raggedright...} before a column
        spec = re.sub(r"\[(?:[^\[\]])*\]", "", spec)                  # S[table-format=...]
        spec = re.sub(r"\{[^{}]*\}", "", spec)                        # p{3.0em}
        assert all(COLUMN_TYPES.get(c) in packages for c in spec), spec
        assert len(spec) == n_columns, spec
    for line in src.splitlines():
        if not line.endswith(r"\\") or line.startswith((r"\caption", r"\insertTableNotes", rf"\multicolumn{{{n_columns}}}")):
            continue
        body = re.sub(r"\\&", "", line)
        spans = sum(int(x) - 1 for x in re.findall(r"\\multicolumn\{(\d+)\}", body))
        assert body.count("&") + spans == n_columns - 1, line


# -- escaping ---------------------------------------------------------------------------------------
def test_dashes_minus_signs_and_brackets():
    e = tex.tex_escape
    assert e("df 12.4–58.4") == "df 12.4--58.4"                       # a range: an en dash, not "-$-$"
    assert e("(12.4–58.4)") == "(12.4--58.4)"
    assert e("[-0.024, 0.076]") == r"{[}\ensuremath{-}0.024, 0.076{]}"
    assert e("-.5 and x-1 and R-2 and 1-2") == r"\ensuremath{-}.5 and x-1 and R-2 and 1-2"
    assert e("受理—处置") == "受理---处置"
    assert e("1|2") == r"1\textbar{}2" and e("a_b 50% #1 & {x}") == r"a\_b 50\% \#1 \& \{x\}"
    assert e("** p < 0.01") == r"{}** p \textless{} 0.01"
    assert e("方便 帮着 x y") == r"方便\ 帮着 x y"                       # a space between Chinese words kept


def _demo_characters() -> str:
    """Every character of the demo study's words that reach a table: the instrument's labels, the
    joint display's hypotheses and claims, the codebook, the transcript bank (the quotes), the
    report's own words (both languages) and the params (term labels, captions)."""
    files = [DEMO / n for n in ("instrument.yaml", "joint_display.yaml", "codebook.yaml", "transcript_bank.yaml",
                                "params.yaml")]
    files += sorted((ROOT / "pipeline" / "render" / "locale").glob("*.yaml"))
    chars = set()
    for f in files:
        chars |= set(f.read_text(encoding="utf-8"))
    return "".join(sorted(chars - set("\n\r\t")))


DEMO_CHARS = _demo_characters()


def test_every_character_of_the_demo_study_is_escaped():
    assert len(DEMO_CHARS) > 1000      # thousands of Chinese characters, the ASCII ones, the symbols
    for ch in DEMO_CHARS:
        assert_escaped(ch)
        assert_escaped(f"x{ch}1")


def test_a_dollar_before_an_en_dash_is_text():
    assert_escaped("$–")                                   # hypothesis's example: \$-- is the text "$–"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(DEMO_CHARS + "".join(chr(c) for c in range(32, 127)) + " –—−"), max_size=40))
def test_any_text_of_those_characters_is_escaped(text):
    assert_escaped(text)


# -- structure --------------------------------------------------------------------------------------
def _toy_table(n_rows: int, lang: str = "zh") -> Table:
    head = (HeaderCell(""), HeaderCell("模型 A & B", 2), HeaderCell("说明")), \
           (HeaderCell("变量"), HeaderCell("估计值"), HeaderCell("95% CI"), HeaderCell("说明"))
    rows = []
    for i in range(n_rows):
        rows.append(Row((Cell(f"x_{i} → χ²"), Cell(f"{-0.5 + i:.3f}***", numeric=True),
                         Cell("[-0.1, 0.2]", numeric=True), Cell("一段很长的说明文字，" * 3 + "12.4–58.4"))))
        rows.append(Row((Cell(""), Cell(f"({0.1 * i:.3f})", numeric=True), Cell(""), Cell(""))))
    rows.insert(1, Row(panel="面板 *"))
    return Table("table99_toy", "玩具表 & 50%", tuple(head), tuple(rows), ("* p < 0.05；[注] 1|2",), lang=lang)


@pytest.mark.parametrize("n_rows", [3, 40])
def test_tables_are_well_formed_and_use_only_the_preamble_packages(n_rows):
    t = _toy_table(n_rows)
    src = tex.latex(t)
    assert_well_formed(src, t.n_columns, preamble_packages())
    lay = tex.layout(t)
    assert lay.specs[1].startswith("S[table-format=") and lay.specs[2] == "r" and lay.specs[3].endswith("X")
    assert ("ThreePartTable" in src) == (n_rows * 2 + 1 > tex.LONG_ROWS)
    assert r"{(}0.100{)}" in src and r"0.500{***}" in src               # brackets and stars beside the digits
    if n_rows > 20:
        assert src.count(r"\toprule") == 2 and r"\endhead" in src and r"\insertTableNotes" in src


def test_the_preamble_loads_ctex_for_chinese_text_only():
    assert "ctex" in preamble_packages("zh") and "ctex" not in preamble_packages("en")
    assert "scheme=plain" in tex.preamble("en", cjk=True) and "scheme=plain" not in tex.preamble("zh", cjk=True)
    assert tex.has_cjk([_toy_table(1)]) and not tex.has_cjk([Table("t", "x", ((HeaderCell("a"),),), (Row((Cell("b"),)),))])
    assert {"booktabs", "siunitx", "longtable", "xltabular", "amssymb", "threeparttablex"} <= preamble_packages("en")


# -- compiling --------------------------------------------------------------------------------------
def xelatex() -> str:
    found = shutil.which("xelatex")
    if found is None:
        why = "xelatex not installed (Debian: texlive-xetex texlive-lang-chinese texlive-latex-extra texlive-science)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + ": the set-up must install it in CI")
        pytest.skip(why)
    return found


def compile_tables(folder: Path, preamble: str, tables: dict[str, str]) -> str:
    """Write ``tables`` and a document that inputs them to ``folder``, run xelatex (twice: longtable
    settles its widths on the second run) and return the log; an error fails the test."""
    (folder / "preamble.tex").write_text(preamble, encoding="utf-8")
    for name, body in tables.items():
        (folder / f"{name}.tex").write_text(body, encoding="utf-8")
    inputs = "\n".join(f"\\input{{{name}}}" for name in tables)
    (folder / "main.tex").write_text("\\documentclass{article}\n\\usepackage[a4paper,margin=25mm]{geometry}\n"
                                     f"\\input{{preamble}}\n\\begin{{document}}\n{inputs}\n\\end{{document}}\n",
                                     encoding="utf-8")
    for _ in range(2):
        proc = subprocess.run([xelatex(), "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=folder,
                              capture_output=True, text=True, timeout=300)
        log = (folder / "main.log").read_text(encoding="utf-8", errors="replace")
        assert proc.returncode == 0, "\n".join(re.findall(r"^!.*(?:\n.*){0,4}", log, flags=re.M)[:3])
    return log


def check_log(log: str) -> None:
    missing = sorted(set(re.findall(r"Missing character: There is no (.)", log)))
    assert not missing, f"glyphs no font has: {missing}"
    wide = [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert max(wide, default=0.0) <= 1.0, f"lines wider than the page by {max(wide)} pt"
    assert "Float too large" not in log


def test_every_character_compiles(tmp_path):
    """One table holding every character of the demo study, in both languages' preambles."""
    xelatex()
    chars = [DEMO_CHARS[i:i + 30] for i in range(0, len(DEMO_CHARS), 30)]
    t = Table("table98_chars", "每个字符", ((HeaderCell("字符"),),), tuple(Row((Cell(c),)) for c in chars))
    check_log(compile_tables(tmp_path, tex.preamble("zh"), {"chars": tex.latex(t)}))


def test_every_table_of_the_demo_study_compiles(demo_study, tmp_path):
    """The report's own .tex files and preamble (Chinese), and the same tables in English."""
    xelatex()
    folder = demo_study / "reports" / "tables"
    names = sorted(p.stem for p in folder.glob("table*.tex"))
    assert len(names) == 18
    zh = {n: (folder / f"{n}.tex").read_text(encoding="utf-8") for n in names}
    for n, src in zh.items():
        spec = re.search(r"\\begin\{(?:tabular|longtable|tabularx|xltabular)\}(?:\{\\linewidth\})?\{(.*)\}$", src, flags=re.M)
        n_columns = len(re.sub(r"\{[^{}]*\}", "", re.sub(r"\[[^\[\]]*\]|>\{(?:[^{}]|\{[^{}]*\})*\}", "", spec.group(1))))
        assert_well_formed(src, n_columns, preamble_packages("zh"))
    (tmp_path / "zh").mkdir()
    check_log(compile_tables(tmp_path / "zh", (folder / "preamble.tex").read_text(encoding="utf-8"), zh))
    assert (folder / "preamble.tex").read_text(encoding="utf-8") == tex.preamble("zh", cjk=True)
    from pipeline.core.config import load_params
    from pipeline.core.instrument import load_instrument
    from pipeline.render.tables.plan import build_tables
    from pipeline.render.tables.results import load_results
    from pipeline.render.tables.settings import settings_from_params

    params = load_params(demo_study / "studies/demo/params.yaml")
    settings = {**settings_from_params(params), "lang": "en"}
    en_tables = build_tables(load_results(demo_study / "processed"), load_instrument(ROOT / params["instrument"]), settings)
    for t in en_tables:
        assert_well_formed(tex.latex(t), t.n_columns, preamble_packages("en"))
    (tmp_path / "en").mkdir()
    assert tex.has_cjk(en_tables)          # the topic words of Chinese interviews
    check_log(compile_tables(tmp_path / "en", tex.preamble("en", cjk=True), {t.key: tex.latex(t) for t in en_tables}))
