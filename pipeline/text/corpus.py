"""One transcript through every step (:func:`process_transcript`), and the corpus
(:func:`process_corpus`): the computation of the transcripts stage, without its reading of
settings and inputs or its writing (``pipeline/stages/transcripts.py``).

Steps (each a pure function; each module's docstring has the details, docs/transcripts.md the
measured quality):

1. ``decode``: :func:`decode_transcript`, a file's bytes to text by strict decoding only.
2. ``turns``: :func:`parse_transcript`, the header fields and the speaker turns of an interview;
   for texts without an interviewer (``format.kind: documents``) :func:`split_texts` cuts a file
   into its texts and :func:`parse_document` reads each (steps 3-7 then run per text).
3. ``redact``: :func:`find_pii`, the personal data in the whole decoded text.
4. ``redact``: :func:`redact`, each span replaced by a numbered placeholder ``[姓名1]``.
   Nothing after this step sees the raw text: units, questions, tokens, the cache, the logs and
   the error messages are made from the redacted text (file names are redacted too).
5. ``units``: :func:`build_units`, respondent units (``interview:turn:sentence``) and the
   interviewer's questions.
6. ``segment``: :class:`Segmenter` (jieba or rjieba with the user dictionary, the same tokens
   from both), tokens cached per interview; content tokens for analysis.
7. ``audit``: :func:`dictionary_audit`, how each user term came out of the segmenter.

Bad input never disappears: an undecodable or empty file, one with no respondent turns, no
interview id, no community id (``format.community: required``), an unknown community id, a duplicate interview id or an unsupported format is
listed in ``skipped.csv`` with its reason, or, with ``strict: true``, stops the stage with one
message (exit 2) and no output.
"""
from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.communities import canonical_id
from pipeline.core.errors import PipelineError
from pipeline.core.parallel import ParallelSettings, as_settings, iter_tasks
from pipeline.core.schema import parse
from pipeline.core.settings import Transcripts
from pipeline.text.audit import audit_counts, dictionary_audit, term_pattern
from pipeline.text.decode import Decoded, Unusable, decode_transcript
from pipeline.text.redact import find_pii, placeholders, redact
from pipeline.text.rules import PII_TYPES, Rules
from pipeline.text.segment import Lexicon, Segmenter, SegmenterSpec, TokenCache, content_tokens, load_lexicon
from pipeline.text.turns import Parsed, clean_community, parse_date, parse_document, parse_transcript, role_code, split_texts
from pipeline.text.units import (QUESTION_COLUMNS, QUESTION_TYPES, UNIT_COLUMNS, UNIT_TYPES, build_units,
                                 check_text_frame)

INTERVIEW_COLUMNS = ["interview_id", "file", "folder", "community", "role", "role_label", "date", "encoding", "format",
                     "convention", "n_turns", "n_questions", "n_units", "n_tokens", "n_redactions"]
SKIP_COLUMNS = ["file", "reason_code", "reason"]


@dataclass(frozen=True)
class Settings:
    """``params.yaml: transcripts`` as the computation needs it; made by :func:`parse_settings`
    (the defaults are written once, in :class:`pipeline.core.settings.Transcripts`)."""

    unit: str
    min_tokens: int
    strict: bool
    n_jobs: int
    cache_dir: str | None
    batch_size: int
    parallel_min_files: int
    progress_min_files: int


def parse_settings(section: Mapping[str, Any] | Transcripts | None = None, **changes: Any) -> Settings:
    """:class:`Settings` from ``params.yaml: transcripts``, checked (types, ranges, unknown keys
    with a hint) by the one description of the section, then ``changes`` (tests, benchmarks)."""
    s = section if isinstance(section, Transcripts) else parse(Transcripts, dict(section or {}), "transcripts")
    out = Settings(unit=s.unit, min_tokens=s.min_tokens, strict=s.strict, n_jobs=s.n_jobs,
                   cache_dir=s.cache_dir or None, batch_size=s.batch_size, parallel_min_files=s.parallel_min_files,
                   progress_min_files=s.progress_min_files)
    return replace(out, **changes)


@dataclass
class Outcome:
    """What one file gives: its rows, or the reason it is skipped. Nothing here is raw text."""

    file: str                                  # the file's key (file_key), never its name
    interview: dict[str, Any] | None = None
    units: list[tuple] = field(default_factory=list)
    questions: list[tuple] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    audit: dict[str, list[int]] = field(default_factory=dict)
    skip: tuple[str, str] | None = None        # (code, reason)
    segmented: int = 0                         # units and questions segmented now (not read from the cache)
    below_min: int = 0
    cache_entries: tuple[str, ...] = ()        # the token cache entries it used


@dataclass(frozen=True)
class Context:
    """Everything a worker needs besides the files (picklable). ``community``: the name of the
    outputs' community column (the instrument's community id), or None when the texts carry no
    community (none declared in the header fields or the manifest)."""

    rules: Rules
    spec: SegmenterSpec
    settings: Settings
    communities: frozenset[str] | None
    communities_name: str
    community: str | None = None


def output_columns(columns: list[str], community: str | None) -> list[str]:
    """``columns`` (UNIT_COLUMNS, QUESTION_COLUMNS, INTERVIEW_COLUMNS) as written: the
    community column under its name, or left out."""
    return [community if c == "community" else c for c in columns if c != "community" or community]


def _named(frame: pd.DataFrame, community: str | None) -> pd.DataFrame:
    if community is None:
        return frame.drop(columns="community")
    return frame.rename(columns={"community": community})


_WORKER_STATE: dict[str, tuple[Segmenter, Lexicon, re.Pattern]] = {}


def _state(ctx: Context) -> tuple[Segmenter, Lexicon, re.Pattern]:
    key = ctx.spec.key + "|" + ctx.rules.path + "|" + hashlib.sha256(
        "".join(sorted(ctx.rules.surnames | ctx.rules.weak_surnames | ctx.rules.rare_surnames | ctx.rules.prefixes | ctx.rules.glue_before)).encode()).hexdigest()
    if key not in _WORKER_STATE:
        _WORKER_STATE.clear()
        _WORKER_STATE[key] = (Segmenter(ctx.spec), load_lexicon(ctx.rules, ctx.spec.words), term_pattern(ctx.spec.words))
    return _WORKER_STATE[key]


def file_key(name: str, data: bytes | None) -> str:
    """How the outputs name a file: the first 12 hex digits of the SHA-256 of its name and its
    bytes, and its extension; never the name, which may hold the interviewee's name or phone
    number (the bytes make the key impossible to guess from a list of names or numbers; two
    copies of a file under two names get two keys). ``python -m pipeline transcripts --which
    KEY`` prints the file it names."""
    h = hashlib.sha256(name.encode("utf-8") + b"\0")
    if data is not None:
        h.update(data)
    digest = h.hexdigest()[:12]
    suffix = Path(name).suffix.lower()
    return digest + (suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else "")


def token_cache_key(spec: SegmenterSpec, rules: Rules) -> str:
    """The token cache's key: the dictionary (``spec.key``) and the redaction (``rules.digest``)."""
    return hashlib.sha256(f"{spec.key}|{rules.digest}".encode("ascii")).hexdigest()


def safe_value(text: str, values: dict[str, str], rules: Rules, seg: Segmenter, lexicon: Lexicon,
               keep: tuple[str, ...] = ()) -> str:
    """``text`` (a kept header value) with personal data replaced: the interview's redacted
    values, and whatever the detectors (but the types in ``keep``) find in it."""
    if not text:
        return text
    for value in sorted(values, key=lambda v: (-len(v), v)):
        if len(value) >= 2:
            text = text.replace(value, values[value])
    empty = Parsed({}, {}, (), (), frozenset(), "")
    spans = find_pii(text, empty, rules, seg.cut(text), lexicon)
    spans = [sp for sp in spans if sp.type not in keep and not rules.placeholder_re.search(text[sp.start:sp.end])]
    if spans:
        marks = [rules.placeholder.format(label=rules.placeholder_labels[sp.type], n="") for sp in spans]
        text = redact(text, 0, len(text), spans, marks)
    return text


def process_transcript(name: str, data: bytes, meta: dict[str, Any], ctx: Context) -> list[Outcome]:
    """Decode one file, cut it into its texts (an interview, or ``format.texts`` of documents)
    and take each through :func:`process_text` (see the module docstring)."""
    rules = ctx.rules
    key = file_key(name, data)
    folder = Path(name).parent.as_posix()
    meta = {**meta, "_folder": "" if folder == "." else folder}   # its subfolder (redacted in process_text)
    try:
        decoded = decode_transcript(name, data)
    except Unusable as exc:
        return [Outcome(file=key, skip=(exc.code, exc.reason))]
    if rules.kind == "interview" or rules.split == "file":
        default_id = "" if rules.kind == "interview" else Path(name).stem
        return [process_text(key, decoded, decoded.text, meta, ctx, default_id)]
    texts = split_texts(decoded.text, rules)
    if not texts:
        return [Outcome(file=key, skip=("empty", "no text in the file"))]
    prefix = str(meta.get("interview_id") or Path(name).stem)
    width = len(str(len(texts)))
    per_text = {k: v for k, v in meta.items() if k != "interview_id"}
    return [process_text(key, decoded, chunk, per_text, ctx, f"{prefix}-{n:0{width}d}", f"text {n} (line {line}): ")
            for n, (line, chunk) in enumerate(texts, start=1)]


def process_text(file: str, decoded: Decoded, text: str, meta: dict[str, Any], ctx: Context,
                 default_id: str = "", where: str = "") -> Outcome:
    """Parse, redact, split and segment one text of a file (``file``: its key, :func:`file_key`):
    an interview, or a document (whose id is ``default_id`` unless its header or the manifest
    gives one). ``where`` starts the skip reasons of a text that is one of several in its file."""
    rules, settings = ctx.rules, ctx.settings
    seg, lexicon, terms = _state(ctx)
    parsed = (parse_transcript(text, rules) if rules.kind == "interview"
              else parse_document(text, rules, header=rules.split != "line"))
    roster = tuple(meta.get("names") or ())
    spans = find_pii(text, parsed, rules, seg.cut(text), lexicon, roster)
    marks = placeholders(text, spans, rules)
    values = {text[sp.start:sp.end]: mark for sp, mark in zip(spans, marks)}

    fields = parsed.fields
    # The kept header values are written out (ids, skip reasons, role_label): personal data in
    # them is redacted like the text; a long number is an id here (20250609001), not data.
    iid = safe_value(str(meta.get("interview_id") or fields.get("interview_id") or default_id).strip(), values, rules,
                     seg, lexicon, keep=("long_number",))
    comm = safe_value(clean_community(str(meta.get("community") or fields.get("community", "")), rules), values, rules,
                      seg, lexicon, keep=("long_number",))
    comm = canonical_id(comm) or ""        # written as the community file's ids are (01224 -> 1224)
    role_label = safe_value(str(meta.get("role") or fields.get("role", "")).strip(), values, rules, seg, lexicon)
    folder = safe_value(str(meta.get("_folder", "")), values, rules, seg, lexicon, keep=("long_number",))
    when = parse_date(str(meta.get("date") or fields.get("date", "")), rules)
    skip = _skip_reason(parsed, iid, comm, meta, ctx)
    if skip is not None:
        return Outcome(file=file, skip=(skip[0], where + skip[1]))

    built = build_units(text, parsed, spans, marks, rules, settings.unit)
    texts = [u[3] for u in built.units]
    qtexts = [q[3] for q in built.questions]
    cache = TokenCache(settings.cache_dir, token_cache_key(ctx.spec, rules))
    segmented = 0
    all_tokens = []
    entries = tuple(TokenCache.entry(b) for b in (texts, qtexts) if b)
    for batch in (texts, qtexts):             # respondent units, then the interviewer's questions
        got = cache.get(batch)
        if got is None:
            got = seg.segment_many(batch, rules.token_re)
            segmented += len(batch)
            cache.put(batch, got)
        all_tokens.append(got)
    tokens, qtokens = all_tokens
    role = role_code(role_label, rules) if role_label else "other"
    units, below, n_tok = [], 0, 0
    for (turn, sentence, speaker, utext), toks in zip(built.units, tokens):
        content = content_tokens(toks, rules)
        if len(content) < settings.min_tokens:
            below += 1
            continue
        n_tok += len(content)
        units.append((f"{iid}:{turn}:{sentence}", iid, comm, role, when, turn, sentence, speaker, utext,
                      " ".join(content), len(content)))
    questions = []
    for (q, before, speaker, qtext), toks in zip(built.questions, qtokens):
        content = content_tokens(toks, rules)
        questions.append((f"{iid}:q{q}", iid, comm, role, when, q, before, speaker, qtext, " ".join(content), len(content)))
    counts = Counter(sp.type for sp in spans)
    interview = {
        "interview_id": iid, "file": file, "folder": folder, "community": comm, "role": role, "role_label": role_label,
        "date": when,
        "encoding": decoded.encoding, "format": decoded.format, "convention": _safe_convention(parsed, values),
        "n_turns": built.n_turns, "n_questions": len(questions), "n_units": len(units), "n_tokens": n_tok,
        "n_redactions": len(spans),
    }
    return Outcome(file=file, interview=interview, units=units, questions=questions,
                   redactions={t: counts[t] for t in PII_TYPES if counts[t]},
                   audit=audit_counts(texts, tokens, terms), segmented=segmented, below_min=below,
                   cache_entries=entries)


def _skip_reason(parsed: Parsed, iid: str, comm: str, meta: dict[str, Any], ctx: Context) -> tuple[str, str] | None:
    """Why a parsed text cannot be used (code, reason), or None."""
    rules = ctx.rules
    if rules.kind == "documents" and not parsed.turns:
        return "empty", "no text after the header"
    n_resp = sum(1 for t in parsed.turns if t.speaker == "respondent")
    if not parsed.turns or n_resp == 0:
        what = "no speaker turns found" if not parsed.turns else "only interviewer turns"
        return "no_respondent_turns", f"no respondent turns ({what}; markers in {Path(rules.path).name}: speakers)"
    if not iid:
        return "no_interview_id", "no interview id in the header or the manifest"
    if not comm and ctx.community is not None and rules.community_required:
        return "no_community_id", "no community id in the header or the manifest"
    if comm and ctx.communities is not None and comm not in ctx.communities:
        line = parsed.field_lines.get("community")
        where = f" (line {line})" if line and not meta.get("community") else ""
        return "unknown_community", f"unknown community id '{comm}'{where}: not in {ctx.communities_name}"
    return None


def _safe_convention(parsed: Parsed, values: dict[str, str]) -> str:
    if "/" not in parsed.convention:          # a document
        return parsed.convention
    q, a = parsed.convention.split("/", 1)
    return f"{values.get(q, q)}/{a}"


def _run_batch(items: list[tuple[str, str, dict[str, Any]]], ctx: Context) -> list[Outcome]:
    out = []
    for name, path, meta in items:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            out.append(Outcome(file=file_key(name, None), skip=("unreadable", f"cannot be read ({exc.__class__.__name__})")))
            continue
        out.extend(process_transcript(name, data, meta, ctx))
    return out


# --------------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------------
@dataclass
class CorpusResult:
    units: pd.DataFrame
    questions: pd.DataFrame
    interviews: pd.DataFrame
    redactions: pd.DataFrame
    audit: pd.DataFrame
    skipped: pd.DataFrame
    metrics: dict[str, Any]
    stats: dict[str, int]                      # this run only (cache use); not written to metrics
    cache_entries: list[str] = field(default_factory=list)   # the token cache entries this run used
    warnings: list[str] = field(default_factory=list)   # outsized texts (see outsized_texts)


OUTSIZED_UNITS = 10_000       # units from one text: more is a warning
OUTSIZED_RATIO = 20           # ... or this many times the median text's units (and over OUTSIZED_FLOOR)
OUTSIZED_FLOOR = 1_000
OUTSIZED_TURN = 1_000         # units from one answer (turn): more is a warning


def outsized_texts(interviews: pd.DataFrame, units: pd.DataFrame) -> list[str]:
    """One warning per text (interview or document) that gave far more units than a text does:
    over :data:`OUTSIZED_UNITS`, over :data:`OUTSIZED_RATIO` times the median text's (and over
    :data:`OUTSIZED_FLOOR`), or over :data:`OUTSIZED_TURN` from a single answer (a file without
    line breaks or speaker markers, an export that pasted everything into one cell). Counts only,
    no text; the file is named as in interviews.csv (redacted)."""
    if not len(interviews):
        return []
    counts = interviews.set_index("interview_id")["n_units"]
    median = float(counts.median())
    per_turn = units.groupby(["interview_id", "turn"]).size() if len(units) else pd.Series(dtype="int64")
    longest = per_turn.groupby(level=0).max() if len(per_turn) else pd.Series(dtype="int64")
    chars = units.assign(_n=units["text"].str.len()).groupby(["interview_id", "turn"])["_n"].sum() if len(units) \
        else pd.Series(dtype="int64")
    out = []
    for iid, n in counts.items():
        turn_n = int(longest.get(iid, 0))
        if not (n > OUTSIZED_UNITS or (n > OUTSIZED_FLOOR and n > OUTSIZED_RATIO * median) or turn_n > OUTSIZED_TURN):
            continue
        file = interviews.loc[interviews["interview_id"] == iid, "file"].iloc[0]
        turn = per_turn.loc[iid].idxmax()
        out.append(f"{iid} ({file}) gave {n:,} units ({n / median:,.0f} times the median text's {median:,.0f}); "
                   f"its longest answer (turn {turn}) {turn_n:,} units from {int(chars.loc[(iid, turn)]):,} characters. "
                   "Check the file for a missing line break or speaker marker, or leave it out")
    return out


def _kept_and_skipped(outcomes: list[Outcome]) -> tuple[list[Outcome], list[tuple[str, str, str]]]:
    """The usable texts, and the (file, reason_code, reason) of the others: unusable ones and a
    second text with an interview id already seen (in path order), sorted."""
    seen: dict[str, str] = {}
    kept: list[Outcome] = []
    skipped: list[tuple[str, str, str]] = []
    for o in outcomes:
        if o.skip is None and o.interview["interview_id"] in seen:
            o.skip = ("duplicate_interview_id", f"interview id '{o.interview['interview_id']}' also in {seen[o.interview['interview_id']]}")
        if o.skip is not None:
            skipped.append((o.file, *o.skip))
            continue
        seen[o.interview["interview_id"]] = o.file
        kept.append(o)
    return kept, sorted(skipped)


def process_corpus(files: list[Path], ctx: Context, manifest: dict[str, dict[str, Any]] | None = None,
                   progress: bool | None = None, parallel: ParallelSettings | None = None,
                   root: Path | None = None) -> CorpusResult:
    """Every transcript through :func:`process_transcript` (in parallel on long runs: batches of
    files on ``parallel``, default ``settings.n_jobs`` local processes; the same result), then the
    tables. A file is named by its path below ``root`` (``sub/I001.txt`` for a file in a
    subfolder; its manifest row is found by that path or by its name), else by its name. With
    ``strict``, the first unusable file stops it with a :class:`PipelineError`."""
    settings = ctx.settings
    manifest = manifest or {}
    names = [p.relative_to(root).as_posix() if root is not None else p.name for p in files]
    items = [(n, str(p), manifest.get(n, manifest.get(p.name, {}))) for n, p in zip(names, files)]
    outcomes: list[Outcome] = []
    present = set(names) | {p.name for p in files}
    for name in sorted(set(manifest) - present):
        row = list(manifest).index(name) + 2
        outcomes.append(Outcome(file=file_key(name, None),
                                skip=("missing_file", f"manifest row {row}: listed but not in the transcripts folder")))
    outcomes += _run_files(items, ctx, progress, parallel)
    kept, skipped = _kept_and_skipped(outcomes)
    if settings.strict and skipped:
        file, _, reason = skipped[0]
        more = f" ({len(skipped) - 1} more file(s) cannot be used either)" if len(skipped) > 1 else ""
        raise PipelineError(f"{file}: {reason}{more}",
                            hint="fix the file, or set params.yaml: transcripts.strict: false to list it in skipped.csv and go on")
    kept.sort(key=lambda o: o.interview["interview_id"])
    units = _named(pd.DataFrame([u for o in kept for u in o.units], columns=UNIT_COLUMNS).astype(UNIT_TYPES),
                   ctx.community)
    questions = _named(pd.DataFrame([q for o in kept for q in o.questions], columns=QUESTION_COLUMNS)
                       .astype(QUESTION_TYPES), ctx.community)
    check_text_frame(units, "units", ctx.community, "transcripts: units.parquet")        # the contract holds
    check_text_frame(questions, "questions", ctx.community, "transcripts: questions.parquet")
    interviews = _named(pd.DataFrame([o.interview for o in kept], columns=INTERVIEW_COLUMNS), ctx.community)
    redactions = pd.DataFrame([(o.file, o.interview["interview_id"], t, n) for o in kept for t, n in o.redactions.items()],
                              columns=["file", "interview_id", "type", "count"])
    totals: dict[str, list[int]] = {}
    for o in kept:
        for term, (occ, single) in o.audit.items():
            c = totals.setdefault(term, [0, 0])
            c[0] += occ
            c[1] += single
    audit = dictionary_audit(ctx.spec.words, totals)
    skipped_df = pd.DataFrame(skipped, columns=SKIP_COLUMNS)
    warnings = outsized_texts(interviews, units)
    metrics = _corpus_metrics(len(files), kept, skipped, units, questions, interviews, redactions, audit, ctx)
    metrics["outsized_texts"] = len(warnings)
    stats = {"segmented_units": sum(o.segmented for o in kept),
             "cached_interviews": sum(1 for o in kept if o.segmented == 0 and o.units)}
    return CorpusResult(units=units, questions=questions, interviews=interviews, redactions=redactions,
                        audit=audit, skipped=skipped_df, metrics=metrics, stats=stats, warnings=warnings,
                        cache_entries=sorted({e for o in kept for e in o.cache_entries}))


def _run_files(items: list[tuple[str, str, dict[str, Any]]], ctx: Context, progress: bool | None,
               parallel: ParallelSettings | None) -> list[Outcome]:
    """Every file's :class:`Outcome`, in file order: batches of files, on ``parallel`` workers
    (default ``settings.n_jobs`` local processes) for a long run, else in this process."""
    settings = ctx.settings
    batches = [items[i:i + settings.batch_size] for i in range(0, len(items), settings.batch_size)]
    show = progress if progress is not None else len(items) >= settings.progress_min_files
    from tqdm import tqdm

    # no monitor thread (it only tunes how often the bar redraws): a thread in this process would
    # keep the workers from being forked from it (pipeline.core.parallel.can_fork)
    tqdm.monitor_interval = 0
    outcomes: list[Outcome] = []
    with tqdm(total=len(items), desc="transcripts", unit="file", disable=not show, file=sys.stderr) as bar:
        par = parallel if parallel is not None else as_settings(settings.n_jobs)
        if par.parallel and len(items) >= settings.parallel_min_files and len(batches) > 1:
            runs = iter_tasks(partial(_run_batch, ctx=ctx), batches, par, batch_size=1)   # in file order
        else:
            runs = (_run_batch(b, ctx) for b in batches)
        for batch in runs:
            outcomes.extend(batch)
            bar.update(len(batch))
    return outcomes


def _corpus_metrics(n_files: int, kept: list[Outcome], skipped: list[tuple[str, str, str]], units: pd.DataFrame,
                    questions: pd.DataFrame, interviews: pd.DataFrame, redactions: pd.DataFrame, audit: pd.DataFrame,
                    ctx: Context) -> dict[str, Any]:
    """The stage's metrics: counts of files, units, tokens, redactions by type, skips by reason,
    the dictionary's use."""
    by_type = redactions.groupby("type")["count"].sum() if len(redactions) else pd.Series(dtype="int64")
    metrics: dict[str, Any] = {
        "files": n_files, "interviews": len(kept), "skipped": len(skipped),
        "respondent_turns": int(interviews["n_turns"].sum()) if len(interviews) else 0,
        "questions": len(questions), "units": len(units), "tokens": int(units["n_tokens"].sum()) if len(units) else 0,
        "units_below_min_tokens": sum(o.below_min for o in kept),
        "redactions": int(redactions["count"].sum()) if len(redactions) else 0,
        "engine": ctx.spec.engine, "unit": ctx.settings.unit,
        "dictionary_hash": ctx.spec.key[:16],
        "dictionary_terms": len(audit), "dictionary_terms_in_corpus": int((audit["occurrences"] > 0).sum()),
        "dictionary_terms_always_single": int(((audit["occurrences"] > 0) & (audit["split"] == 0)).sum()),
        "roles_other": int((interviews["role"] == "other").sum()) if len(interviews) else 0,
        "dates_missing": int((interviews["date"] == "").sum()) if len(interviews) else 0,
    }
    for t in PII_TYPES:
        metrics[f"redactions_{t}"] = int(by_type.get(t, 0))
    for code, n in Counter(code for _, code, _ in skipped).items():
        metrics[f"skipped_{code}"] = n
    return metrics
