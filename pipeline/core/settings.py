"""``params.yaml`` described once: a typed model per section, with its defaults and ranges.

Every section of the parameter file is a model below (on :class:`pipeline.core.schema.Section`:
unknown keys are errors, types strict, values read-only); a key's type, default and range are
written here and nowhere else (the comments in ``params.yaml`` say what each key means).
:mod:`pipeline.core.config` validates the whole file where it is read, so a typo, a wrong type
or a value out of range is one line naming the file and the dotted key (:mod:`pipeline.core.schema`)
before any stage starts; a stage reads its section from :class:`Params`. Checks that need data
or other files (a model term, a variable of the instrument, a theme of the codebook, a role of
the sentence bank) stay with the code that has them.
"""
from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from pipeline.core.errors import PipelineError
from pipeline.core.schema import Section


# ---------------------------------------------------------------------------------------------
# value types
# ---------------------------------------------------------------------------------------------
def _ordered(pair: list) -> list:
    if pair[0] > pair[1]:
        raise ValueError(f"must be [low, high] with low <= high, not {pair}")
    return pair


def _decreasing(values: list) -> list:
    if sorted(values, reverse=True) != values:
        raise ValueError(f"must be decreasing, not {values}")
    return values


def _increasing(values: list) -> list:
    if sorted(values) != values or len(set(values)) != len(values):
        raise ValueError(f"must be increasing, not {values}")
    return values


def _n_jobs(n: int) -> int:
    if n == 0 or n < -1:
        raise ValueError(f"must be a positive number of processes or -1 (all cores), not {n}")
    return n


def _iso_date(value: str | datetime.date) -> str | datetime.date:
    if isinstance(value, str):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be a date YYYY-MM-DD, not {value!r}") from None
    return value


Rate = Annotated[float, Field(ge=0, le=1)]                  # a probability or share in [0, 1]
Weight = Annotated[float, Field(ge=0)]                      # a non-negative weight (normalised by the user)
Positive = Annotated[float, Field(gt=0)]
Level = Annotated[float, Field(gt=0, lt=1)]                 # a confidence level
Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NJobs = Annotated[int, AfterValidator(_n_jobs)]             # worker processes, -1: all cores
IntRange = Annotated[list[int], Field(min_length=2, max_length=2), AfterValidator(_ordered)]
NumberRange = Annotated[list[Weight], Field(min_length=2, max_length=2), AfterValidator(_ordered)]
IsoDate = Annotated[Union[str, datetime.date], AfterValidator(_iso_date)]
Names = list[str]
Covariance = Literal["classical", "hc0", "hc1", "cluster", "cluster_hc0", "cluster_cr2", "model"]


class Text(Section):
    """A label in the report's languages."""

    zh: str | None = None
    en: str | None = None


class EstimateRef(Section):
    """Where an estimate is read off: a model's term, or an effect of the mediation model."""

    model: str | None = None
    term: str | None = None
    mediation: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EstimateRef:
        if (self.mediation is None) == (self.model is None or self.term is None) or (
                self.mediation is not None and (self.model or self.term)):
            raise ValueError("give either {model, term} or {mediation}")
        return self


# ---------------------------------------------------------------------------------------------
# survey (pipeline/stages/survey.py)
# ---------------------------------------------------------------------------------------------
class DuplicateRule(Section):
    keep: Literal["first", "last"] = "first"


class SpeederRule(Section):
    fraction: Rate = 0.3


class StraightlineRule(Section):
    min_answered_share: Rate = 0.8
    modal_share: Rate = 1.0


class AgeRule(Section):
    age: str | None = None
    birth_year: str | None = None
    min_age: Annotated[float, Field(ge=0)] | None = None
    tolerance: Weight = 1


class Survey(Section):
    """``survey``: reading, checking and cleaning the survey export."""

    format: Literal["auto", "sav", "dta", "csv", "xlsx"] = "auto"
    encoding: str | None = None
    sheet: Count | str = 0
    rename: dict[str | int, str] = Field(default_factory=dict)
    max_duplicate_share: Rate = 0.5
    id_key_file: str | None = "secrets/id_key"
    demo_key: str | None = None
    id_hash_length: Annotated[int, Field(ge=1, le=64)] = 16
    duplicate: DuplicateRule = Field(default_factory=DuplicateRule)
    speeder: SpeederRule = Field(default_factory=SpeederRule)
    straightline: StraightlineRule = Field(default_factory=StraightlineRule)
    age_rule: AgeRule = Field(default_factory=AgeRule)
    free_text_numbers: Names = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# measurement (pipeline/stages/measurement.py)
# ---------------------------------------------------------------------------------------------
class Reliability(Section):
    bootstrap_replications: Count = 500
    level: Level = 0.95
    omega_use: Literal["complete", "pairwise"] = "complete"


class Cfa(Section):
    """``measurement.cfa``: the scales that are the factors of one confirmatory factor model
    (identification is checked before fitting: pipeline/stats/preflight.py)."""

    scales: Annotated[Names, Field(min_length=1)]


class Invariance(Section):
    """``measurement.invariance``: configural, metric and scalar invariance of a factor model
    across the groups of the instrument's ``roles.group`` (thresholds: Chen 2007)."""

    scales: Annotated[Names, Field(min_length=1)]
    groups: Annotated[list[int | float], Field(min_length=2)]   # codes of the group variable
    min_group_size: PositiveInt = 100
    max_delta_cfi: Weight = 0.01
    max_delta_rmsea: Weight = 0.015
    max_free_intercepts: Count = 3


class Measurement(Section):
    """``measurement``: indices, reliability, the factor model and invariance.

    ``cfa`` and ``invariance`` left out (or null): no factor model, no invariance test (their
    tables are written empty, their metrics are null)."""

    scales: Names | None = None          # None: every scale of the instrument; []: none
    covariates: Names = Field(default_factory=list)
    community_covariates: Names = Field(default_factory=list)
    reliability: Reliability = Field(default_factory=Reliability)
    cfa: Cfa | None = None
    invariance: Invariance | None = None


# ---------------------------------------------------------------------------------------------
# models (pipeline/stages/models.py; a spec's own defaults are pipeline/stats/estimators.py parse_spec's)
# ---------------------------------------------------------------------------------------------
class RandomEffects(Section):
    group: str
    slopes: str | Names = Field(default_factory=list)


class ModelSpec(Section):
    """One model; keys left out get parse_spec's defaults (which depend on family and weights)."""

    id: str
    formula: str
    outcome: str | None = None
    family: Literal["linear", "ordered_logit", "binary_logit"] | None = None
    estimator: Literal["ols", "wls", "mixed", "ml"] | None = None
    covariance: Covariance | None = None
    cluster: str | None = None
    weights: str | None = None
    weight_kind: Literal["survey", "precision", "frequency"] | None = None
    random: str | RandomEffects | None = None
    reml: bool | None = None
    standardize: bool | None = None
    outcome_levels: list[int | float | str] | None = None
    conf_level: Level | None = None
    max_iter: PositiveInt | None = None
    df_method: Literal["z", "between_within"] | None = None
    label: str | None = None
    description: str | None = None
    hypothesis: str | None = None
    notes: str | None = None
    table: str | None = None


class MultipleImputation(Section):
    m: Annotated[int, Field(ge=2)] = 20
    n_iter: PositiveInt = 10
    donors: PositiveInt = 5
    auxiliary: Names = Field(default_factory=list)
    n_jobs: NJobs = 1


class Mediation(Section):
    id: str = "mediation"
    x: str
    m: str
    y: str
    covariates: Names = Field(default_factory=list)
    cluster: str | None = None           # left out: models.cluster; null: no clustering
    n_boot: Annotated[int, Field(ge=2)] = 1000


class Predictions(Section):
    model: str
    grid: dict[str, Annotated[list[int | float], Field(min_length=1)]] = Field(min_length=1)


class Models(Section):
    """``models``: the regressions, imputation, mediation, ICCs, predictions and hypotheses."""

    data: str = "processed/indices.parquet"
    derived: dict[str, str] = Field(default_factory=dict)
    controls: str = "1"
    cluster: str | None = None           # the cluster of specs asking covariance cluster*, of icc and
                                         # of the mediation bootstrap; null: no clustering
    specs: list[ModelSpec] = Field(default_factory=list)    # []: no models yet (empty tables)
    imputed: Names = Field(default_factory=list)
    mi: MultipleImputation = Field(default_factory=MultipleImputation)
    mediation: Mediation | None = None
    icc: Names = Field(default_factory=list)
    predictions: Predictions | None = None
    hypotheses: dict[str, EstimateRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> Models:
        ids = [s.id for s in self.specs]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"specs has two models with id {twice[0]!r}")
        named = [("imputed", m) for m in self.imputed]
        named += [("predictions.model", self.predictions.model)] if self.predictions else []
        named += [(f"hypotheses.{h}.model", r.model) for h, r in self.hypotheses.items() if r.model is not None]
        for where, model in named:
            if model not in ids:
                raise ValueError(f"{where} names '{model}', which is not in models.specs")
        if self.icc and not self.cluster:
            raise ValueError("icc needs cluster (the grouping variable of the null models)")
        return self

    def mediation_cluster(self) -> str | None:
        """The mediation bootstrap's cluster: its own ``cluster`` when given (null: none), else ``cluster``."""
        med = self.mediation
        return med.cluster if med is not None and "cluster" in med.model_fields_set else self.cluster


# ---------------------------------------------------------------------------------------------
# transcripts, topics, coding (pipeline/stages/transcripts.py, topics.py, coding.py)
# ---------------------------------------------------------------------------------------------
class Transcripts(Section):
    """``transcripts``: reading, redacting and segmenting the interviews."""

    config: str = "config/transcripts.yaml"
    userdict: str = "config/userdict.txt"
    stopwords: str = "config/stopwords.txt"
    strict: bool = False
    unit: Literal["sentence", "turn"] = "sentence"
    min_tokens: Count = 1
    engine: Literal["jieba", "rjieba", "auto"] = "auto"
    n_jobs: PositiveInt = 2
    parallel_min_files: Count = 20
    batch_size: PositiveInt = 10
    progress_min_files: Count = 500
    cache_dir: str | None = None
    jieba_cache: str = ".cache/jieba.cache"


def _count_or_share(v: int | float) -> int | float:
    if (isinstance(v, int) and v < 1) or (isinstance(v, float) and not 0 < v <= 1):
        raise ValueError(f"must be a count (integer >= 1) or a share in (0, 1], not {v!r}")
    return v


CountOrShare = Annotated[Union[int, float], AfterValidator(_count_or_share)]
TopicModel = Literal["dmm", "lda", "nmf", "docvec"]


# Single characters a topic vocabulary keeps (``topics.vocabulary.keep``): concrete nouns of public
# affairs that are whole words in Chinese, unlike particles and verbs (的, 干, 当, 说, 有).
KEEP_SINGLE = ["水", "电", "气", "路", "桥", "房", "楼", "地", "田", "山", "河", "树", "粮", "米", "油", "菜",
               "肉", "猪", "牛", "羊", "鸡", "鱼", "茶", "药", "病", "钱", "税", "车", "船", "网", "灯", "井",
               "厕", "党", "警", "村", "乡", "镇", "县", "市", "省", "厂", "店", "矿", "煤", "火", "雨", "灾", "书"]


class Vocabulary(Section):
    """``topics.vocabulary``: which content tokens are vocabulary words (pipeline.text.documents.vectorize,
    docs/topics.md step 2); each rule's removals are listed in processed/topics/vocabulary_audit.csv."""

    # 2: a word in two documents is the least that links them; on 300-500 short texts 3 dropped most
    # repeated words (450 headlines: 154 of 2,516 words kept, 157 titles empty; docs/topics.md)
    min_df: CountOrShare = 2
    max_df: CountOrShare = 0.5
    max_df_ridf: float | None = 0.6    # a word above max_df stays when its residual IDF is at least this many bits (None: none stays)
    max_features: PositiveInt | None = None
    stopwords: Names = Field(default_factory=list)
    symbols: bool = True              # drop punctuation, underscores, control characters, spreadsheet escapes (_x000D_)
    numbers: bool = True              # drop tokens of digits without a letter (2019, 3.5, 10%)
    latin_codes: Count = 2            # drop Latin letter-digit codes of at most this many letters (K, K1, L9); 0: none
    min_chars: PositiveInt = 2        # drop words shorter than this, except the keep list
    keep: Names = Field(default_factory=lambda: list(KEEP_SINGLE))


class Dmm(Section):
    alpha: Annotated[float, Field(ge=1e-6, le=1e6)] = 0.1
    beta: Annotated[float, Field(ge=1e-6, le=1e6)] = 0.1
    n_iter: PositiveInt = 30
    split_merge: Count = 0
    restarts: PositiveInt = 1
    chain_max_docs: Annotated[int, Field(ge=100)] | None = None


class Docvec(Section):
    """``topics.docvec``: the document-vector clustering (models: [docvec]; pipeline.text.docvec,
    docs/topics.md "Document vectors clustered")."""

    characters: bool = True           # the content words' CJK characters as features too (c:球), for the vectors
    lexicon: bool = True              # character vectors from jieba's dictionary beside the corpus's own word vectors
    dim: Annotated[int, Field(ge=2, le=1000)] = 100    # SVD dimensions of each kind of vector
    n_neighbors: Annotated[int, Field(ge=2)] = 20      # the nearest-neighbour graph of the spectral clustering
    beta: Annotated[float, Field(ge=1e-6, le=1e6)] = 0.1   # smoothing of a cluster's word distribution (top words, exemplars)


class Lda(Section):
    max_iter: PositiveInt = 50
    doc_topic_prior: Positive | None = None      # None: 1/K
    topic_word_prior: Positive | None = None


class Nmf(Section):
    init: Literal["random", "nndsvd", "nndsvda", "nndsvdar"] = "nndsvda"
    loss: Literal["frobenius", "kullback-leibler"] = "kullback-leibler"
    max_iter: PositiveInt = 500
    tol: Positive = 1e-4


class Selection(Section):
    criteria: Annotated[list[Literal["coherence_npmi", "exclusivity", "stability", "neg_perplexity"]],
                        Field(min_length=1)] = ["coherence_npmi", "exclusivity", "stability"]
    min_stability: Rate = 0.8
    model: TopicModel | None = None
    fixed_k: int | None = None


class Prevalence(Section):
    formula: str = "1"                           # "1": overall prevalence only
    covariance: Covariance | None = None         # None: cluster when there is a cluster, else hc1
    cluster: str | None = None                   # None: the texts' community column, when they have one
    factors: Names = Field(default_factory=list)
    conf_level: Annotated[float, Field(ge=0.5, le=0.999)] = 0.95


class Topics(Section):
    """``topics``: the inductive topic models."""

    unit: Literal["auto", "exchange", "turn", "window"] = "auto"   # auto: exchange with interviewer questions, else turn
    window: PositiveInt = 3
    min_doc_tokens: PositiveInt = 1
    vocabulary: Vocabulary = Field(default_factory=Vocabulary)
    # dmm: one topic a document, the model of short texts (an answer, a message, a title); lda and
    # nmf (mixed membership) on request. Not all three by default: their scores sit on other scales
    # and LDA's grid costs ~12 times the DMM's, both compiled (benchmarks/RESULTS.md "topics stage")
    models: Annotated[list[TopicModel], Field(min_length=1)] = ["dmm"]
    k_grid: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=1)] = list(range(5, 15))
    # seed runs per (model, K): with 3, the rule's choice followed the runs' noise on real corpora
    # (K 6, 5, 8 over three study seeds); with 8 it held (docs/topics.md, "On real Chinese corpora")
    seeds: PositiveInt = 8
    subsample: Annotated[float, Field(ge=0.1, le=1.0)] = 0.8
    grid_max_docs: Annotated[int, Field(ge=100)] | None = None
    holdout: Annotated[float, Field(ge=0.0, le=0.5)] = 0.2
    min_docs_per_topic: PositiveInt = 5
    top_n: Annotated[int, Field(ge=2)] = 10
    dmm: Dmm = Field(default_factory=Dmm)
    docvec: Docvec = Field(default_factory=Docvec)
    lda: Lda = Field(default_factory=Lda)
    nmf: Nmf = Field(default_factory=Nmf)
    selection: Selection = Field(default_factory=Selection)
    frex_weight: Rate = 0.5
    n_words: PositiveInt = 10
    n_exemplars: Count = 3
    prevalence: Prevalence = Field(default_factory=Prevalence)
    labels: str | None = None
    n_jobs: PositiveInt = 1

    @model_validator(mode="after")
    def _forced(self) -> Topics:
        if "docvec" in self.models and len(self.models) > 1:
            raise ValueError(f"models: docvec is a method of its own (its K by the modularity of its clusters, not "
                             f"compared with the mixture models by NPMI): models: [docvec], not {self.models}")
        if self.selection.model is not None and self.selection.model not in self.models:
            raise ValueError(f"selection.model must be null or one of topics.models {self.models}, "
                             f"not {self.selection.model!r}")
        if self.selection.fixed_k is not None and self.selection.fixed_k not in self.k_grid:
            raise ValueError(f"selection.fixed_k must be null or one of topics.k_grid {self.k_grid}, "
                             f"not {self.selection.fixed_k!r}")
        return self


class Decision(Section):
    min_score: float = 1.0
    relative: Rate = 0.5


class Context(Section):
    inherit: bool = True
    weight: float = 1.0
    question_weight: float = 1.0
    min_tokens: int = 2


class Agreement(Section):
    replications: Count = 1000
    level: Level = 0.95


class CoderSample(Section):
    n: Count = 200
    strata: str = "role"


class Coding(Section):
    """``coding``: deductive coding with the codebook and agreement with human coders."""

    codebook: str = "config/codebook.yaml"
    decision: Decision = Field(default_factory=Decision)
    context: Context = Field(default_factory=Context)
    turns: bool = True
    covariates: Names = Field(default_factory=list)
    dimensions: Names = Field(default_factory=list)
    human_codes: str | None = None               # a filled coder sheet (raw/coding/...), or null
    agreement: Agreement = Field(default_factory=Agreement)
    sample: CoderSample = Field(default_factory=CoderSample)


# ---------------------------------------------------------------------------------------------
# report (pipeline/stages/report.py, pipeline/render/tables.py, figures.py)
# ---------------------------------------------------------------------------------------------
class Decimals(Section):
    coef: Count = 3
    fit: Count = 3
    percent: Count = 1
    mean: Count = 2
    stat: Count = 2
    p: Count = 3


class Figures(Section):
    coefficient_alternatives: dict[str, Names] = Field(default_factory=dict)
    index_group: str | None = None               # None: the index distributions of the whole sample
    topic_factor: str | None = None              # None: no figure of topic prevalence by a factor


class Title(Section):
    zh: str
    en: str


class ClusterUnit(Section):
    """What the study's clusters are called in the report (学校 / school); the English plural is
    the word + s (-y: -ies) unless given."""

    zh: str | None = None
    en: str | None = None
    en_plural: str | None = None


class Report(Section):
    """``report``: the publication tables, figures and the report documents."""

    title: Title
    lang: Literal["zh", "en"] = "en"
    formats: list[Literal["csv", "md", "html", "tex", "docx"]] = ["csv", "md", "html", "tex", "docx"]
    decimals: Decimals = Field(default_factory=Decimals)
    uncertainty: Literal["se", "ci"] = "se"
    stars: Annotated[list[Level], AfterValidator(_decreasing)] = [0.05, 0.01, 0.001]
    min_cell: PositiveInt = 5
    characteristics: Names = Field(default_factory=list)
    community_characteristics: Names = Field(default_factory=list)
    term_labels: dict[str, Text | str] = Field(default_factory=dict)
    model_tables: dict[str, Text] = Field(default_factory=dict)
    figures: Figures = Field(default_factory=Figures)
    role_labels: dict[str, Text | str] = Field(default_factory=dict)
    cluster_unit: ClusterUnit = Field(default_factory=ClusterUnit)   # none given: 社区 / community
    quotes: Count = 2                            # exemplar quotes per joint-display row
    simulated: bool = False                      # simulated data: every table note, figure caption and page says so
    paper: Literal["a4", "letter"] = "a4"        # page size of the Word report and tables
    # the Word report's reference template (.docx whose named styles the report uses, like pandoc's
    # reference.docx); None: the shipped one, pipeline/render/templates/report_template.docx
    template: str | None = None


# ---------------------------------------------------------------------------------------------
# parallel (pipeline/core/parallel.py)
# ---------------------------------------------------------------------------------------------
class Parallel(Section):
    """``parallel``: where embarrassingly parallel work runs."""

    backend: Literal["auto", "loky", "dask"] = "auto"
    scheduler: str | None = None
    n_jobs: NJobs = 1
    connect_timeout: Positive = 30.0
    serial_below_s: Weight | None = None   # loky: tasks run here while the rest would take less than this (s);
                                           # None: 0.1 when workers are forked, 10 for fresh interpreters

    @model_validator(mode="after")
    def _backend(self) -> Parallel:
        if self.backend == "loky" and self.scheduler and self.scheduler.strip():
            raise ValueError(f"scheduler is {self.scheduler!r} but backend is loky: set backend: dask to use "
                             "the cluster, or scheduler: null to run locally")
        return self


# ---------------------------------------------------------------------------------------------
# the file
# ---------------------------------------------------------------------------------------------
class Params(Section):
    """The whole parameter file: the seed, the instrument and a section per stage."""

    seed: Count
    instrument: str | None = None        # the questionnaire; a study of texts alone may have none
    simulate: dict[str, Any] | None = None       # the demo's generator: pipeline/demo/settings.py checks it
    survey: Survey | None = None
    measurement: Measurement | None = None
    models: Models | None = None
    recovery: dict[str, Any] | None = None       # the demo's recovery study: pipeline/demo/settings.py
    transcripts: Transcripts | None = None
    report: Report | None = None
    topics: Topics | None = None
    parallel: Parallel | None = None
    coding: Coding | None = None

    def section(self, name: str) -> Any:
        """A section the stage cannot run without."""
        value = getattr(self, name, None)
        if value is None:
            raise no_section(name)
        return value


def no_section(name: str) -> PipelineError:
    return PipelineError(f"params.yaml: no section '{name}'", hint="see the README for its keys")
