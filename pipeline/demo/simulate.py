"""The synthetic demo study: communities, a resident survey and interview transcripts with known truth.

Data-generating process (documented in the README, parameters in ``params.yaml: simulate``, the demo's file studies/demo/simulate.yaml):

1. Communities: ``n_communities`` spread evenly over the cities; community type, minority share
   (Beta around the city's share), governance model, number of social organisations, points
   scheme and size are drawn independently except where stated in params.
2. Residents: about ``respondents_per_community`` adults per community with background
   variables (ethnicity drawn from the community's minority share). Latent traits follow the
   structural equations in ``simulate.latent`` (evaluated in order), each with a community
   random intercept whose variance gives the configured residual intraclass correlation.
3. Items of every instrument scale: ``y* = intercept + loading * trait + N(0, 1)`` cut at the
   thresholds; reverse-keyed items load negatively. An intercept shift for one group on one
   item plants non-invariance (off by default).
4. Design weights: inverse probability of a PPS community draw times the within-community
   draw, post-stratified to the city x ethnicity population margins.
5. Data problems planted at the configured rates (duplicates, speeders, straight-liners,
   failed attention checks, age-rule violations, out-of-range codes, full-width digits,
   item nonresponse that depends on age and education (MAR), routing skips).

The stage is pure functions plus :func:`main`, which reads params and writes ``raw/``.
Analysis stages must never read ``raw/truth``.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat

from pipeline.core import config
from pipeline.core.errors import PipelineError, run_cli
from pipeline.core.files import atomic_dir, atomic_path, write_csv, write_json
from pipeline.core.instrument import Instrument, load_instrument
from pipeline.core.schema import parse
from pipeline.demo.settings import LatentEquation, Simulate, simulate_settings

# Streams of the seed: changing one part of the study does not change the others.
STREAM_SURVEY = 1
STREAM_TRANSCRIPTS = 2

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class SurveyStudy:
    """The generated survey with its truth."""

    communities: pd.DataFrame
    survey: pd.DataFrame          # as written to the .sav (codes, missing codes, problems)
    latent: pd.DataFrame          # record id, community, latent traits (truth)
    problems: pd.DataFrame        # record id, problem, kind (planted / incidental), detail
    truth: dict[str, Any]         # true parameters and derived estimands


# --------------------------------------------------------------------------------------------
# communities
# --------------------------------------------------------------------------------------------
def simulate_communities(cfg: Simulate | dict[str, Any], rng: np.random.Generator) -> pd.DataFrame:
    """One row per community with the community variables of the design. ``cfg``:
    ``params.yaml: simulate``, typed or as the mapping read from the file."""
    cfg = parse(Simulate, cfg, "simulate")
    cities = list(cfg.cities)
    n = cfg.n_communities
    ccfg = cfg.community
    city = np.repeat(cities, [n // len(cities) + (i < n % len(cities)) for i in range(len(cities))])
    types = np.array([int(k) for k in ccfg.comm_type_probs])
    probs = np.array([float(v) for v in ccfg.comm_type_probs.values()])
    comm_type = rng.choice(types, size=n, p=probs / probs.sum())
    base_share = np.array([cfg.cities[c].hui + cfg.cities[c].other for c in city])
    mean_share = np.clip(base_share + ccfg.resettlement_minority_boost * (comm_type == 1), 0.02, 0.95)
    conc = ccfg.minority_concentration
    minority_share = rng.beta(mean_share * conc, (1 - mean_share) * conc)
    gov_model = (rng.random(n) < ccfg.gov_model_prob).astype(int)
    lam = np.where(gov_model == 1, ccfg.social_orgs_mean[1], ccfg.social_orgs_mean[0])
    n_orgs = rng.poisson(lam)
    points = (rng.random(n) < ccfg.points_scheme_prob).astype(int)
    lo, hi = ccfg.households
    households = rng.integers(lo, hi + 1, size=n)
    return pd.DataFrame(
        {
            "comm_id": [f"C{i + 1:03d}" for i in range(n)],
            "city": city,
            "comm_type": comm_type,
            "minority_share": np.round(minority_share, 3),
            "gov_model": gov_model,
            "n_social_orgs": n_orgs,
            "points_scheme": points,
            "n_households": households,
        }
    )


# --------------------------------------------------------------------------------------------
# residents
# --------------------------------------------------------------------------------------------
def _ordinal(ystar: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (np.searchsorted(thresholds, ystar) + 1).astype(float)


def _zscore(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    return (x - mean) / sd


def evaluate_terms(terms: dict[str, float], frame: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Linear predictor of ``terms`` ("a:b" is the product a*b) over the columns in ``frame``."""
    out = np.zeros(n)
    for term, coef in terms.items():
        value = np.ones(n)
        for part in str(term).split(":"):
            if part not in frame:
                raise PipelineError(
                    f"params.yaml: simulate.latent names '{part}', which the generator does not know",
                    hint=f"use one of {sorted(frame)}",
                )
            value = value * frame[part]
        out = out + float(coef) * value
    return out


def trait_order(latent: dict[str, LatentEquation | dict[str, Any]]) -> list[str]:
    """Traits in an order where each comes after the traits its equation uses (config order on ties)."""
    terms = {t: parse(LatentEquation, spec, f"simulate.latent.{t}").terms for t, spec in latent.items()}
    needs = {t: {p for term in terms[t] for p in str(term).split(":") if p in latent and p != t} for t in latent}
    order: list[str] = []
    while len(order) < len(latent):
        ready = [t for t in latent if t not in order and needs[t] <= set(order)]
        if not ready:
            cycle = sorted(t for t in latent if t not in order)
            raise PipelineError(f"params.yaml: simulate.latent equations of {cycle} depend on each other in a cycle")
        order.append(ready[0])
    return order


def simulate_residents(
    communities: pd.DataFrame, cfg: Simulate, instrument: Instrument, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Clean resident data (before problems and missingness), latent traits, and the truth.
    The draws come from ``rng`` in a fixed order: sizes, background, latent traits, items,
    governance behaviour."""
    lo, hi = cfg.respondents_per_community
    sizes = rng.integers(lo, hi + 1, size=len(communities))
    ci = np.repeat(np.arange(len(communities)), sizes)
    n = len(ci)
    comm = communities.iloc[ci].reset_index(drop=True)
    survey_year = int(instrument.study.get("survey_year", 2025))
    bg = _background(comm, cfg, survey_year, rng)
    frame = _predictor_frame(comm, bg)
    latent, truth_latent = _latent_traits(cfg, frame, ci, len(communities), rng)
    items, truth_items, thresholds = _scale_items(cfg, instrument, latent, bg["ethnicity"], rng)
    behaviour = _governance_items(frame, latent, rng)
    attention = instrument.attention_check or {}

    data = {
        "resp_id": None,  # assigned below
        "comm_id": comm["comm_id"].to_numpy(),
        "gender": np.where(bg["female"] == 1, 2.0, 1.0),
        "birth_year": bg["birth_year"].astype(float),
        "age": bg["age"].astype(float),
        "ethnicity": bg["ethnicity"].astype(float),
        "education": bg["education"],
        "hukou": bg["hukou"].astype(float),
        "years_in_comm": bg["years"],
        "income": bg["income"],
        "political": bg["political"].astype(float),
        "resettled": bg["resettled"].astype(float),
        "occupation": bg["occupation"].astype(float),
        "prior_part": bg["prior_part"].astype(float),
        "hh_size_text": np.array([str(h) for h in bg["hh_size"]], dtype=object),
        **behaviour,
        **items,
    }
    if attention:
        data[attention["variable"]] = np.full(n, float(attention["correct"]))
    df = pd.DataFrame({k: v for k, v in data.items() if v is not None})
    df.insert(0, "resp_id", [f"R{i + 1:06d}" for i in range(n)])
    lat = pd.DataFrame({"resp_id": df["resp_id"], "comm_id": df["comm_id"], **latent})
    ni = cfg.noninvariance
    truth = {"latent": truth_latent, "items": truth_items, "thresholds": thresholds.tolist(),
             "noninvariance": ni.given() if ni is not None else {}, "hh_size": bg["hh_size"]}
    return df, lat, truth


def _background(comm: pd.DataFrame, cfg: Simulate, survey_year: int, rng: np.random.Generator
                ) -> dict[str, np.ndarray]:
    """The residents' background variables (one row of ``comm`` per resident: its community),
    ethnicity drawn from the community's minority share."""
    n = len(comm)
    share = comm["minority_share"].to_numpy()
    u = rng.random(n)
    city_other = np.array([cfg.cities[c].other for c in comm["city"]])
    city_min = np.array([cfg.cities[c].hui + cfg.cities[c].other for c in comm["city"]])
    p_other = share * city_other / city_min
    ethnicity = np.where(u < share - p_other, 2, np.where(u < share, 3, 1))
    female = (rng.random(n) < 0.52).astype(int)
    age = np.clip(np.round(18 + rng.gamma(4.0, 7.0, size=n)), 18, 88).astype(int)
    birthday_passed = rng.random(n) < 0.5
    birth_year = survey_year - age - (~birthday_passed).astype(int)
    edu_latent = 0.9 - 0.03 * (age - 45) + rng.normal(0, 1, n)
    education = np.clip(np.round(3.6 + 1.1 * edu_latent), 1, 7)
    resettled = (rng.random(n) < np.where(comm["comm_type"].to_numpy() == 1, 0.55, 0.06)).astype(int)
    hukou = np.where(rng.random(n) < 0.8, 1, 2)
    years = np.clip(np.round(rng.gamma(2.0, 4.0, size=n)), 0, age - 16)
    income = np.clip(np.round(2.6 + 0.5 * (education - 3.6) + rng.normal(0, 1.1, n)), 1, 6)
    p_party = np.clip(0.05 + 0.04 * (education - 3), 0.02, 0.4)
    pol_u = rng.random(n)
    political = np.where(pol_u < p_party, 1, np.where((pol_u < p_party + 0.12) & (age < 35), 2, 3))
    occupation = np.where(age >= 60, np.where(rng.random(n) < 0.8, 7, 8), rng.integers(1, 9, size=n))
    occupation = np.where((age < 60) & (occupation == 7), 6, occupation)
    prior_part = (rng.random(n) < 0.30 + 0.10 * (political == 1)).astype(int)
    hh_size = 1 + rng.poisson(2.2, size=n)
    return {"ethnicity": ethnicity, "female": female, "age": age, "birth_year": birth_year,
            "education": education, "resettled": resettled, "hukou": hukou, "years": years,
            "income": income, "political": political, "occupation": occupation,
            "prior_part": prior_part, "hh_size": hh_size}


def _predictor_frame(comm: pd.DataFrame, bg: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The variables the latent equations may name (``simulate.latent`` terms): community
    variables and the residents' background, standardised or as 0/1 indicators."""
    return {
        "gov_model": comm["gov_model"].to_numpy(float),
        "points_scheme": comm["points_scheme"].to_numpy(float),
        "interspersed": (comm["comm_type"].to_numpy() == 1).astype(float),
        "minority_share": comm["minority_share"].to_numpy(),
        "n_orgs_z": _zscore(comm["n_social_orgs"].to_numpy(float), 2.7, 1.8),
        "hui": (bg["ethnicity"] == 2).astype(float),
        "other_eth": (bg["ethnicity"] == 3).astype(float),
        "female": bg["female"].astype(float),
        "age_z": _zscore(bg["age"].astype(float), 45.0, 15.0),
        "education_z": _zscore(bg["education"], 3.6, 1.3),
        "years_z": _zscore(bg["years"], 8.0, 6.0),
        "income_z": _zscore(bg["income"], 2.6, 1.2),
        "party_member": (bg["political"] == 1).astype(float),
        "resettled": bg["resettled"].astype(float),
        "prior_part": bg["prior_part"].astype(float),
        "prior_nonpart": 1.0 - bg["prior_part"],
    }


def _latent_traits(cfg: Simulate, frame: dict[str, np.ndarray], ci: np.ndarray, n_communities: int,
                   rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The latent traits by their structural equations (in :func:`trait_order`), each with a
    community random intercept for its residual ICC; each trait is added to ``frame`` for the
    equations after it. Returns the traits (with their community and residual parts) and their truth."""
    n = len(ci)
    latent = {}
    truth_latent = {}
    for trait in trait_order(cfg.latent):
        spec = cfg.latent[trait]
        sd, icc = spec.residual_sd, spec.icc
        tau = sd * np.sqrt(icc / (1.0 - icc)) if icc > 0 else 0.0
        u_c = rng.normal(0.0, tau, size=n_communities)
        resid = rng.normal(0.0, sd, n)
        eta = evaluate_terms(spec.terms, frame, n) + u_c[ci] + resid
        latent[trait] = eta
        latent[f"{trait}__u"] = u_c[ci]
        latent[f"{trait}__e"] = resid
        frame[trait] = eta
        truth_latent[trait] = {
            "terms": {str(k): float(v) for k, v in spec.terms.items()},
            "residual_sd": sd,
            "community_sd": float(tau),
            "icc": icc,
        }
    return latent, truth_latent


def _scale_items(cfg: Simulate, instrument: Instrument, latent: dict[str, np.ndarray], ethnicity: np.ndarray,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, Any], np.ndarray]:
    """The items of every instrument scale (``y* = intercept + loading * trait + N(0, 1)`` cut
    at the thresholds, reverse-keyed items loading negatively, the planted non-invariance
    shift); returns the items, their truth and the thresholds."""
    n = len(ethnicity)
    icfg = cfg.items
    thresholds = np.asarray(icfg.thresholds, dtype=float)
    ni = cfg.noninvariance
    items: dict[str, np.ndarray] = {}
    truth_items = {}
    group_var = instrument.role("group")
    groups = {"ethnicity": ethnicity}
    for scale in instrument.scales.values():
        if scale.name not in latent:
            raise PipelineError(
                f"params.yaml: simulate.latent has no trait for the instrument's scale '{scale.name}'",
                hint="add an equation for it",
            )
        eta = latent[scale.name]
        for item in scale.items:
            own = icfg.by_item.get(item)
            loading = own.loading if own is not None and own.loading is not None else icfg.default.loading
            intercept = own.intercept if own is not None and own.intercept is not None else icfg.default.intercept
            loading = loading * (-1.0 if item in scale.reverse else 1.0)
            ystar = intercept + loading * eta + rng.normal(0.0, 1.0, n)
            if ni is not None and ni.item == item and ni.shift != 0.0:
                ystar = ystar + ni.shift * (groups[group_var] == ni.group_value)
            items[item] = _ordinal(ystar, thresholds)
            truth_items[item] = {"scale": scale.name, "loading": loading, "intercept": intercept}
    return items, truth_items, thresholds


def _governance_items(frame: dict[str, np.ndarray], latent: dict[str, np.ndarray], rng: np.random.Generator
                      ) -> dict[str, np.ndarray]:
    """The governance behaviour items D1, D4, D5, D6 with their routing (-1: skipped)."""
    n = len(frame["gov_model"])
    p_knows = 1 / (1 + np.exp(-(-0.6 + 1.2 * frame["gov_model"] + 0.5 * latent["participation"])))
    knows = (rng.random(n) < p_knows).astype(float)
    p_raised = 1 / (1 + np.exp(-(-1.0 + 0.6 * latent["participation"])))
    raised = (rng.random(n) < p_raised).astype(float)
    resp_u = rng.random(n) + 0.15 * frame["gov_model"]
    response = np.where(raised == 1, np.where(resp_u < 0.25, 1.0, np.where(resp_u < 0.55, 2.0, 3.0)), -1.0)
    p_enrol = 1 / (1 + np.exp(-(-0.4 + 0.8 * latent["participation"])))
    enrolled = np.where(frame["points_scheme"] == 1, (rng.random(n) < p_enrol).astype(float), -1.0)
    return {"D1": knows, "D4": raised, "D5": response, "D6": enrolled}


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------
def design_weights(df: pd.DataFrame, communities: pd.DataFrame, cfg: Simulate) -> np.ndarray:
    """PPS community draw x simple random draw of adults, post-stratified to city x ethnicity."""
    comm = communities.set_index("comm_id")
    per_city = communities.groupby("city").size()
    city_hh = {c: v.population / cfg.persons_per_household for c, v in cfg.cities.items()}
    c_of = df["comm_id"].map(comm["city"])
    hh = df["comm_id"].map(comm["n_households"]).to_numpy(float)
    pi_c = np.minimum(1.0, per_city.reindex(c_of).to_numpy() * hh / c_of.map(city_hh).to_numpy(float))
    n_c = df.groupby("comm_id")["comm_id"].transform("size").to_numpy(float)
    adults = hh * (cfg.persons_per_household - 0.8)
    w = 1.0 / (pi_c * n_c / adults)
    eth_key = {1: None, 2: "hui", 3: "other"}
    pop = []
    for city, eth in zip(c_of, df["ethnicity"].astype(int)):
        spec = cfg.cities[city]
        share = 1.0 - spec.hui - spec.other if eth_key[eth] is None else getattr(spec, eth_key[eth])
        pop.append(spec.population * share)
    cell = c_of.astype(str) + "|" + df["ethnicity"].astype(int).astype(str)
    total_w = pd.Series(w).groupby(cell.to_numpy()).transform("sum").to_numpy()
    return w * np.asarray(pop) / total_w


# --------------------------------------------------------------------------------------------
# problems
# --------------------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, candidates: np.ndarray, rate: float, n_total: int) -> np.ndarray:
    k = min(len(candidates), int(round(rate * n_total)))
    return np.sort(rng.choice(candidates, size=k, replace=False)) if k else np.array([], dtype=int)


def plant_problems(
    df: pd.DataFrame, cfg: Simulate, instrument: Instrument, rng: np.random.Generator,
    fieldwork: tuple[pd.Timestamp, int], hh_size: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Add paradata and plant the data problems; returns (survey, problems truth, out-of-range truth).
    The draws come from ``rng`` in a fixed order: paradata, speeders, straight-liners, failed
    attention checks, age rule, item nonresponse, out-of-range codes, full-width digits, duplicates.
    The helpers below change this function's own copy of ``df`` in place."""
    df = _add_paradata(df.copy(), cfg, rng, fieldwork)
    records, liners = _plant_response_problems(df, cfg, instrument, rng)
    _plant_nonresponse(df, cfg, instrument, rng, liners)
    oor_rows = _plant_out_of_range(df, cfg, instrument, rng)
    _plant_fullwidth(df, cfg, rng, hh_size)
    df = _add_duplicates(df, cfg, instrument, rng)
    problems = _problem_truth(df, records, instrument)
    serial_of = df.loc[~df["_dup"]].set_index("resp_id")["serial"]
    oor_df = pd.DataFrame(oor_rows, columns=["resp_id", "variable", "code"])
    oor_df.insert(0, "serial", oor_df["resp_id"].map(serial_of).astype(int))
    oor_df = oor_df.sort_values(["serial", "variable"]).reset_index(drop=True)
    df = df.drop(columns=["_dup"])
    return df, problems, oor_df


def _add_paradata(df: pd.DataFrame, cfg: Simulate, rng: np.random.Generator,
                  fieldwork: tuple[pd.Timestamp, int]) -> pd.DataFrame:
    """Submission time (each community within one week of the fieldwork period), duration and
    interviewer (one of its city's interviewers per community) added to ``df``; returns it
    without the ``city`` column."""
    n = len(df)
    start, days = fieldwork
    comm_codes, comm_index = np.unique(df["comm_id"], return_inverse=True)
    comm_day = rng.integers(0, max(1, days - 7), size=len(comm_codes))
    day = comm_day[comm_index] + rng.integers(0, 7, size=n)
    secs = rng.integers(8 * 3600, 20 * 3600, size=n)
    df["submit_time"] = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(secs, unit="s")
    median = float(cfg.duration_median_sec)
    df["duration_sec"] = np.round(median * np.exp(rng.normal(0, cfg.duration_sigma, n)))
    # each community is interviewed by one of its city's interviewers
    k_int = cfg.n_interviewers_per_city
    cities = list(cfg.cities)
    city_idx = df["city"].map({c: i for i, c in enumerate(cities)}).to_numpy()
    df["interviewer_id"] = (city_idx * k_int + rng.integers(0, k_int, size=len(comm_codes))[comm_index] + 1).astype(float)
    return df.drop(columns=["city"])


def _plant_response_problems(df: pd.DataFrame, cfg: Simulate, instrument: Instrument, rng: np.random.Generator
                             ) -> tuple[list[tuple[str, str, str, str]], np.ndarray]:
    """Speeders, straight-liners, failed attention checks and age-rule violations, each drawn
    among the respondents without an earlier one, planted in ``df`` in place. Returns the
    records (resp_id, problem, kind, detail) and the straight-liners' rows."""
    n = len(df)
    pcfg = cfg.problems
    survey_year = int(instrument.study.get("survey_year", 2025))
    attention = instrument.attention_check or {}
    grid = list(instrument.straightlining_grid)
    scale_items = instrument.scale_items
    median = float(cfg.duration_median_sec)
    records: list[tuple[str, str, str, str]] = []  # resp_id, problem, kind, detail
    resp_id = df["resp_id"].to_numpy(dtype=object)   # per row: no pandas lookup per record

    pool = np.arange(n)
    # speeders: very short duration and random answers
    speeders = _pick(rng, pool, pcfg.speeder, n)
    lo, hi = pcfg.speeder_fraction
    df.loc[speeders, "duration_sec"] = np.round(median * rng.uniform(lo, hi, size=len(speeders)))
    for item in scale_items + ([attention["variable"]] if attention else []):
        codes = instrument.variables[item].valid_codes
        df.loc[speeders, item] = rng.choice(codes, size=len(speeders)).astype(float)
    records += [(resp_id[i], "speeder", "planted", "") for i in speeders]

    rest = np.setdiff1d(pool, speeders)
    # straight-liners: one value over the whole grid (and the attention check)
    liners = _pick(rng, rest, pcfg.straightline, n)
    value = rng.integers(1, 6, size=len(liners)).astype(float)
    for item in grid + ([attention["variable"]] if attention else []):
        df.loc[liners, item] = value
    records += [(resp_id[i], "straightline", "planted", "") for i in liners]
    rest = np.setdiff1d(rest, liners)

    # failed attention checks
    if attention:
        failers = _pick(rng, rest, pcfg.attention, n)
        wrong = [c for c in instrument.variables[attention["variable"]].valid_codes if c != attention["correct"]]
        df.loc[failers, attention["variable"]] = rng.choice(wrong, size=len(failers)).astype(float)
        rest = np.setdiff1d(rest, failers)

    # age rule: birth year inconsistent with the stated age, or under 18
    agers = _pick(rng, rest, pcfg.age_rule, n)
    half = len(agers) // 2
    shift = rng.integers(5, 21, size=half) * rng.choice([-1, 1], size=half)
    df.loc[agers[:half], "birth_year"] = df.loc[agers[:half], "birth_year"] + shift
    young = rng.integers(14, 18, size=len(agers) - half).astype(float)
    df.loc[agers[half:], "age"] = young
    df.loc[agers[half:], "birth_year"] = survey_year - young
    records += [(resp_id[i], "age_rule", "planted", "") for i in agers]
    return records, liners


def _plant_nonresponse(df: pd.DataFrame, cfg: Simulate, instrument: Instrument, rng: np.random.Generator,
                       liners: np.ndarray) -> None:
    """Item nonresponse (MAR on age and education; 98 don't know, 99 refused) in ``df`` in
    place, not for the attention check, routed items or the straight-liners' grid."""
    n = len(df)
    grid = list(instrument.straightlining_grid)
    scale_items = instrument.scale_items
    nr = cfg.item_nonresponse
    age_z = (df["age"].to_numpy(float) - 45.0) / 15.0
    low_edu = (df["education"].to_numpy(float) <= 2).astype(float)
    lin = nr.base + nr.age * age_z + nr.low_edu * low_edu
    for item in scale_items + ["income"]:
        p = 1 / (1 + np.exp(-(lin + (nr.income_extra if item == "income" else 0.0))))
        hit = rng.random(n) < p
        if item in grid:
            hit[liners] = False
        refused = rng.random(n) < nr.refused_share
        codes = np.where(refused, 99.0, 98.0)
        df.loc[hit, item] = codes[hit]


def _plant_out_of_range(df: pd.DataFrame, cfg: Simulate, instrument: Instrument, rng: np.random.Generator
                        ) -> list[tuple[str, str, float]]:
    """Out-of-range codes on one scale item of some respondents, in ``df`` in place; returns
    (resp_id, item, code) for each."""
    n = len(df)
    scale_items = instrument.scale_items
    pool = np.arange(n)
    oor = _pick(rng, pool, cfg.problems.out_of_range, n)
    oor_rows = []
    for i in oor:
        item = scale_items[int(rng.integers(len(scale_items)))]
        code = float(rng.choice([0, 6, 7, 9]))
        df.at[i, item] = code
        oor_rows.append((df.at[i, "resp_id"], item, code))
    return oor_rows


def _plant_fullwidth(df: pd.DataFrame, cfg: Simulate, rng: np.random.Generator, hh_size: np.ndarray) -> None:
    """Full-width digits and padding in the free-text household size, in ``df`` in place."""
    n = len(df)
    pool = np.arange(n)
    fw = _pick(rng, pool, cfg.problems.fullwidth, n)
    styles = rng.integers(0, 3, size=len(fw))
    # the new texts into a copy of the column, which goes back whole: a cell set at a time
    # copies an Arrow-backed column each time (quadratic: 39 s for a million respondents)
    column = df["hh_size_text"]
    values = column.to_numpy(dtype=object).copy()
    for i, style in zip(fw, styles):
        text = str(int(hh_size[i])).translate(FULLWIDTH)
        values[i] = [text, f" {text}人 ", f"{text}口人"][style]
    normal = np.setdiff1d(pool, fw)
    pad = normal[rng.random(len(normal)) < 0.05]
    for i in pad:
        values[i] = f"{int(hh_size[i])}人"
    df["hh_size_text"] = pd.Series(values, index=column.index, dtype=column.dtype, name=column.name)


def _add_duplicates(df: pd.DataFrame, cfg: Simulate, instrument: Instrument, rng: np.random.Generator
                    ) -> pd.DataFrame:
    """``df`` with duplicate submissions (a later, slightly edited copy of an earlier
    respondent, marked ``_dup``), in submission order and numbered by ``serial``."""
    n = len(df)
    grid = list(instrument.straightlining_grid)
    scale_items = instrument.scale_items
    median = float(cfg.duration_median_sec)
    pool = np.arange(n)
    dups = _pick(rng, pool, cfg.problems.duplicate, n)
    copies = df.loc[dups].copy()
    copies["submit_time"] = copies["submit_time"] + pd.to_timedelta(rng.integers(600, 3 * 86400, size=len(dups)), unit="s")
    copies["duration_sec"] = np.round(median * np.exp(rng.normal(0, cfg.duration_sigma, len(dups))))
    for j, idx in enumerate(copies.index):
        item = scale_items[int(rng.integers(len(scale_items)))]
        if item not in grid and copies.at[idx, item] in (1.0, 2.0, 3.0, 4.0, 5.0):
            copies.at[idx, item] = float(rng.integers(1, 6))
    copies["_dup"] = True
    df["_dup"] = False
    df = pd.concat([df, copies], ignore_index=True)
    df = df.sort_values(["submit_time", "resp_id", "_dup"], kind="stable").reset_index(drop=True)
    df.insert(0, "serial", np.arange(1, len(df) + 1, dtype=float))
    return df


def _problem_truth(df: pd.DataFrame, records: list[tuple[str, str, str, str]], instrument: Instrument
                   ) -> pd.DataFrame:
    """The problems truth per submission (serial): planted problems carry over from respondent
    to its rows, except that a duplicate copy has a normal duration (so it is not a speeder);
    failed attention checks and constant grids not planted as such are incidental."""
    attention = instrument.attention_check or {}
    grid = list(instrument.straightlining_grid)
    by_resp: dict[str, list[tuple[str, str]]] = {}
    for rid, problem, kind, detail in records:
        by_resp.setdefault(rid, []).append((problem, kind))
    rows = []
    for serial, rid, dup in zip(df["serial"], df["resp_id"], df["_dup"]):
        if dup:
            rows.append((int(serial), rid, "duplicate", "planted"))
        for problem, kind in by_resp.get(rid, []):
            if dup and problem == "speeder":
                continue
            rows.append((int(serial), rid, problem, kind if not dup else "incidental"))
    if attention:
        failed = df[attention["variable"]] != float(attention["correct"])
        for serial, rid in zip(df.loc[failed, "serial"], df.loc[failed, "resp_id"]):
            planted = rid not in by_resp or all(p[0] != "speeder" and p[0] != "straightline" for p in by_resp[rid])
            rows.append((int(serial), rid, "attention", "planted" if planted else "incidental"))
    grid_values = df[grid].to_numpy(float)
    answered = np.isin(grid_values, [1, 2, 3, 4, 5])
    constant = answered.all(axis=1) & (np.nanmax(grid_values, axis=1) == np.nanmin(grid_values, axis=1))
    liner_ids = {r[0] for r in records if r[1] == "straightline"}
    for serial, rid in zip(df.loc[constant, "serial"], df.loc[constant, "resp_id"]):
        if rid not in liner_ids:
            rows.append((int(serial), rid, "straightline", "incidental"))
    return (
        pd.DataFrame(rows, columns=["serial", "resp_id", "problem", "kind"])
        .drop_duplicates(["serial", "problem"])
        .sort_values(["serial", "problem"])
        .reset_index(drop=True)
    )


def simulate_survey(cfg: Simulate | dict[str, Any], instrument: Instrument, rng: np.random.Generator) -> SurveyStudy:
    """The whole survey part of the demo study, in memory. ``cfg``: ``params.yaml: simulate``,
    typed or as the mapping read from the file."""
    cfg = parse(Simulate, cfg, "simulate")
    communities = simulate_communities(cfg, rng)
    clean, latent, truth = simulate_residents(communities, cfg, instrument, rng)
    hh_size = truth.pop("hh_size")
    clean["design_weight"] = np.round(design_weights(clean, communities, cfg), 4)
    clean["city"] = clean["comm_id"].map(communities.set_index("comm_id")["city"])
    fieldwork = (pd.Timestamp(cfg.fieldwork_start), cfg.fieldwork_days)
    survey, problems, oor = plant_problems(clean, cfg, instrument, rng, fieldwork, hh_size)
    order = [v for v in instrument.variables if v in survey.columns]
    extra = [c for c in survey.columns if c not in order]
    if extra:
        raise PipelineError(f"simulate: generated columns {extra} are not in the instrument")
    survey = survey[order]
    latent = latent.merge(survey[["serial", "resp_id"]].drop_duplicates("resp_id"), on="resp_id")
    truth = {
        **truth,
        "n_communities": int(len(communities)),
        "n_respondents": int(len(clean)),
        "n_submissions": int(len(survey)),
        "indirect_gov_part_identity": float(
            cfg.latent["participation"].terms.get("gov_model", 0.0)
            * cfg.latent["identity"].terms.get("participation", 0.0)
        ),
        "out_of_range": oor.to_dict(orient="records"),
    }
    return SurveyStudy(communities=communities, survey=survey, latent=latent, problems=problems, truth=truth)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
SAV_DATE = b"01 Jan 25"
SAV_TIME = b"00:00:00"


def write_sav(df: pd.DataFrame, instrument: Instrument, path: Path, lang: str = "zh") -> None:
    """Write an SPSS file with labels, value labels and the missing codes declared user-missing.

    The SPSS header carries the creation date and time; they are set to a fixed value so the
    same data give the same bytes.
    """
    labels = {}
    value_labels = {}
    missing = {}
    measure = {}
    miss_labels = {float(c): spec.get(lang, spec["reason"]) for c, spec in instrument.missing_codes.items()}
    for name in df.columns:
        var = instrument.variables[name]
        labels[name] = var.label_in(lang)
        if var.type in ("categorical", "ordinal", "numeric"):
            if var.values:
                value_labels[name] = {**{float(c): t for c, t in var.value_labels(lang).items()}, **miss_labels}
            missing[name] = [float(c) for c in instrument.missing_code_values][:3]
            measure[name] = {"categorical": "nominal", "ordinal": "ordinal", "numeric": "scale"}[var.type]
    with atomic_path(path) as tmp:
        pyreadstat.write_sav(
            df, tmp, column_labels=labels, variable_value_labels=value_labels,
            missing_ranges=missing, variable_measure=measure,
            file_label=str(instrument.study.get("id", ""))[:64],
        )
        data = bytearray(tmp.read_bytes())
        if data[:4] != b"$FL2":
            raise PipelineError(f"{path}: pyreadstat wrote an unexpected header")
        data[92:101] = SAV_DATE
        data[101:109] = SAV_TIME
        tmp.write_bytes(bytes(data))


def write_study(study: SurveyStudy, corpus: Any, raw: Path, instrument: Instrument, seed: int) -> None:
    """Write raw/ (survey, communities, transcripts) and raw/truth/."""
    from pipeline.demo.simulate_transcripts import write_corpus

    raw.mkdir(parents=True, exist_ok=True)
    write_csv(raw / "communities.csv", study.communities)
    write_sav(study.survey, instrument, raw / "survey.sav")
    with atomic_dir(raw / "truth") as truth_dir, atomic_dir(raw / "transcripts") as tr_dir:
        write_json(truth_dir / "survey_truth.json", {"seed": seed, **study.truth})
        write_csv(truth_dir / "survey_problems.csv", study.problems)
        latent = study.latent.copy()
        for col in latent.columns:
            if latent[col].dtype.kind == "f":
                latent[col] = latent[col].round(6)
        write_csv(truth_dir / "survey_latent.csv", latent)
        write_corpus(corpus, tr_dir, truth_dir)


def refuse_foreign_raw(raw: Path, instrument: Instrument) -> None:
    """Stop before anything is simulated if ``raw`` holds a file this generator did not write: a
    team's survey (an SPSS file without the demo study's file label), community file (other
    columns) or texts (names the generator never gives). The generator writes ``raw/`` of the demo
    study only; a team's raw data is never overwritten or deleted."""
    from pipeline.demo.simulate_transcripts import FILE_RE

    label = str(instrument.study.get("id", ""))[:64]
    sav = raw / "survey.sav"
    if sav.exists():
        try:
            own = pyreadstat.read_sav(str(sav), metadataonly=True)[1].file_label == label
        except Exception:  # noqa: BLE001 - unreadable: not the generator's file either
            own = False
        if not own:
            raise PipelineError(f"{sav}: not the demo study's survey (its SPSS file label is not '{label}'): "
                                "simulate never overwrites a team's data",
                                hint="run your own study's pipeline (python -m pipeline init), or move the file out of raw/")
    comm = raw / "communities.csv"
    if comm.exists():
        header = comm.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].strip().split(",")
        if header[:1] != [instrument.community_id or instrument.role("community")]:
            raise PipelineError(f"{comm}: not the demo study's community file: simulate never overwrites a team's data",
                                hint="run your own study's pipeline (python -m pipeline init), or move the file out of raw/")
    texts = raw / "transcripts"
    foreign = sorted(f.name for f in texts.iterdir() if not FILE_RE.match(f.name)) if texts.is_dir() else []
    if foreign:
        raise PipelineError(f"{texts}: {len(foreign)} file(s) the demo generator did not write (e.g. {foreign[0]}): "
                            "simulate never deletes a team's texts",
                            hint="run your own study's pipeline (python -m pipeline init), or move them out of raw/")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pipeline simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(config.PARAMS))
    parser.add_argument("--raw", default=str(config.RAW))
    args = parser.parse_args(argv)
    params = config.load_settings(args.params)
    seed = params.seed
    cfg = simulate_settings(params, args.params)
    instrument = load_instrument(params.instrument)
    refuse_foreign_raw(Path(args.raw), instrument)
    study = simulate_survey(cfg, instrument, np.random.default_rng([seed, STREAM_SURVEY]))

    from pipeline.demo.simulate_transcripts import simulate_transcripts
    from pipeline.demo.transcript_bank import load_bank

    bank = load_bank(Path(cfg.transcripts.bank))
    corpus = simulate_transcripts(study.communities, cfg.transcripts.given(),
                                  np.random.default_rng([seed, STREAM_TRANSCRIPTS]), bank)
    write_study(study, corpus, Path(args.raw), instrument, seed)
    summary = {"communities": len(study.communities), "submissions": len(study.survey)}
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
