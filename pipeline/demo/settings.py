"""The demo study's own sections of its params.yaml: ``simulate`` (the generator) and ``recovery``.

They are described here, beside the code that reads them, not in :mod:`pipeline.core.settings`:
the generic description of params.yaml knows nothing of the demo. :class:`pipeline.core.settings.Params`
takes the two sections as they are written; :func:`simulate_settings` and :func:`recovery_settings`
check them (one line naming the key, as for every section) where the demo reads them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from pydantic import AfterValidator

from pipeline.core.schema import Section, parse
from pipeline.core.settings import (EstimateRef, IntRange, IsoDate, NumberRange, Params, Positive, PositiveInt, Rate,
                                    Weight, _increasing, no_section)


class City(Section):
    population: Positive
    hui: Rate
    other: Rate

    @model_validator(mode="after")
    def _shares(self) -> City:
        if self.hui + self.other > 1:
            raise ValueError("hui + other must be at most 1")
        return self


class CommunityDesign(Section):
    comm_type_probs: dict[int, Weight] = Field(min_length=1)
    minority_concentration: Positive
    resettlement_minority_boost: float
    gov_model_prob: Rate
    points_scheme_prob: Rate
    social_orgs_mean: Annotated[list[Weight], Field(min_length=2, max_length=2)]
    households: IntRange


class LatentEquation(Section):
    terms: dict[str, float] = Field(default_factory=dict)
    residual_sd: Positive = 1.0
    icc: Annotated[float, Field(ge=0, lt=1)] = 0.0


class ItemParameters(Section):
    loading: float
    intercept: float


class ItemOverride(Section):
    loading: float | None = None
    intercept: float | None = None


class Items(Section):
    default: ItemParameters
    thresholds: Annotated[list[float], Field(min_length=1), AfterValidator(_increasing)]
    by_item: dict[str, ItemOverride] = Field(default_factory=dict)


class Noninvariance(Section):
    item: str | None = None
    group_value: int | None = None
    shift: float = 0.0

    @model_validator(mode="after")
    def _group(self) -> Noninvariance:
        if self.item and self.shift != 0 and self.group_value is None:
            raise ValueError("a shift needs group_value (the code of the shifted group)")
        return self


class Problems(Section):
    duplicate: Rate
    speeder: Rate
    speeder_fraction: NumberRange
    straightline: Rate
    attention: Rate
    age_rule: Rate
    out_of_range: Rate
    fullwidth: Rate


class ItemNonresponse(Section):
    base: float
    age: float
    low_edu: float
    refused_share: Rate
    income_extra: float


class Opening(Section):
    consent: Rate
    intro: Rate
    closing: Rate


class SentencesPerTurn(Section):
    mean: Positive
    min: PositiveInt
    max: PositiveInt

    @model_validator(mode="after")
    def _range(self) -> SentencesPerTurn:
        if self.min > self.max:
            raise ValueError("min must be at most max")
        return self


# Shares of fixed kinds: mappings (not sections) because their order is the order of the draws.
SentenceMix = Annotated[dict[Literal["main", "filler", "other"], Weight], Field(min_length=1)]
FileKinds = Annotated[dict[Literal["utf-8", "utf-8-sig", "gbk", "docx"], Weight], Field(min_length=1)]
Conventions = Annotated[dict[Literal["qa", "interviewer_respondent", "named"], Weight], Field(min_length=1)]
MobileFormats = Annotated[dict[Literal["plain", "spaced", "dashed"], Weight], Field(min_length=1)]
LandlineFormats = Annotated[dict[Literal["dash", "space", "paren"], Weight], Field(min_length=1)]


class Slope(Section):
    center: float
    effects: dict[int | str, float]


class Mixture(Section):
    """Weights of themes (or of a theme's variants), shifted by community factors and role."""

    base: dict[int | str, Positive] = Field(min_length=1)
    shifts: dict[str, dict[int | str, dict[int | str, float]]] = Field(default_factory=dict)
    slopes: dict[str, Slope] = Field(default_factory=dict)


class ThemeMixture(Mixture):
    interview_concentration: Positive


class Noise(Section):
    halfwidth_colon: Rate
    blank_line_between_turns: Rate
    annotation: Rate
    comma_join: Rate
    discourse_prefix: Rate
    paragraph_split: Rate
    docx_run_split: Rate


class PiiRate(Section):
    p: Rate
    extra: Weight


class PiiRates(Section):
    name: PiiRate
    mobile: PiiRate
    landline: PiiRate
    id_number: PiiRate
    address: PiiRate


class Pii(Section):
    rates: PiiRates
    female: Rate
    given_two_chars: Rate
    informal_prefix: Rate
    age: IntRange
    mobile_formats: MobileFormats
    landline_formats: LandlineFormats
    id_lowercase_x: Rate


class SimulateTranscripts(Section):
    """``simulate.transcripts``; names that come from the sentence bank (roles, themes, variants,
    header styles, date formats) are checked against the bank by simulate_transcripts.py."""

    bank: str                            # the sentence bank, e.g. studies/demo/transcript_bank.yaml
    n_interviews: PositiveInt
    assignment: Literal["balanced", "random"]
    fieldwork_start: IsoDate
    fieldwork_days: PositiveInt
    roles: dict[str, Weight] = Field(min_length=1)
    turns: IntRange
    probe_rate: Rate
    opening: Opening
    intro_sentences: IntRange
    sentences_per_turn: SentencesPerTurn
    sentence_mix: SentenceMix
    repeat_avoidance_tries: PositiveInt
    theme_mixture: ThemeMixture
    variants: dict[int, Mixture] | None
    files: FileKinds
    conventions: Conventions
    named_label_title: Rate
    header_styles: dict[str, Weight] = Field(min_length=1)
    date_formats: dict[str, Weight] = Field(min_length=1)
    header_name_line: Rate
    noise: Noise
    pii: Pii


class Simulate(Section):
    """``simulate``: the generator of the demo study (pipeline/demo/simulate.py)."""

    n_communities: PositiveInt
    respondents_per_community: IntRange
    fieldwork_start: IsoDate
    fieldwork_days: PositiveInt
    cities: dict[str, City] = Field(min_length=1)
    persons_per_household: Annotated[float, Field(gt=0.8)]
    community: CommunityDesign
    latent: dict[str, LatentEquation] = Field(min_length=1)
    items: Items
    noninvariance: Noninvariance | None = None
    problems: Problems
    item_nonresponse: ItemNonresponse
    duration_median_sec: Positive
    duration_sigma: Weight
    n_interviewers_per_city: PositiveInt
    transcripts: SimulateTranscripts



class Recovery(Section):
    """``recovery``: the validation study of the models (pipeline/demo/recovery.py)."""

    replications: PositiveInt = 200
    population_communities: PositiveInt
    n_boot: Annotated[int, Field(ge=2)] = 500
    targets: Annotated[list[EstimateRef], Field(min_length=1)]


def simulate_settings(params: Params, source: str | Path = "params.yaml") -> Simulate:
    """The ``simulate`` section, checked."""
    if params.simulate is None:
        raise no_section("simulate")
    return parse(Simulate, params.simulate, "simulate", source)


def recovery_settings(params: Params, source: str | Path = "params.yaml") -> Recovery:
    """The ``recovery`` section, checked."""
    if params.recovery is None:
        raise no_section("recovery")
    return parse(Recovery, params.recovery, "recovery", source)
