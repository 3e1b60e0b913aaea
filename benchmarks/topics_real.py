"""The topics stage on real Chinese corpora with labels: NMI and purity of its chosen model against
the labels, beside plain scikit-learn LDA and NMF on the same document-term matrix.

    .venv/bin/python benchmarks/topics_real.py [--corpus NAME ...] [--seeds 1 2 3] [--k-window 2]
                                               [--write-doc] [--keep DIR]

Each corpus is a fixture of tests/fixtures/corpus/<name>/ (``texts.csv``: id, label, text; its
SOURCE.md says where it comes from). The texts go through the project as a new user's would: one
text file each in ``raw/texts`` of a fresh copy of the project, ``python -m pipeline init
--transcripts raw/texts``, ``params.yaml``'s ``seed`` set, ``dvc repro topics`` (the transcripts
stage, then the topics stage with init's ``topics`` (``models: [docvec]``, the generic defaults
otherwise); ``--k-window W`` sets
``topics: {k_grid: [L - W, ..., L + W]}`` around the number of labels L, to make it faster). Then, per seed:

* the chosen model's hard topic of each modelled document (``doc_topics.parquet``: ``topic``, the
  largest proportion) against the document's label: NMI (scikit-learn's
  ``normalized_mutual_info_score``, arithmetic mean) and purity (each topic counted for its
  majority label);
* the baselines at K = the number of labels (and again at the K the stage chose: like with like,
  since NMI grows with K and the number of labels is what the stage is not told), the same seed as ``random_state``, on the document-term
  matrix the stage modelled (rebuilt from ``processed/transcripts/units.parquet`` with the stage's
  own ``build_documents`` and ``vectorize`` and the study's ``topics`` settings, and checked
  against ``doc_topics.parquet``'s documents): ``LatentDirichletAllocation`` on the counts and
  ``NMF`` on their TF-IDF (scikit-learn's ``TfidfTransformer``), default options otherwise, each
  document's largest component as its topic.

Every score is over all texts of the corpus: a text the stage leaves out (no vocabulary word:
``flagged_docs.csv``) is put in one extra cluster, "not modelled", for the stage and the baselines
alike (they see the same documents), so a vocabulary that empties texts pays for it and every
method is scored on the same texts. ``dmm_at_labels``: the stage's own final fit
(``fit_final`` with the study's settings and seed) at K = the number of labels, to tell the
model's quality from the choice of K. Prints a Markdown table; ``--write-doc`` puts it in docs/topics.md under "On real Chinese
corpora". Same fixtures, code and seeds: same numbers.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import ROOT, machine

sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "corpus"
CORPORA = ("gov_messages", "tnews", "online_shopping")
DOC = ROOT / "docs" / "topics.md"
SECTION = "## On real Chinese corpora"


# --------------------------------------------------------------------------------------------
# the study a new user would make
# --------------------------------------------------------------------------------------------
def read_fixture(name: str) -> pd.DataFrame:
    """id, label, text of a fixture corpus."""
    path = FIXTURES / name / "texts.csv"
    if not path.exists():
        raise SystemExit(f"error: {path}: no such corpus. Choose one of {', '.join(CORPORA)}")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def fresh_project(where: Path) -> Path:
    """What a team has after cloning: the code, the generic config, the demo study, no raw data."""
    project = where / "project"
    ignore = shutil.ignore_patterns("__pycache__", "dvc.lock")
    shutil.copytree(ROOT / "pipeline", project / "pipeline", ignore=ignore)
    shutil.copytree(ROOT / "studies", project / "studies", ignore=ignore)
    (project / "config").mkdir()
    for name in ("surnames.txt", "given_names.txt", "stopwords.txt"):
        shutil.copyfile(ROOT / "config" / name, project / "config" / name)
    for name in ("requirements.lock", "dvc.yaml", "params.yaml"):
        shutil.copyfile(ROOT / name, project / name)
    return project


def file_name(doc_id: str) -> str:
    return f"d{doc_id}.txt"


def write_texts(project: Path, corpus: pd.DataFrame) -> None:
    folder = project / "raw" / "texts"
    folder.mkdir(parents=True)
    for doc_id, text in zip(corpus["id"], corpus["text"]):
        (folder / file_name(doc_id)).write_text(text + "\n", encoding="utf-8")


def run(project: Path, *argv: str) -> str:
    bindir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "DVC_NO_ANALYTICS": "1", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(project)}
    proc = subprocess.run(list(argv), cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv[:4])} failed in {project}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout + proc.stderr


def set_params(project: Path, seed: int, k_grid: list[int] | None, topics: dict | None = None) -> None:
    """The documented edits of params.yaml: the seed, and (optionally) the K grid of topics and
    other ``topics`` settings (``--topics``; the K grid of ``--k-window`` wins)."""
    path = project / "params.yaml"
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^seed: \d+", f"seed: {seed}", text)
    if n != 1:
        raise SystemExit(f"error: {path}: no single 'seed:' line to set")
    section = {**(topics or {}), **({"k_grid": k_grid} if k_grid is not None else {})}
    if section:
        text, n = re.subn(r"(?m)^topics: .*$", lambda _: f"topics: {json.dumps(section, ensure_ascii=False)}", text)
        if n != 1:
            raise SystemExit(f"error: {path}: no single 'topics:' line to set")
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------------
def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of documents in their cluster's majority label."""
    table = pd.crosstab(clusters, labels)
    return float(table.max(axis=1).sum() / len(labels))


def scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import normalized_mutual_info_score

    return {"nmi": float(normalized_mutual_info_score(labels, clusters, average_method="arithmetic")),
            "purity": purity(labels, clusters)}


NOT_MODELLED = -1   # the cluster of the texts the stage leaves out


def all_texts(n_texts: int, modelled: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Every text's cluster: the modelled texts' (rows ``modelled`` of the corpus, in order), the
    others NOT_MODELLED."""
    out = np.full(n_texts, NOT_MODELLED)
    out[modelled] = clusters
    return out


def stage_corpus(project: Path):
    """The document-term matrix the topics stage modelled, rebuilt with its own functions."""
    from pipeline.core.config import load_params, section
    from pipeline.text.documents import build_documents, resolve_unit, vectorize
    from pipeline.text.topicmodel import parse_settings

    settings = parse_settings(section(load_params(project / "params.yaml"), "topics"))
    units = pd.read_parquet(project / "processed" / "transcripts" / "units.parquet")
    questions = pd.read_parquet(project / "processed" / "transcripts" / "questions.parquet")
    unit = resolve_unit(settings.unit, questions)
    docs = build_documents(units, unit, settings.window, questions, None)
    return vectorize(docs, settings.vocabulary, settings.min_doc_tokens)


def baselines(counts, k: int, seed: int) -> dict[str, np.ndarray]:
    """Each document's largest component under plain LDA (counts) and NMF (TF-IDF)."""
    from sklearn.decomposition import NMF, LatentDirichletAllocation
    from sklearn.feature_extraction.text import TfidfTransformer

    lda = LatentDirichletAllocation(n_components=k, random_state=seed).fit_transform(counts)
    nmf = NMF(n_components=k, random_state=seed).fit_transform(TfidfTransformer().fit_transform(counts))
    return {"lda": lda.argmax(axis=1), "nmf": nmf.argmax(axis=1)}


def dmm_at_labels(project: Path, counts, k: int, seed: int) -> np.ndarray:
    """Each document's topic under the stage's final DMM fit at K = ``k`` (the study's settings)."""
    from pipeline.core.config import load_params, section
    from pipeline.text.topicmodel import fit_final, parse_settings

    settings = parse_settings(section(load_params(project / "params.yaml"), "topics"))
    return fit_final(counts, "dmm", k, seed, settings)[0].doc_topic.argmax(axis=1)


def evaluate_seed(project: Path, corpus: pd.DataFrame, seed: int, k_grid: list[int] | None,
                  topics: dict | None = None) -> dict:
    set_params(project, seed, k_grid, topics)
    start = time.perf_counter()
    run(project, str(Path(sys.executable).with_name("dvc")), "repro", "topics")
    seconds = time.perf_counter() - start
    metrics = json.loads((project / "metrics" / "topics.json").read_text(encoding="utf-8"))
    dt = pd.read_parquet(project / "processed" / "topics" / "doc_topics.parquet")
    label_of = dict(zip(corpus["id"].map(lambda i: Path(file_name(i)).stem), corpus["label"]))
    labels = dt["interview_id"].map(label_of).to_numpy()
    if pd.isna(labels).any():
        raise SystemExit(f"error: {project}: documents without a label (interview ids {list(dt['interview_id'][:3])})")
    built = stage_corpus(project)
    # docvec models the documents of its words and characters (docs/topics.md): its own documents,
    # the baselines the plain word matrix's; every other model: the same documents, checked
    if metrics["model"] != "docvec" and list(built.docs["doc_id"]) != list(dt["doc_id"]):
        raise SystemExit("error: the rebuilt document-term matrix is not the stage's (documents differ)")
    k = corpus["label"].nunique()
    ids = corpus["id"].map(lambda i: Path(file_name(i)).stem)
    row = {doc: i for i, doc in enumerate(ids)}
    modelled = {"stage": dt["interview_id"].map(row).to_numpy(), "words": built.docs["interview_id"].map(row).to_numpy()}
    every = corpus["label"].to_numpy()
    found = {"pipeline": ("stage", dt["topic"].to_numpy()),
             **{name: ("words", c) for name, c in baselines(built.counts, k, seed).items()},
             **{f"{name}_at_k": ("words", c) for name, c in baselines(built.counts, metrics["k"], seed).items()},
             "dmm_at_labels": ("words", dmm_at_labels(project, built.counts, k, seed))}
    out = {"seed": seed, "model": metrics["model"], "k": metrics["k"], "n_docs": len(dt),
           "n_flagged": metrics["n_docs_flagged"], "vocabulary": metrics["vocabulary_size"],
           "seconds": round(seconds, 1)}
    for name, (docs, clusters) in found.items():
        out[name] = scores(every, all_texts(len(corpus), modelled[docs], clusters))
        out[name]["nmi_modelled"] = scores(every[modelled[docs]], clusters)["nmi"]
    return out


def evaluate_corpus(name: str, seeds: list[int], window: int | None, keep: Path | None,
                    topics: dict | None = None) -> dict:
    corpus = read_fixture(name)
    n_labels = corpus["label"].nunique()
    k_grid = None if window is None else list(range(max(2, n_labels - window), n_labels + window + 1))
    where = Path(tempfile.mkdtemp(prefix=f"topics_real_{name}_"))
    try:
        project = fresh_project(where)
        write_texts(project, corpus)
        run(project, sys.executable, "-m", "pipeline", "init", "--transcripts", "raw/texts")
        runs = [evaluate_seed(project, corpus, seed, k_grid, topics) for seed in seeds]
        transcripts = json.loads((project / "metrics" / "transcripts.json").read_text(encoding="utf-8"))
        if keep is not None:
            shutil.copytree(project, keep / name, dirs_exist_ok=True)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    for r in runs:
        print(f"{name} seed {r['seed']}: {r['model']} K={r['k']} NMI {r['pipeline']['nmi']:.3f} "
              f"(LDA {r['lda']['nmi']:.3f}, NMF {r['nmf']['nmi']:.3f}, DMM at K = labels "
              f"{r['dmm_at_labels']['nmi']:.3f}; modelled texts only: {r['pipeline']['nmi_modelled']:.3f}, "
              f"{r['nmf']['nmi_modelled']:.3f}) {r['seconds']} s", file=sys.stderr)
    return {"corpus": name, "n_texts": len(corpus), "labels": int(n_labels), "k_grid": k_grid, "runs": runs,
            "transcripts": transcripts}


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------
def spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def table(results: list[dict]) -> str:
    head = ("| corpus | docs (flagged) | labels | chosen model, K per seed | NMI mean [min, max] | purity | "
            "LDA NMI (K = labels) | NMF NMI (K = labels) | NMI − best baseline | LDA, NMF NMI at the chosen K | "
            "NMI − best baseline at the chosen K | DMM NMI at K = labels | stage s / seed |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for res in results:
        runs = res["runs"]
        nmi = [r["pipeline"]["nmi"] for r in runs]
        lda = [r["lda"]["nmi"] for r in runs]
        nmf = [r["nmf"]["nmi"] for r in runs]
        best = max(np.mean(lda), np.mean(nmf))
        lda_k, nmf_k = [r["lda_at_k"]["nmi"] for r in runs], [r["nmf_at_k"]["nmi"] for r in runs]
        best_k = max(np.mean(lda_k), np.mean(nmf_k))
        chosen = ", ".join(f"{r['model'].upper()} {r['k']}" for r in runs)
        rows.append(
            f"| {res['corpus']} | {runs[0]['n_docs']} ({runs[0]['n_flagged']}) | {res['labels']} | {chosen} | "
            f"{spread(nmi)} | {spread([r['pipeline']['purity'] for r in runs])} | {spread(lda)} | {spread(nmf)} | "
            f"{np.mean(nmi) - best:+.3f} | {np.mean(lda_k):.3f}, {np.mean(nmf_k):.3f} | {np.mean(nmi) - best_k:+.3f} | "
            f"{spread([r['dmm_at_labels']['nmi'] for r in runs])} | "
            f"{np.mean([r['seconds'] for r in runs]):.0f} |")
    return "\n".join(rows)


def commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "pipeline"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() + (" (with uncommitted changes to pipeline/)" if dirty.stdout.strip() else "")


def report(results: list[dict], seeds: list[int], window: int | None, topics: dict | None = None) -> str:
    given = json.dumps(topics, ensure_ascii=False) if topics else ""
    option = f" --topics '{given}'" if topics else ""
    grid = (f"`topics: {{k_grid: [labels - {window} ... labels + {window}]}}` (else the generic defaults)" if window is not None
            else "init's `topics: {models: [docvec]}` (the other settings the generic defaults: K = 5-14, 8 runs)")
    if topics:
        grid = f"`topics: {given}`" + (f" and the K grid labels - {window} ... labels + {window}" if window is not None else "")
    return (f"Measured at commit {commit()} on {machine()}, seeds {', '.join(map(str, seeds))} "
            f"(`python benchmarks/topics_real.py --seeds {' '.join(map(str, seeds))}"
            f"{'' if window is None else f' --k-window {window}'}{option}`), "
            f"topics stage with {grid}.\n\n"
            + table(results) + "\n")


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    start = doc.find(SECTION)
    if start < 0:
        raise SystemExit(f"error: {DOC}: no section '{SECTION}' to write the table into")
    begin, end = "<!-- topics_real: begin -->", "<!-- topics_real: end -->"
    i, j = doc.find(begin, start), doc.find(end, start)
    if i < 0 or j < 0:
        raise SystemExit(f"error: {DOC}: the section '{SECTION}' needs the markers {begin} and {end}")
    DOC.write_text(doc[:i + len(begin)] + "\n" + text + doc[j:], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", nargs="+", choices=CORPORA, default=list(CORPORA))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--k-window", type=int, help="topics.k_grid = labels - W ... labels + W (default: the generic grid)")
    ap.add_argument("--topics", type=json.loads, metavar="JSON",
                    help="topics settings for every study, a JSON object (e.g. '{\"models\": [\"docvec\"], "
                         "\"k_grid\": [4, 5, 6]}'); --k-window's grid wins")
    ap.add_argument("--write-doc", action="store_true", help=f"write the table into {DOC.relative_to(ROOT)}")
    ap.add_argument("--keep", type=Path, help="copy each study folder here (to read its outputs)")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args(argv)
    results = [evaluate_corpus(name, args.seeds, args.k_window, args.keep, args.topics) for name in args.corpus]
    text = report(results, args.seeds, args.k_window, args.topics)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.write_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
