"""Step 6 of the transcripts: Chinese word segmentation (see :mod:`pipeline.text.corpus`).

:class:`Segmenter` cuts the redacted text with jieba or rjieba (jieba-rs), both with the
user dictionary (``config/userdict.txt``, frequencies resolved once by jieba so both engines
get the same numbers). Runs of non-Chinese characters are re-split by jieba's own rule, so
the two engines give the same tokens (tested on the corpus); a text with CJK characters
outside jieba's range goes to jieba. Tokens are cached per interview under
``cache_dir/<dictionary hash>/`` keyed by the redacted text, so a rerun segments nothing.
Content tokens leave out punctuation, numbers, placeholders and ``config/stopwords.txt``.
The :class:`Lexicon` (jieba's dictionary and the user words) is what the name rules of
:mod:`pipeline.text.redact` look words up in.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import marshal
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.files import write_bytes
from pipeline.core.machine import machine_cache_dir
from pipeline.text.rules import Rules, read_word_list

ENGINES = ("jieba", "rjieba", "auto")
NORMALISATION = "ascii-resplit-v1"          # part of the token cache key
HAN_JIEBA = re.compile(r"[\u4e00-\u9fd5]")                     # jieba's own Han range
CJK_OTHER = re.compile(r"[\u3400-\u4dbf\u9fd6-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
NEEDS_RESPLIT = re.compile(r"[A-Za-z0-9\s]|[^\u4e00-\u9fd5]{2}")
ASCII_SPLIT = re.compile(r"[A-Za-z0-9]+(?:\.\d+)?%?|.", re.DOTALL)
NUMBER_TOKEN = re.compile(r"[\d.%]+")
WORD_CHAR = re.compile(r"[\w\u3400-\u9fff]")


def find_all(text: str, word: str, start: int = 0) -> Iterator[int]:
    """Where ``word`` occurs in ``text`` from ``start``, left to right, not overlapping: the starts
    ``re.finditer(re.escape(word), text[start:])`` gives (plus ``start``). By str.find: a pattern per
    word (a surname, a given name, an id found in the turn) would fill Python's pattern cache, and
    every rule's own patterns would be compiled again (issue 19)."""
    if not word:
        yield from range(start, len(text) + 1)
        return
    i = text.find(word, start)
    while i >= 0:
        yield i
        i = text.find(word, i + len(word))


def find_han_after(text: str, word: str, least: int, most: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """The spans ``re.finditer(re.escape(word) + "[\u4e00-\u9fd5]{least,most}", text)`` gives
    from ``start`` (greedy, not overlapping), by str.find (see :func:`find_all`)."""
    i = text.find(word, start) if word else -1
    while i >= 0:
        e = i + len(word)
        k = 0
        while k < most and e + k < len(text) and "\u4e00" <= text[e + k] <= "\u9fd5":
            k += 1
        if k >= least:
            yield i, e + k
            i = text.find(word, e + k)
        else:
            i = text.find(word, i + 1)


@dataclass(frozen=True)
class SegmenterSpec:
    """What a worker needs to build the segmenter; ``key`` hashes everything tokens depend on."""

    engine: str                                # jieba | rjieba
    words: tuple[tuple[str, int, str], ...]    # user words with resolved frequencies
    jieba_cache: str
    key: str


def _import_jieba():
    with warnings.catch_warnings():            # jieba 0.42.1 imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import jieba
    jieba.setLogLevel(60)
    return jieba


def _machine_jieba_cache(jieba) -> Path:
    """The machine's copy of jieba's dictionary cache, named by the dictionary's content
    (:mod:`pipeline.core.machine`): built once per machine and jieba version, not per clone."""
    dictionary = Path(jieba.__file__).parent / "dict.txt"
    return machine_cache_dir("jieba", hashlib.sha256(dictionary.read_bytes()).hexdigest()[:16] + ".cache")


def _jieba_tokenizer(cache_file: str, words: Iterable[tuple[str, int | None, str | None]] = ()):
    """A jieba tokenizer whose dictionary cache is ``cache_file`` (the study's
    ``transcripts.jieba_cache``). A missing cache file is first copied from the machine's copy
    (2-3 CPU-s to build it again in every fresh clone), and the machine's copy is made from a
    new one; the same bytes either way (jieba marshals the dictionary in its file order)."""
    jieba = _import_jieba()
    tk = jieba.Tokenizer()
    target = Path(cache_file).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    shared = _machine_jieba_cache(jieba)
    if not target.exists() and shared.is_file():
        write_bytes(target, shared.read_bytes())
    tk.cache_file = str(target)
    tk.initialize()
    if not shared.exists() and target.is_file():
        try:
            shared.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(shared, target.read_bytes())
        except OSError:           # a read-only home: every clone builds its own, as before
            pass
    for word, freq, tag in words:
        tk.add_word(word, freq, tag or None)
    return tk


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def resolve_engine(name: str) -> str:
    """``auto`` is rjieba when it is installed, else jieba."""
    if name not in ENGINES:
        raise PipelineError(f"params.yaml: transcripts.engine '{name}' is unknown", hint=f"use one of {list(ENGINES)}")
    if name in ("rjieba", "auto") and importlib.util.find_spec("rjieba") is not None:
        return "rjieba"
    if name == "rjieba":
        raise PipelineError("params.yaml: transcripts.engine is rjieba but rjieba is not installed",
                            hint="pip install rjieba==0.2.2, or set engine: auto (falls back to jieba)")
    return "jieba"


def resolve_userdict(path: str | Path, jieba_cache: str) -> tuple[tuple[str, int, str], ...]:
    """The user dictionary as (word, frequency, tag): a missing frequency is the one jieba's
    ``load_userdict`` gives (``suggest_freq`` in file order), computed once with jieba."""
    rows = read_word_list(Path(path), "user dictionary")
    parsed = []
    seen = set()
    for r in rows:
        word, rest = r[0], r[1:]
        freq = int(rest.pop(0)) if rest and rest[0].isdigit() else None
        tag = rest[0] if rest else None
        if freq == 0:
            raise PipelineError(f"{path}: '{word}' has frequency 0", hint="leave the frequency out to let jieba choose it")
        if word in seen:
            raise PipelineError(f"{path}: '{word}' is listed twice")
        seen.add(word)
        parsed.append((word, freq, tag))
    if all(f is not None for _, f, _ in parsed):
        return tuple((w, int(f), t or "n") for w, f, t in parsed)
    saved = _saved_frequencies(parsed)
    freqs = _read_frequencies(saved, len(parsed))
    if freqs is None:
        tk = _jieba_tokenizer(jieba_cache)
        freqs = []
        for word, freq, tag in parsed:
            tk.add_word(word, freq, tag)
            freqs.append(int(tk.FREQ[word]))
        try:
            write_bytes(saved, json.dumps(freqs).encode("ascii"))
        except OSError:             # a read-only home: computed again next time
            pass
    return tuple((word, freq, tag or "n") for (word, _, tag), freq in zip(parsed, freqs))


def _saved_frequencies(parsed: list[tuple[str, int | None, str | None]]) -> Path:
    """Where the machine keeps the frequencies jieba gives a user dictionary (:mod:`pipeline.core.machine`):
    named by a hash of the entries, jieba's version and its dictionary's content; the file holds the
    numbers only, in the entries' order, never a word of the study."""
    spec = importlib.util.find_spec("jieba")
    dictionary = Path(list(spec.submodule_search_locations)[0]) / "dict.txt" if spec and spec.submodule_search_locations else None
    digest = hashlib.sha256(json.dumps({
        "entries": parsed, "jieba": _package_version("jieba"),
        "dict": hashlib.sha256(dictionary.read_bytes()).hexdigest() if dictionary and dictionary.is_file() else None,
    }, ensure_ascii=False).encode("utf-8")).hexdigest()
    return machine_cache_dir("userdict", digest[:32] + ".json")


def _read_frequencies(path: Path, n: int) -> list[int] | None:
    """The saved frequencies, or None when there are none or they are not ``n`` positive integers."""
    try:
        freqs = json.loads(path.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    ok = isinstance(freqs, list) and len(freqs) == n and all(type(f) is int and f > 0 for f in freqs)
    return freqs if ok else None


def segmenter_spec(engine: str, words: tuple[tuple[str, int, str], ...], jieba_cache: str) -> SegmenterSpec:
    key = hashlib.sha256(json.dumps({
        "engine": engine, "jieba": _package_version("jieba"),
        "rjieba": _package_version("rjieba") if engine == "rjieba" else None,
        "words": words, "normalisation": NORMALISATION}, ensure_ascii=False).encode("utf-8")).hexdigest()
    return SegmenterSpec(engine=engine, words=words, jieba_cache=str(Path(jieba_cache).resolve()), key=key)


def normalise_tokens(tokens: Iterable[str]) -> list[str]:
    """Runs of tokens without a Chinese character, re-split by one rule (ASCII words and numbers
    whole, every other character alone), so that jieba and rjieba agree; Chinese tokens as cut."""
    out: list[str] = []
    buf: list[str] = []
    for t in tokens:
        if HAN_JIEBA.search(t):
            if buf:
                out.extend(ASCII_SPLIT.findall("".join(buf)))
                buf = []
            out.append(t)
        else:
            buf.append(t)
    if buf:
        out.extend(ASCII_SPLIT.findall("".join(buf)))
    return out


class Segmenter:
    """jieba or rjieba with the user dictionary. ``cut`` covers the text exactly; ``segment``
    also keeps placeholders whole and counts its calls (``calls``)."""

    def __init__(self, spec: SegmenterSpec):
        self.spec = spec
        self.calls = 0
        self._jieba = None
        self._rjieba = None
        if spec.engine == "rjieba":
            import rjieba

            self._rjieba = rjieba.Jieba()
            for word, freq, tag in spec.words:
                self._rjieba.add_word(word, freq, tag)
        else:
            self._jieba = _jieba_tokenizer(spec.jieba_cache, spec.words)

    def _jieba_fallback(self):
        if self._jieba is None:
            self._jieba = _jieba_tokenizer(self.spec.jieba_cache, self.spec.words)
        return self._jieba

    def cut(self, text: str) -> list[str]:
        if self._rjieba is not None and not CJK_OTHER.search(text):
            tokens = self._rjieba.cut(text)
        else:
            tokens = self._jieba_fallback().lcut(text)
        # Without Latin letters, digits, spaces or two non-Chinese characters in a row, both
        # engines already give every non-Chinese character alone: nothing to re-split.
        return normalise_tokens(tokens) if NEEDS_RESPLIT.search(text) else tokens

    def segment(self, text: str, placeholder_re: re.Pattern) -> list[str]:
        """The tokens of one text, placeholders whole."""
        return self.segment_many([text], placeholder_re)[0]

    def segment_many(self, texts: list[str], placeholder_re: re.Pattern) -> list[list[str]]:
        """The tokens of each text, placeholders whole. The pieces between placeholders are cut
        in one call, joined by line breaks (a line break ends every word for both engines, so
        this gives what cutting them one by one gives, with one call's overhead)."""
        self.calls += len(texts)
        layout: list[list[str | int]] = []           # per text: placeholders, and indexes into pieces
        pieces: list[str] = []
        for text in texts:
            parts: list[str | int] = []
            pos = 0
            for m in placeholder_re.finditer(text):
                if m.start() > pos:
                    parts.append(len(pieces))
                    pieces.append(text[pos:m.start()])
                parts.append(m.group())
                pos = m.end()
            if pos < len(text):
                parts.append(len(pieces))
                pieces.append(text[pos:])
            layout.append(parts)
        cut = self._cut_pieces(pieces)
        return [[tok for p in parts for tok in ((p,) if isinstance(p, str) else cut[p])] for parts in layout]

    def _cut_pieces(self, pieces: list[str]) -> list[list[str]]:
        joined = "\n".join(pieces)
        if not pieces or "\n" in "".join(pieces) or CJK_OTHER.search(joined):
            return [self.cut(p) for p in pieces]
        raw = self._rjieba.cut(joined) if self._rjieba is not None else self._jieba.lcut(joined)
        groups: list[list[str]] = [[]]
        for tok in raw:
            if tok == "\n":
                groups.append([])
            else:
                groups[-1].append(tok)
        if len(groups) != len(pieces):               # never seen; the safe way if it happens
            return [self.cut(p) for p in pieces]
        return [normalise_tokens(g) if NEEDS_RESPLIT.search(p) else g for g, p in zip(groups, pieces)]


def content_tokens(tokens: Iterable[str], rules: Rules) -> list[str]:
    """Tokens for analysis: no punctuation, whitespace, numbers, placeholders (with a name's form
    of address: 小[姓名2], [姓名3]大姐; a role stays a word of its own: [姓名1] 书记) or stopwords."""
    return [t for t in tokens if WORD_CHAR.search(t) and not NUMBER_TOKEN.fullmatch(t)
            and not rules.token_re.fullmatch(t) and t not in rules.stopwords]


@dataclass(frozen=True)
class Lexicon:
    """jieba's dictionary entries (frequency, tag) that the name rules look up, plus the user words."""

    entries: dict[str, tuple[int, str]]
    user: frozenset[str] = frozenset()
    given_chars: dict[str, int] = field(default_factory=dict)   # character -> its count in the dictionary's names

    def name_like(self, given: str, min_count: int = 30) -> bool:
        """Every character of ``given`` is common in the given names of jieba's dictionary
        (three-character words tagged nr that start with a surname)."""
        return bool(given) and all(self.given_chars.get(c, 0) >= min_count for c in given)

    def get(self, word: str) -> tuple[int, str] | None:
        e = self.entries.get(word)
        return e if e and e[0] > 0 else None


def load_lexicon(rules: Rules, words: Iterable[tuple[str, int, str]]) -> Lexicon:
    """jieba's dictionary (word -> frequency, tag) and the user words, for the name rules."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError("jieba is not installed", hint="pip install jieba==0.42.1")
    path = Path(list(spec.submodule_search_locations)[0]) / "dict.txt"
    raw = path.read_bytes()
    saved = machine_cache_dir("lexicon", hashlib.sha256(
        raw + b"\0" + "\n".join(sorted(rules.surnames)).encode("utf-8")).hexdigest()[:32] + ".marshal")
    try:                       # the machine's copy (:mod:`pipeline.core.machine`): jieba's words and counts
        entries, given_chars = marshal.loads(saved.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        entries, given_chars = _parse_lexicon(raw, rules)
        try:
            write_bytes(saved, marshal.dumps((entries, given_chars)))
        except OSError:        # a read-only home: parsed again next time
            pass
    user = set()
    for word, freq, tag in words:
        entries[word] = (freq, tag)
        user.add(word)
    return Lexicon(entries, frozenset(user), given_chars)


def _parse_lexicon(raw: bytes, rules: Rules) -> tuple[dict[str, tuple[int, str]], dict[str, int]]:
    """jieba's dictionary (word -> frequency, tag) and the counts of given-name characters."""
    entries: dict[str, tuple[int, str]] = {}
    for line in io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"):     # lines as open() reads them
        parts = line.split()
        if len(parts) >= 2:
            entries[parts[0]] = (int(parts[1]), parts[2] if len(parts) > 2 else "x")
    given_chars: dict[str, int] = {}
    for word, (_, tag) in entries.items():
        if len(word) == 3 and tag.startswith("nr") and word[0] in rules.surnames:
            for c in word[1:]:
                given_chars[c] = given_chars.get(c, 0) + 1
    return entries, given_chars


class TokenCache:
    """Tokens of an interview's units under ``root/<key>/``, ``key`` hashing the dictionary
    (:class:`SegmenterSpec`) and the redaction (:func:`pipeline.text.rules.redaction_digest`),
    an entry named by the hash of the redacted texts. A rerun reads them; a changed dictionary
    or redaction rule is another folder, never read again, and :func:`purge_cache` removes it.
    ``index.txt`` in the folder lists the entries the last run used."""

    INDEX = "index.txt"

    def __init__(self, root: str | Path | None, key: str):
        self.dir = Path(root) / key[:16] if root else None

    @staticmethod
    def entry(texts: list[str]) -> str:
        return hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()

    def _path(self, texts: list[str]) -> Path:
        digest = self.entry(texts)
        return self.dir / digest[:2] / f"{digest}.tok"

    def get(self, texts: list[str]) -> list[list[str]] | None:
        if self.dir is None or not texts:
            return None
        path = self._path(texts)
        try:
            raw = zlib.decompress(path.read_bytes()).decode("utf-8")
        except (OSError, zlib.error, UnicodeDecodeError):
            return None
        tokens = [u.split("\x1f") if u else [] for u in raw.split("\x1e")]
        if len(tokens) != len(texts) or any("".join(t) != x for t, x in zip(tokens, texts)):
            return None                       # damaged or colliding entry: segment again
        return tokens

    def put(self, texts: list[str], tokens: list[list[str]]) -> None:
        if self.dir is None or not texts:
            return
        data = "\x1e".join("\x1f".join(t) for t in tokens).encode("utf-8")
        write_bytes(self._path(texts), zlib.compress(data, 6))

    def write_index(self, entries: Iterable[str]) -> None:
        """The entries this run used (one digest a line, sorted): what :func:`purge_cache` keeps."""
        if self.dir is not None:
            write_bytes(self.dir / self.INDEX, "".join(f"{e}\n" for e in sorted(set(entries))).encode("ascii"))


def purge_cache(root: str | Path, key: str) -> tuple[int, int]:
    """Remove from the token cache ``root`` every folder but the current one (``key``: the
    dictionary and the redaction rules of the config) and, in it, every entry the last run's
    ``index.txt`` does not list. Returns (folders removed, entries removed)."""
    import shutil

    root = Path(root)
    if not root.is_dir():
        return 0, 0
    current = root / key[:16]
    folders = 0
    for child in sorted(root.iterdir()):                # only the cache's own folders (16 hex digits)
        if child != current and child.is_dir() and re.fullmatch(r"[0-9a-f]{16}", child.name):
            shutil.rmtree(child)
            folders += 1
    entries = 0
    if current.is_dir():
        index = current / TokenCache.INDEX
        keep = set(index.read_text(encoding="ascii").split()) if index.exists() else set()
        for path in sorted(current.glob("*/*")):
            if path.stem not in keep or path.suffix != ".tok":
                path.unlink()
                entries += 1
        for sub in current.iterdir():
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()
    return folders, entries
