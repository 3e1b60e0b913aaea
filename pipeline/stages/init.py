"""``python -m pipeline init``: draft a study from the team's own files.

    python -m pipeline init --survey raw/survey.sav [--transcripts raw/transcripts]
                            [--communities raw/communities.csv] [--cluster VAR] [--force]

At least one of ``--survey`` / ``--transcripts``. Reads the survey file's metadata and writes

* ``config/instrument.yaml``: every variable (name, label, type, value labels, user-missing codes
  with reasons, valid ranges) and the roles it could guess (:mod:`pipeline.survey.draft`);
* ``config/transcripts.yaml`` (with texts): the texts' format, to be checked against the files;
* ``params.yaml``: the seed, the instrument and only the keys this study must set; every other key
  has its generic default (:mod:`pipeline.core.settings`), which knows nothing of the demo study;
* ``dvc.yaml``: the stages this study needs (:mod:`pipeline.stages.study_pipeline`), no generator;

sets the demo study aside (``studies/demo`` into ``.dvcignore``), tracks the raw files with
``dvc add`` so that a mistake can be undone (``dvc checkout raw/...``), and prints the next steps.
Nothing is written when a check fails; existing configuration is kept unless ``--force``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.config import read_yaml
from pipeline.core.errors import PipelineError
from pipeline.stages.study_pipeline import CODEBOOK, INSTRUMENT, JOINT, TRANSCRIPTS_CONFIG, Parts, dvc_yaml

GENERIC = Path(__file__).resolve().parents[1] / "text" / "templates"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m pipeline init", description=__doc__.splitlines()[0])
    ap.add_argument("--survey", help="the survey export: .sav, .dta, .csv or .xlsx (e.g. raw/survey.sav)")
    ap.add_argument("--transcripts", help="the folder of texts: interviews, documents, messages (e.g. raw/transcripts)")
    ap.add_argument("--communities", help="a file of cluster-level variables, one row per cluster (e.g. raw/communities.csv)")
    ap.add_argument("--cluster", help="the survey variable of the sampling cluster (community, school, village)")
    ap.add_argument("--title", help="the study's title (default: the survey file's label, else the folder's name)")
    ap.add_argument("--force", action="store_true", help="replace existing configuration")
    ap.add_argument("--no-dvc", action="store_true", help="do not `dvc add` the raw files (not recommended)")
    return ap.parse_args(argv)


def _rel(path: str | None, what: str) -> str | None:
    """A path inside the project, as the project's relative path; a clear error otherwise."""
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        raise PipelineError(f"{path}: the {what} is not there", hint="give the path from the project root, e.g. raw/...")
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        raise PipelineError(f"{path}: the {what} is outside this project",
                            hint="copy it into raw/ (raw files are tracked and never written by the pipeline)") from None
    if rel.parts[:1] != ("raw",):
        print(f"init: note: {rel} is not under raw/; raw files belong in raw/ (the pipeline never writes there)",
              file=sys.stderr)
    return rel.as_posix()


def _existing(files: list[Path]) -> list[str]:
    """The study configuration among ``files`` that init would replace."""
    out = []
    for f in files:
        if not f.exists():
            continue
        if f.name in ("params.yaml", "dvc.yaml"):
            content = read_yaml(f, "study file", "fix it, or replace it with --force")
            if not content or (f.name == "dvc.yaml" and isinstance(content, dict) and not content.get("stages")):
                continue                   # the checkout's empty placeholder
        out.append(str(f))
    return out


def study_seed(paths: list[str]) -> int:
    """A seed fixed by the study's raw files (the first 1 MB of each), so init is repeatable and
    no seed comes from the clock."""
    h = hashlib.sha256()
    for p in sorted(paths):
        q = Path(p)
        for f in sorted(q.rglob("*")) if q.is_dir() else [q]:
            if f.is_file():
                h.update(f.name.encode())
                with f.open("rb") as fh:
                    h.update(fh.read(1 << 20))
    return int.from_bytes(h.digest()[:4], "big") % 100_000_000


MARKER = re.compile(r"^\s*(问|答|访谈者|受访者|访谈员|被访者|采访者|Q|A)\s*[：:]")


def texts_kind(folder: Path, n_files: int = 20) -> str:
    """interview when speaker markers (问：, 答：, 访谈者：...) begin at least 3 lines of most of the
    first ``n_files`` text files, else documents. A guess for the draft: the user checks it."""
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in (".txt", ".md"))[:n_files]
    marked = 0
    for f in files:
        text = f.read_bytes()[:200_000]
        for enc in ("utf-8-sig", "gb18030"):
            try:
                lines = text.decode(enc).splitlines()
                break
            except UnicodeDecodeError:
                lines = []
        marked += sum(bool(MARKER.match(line)) for line in lines) >= 3
    return "interview" if files and marked * 2 > len(files) else "documents"


def draft_params(instrument: dict[str, Any] | None, parts: Parts, seed: int, title: str, lang: str,
                 cluster: str | None, community_columns: list[str], k_grid: list[int] | None = None) -> str:
    """The study's params.yaml: only what it must set, with comments."""
    lines = [
        "# The parameters of this study, drafted by `python -m pipeline init`. Every key left out has its",
        "# generic default: pipeline/core/settings.py describes each key once (type, default, range).",
        f"seed: {seed}                 # set once (drawn from the raw files' bytes); every random part draws from it",
    ]
    if instrument is not None:
        lines.append(f"instrument: {INSTRUMENT}")
    if parts.survey:
        variables = instrument["variables"] if instrument else []
        roles = (instrument or {}).get("roles") or {}
        skip = {roles.get("id"), roles.get("record"), cluster}
        covariates = [v["name"] for v in variables if v.get("type") in ("numeric", "categorical", "ordinal")
                      and v["name"] not in skip]
        characteristics = [v["name"] for v in variables if v.get("type") == "categorical"
                           and v["name"] not in skip and 2 <= len(v.get("values") or {}) <= 12][:10]
        lines += [
            "",
            "survey:",
            "  id_key_file: secrets/id_key   # the key of the pseudonymous ids (git-ignored; init wrote a random one)",
            "",
            "measurement:",
            "  scales: null                  # null: every scale defined under `scales:` in config/instrument.yaml",
            f"  covariates: {yaml.safe_dump(covariates, default_flow_style=True, width=10_000, allow_unicode=True).strip()}",
            f"  community_covariates: {yaml.safe_dump(community_columns, default_flow_style=True, width=10_000, allow_unicode=True).strip()}",
            "",
            "models:",
        ]
        if cluster:
            lines.append(f"  cluster: {cluster}            # clustered errors and multilevel models group by this variable")
        lines += [
            "  specs: []                     # your models, e.g. - {id: M1, formula: \"y ~ x + z\", estimator: ols}",
        ]
        if cluster:
            lines.append("                                #   (covariance: cluster for clustered errors; estimator: mixed, random: "
                         f"{cluster} for a random intercept)")
    lines += [
        "",
        "report:",
        f"  title: {{zh: {json.dumps(title, ensure_ascii=False)}, en: {json.dumps(title, ensure_ascii=False)}}}",
        f"  lang: {lang}",
    ]
    if parts.survey:
        lines.append(f"  characteristics: {yaml.safe_dump(characteristics, default_flow_style=True, width=10_000, allow_unicode=True).strip()}")
    if cluster:
        lines.append(f"  # cluster_unit: {{zh: 学校, en: school}}   # what a cluster ({cluster}) is called in the report; "
                     "default 社区 / community")
    if parts.text:
        lines += [
            "",
            "transcripts:",
            f"  config: {TRANSCRIPTS_CONFIG}   # the texts' format: check it against your files",
            "",
            "# topics: document vectors clustered, K by modularity (docs/topics.md, \"On real Chinese corpora\");",
            "# other settings default as in pipeline/core/settings.py: Topics ([dmm]: the Dirichlet mixture model)",
            "topics: {models: [docvec]}" if k_grid is None else
            f"topics: {{models: [docvec], k_grid: {k_grid}}}   # K up to a fifth of the number of texts",
        ]
    if parts.codebook:
        lines += ["", "coding:", f"  codebook: {CODEBOOK}"]
    return "\n".join(lines) + "\n"


def _title(meta_label: str | None, default: str) -> str:
    return (meta_label or "").strip() or default


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def set_demo_aside(root: Path) -> str | None:
    """List studies/demo in .dvcignore, so that `dvc repro` runs this study only."""
    if not (root / "studies" / "demo" / "dvc.yaml").exists():
        return None
    ignore = root / ".dvcignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if any(line.strip() in ("studies/demo", "/studies/demo", "studies/demo/", "/studies/demo/") for line in text.splitlines()):
        return None
    ignore.write_text(text + ("" if text.endswith("\n") or not text else "\n")
                      + "# the demo study's pipeline is set aside while this study is the checkout's (pipeline init)\n"
                      + "/studies/demo/\n", encoding="utf-8")
    return "studies/demo is set aside (.dvcignore); remove its line there to run the demo again"


def track_raw(paths: list[str]) -> list[str]:
    """``dvc add`` the raw inputs (a DVC project is made first if there is none)."""
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    notes = []
    if not Path(".dvc").is_dir():
        cmd = [dvc, "init", "-q"] + ([] if Path(".git").exists() else ["--no-scm"])
        _run(cmd, "dvc init")
        notes.append("made a DVC project here (dvc init)")
    _run([dvc, "add", "-q", *paths], "dvc add " + " ".join(paths))
    notes.append(f"tracked the raw files with dvc add ({', '.join(paths)}): `dvc checkout <file>` restores one")
    return notes


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**__import__("os").environ, "DVC_NO_ANALYTICS": "1"})
    except OSError as exc:
        raise PipelineError(f"{what}: dvc could not be started ({exc.__class__.__name__})",
                            hint="set up the environment with bash scripts/repro.sh, or pass --no-dvc") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise PipelineError(f"{what} failed: {last}", hint="fix what dvc says, or pass --no-dvc and track the files yourself")


def main(argv: list[str] | None = None) -> None:
    from pipeline.survey.draft import draft_instrument, instrument_yaml   # the survey layer reads the files
    from pipeline.survey.read import read_metadata

    args = parse_args(argv)
    if not args.survey and not args.transcripts:
        raise PipelineError("init: give --survey FILE, --transcripts FOLDER or both", hint="python -m pipeline init --help")
    if args.communities and not args.cluster:
        raise PipelineError(f"init: {args.communities}: a community file needs --cluster VAR",
                            hint="the survey variable whose values are the file's ids (a column of the same name)")
    if args.cluster and not args.survey:
        raise PipelineError("init: --cluster names a survey variable, but there is no --survey")
    if not (Path("pipeline") / "__main__.py").exists():
        raise PipelineError(f"init: {Path.cwd()} is not the pipeline's project folder (no pipeline/ here): a study "
                            "lives in its own copy of the project, whose dvc.yaml runs its code",
                            hint="clone the project (git clone <the project> my-study), put your files in its raw/ "
                                 "and run init in that folder")
    survey, transcripts = _rel(args.survey, "survey file"), _rel(args.transcripts, "folder of texts")
    communities = _rel(args.communities, "community file")
    if transcripts and not Path(transcripts).is_dir():
        raise PipelineError(f"{transcripts}: --transcripts must be a folder of text files")
    root = Path(".")
    codebook = (root / CODEBOOK).exists()
    parts = Parts(survey=survey, communities=communities, transcripts=transcripts, codebook=codebook,
                  joint=(root / JOINT).exists())
    targets = [root / "params.yaml", root / "dvc.yaml"] + [root / INSTRUMENT] * bool(survey) \
        + [root / TRANSCRIPTS_CONFIG] * bool(transcripts)
    existing = _existing(targets)
    if existing and not args.force:
        raise PipelineError(f"init: {', '.join(existing)} already exist(s)",
                            hint="keep your configuration, or pass --force to replace it with a new draft")

    # everything is drafted in memory first: a failed check writes nothing
    files: dict[Path, str] = {}
    notes: list[str] = []
    instrument = None
    community_columns: list[str] = []
    label = None
    if survey:
        draft = draft_instrument(survey, cluster=args.cluster, communities=communities)
        instrument = draft.instrument
        meta = read_metadata(survey)
        label = getattr(meta, "file_label", None) if meta is not None else None
        notes += draft.notes
        files[root / INSTRUMENT] = instrument_yaml(draft)
        section = instrument.get("communities") or {}
        community_columns = [v["name"] for v in section.get("variables", []) if v["name"] != section.get("id")]
    k_grid = _draft_texts(Path(transcripts), root, files, notes) if transcripts else None
    labels = " ".join(str(lab) for v in (instrument or {}).get("variables", []) for lab in (v.get("label") or {}).values())
    lang = "zh" if _has_cjk(labels) or transcripts else "en"
    title = args.title or _title(label, Path.cwd().name)
    if not args.title:                   # a file's label may be a tool's stamp ("Written by R.")
        notes.append(f"report.title: {title!r}, from the " + ("survey file's label" if (label or "").strip() else
                     "folder's name") + ": give your study's title in params.yaml (or init --title)")
    raw = [p for p in (survey, communities, transcripts) if p]
    files[root / "params.yaml"] = draft_params(instrument, parts, study_seed(raw), title, lang, args.cluster,
                                               community_columns, k_grid)
    files[root / "dvc.yaml"] = dvc_yaml(parts)

    _write_files(files, existing, notes)
    if survey and not (root / "secrets" / "id_key").exists():
        (root / "secrets").mkdir(exist_ok=True)
        (root / "secrets" / "id_key").write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
        notes.append("wrote a random key for the pseudonymous ids to secrets/id_key (git-ignored: keep a copy safe, "
                     "the same key gives the same pseudonyms)")
    aside = set_demo_aside(root)
    if aside:
        notes.append(aside)
    if not args.no_dvc:
        notes += track_raw(raw)
    for note in notes:
        print(f"init: {note}")
    print(next_steps(parts))


def _draft_texts(folder: Path, root: Path, files: dict[Path, str], notes: list[str]) -> list[int] | None:
    """The texts' part of the draft: config/transcripts.yaml with the kind of texts guessed, the
    generic user dictionary, and the K grid a small folder of documents can hold (None: the
    generic one)."""
    kind = texts_kind(folder)
    k_grid = None
    if kind == "documents":
        k_grid, note = k_grid_for(folder)
        if note:
            notes.append(note)
    notes.append(f"texts: {kind} (format.kind in config/transcripts.yaml: " + (
        "speaker markers such as 问：/答： begin many lines)" if kind == "interview" else
        "few lines begin with a speaker marker such as 问：/答：; every file is one text by one author)"))
    files[root / TRANSCRIPTS_CONFIG] = (GENERIC / "transcripts.yaml").read_text(encoding="utf-8") \
        .replace("kind: {kind}", f"kind: {kind}", 1)
    for name in ("userdict.txt",):
        if not (root / "config" / name).exists():
            files[root / "config" / name] = (GENERIC / name).read_text(encoding="utf-8")
    return k_grid


def _write_files(files: dict[Path, str], existing: list[str], notes: list[str]) -> None:
    """Write the draft; a file ``--force`` replaces (one of ``existing``, changed) is kept beside it."""
    for path, text in files.items():
        if str(path) in existing and path.read_text(encoding="utf-8", errors="replace") != text:
            kept = _spare_name(path)
            path.replace(kept)
            notes.insert(0, f"kept your previous {path.as_posix()} as {kept.as_posix()} (--force): copy your edits back "
                            "from it, then delete it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"init: wrote {path.as_posix()}")


def _spare_name(path: Path) -> Path:
    """Where ``--force`` keeps a file it replaces: NAME.before-init, else NAME.before-init.2, .3, ..."""
    kept = path.with_name(path.name + ".before-init")
    n = 2
    while kept.exists():
        kept = path.with_name(f"{path.name}.before-init.{n}")
        n += 1
    return kept


def k_grid_for(folder: Path, default: tuple[int, int] = (5, 14)) -> tuple[list[int] | None, str | None]:
    """The topics' K grid for a folder of documents (one text a document): the generic K 5-14 when
    there are texts enough, else K up to a fifth of their number (``topics.min_docs_per_topic``,
    5 documents a topic), with a note. None when the generic grid fits."""
    from pipeline.core.settings import Topics
    from pipeline.text.decode import DOCX_SUFFIXES, TEXT_SUFFIXES

    per_topic = Topics().min_docs_per_topic
    n = sum(1 for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES | DOCX_SUFFIXES
            and f.stat().st_size > 0)
    hi = min(default[1], n // per_topic)
    if hi >= default[1]:
        return None, None
    if hi < 2:
        return None, (f"topics: {n} text(s) are too few for topic models (K = 2 needs {2 * per_topic} documents); "
                      "the topics stage will say so: add texts, or leave topics out of dvc.yaml")
    grid = list(range(max(2, min(default[0], hi - 3)), hi + 1))
    return grid, (f"topics.k_grid {grid[0]}-{grid[-1]} for {n} texts (K needs {per_topic} documents a topic, "
                  "topics.min_docs_per_topic; fewer if some texts are skipped or have few words)")


def next_steps(parts: Parts) -> str:
    steps = ["", "Next steps:"]
    n = 1
    if parts.survey:
        steps += [f"  {n}. check config/instrument.yaml (types, labels, missing codes, roles) and define your scales",
                  "     under `scales:`, e.g.  trust: {items: [T1, T2, T3], reverse: [T2]}"]
        n += 1
        steps += [f"  {n}. add your models to params.yaml under models.specs, e.g.",
                  '     - {id: M1, formula: "trust ~ age + C(gender)", estimator: ols}']
        n += 1
    if parts.text:
        steps += [f"  {n}. check config/transcripts.yaml against a few of your texts (format, speaker markers, header;",
                  "     roles: until it lists your header's role values (身份：居民 ...), every speaker's role is 'other')"]
        n += 1
        if not parts.codebook:
            steps += [f"  {n}. to code the texts with your themes too, write {CODEBOOK} (docs/coding.md) and run init "
                      "again with --force, which adds the coding stage (the files it replaces are kept as NAME.before-init)"]
            n += 1
    steps += [f"  {n}. dvc repro      (then open reports/report.html)"]
    return "\n".join(steps)
