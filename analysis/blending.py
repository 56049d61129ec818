"""Blended estimates: catalogue desk assessment + survey evidence + workshop consensus.

The model (full write-up with formulas in ``docs/method.md``):

* Ordinal quantities (time to deployment, the three impact levels, adoption stage) use a
  Dirichlet–multinomial update. For technology *t* and category *k*::

      alpha_k = background_alpha
              + prior_strength  * [catalogue desk value == k]
              + sum over survey answers == k of (user_weight or aware_weight)
              + site_weight     * #sites whose current adoption status == k   (adoption stage only)
              + workshop_weight * #standing consensus-in workshop results == k

  The posterior mean ``p_k = alpha_k / sum(alpha)`` is also the posterior predictive probability
  that the next piece of evidence (or the realised outcome) falls in category *k*. The point
  estimate is the median category of ``p``; the 90% interval is the mid-p central interval:
  the categories whose mid-point lies inside the central 90% of ``p`` spread uniformly over
  unit-wide category bins (always widened to contain the point).
* ``minutes_per_case`` (signed: + saved, - added) is the median of the survey values with a
  bootstrap percentile interval of the median (an exact order-statistic bootstrap, see
  :func:`bootstrap_median_intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis import schemas as s
from analysis.disclosure import (
    DEFAULT_THRESHOLD,
    SINGLES_OUT,
    TOO_FEW,
    RespondentFilter,
    as_of_cutoffs,
    differencing_guard,
    distinct_pairs,
    in_respondent_view,
)

# Survey variables read by the engine, in a fixed order (their position is their code).
_ORDINAL_VARIABLES: tuple[str, ...] = tuple(s.SURVEY_VARIABLE[q] for q in s.ORDINAL_QUANTITIES)
_ENGINE_VARIABLES: tuple[str, ...] = _ORDINAL_VARIABLES + (
    s.VAR_USE_FREQUENCY,
    s.VAR_TIME_EFFECT,
    s.VAR_MINUTES,
)
_FREQUENCY_VAR = _ENGINE_VARIABLES.index(s.VAR_USE_FREQUENCY)
_EFFECT_VAR = _ENGINE_VARIABLES.index(s.VAR_TIME_EFFECT)
_MINUTES_VAR = _ENGINE_VARIABLES.index(s.VAR_MINUTES)

# Category-position markers in the survey evidence frame.
DISCONTINUED = -1
IGNORED_DONT_KNOW = -2
_INVALID = -9

PROBABILITY_CODES: tuple[str, ...] = tuple(
    dict.fromkeys(code for q in s.ORDINAL_QUANTITIES for code in s.QUANTITY_CATEGORIES[q])
)
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{code}" for code in PROBABILITY_CODES)

ESTIMATE_COLUMNS: tuple[str, ...] = (
    "technology_id",
    "quantity",
    "point",
    "point_index",
    "lower",
    "upper",
    "lower_index",
    "upper_index",
    "latent_point",
    "latent_lower",
    "latent_upper",
    *PROBABILITY_COLUMNS,
    "discontinued_share",
    "n_catalogue",
    "n_survey",
    "survey_withheld",
    "survey_note",
    "n_workshop",
    "effective_n",
    "agreement",
    "newest_evidence",
    "strength",
    "primary_workforce_group",
)


class BlendSettings(BaseModel):
    """Weights of the blending model. Defaults and their reasons are in ``docs/method.md``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prior_strength: float = Field(
        3.0, ge=0, description="Pseudo-responses the catalogue desk assessment is worth: enough to "
        "anchor a technology with no survey evidence, outweighed by a handful of users.")
    user_weight: float = Field(1.0, ge=0, description="Weight of an answer from a respondent who uses the technology.")
    aware_weight: float = Field(
        0.4, ge=0, description="Weight of an answer from a respondent who knows of it but does not use it "
        "(tech_use_frequency = not_used) or did not say how often they use it.")
    site_weight: float = Field(
        1.0, ge=0, description="Weight of one site's current adoption status (adoption stage only).")
    workshop_weight: float = Field(
        10.0, ge=0, description="Responses a workshop consensus result counts as, placed on its band: "
        "a consensus panel typically has 8-15 participants who deliberated.")
    background_alpha: float = Field(
        0.5, gt=0, description="Symmetric concentration added to every category (Jeffreys-like) so "
        "categories with no evidence keep some mass.")
    interval: float = Field(0.90, gt=0, lt=1, description="Coverage of the reported intervals.")
    bootstrap_samples: int = Field(1000, ge=100, le=100_000, description="Bootstrap draws for numeric intervals.")
    seed: int = Field(20240501, ge=0, description="Seed of the bootstrap generator (estimates are deterministic).")
    moderate_from: float = Field(5.0, gt=0, description="effective_n at which evidence is 'moderate'.")
    strong_from: float = Field(20.0, gt=0, description="effective_n at which evidence is 'strong'.")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> "BlendSettings":
        if self.strong_from <= self.moderate_from:
            raise ValueError(
                f"strong_from ({self.strong_from}) must be greater than moderate_from ({self.moderate_from})"
            )
        return self


# Numeric estimates with fewer values than this get a point but no interval.
MIN_VALUES_FOR_INTERVAL = 3


# ---------------------------------------------------------------------------------------------
# Input preparation shared by estimate_all and evidence_for
# ---------------------------------------------------------------------------------------------


def category_positions(values: pd.Series | np.ndarray, categories: tuple[str, ...], dtype: type = np.int64) -> np.ndarray:
    """Position of each value in ``categories`` (-1 for anything else, including NA), vectorised,
    as ``dtype``.

    Factorises first, so the string comparison runs once per distinct value (fast for the
    repetitive code columns of the answers frame, whatever their string storage).
    """
    codes, uniques = factorised(values)
    return _lookup(codes, uniques, categories, dtype)


def factorised(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for NA) and the distinct values they index; free for categoricals."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), np.asarray(values.cat.categories, dtype=object)
    codes, uniques = pd.factorize(values)
    return codes, np.asarray(uniques, dtype=object)


def _lookup(codes: np.ndarray, uniques: np.ndarray, categories: tuple[str, ...], dtype: type = np.int64) -> np.ndarray:
    positions = np.append(pd.Index(list(categories), dtype=object).get_indexer(uniques), -1).astype(dtype)
    return positions[codes]  # code -1 (NA) picks the appended -1


def _technology_positions(ids: np.ndarray, technology_ids: np.ndarray, frame_name: str,
                          labels: pd.Index | _KeptLabels) -> np.ndarray:
    """Position of each id in the sorted ``technology_ids`` (int32); unknown ids are an input error."""
    if len(technology_ids) and 0 <= technology_ids[0] and technology_ids[-1] <= 4 * len(technology_ids) + 100_000:
        # Compact ids (the usual database case): a direct lookup table beats a binary search.
        table = np.full(int(technology_ids[-1]) + 2, -1, dtype=np.int32)
        table[technology_ids] = np.arange(len(technology_ids))
        if len(ids) == 0 or ids.min() >= 0:  # no clipped copy of millions of ids
            positions = table.take(ids, mode="clip")  # too-large ids hit the last (-1) slot
        else:
            positions = table[np.clip(ids, -1, len(table) - 1)]  # -1 and too-large ids hit a -1 slot
        unknown = positions < 0
        np.maximum(positions, 0, out=positions)
    else:
        positions = np.searchsorted(technology_ids, ids)
        positions = np.clip(positions, 0, max(len(technology_ids) - 1, 0))
        unknown = (technology_ids[positions] != ids) if len(technology_ids) else np.ones(len(ids), bool)
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise s.FrameValidationError(
            f"{frame_name} row {labels[first]}, field 'technology_id': {int(ids[first])} "
            "is not a technology_id in technologies"
        )
    return positions.astype(np.int32, copy=False)


@dataclass(frozen=True)
class _KeptLabels:
    """The row labels of the kept rows of a frame, looked up only when an error message names one:
    at national scale an index of every kept row would cost hundreds of megabytes."""

    labels: pd.Index
    kept: np.ndarray  # bool, one per row of the frame

    def __getitem__(self, position: int) -> object:
        return self.labels[np.flatnonzero(self.kept)[position]]


@dataclass(frozen=True)
class _EngineAnswers:
    """Answers rows the engine reads (technology-specific, engine variables only), as arrays as
    narrow as their values allow (millions of rows at national scale).

    Values are factorised once: ``value_codes`` index into ``value_uniques``.
    """

    labels: _KeptLabels  # row labels in the caller's frame, for error messages
    response_id: np.ndarray  # int32 when the ids fit
    tech_pos: np.ndarray  # int32
    variable: np.ndarray  # int8, position in _ENGINE_VARIABLES
    value_codes: np.ndarray
    value_uniques: np.ndarray

    def codes_in(self, rows: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
        """Position of the values at ``rows`` in ``vocabulary`` (-1 if not in it)."""
        return _lookup(self.value_codes[rows], self.value_uniques, vocabulary)

    def values_at(self, rows: np.ndarray) -> np.ndarray:
        return np.append(self.value_uniques, None)[self.value_codes[rows]]

    def numbers_at(self, rows: np.ndarray) -> np.ndarray:
        numbers = pd.to_numeric(pd.Series(self.value_uniques, dtype=object), errors="coerce").to_numpy(dtype=float)
        return np.append(numbers, np.nan)[self.value_codes[rows]]


def _engine_answers(answers: pd.DataFrame, technology_ids: np.ndarray) -> _EngineAnswers:
    variable = category_positions(answers["variable"], _ENGINE_VARIABLES, np.int8)
    tech = answers["technology_id"]
    keep = (variable >= 0) & tech.notna().to_numpy()
    labels = _KeptLabels(answers.index, keep)
    value_codes, value_uniques = factorised(answers["value"])
    return _EngineAnswers(
        labels=labels,
        response_id=_narrow(answers["response_id"].to_numpy(dtype=np.int64))[keep],
        tech_pos=_technology_positions(tech.to_numpy(dtype=np.int64, na_value=-1)[keep], technology_ids, "answers", labels),
        variable=variable[keep],
        value_codes=value_codes[keep],
        value_uniques=value_uniques,
    )


def _raise_bad_answer(prepared: _EngineAnswers, bad: np.ndarray, rows: np.ndarray, allowed: str) -> None:
    first = int(rows[np.flatnonzero(bad)[0]])
    raise s.FrameValidationError(
        f"answers row {prepared.labels[first]}, field 'value' ({_ENGINE_VARIABLES[prepared.variable[first]]}): "
        f"{prepared.values_at(np.array([first]))[0]!r} is not one of {allowed}"
    )


def _respondent_keys(response_id: np.ndarray, tech_pos: np.ndarray, n_tech: int) -> np.ndarray:
    return response_id.astype(np.int64) * max(n_tech, 1) + tech_pos


def _answer_users(prepared: _EngineAnswers, rows: np.ndarray, n_tech: int) -> np.ndarray:
    """Whether the respondent of each answer in ``rows`` uses the technology: users
    (daily/weekly/monthly/rarely) weigh ``user_weight``; respondents who only know of it
    (not_used) or did not answer the use question weigh ``aware_weight`` (the cautious choice)."""
    freq_rows = np.flatnonzero(prepared.variable == _FREQUENCY_VAR)
    freq_code = prepared.codes_in(freq_rows, s.USE_FREQUENCIES)
    if (freq_code < 0).any():
        _raise_bad_answer(prepared, freq_code < 0, freq_rows, ", ".join(s.USE_FREQUENCIES))
    is_user_freq = np.isin(freq_code, [s.USE_FREQUENCIES.index(f) for f in s.USER_FREQUENCIES])
    found = _match_respondent_answer(prepared, freq_rows, rows, n_tech)
    return np.where(found >= 0, is_user_freq[np.maximum(found, 0)] if len(freq_rows) else False, False)


def _match_respondent_answer(prepared: _EngineAnswers, answer_rows: np.ndarray, rows: np.ndarray,
                             n_tech: int) -> np.ndarray:
    """For each of ``rows``, the position in ``answer_rows`` of the same respondent's answer about
    the same technology (-1 if none). ``answer_rows`` must hold one answer per respondent and
    technology (single-choice questions)."""
    keys = pd.Index(_respondent_keys(prepared.response_id[answer_rows], prepared.tech_pos[answer_rows], n_tech))
    if not keys.is_unique:
        duplicate = int(answer_rows[np.flatnonzero(keys.duplicated())[0]])
        raise s.FrameValidationError(
            f"answers row {prepared.labels[duplicate]}: response {prepared.response_id[duplicate]} answers "
            f"{_ENGINE_VARIABLES[prepared.variable[duplicate]]} twice for technology_id at that row"
        )
    return keys.get_indexer(_respondent_keys(prepared.response_id[rows], prepared.tech_pos[rows], n_tech))


def _ordinal_value_table() -> tuple[tuple[str, ...], np.ndarray]:
    """Vocabulary of ordinal answer values and a (quantity, value) -> category-position table."""
    vocabulary = tuple(dict.fromkeys((*PROBABILITY_CODES, "discontinued", s.DONT_KNOW)))
    table = np.full((len(s.ORDINAL_QUANTITIES), len(vocabulary) + 1), _INVALID, dtype=np.int8)
    for q, quantity in enumerate(s.ORDINAL_QUANTITIES):
        for k, code in enumerate(s.QUANTITY_CATEGORIES[quantity]):
            table[q, vocabulary.index(code)] = k
        table[q, vocabulary.index(s.DONT_KNOW)] = IGNORED_DONT_KNOW
    table[s.ORDINAL_QUANTITIES.index("adoption_stage"), vocabulary.index("discontinued")] = DISCONTINUED
    return vocabulary, table


_ANSWER_VOCABULARY, _ANSWER_CATEGORY = _ordinal_value_table()


def survey_evidence(prepared: _EngineAnswers, n_tech: int) -> dict[str, np.ndarray]:
    """Ordinal survey answers other than don't-know (every one checked) as evidence rows, column
    by column (arrays, not a frame: at national scale each copy of them is hundreds of megabytes).

    Columns: row (position in ``prepared``), response_id, tech_pos, quantity (position in
    ORDINAL_QUANTITIES), category (position in the quantity's categories, or DISCONTINUED),
    is_user (:func:`_answer_users`; the weight follows from it).
    """
    rows = np.flatnonzero(prepared.variable < len(_ORDINAL_VARIABLES))
    quantity = prepared.variable[rows]
    value_code = prepared.codes_in(rows, _ANSWER_VOCABULARY)
    category = _ANSWER_CATEGORY[quantity, value_code]  # value_code -1 -> last column (invalid)
    del value_code
    invalid = category == _INVALID
    if invalid.any():
        bad_quantity = s.ORDINAL_QUANTITIES[int(quantity[np.flatnonzero(invalid)[0]])]
        allowed = ", ".join((*s.QUANTITY_CATEGORIES[bad_quantity], s.DONT_KNOW)
                            + (("discontinued",) if bad_quantity == "adoption_stage" else ()))
        _raise_bad_answer(prepared, invalid, rows, allowed)
    answered = category != IGNORED_DONT_KNOW
    rows, quantity, category = rows[answered], quantity[answered], category[answered]
    return {
        "row": _narrow(rows),
        "response_id": prepared.response_id[rows],
        "tech_pos": prepared.tech_pos[rows],
        "quantity": quantity,
        "category": category,
        "is_user": _answer_users(prepared, rows, n_tech),
    }


def signed_minutes(prepared: _EngineAnswers, n_tech: int) -> pd.DataFrame:
    """Signed minutes per case per (response, technology): + saved, - added, 0 for no_change.

    Rules: tech_time_effect = no_change gives 0 whatever the minutes; saved/added need a minutes
    answer; dont_know, a missing effect answer (sign unknown) or a missing minutes answer with
    saved/added give no value. Columns: row (of the minutes or effect answer), response_id,
    tech_pos, minutes.
    """
    effect_rows = np.flatnonzero(prepared.variable == _EFFECT_VAR)
    effect = prepared.codes_in(effect_rows, s.TIME_EFFECTS)
    if (effect < 0).any():
        _raise_bad_answer(prepared, effect < 0, effect_rows, ", ".join(s.TIME_EFFECTS))
    minute_rows = np.flatnonzero(prepared.variable == _MINUTES_VAR)
    magnitude = prepared.numbers_at(minute_rows)
    bad = ~np.isfinite(magnitude) | (magnitude < 0)
    if bad.any():
        _raise_bad_answer(prepared, bad, minute_rows, "a non-negative number of minutes")

    effect_of_minutes = _match_respondent_answer(prepared, effect_rows, minute_rows, n_tech)
    minute_effect = np.where(effect_of_minutes >= 0, np.append(effect, -1)[effect_of_minutes], -1)
    sign = np.select(
        [minute_effect == s.TIME_EFFECTS.index("saved"), minute_effect == s.TIME_EFFECTS.index("added")],
        [1.0, -1.0],
        default=np.nan,
    )
    with_minutes = pd.DataFrame({
        "row": minute_rows,
        "response_id": prepared.response_id[minute_rows],
        "tech_pos": prepared.tech_pos[minute_rows],
        "minutes": sign * magnitude,
    })
    no_change = effect == s.TIME_EFFECTS.index("no_change")
    zero_rows = effect_rows[no_change]
    zeros = pd.DataFrame({
        "row": zero_rows,
        "response_id": prepared.response_id[zero_rows],
        "tech_pos": prepared.tech_pos[zero_rows],
        "minutes": 0.0,
    })
    # A no_change answer wins over any minutes given alongside it (those rows have no sign).
    values = pd.concat([with_minutes.dropna(subset=["minutes"]), zeros], ignore_index=True)
    return values.sort_values(["tech_pos", "response_id"], kind="stable", ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Disclosure control: which survey answers may enter a published estimate
# ---------------------------------------------------------------------------------------------

# Respondent classes of an ordinal answer (they carry different weights), and all of them.
_USER, _AWARE, _EVERYONE = 0, 1, 2
_N_CLASSES = 3
_N_QUANTITIES = len(s.QUANTITIES)
_MINUTES_Q = s.QUANTITIES.index("minutes_per_case")

# What happened to a (technology, quantity)'s survey answers.
USED = 0  # used with their own weights (or there were none)
WITHHELD_TOO_FEW = 1  # fewer than the threshold of respondents: left out
WITHHELD_SINGLES_OUT = 2  # the respondent filters would single out a few respondents: left out
POOLED = 3  # used, users and non-users at one weight: telling them apart would single a few out


def survey_note(status: int, threshold: int, pooled_weight: float) -> str:
    """The sentence an estimate carries about its survey evidence ("" when used as is)."""
    if status == WITHHELD_TOO_FEW:
        return f"survey evidence withheld: fewer than {threshold} respondents"
    if status == WITHHELD_SINGLES_OUT:
        return (f"survey evidence withheld: with the respondent filters it would single out fewer than {threshold} "
                "respondents")
    if status == POOLED:
        return (f"users and non-users weighted alike ({pooled_weight:g}): telling them apart would single out fewer "
                f"than {threshold} respondents")
    return ""


@dataclass(frozen=True)
class PublishedSurvey:
    """The survey evidence an estimate may use, after disclosure control.

    ``ordinal``: survey_evidence rows (don't-knows excluded) inside the respondent view whose
    (technology, quantity) may be published, with their final ``weight`` (pooled where needed).
    ``minutes``: signed_minutes rows likewise. ``n_used`` and ``status`` are (technologies x
    QUANTITIES) arrays: respondents whose answers are used, and USED / WITHHELD_* / POOLED.
    """

    ordinal: pd.DataFrame
    minutes: pd.DataFrame
    n_used: np.ndarray
    status: np.ndarray
    threshold: int
    pooled_weight: float

    def note(self, tech_pos: int, quantity: str) -> str:
        return survey_note(int(self.status[tech_pos, s.QUANTITIES.index(quantity)]), self.threshold, self.pooled_weight)

    def notes(self, q: int) -> np.ndarray:
        return np.array([survey_note(int(code), self.threshold, self.pooled_weight) for code in self.status[:, q]],
                        dtype=object)


def published_survey(prepared: _EngineAnswers, n_tech: int, settings: BlendSettings, responses: pd.DataFrame | None,
                     respondent_filter: RespondentFilter | None, threshold: int,
                     as_of: pd.Timestamp | None = None) -> PublishedSurvey:
    """Apply the one disclosure rule to the survey answers (docs/method.md, "Disclosure control").

    Answers about a technology and quantity enter an estimate only when at least ``threshold``
    respondents (don't-knows excluded) gave them inside the respondent view, and the view does
    not differ from a neighbouring one by fewer than ``threshold`` of them
    (:func:`analysis.disclosure.differencing_guard`); otherwise they are left out and the estimate
    rests on the desk assessment, sites and workshops. Users and respondents who only know of the
    technology carry different weights, which would let each group's answers be read off the
    probabilities: so each group must pass the same test, or all are counted at the average of the two weights.

    ``as_of`` (a past day): the same decisions as today, on the answers submitted by then, released
    in steps of at least ``threshold`` respondents per group counted back from today
    (:func:`analysis.disclosure.as_of_cutoffs`), so no two days differ by a few respondents.
    Respondent filters apply to today's figures only.
    """
    if as_of is not None and respondent_filter is not None and respondent_filter.active:
        raise ValueError("respondent filters apply to today's figures only, not to a view as of a past day")
    survey = survey_evidence(prepared, n_tech)
    minutes = signed_minutes(prepared, n_tech)
    tech, quantity, response = survey["tech_pos"], survey["quantity"], survey["response_id"]

    # Every answer is a member of its (technology, quantity) key for everyone and for its
    # respondent class; the guard counts them inside the view and in the neighbouring views.
    n_keys = n_tech * _N_QUANTITIES * _N_CLASSES
    key_type = np.int32 if n_keys < 2**31 else np.int64
    ordinal_key = tech.astype(key_type) * _N_QUANTITIES + quantity
    own_class = np.where(survey["is_user"], _USER, _AWARE).astype(np.int8)
    minutes_key = minutes["tech_pos"].to_numpy().astype(key_type) * _N_QUANTITIES + _MINUTES_Q
    member_response, member_key = _guard_members(ordinal_key, own_class, response, minutes_key * _N_CLASSES + _EVERYONE,
                                                 _narrow(minutes["response_id"].to_numpy()))
    guard = differencing_guard(member_response, member_key, n_keys, responses, respondent_filter, threshold, distinct=True)
    del member_response, member_key
    reason = guard.reason.reshape(n_tech, _N_QUANTITIES, _N_CLASSES)
    counted = guard.n.reshape(n_tech, _N_QUANTITIES, _N_CLASSES)[:, :, _EVERYONE]
    status = np.select([reason[:, :, _EVERYONE] == TOO_FEW, reason[:, :, _EVERYONE] == SINGLES_OUT,
                        (reason[:, :, _USER] != 0) | (reason[:, :, _AWARE] != 0)],
                       [WITHHELD_TOO_FEW, WITHHELD_SINGLES_OUT, POOLED], default=USED)
    status[:, _MINUTES_Q] = np.where(status[:, _MINUTES_Q] == POOLED, USED, status[:, _MINUTES_Q])  # no classes
    used = (status == USED) | (status == POOLED)

    pooled_weight = (settings.user_weight + settings.aware_weight) / 2
    pooled = status[tech, quantity] == POOLED
    keep = used[tech, quantity] & in_respondent_view(response, responses, respondent_filter)
    keep_minutes = used[minutes["tech_pos"].to_numpy(), _MINUTES_Q] & in_respondent_view(
        minutes["response_id"].to_numpy(), responses, respondent_filter)
    n_used = np.where(used, counted, 0)
    if as_of is not None:
        # Each group released in steps: users and non-users apart where today keeps them apart.
        ordinal_chain = ordinal_key * _N_CLASSES + np.where(pooled, _EVERYONE, own_class)
        chain_key = np.concatenate([ordinal_chain, minutes_key * _N_CLASSES + _EVERYONE])
        submitted = _dates_of(np.concatenate([response, minutes["response_id"].to_numpy()]), _submission_dates(responses))
        cutoff = as_of_cutoffs(chain_key, submitted, n_keys, as_of, threshold)[chain_key]
        released = ~np.isnat(submitted) & ~np.isnat(cutoff) & (submitted <= cutoff)
        keep &= released[:len(response)]
        keep_minutes &= released[len(response):]
        n_used = np.zeros_like(n_used)
        np.add.at(n_used, (tech[keep], quantity[keep]), 1)
        np.add.at(n_used[:, _MINUTES_Q], minutes["tech_pos"].to_numpy()[keep_minutes], 1)
    del ordinal_key, own_class, tech, quantity, response
    survey["pooled"] = pooled
    if not keep.all():  # else no copy at all: usually every answer is published
        survey = {name: survey.pop(name)[keep] for name in list(survey)}  # each original freed in turn
    weight = np.where(survey["pooled"], pooled_weight, np.where(survey["is_user"], settings.user_weight, settings.aware_weight))
    columns = ("row", "response_id", "tech_pos", "quantity", "category")
    return PublishedSurvey(
        ordinal=pd.DataFrame({**{name: survey[name] for name in columns}, "weight": weight, "is_user": survey["is_user"],
                              "pooled": survey["pooled"]}, copy=False),
        minutes=minutes[keep_minutes].reset_index(drop=True),
        n_used=n_used,
        status=status,
        threshold=threshold,
        pooled_weight=pooled_weight,
    )


def _narrow(ids: np.ndarray) -> np.ndarray:
    """Ids as int32 when they fit (tens of millions of answers at national scale)."""
    if len(ids) and (ids.min() < -(2**31) or ids.max() >= 2**31):
        return ids
    return ids.astype(np.int32, copy=False)


def _guard_members(ordinal_key: np.ndarray, own_class: np.ndarray, ordinal_response: np.ndarray,
                   minutes_key: np.ndarray, minutes_response: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(respondent, key) pairs for the differencing guard, each pair once: an ordinal answer is a
    member of its own class's key and of the everyone key; a minutes value of its key.

    De-duplicated once on the ordinal answers (a respondent's class is the same in every answer
    about a technology, so the everyone pairs come out distinct too), not on the three lists
    joined: at national scale each list is tens of millions of pairs."""
    ordinal_class_key = ordinal_key * _N_CLASSES + own_class
    own_key, own_response = distinct_pairs(ordinal_class_key, ordinal_response) if len(ordinal_class_key) else (
        ordinal_class_key, ordinal_response)
    del ordinal_class_key
    if len(minutes_key):
        minutes_key, minutes_response = distinct_pairs(minutes_key, minutes_response)
    # Written into the joined arrays directly: no separate everyone list, no copies to join.
    own, ordinal = len(own_key), 2 * len(own_key)
    member_key = np.empty(ordinal + len(minutes_key), dtype=np.result_type(own_key, minutes_key))
    member_key[:own] = own_key
    everyone = member_key[own:ordinal]
    np.remainder(own_key, _N_CLASSES, out=everyone)
    np.subtract(own_key, everyone, out=everyone)
    everyone += _EVERYONE
    member_key[ordinal:] = minutes_key
    member_response = np.empty(len(member_key), dtype=np.result_type(own_response, minutes_response))
    member_response[:own] = own_response
    member_response[own:ordinal] = own_response
    member_response[ordinal:] = minutes_response
    return member_response, member_key


def current_site_status(adoption: pd.DataFrame) -> pd.DataFrame:
    """The current status record of each (technology, site).

    Current = the ongoing record (no end_date); among several, or if all ended, the one with the
    latest start_date (a missing start counts as earliest), then the latest updated_at, then the
    later row. Returns the chosen adoption rows in (technology_id, site_id) order.
    """
    if adoption.empty:
        return adoption
    never = np.iinfo(np.int64).min
    start = adoption["start_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    updated = adoption["updated_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    ongoing = adoption["end_date"].isna().to_numpy()
    technology = adoption["technology_id"].to_numpy(dtype=np.int64)
    site = adoption["site_id"].to_numpy(dtype=np.int64)
    # np.lexsort sorts by the last key first; NaT is the smallest int64, so it sorts earliest.
    order = np.lexsort((np.arange(len(adoption)), np.where(updated == never, never, updated), start, ongoing,
                        site, technology))
    last_of_pair = np.ones(len(order), dtype=bool)
    last_of_pair[:-1] = (technology[order][1:] != technology[order][:-1]) | (site[order][1:] != site[order][:-1])
    return adoption.iloc[order[last_of_pair]]


def standing_workshop_results(workshop_results: pd.DataFrame) -> pd.DataFrame:
    """Workshop rows that still stand: the latest round of each (workshop, technology, quantity).

    Earlier rounds are superseded by later ones. Only standing rows with consensus = in carry
    weight; standing out/none rows carry none (no agreed band to place the pseudo-responses on).
    Adds a boolean ``carries_weight`` column and checks each category belongs to its quantity.
    """
    for quantity, group in workshop_results.groupby("quantity", observed=True):
        allowed = s.QUANTITY_CATEGORIES[str(quantity)]
        bad = ~group["category"].astype(object).isin(allowed) & group["category"].notna()
        if bad.any():
            label = bad[bad].index[0]
            raise s.FrameValidationError(
                f"workshop_results row {label}, field 'category': {group.loc[label, 'category']!r} "
                f"is not one of {', '.join(allowed)} (quantity {quantity})"
            )
    in_rows = workshop_results["consensus"].astype(object) == "in"
    missing_band = in_rows & workshop_results["category"].isna()
    if missing_band.any():
        label = missing_band[missing_band].index[0]
        raise s.FrameValidationError(
            f"workshop_results row {label}, field 'category': consensus is 'in' but no band is given"
        )
    latest = workshop_results.sort_values(
        ["workshop_id", "technology_id", "quantity", "round"], kind="stable"
    ).drop_duplicates(["workshop_id", "technology_id", "quantity"], keep="last")
    return latest.assign(carries_weight=latest["consensus"].astype(object) == "in")


# ---------------------------------------------------------------------------------------------
# Ordinal maths (vectorised over technologies)
# ---------------------------------------------------------------------------------------------


def ordinal_summary(alpha: np.ndarray, background_alpha: float, interval: float) -> dict[str, np.ndarray]:
    """Point, interval, agreement and effective n from Dirichlet posterior concentrations.

    ``alpha`` has shape (technologies, categories). The posterior mean ``p = alpha / sum(alpha)``
    is the posterior predictive distribution of the category. Returns arrays:

    * probabilities: ``p``;
    * point / lower / upper: the categories holding the 50%, tail and 1 - tail quantiles of ``p``
      (the central ``interval`` credible interval over the ordered categories);
    * latent_point / latent_lower / latent_upper: the same quantiles on the continuous latent
      scale where category k is spread uniformly over [k, k+1) — e.g. 1.25 is a quarter of the way
      into category 1. This interval holds exactly ``interval`` of the predictive mass (the
      category interval holds at least that) and is what the calibration test checks;
    * effective_n: evidence weight (alpha minus the background);
    * agreement: 1 - normalised Shannon entropy of the evidence weights (1 = all evidence in one
      category, 0 = spread evenly), NaN without evidence.
    """
    n_categories = alpha.shape[1]
    probabilities = alpha / alpha.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    tail = (1.0 - interval) / 2
    result: dict[str, np.ndarray] = {"probabilities": probabilities}
    for name, level in (("point", 0.5), ("lower", tail), ("upper", 1.0 - tail)):
        category, latent = _ordinal_quantile(probabilities, cumulative, level)
        result[name] = category
        result[f"latent_{name}"] = latent

    evidence = alpha - background_alpha
    effective_n = evidence.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = evidence / effective_n[:, None]
        entropy = -np.where(shares > 0, shares * np.log(shares), 0.0).sum(axis=1)
        agreement = np.where(effective_n > 0, 1.0 - entropy / np.log(n_categories), np.nan)
    result["effective_n"] = effective_n
    result["agreement"] = agreement
    return result


def _ordinal_quantile(probabilities: np.ndarray, cumulative: np.ndarray,
                      level: float) -> tuple[np.ndarray, np.ndarray]:
    """Category holding the ``level`` quantile, and the quantile on the latent uniform-bin scale."""
    category = _first_true(cumulative >= level - 1e-12)
    rows = np.arange(len(category))
    below = cumulative[rows, category] - probabilities[rows, category]
    latent = category + np.clip((level - below) / probabilities[rows, category], 0.0, 1.0)
    return category, latent


def _first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row (the last column if none)."""
    has = mask.any(axis=1)
    return np.where(has, mask.argmax(axis=1), mask.shape[1] - 1)


def strength_labels(effective_n: np.ndarray, settings: BlendSettings) -> np.ndarray:
    """thin below ``moderate_from``, moderate below ``strong_from``, strong from there."""
    return np.where(
        effective_n >= settings.strong_from,
        "strong",
        np.where(effective_n >= settings.moderate_from, "moderate", "thin"),
    ).astype(object)


# ---------------------------------------------------------------------------------------------
# Numeric maths
# ---------------------------------------------------------------------------------------------


def group_medians(sorted_values: np.ndarray, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each group of a flat array sorted by (group, value); NaN for empty groups."""
    safe = np.maximum(counts, 1)
    low = offsets + (safe - 1) // 2
    high = offsets + safe // 2
    if len(sorted_values) == 0:
        return np.full(len(counts), np.nan)
    low = np.minimum(low, len(sorted_values) - 1)
    high = np.minimum(high, len(sorted_values) - 1)
    medians = (sorted_values[low] + sorted_values[high]) / 2
    return np.where(counts > 0, medians, np.nan)


def bootstrap_median_intervals(sorted_values: np.ndarray, offsets: np.ndarray, counts: np.ndarray,
                               samples: int, interval: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap percentile interval of the median for every group, vectorised per group size.

    Resampling n values with replacement from sorted x and taking the median is the same in
    distribution as reading x at the order statistics of n uniforms: the resample median is
    x[ceil(n U_(k))] (odd n, k = (n+1)/2) or the mean of x[ceil(n U_(k))] and x[ceil(n U_(k+1))]
    (even n, k = n/2), with U_(k) ~ Beta(k, n-k+1) and U_(k+1) = U_(k) + (1 - U_(k)) Beta(1, n-k).
    So a replicate costs one or two Beta draws instead of n resampled values, and the draws
    depend only on n: they are made once per distinct group size from a generator seeded with
    (seed, n) and shared by all groups of that size. A technology's interval therefore depends
    only on its own values and the settings. Groups with fewer than MIN_VALUES_FOR_INTERVAL values
    get NaN.
    """
    lower = np.full(len(counts), np.nan)
    upper = np.full(len(counts), np.nan)
    tail = (1 - interval) / 2
    for size in np.unique(counts[counts >= MIN_VALUES_FOR_INTERVAL]):
        groups = np.flatnonzero(counts == size)
        ranks = _median_ranks(int(size), samples, seed)  # (draws, 1 or 2) positions in a sorted group
        at = offsets[groups][:, None]
        if ranks.shape[1] == 1:
            # Odd size: the replicate median is x[rank], monotone in rank, so the percentiles of the
            # medians are x at the percentiles of the ranks (same linear interpolation as np.quantile).
            lower[groups], upper[groups] = (_interpolated(sorted_values, at[:, 0], np.sort(ranks[:, 0]), level)
                                            for level in (tail, 1 - tail))
            continue
        medians = (sorted_values[at + ranks[:, 0]] + sorted_values[at + ranks[:, 1]]) / 2
        bounds = np.quantile(medians, [tail, 1 - tail], axis=1)
        lower[groups] = bounds[0]
        upper[groups] = bounds[1]
    return lower, upper


def _interpolated(sorted_values: np.ndarray, offsets: np.ndarray, sorted_ranks: np.ndarray, level: float) -> np.ndarray:
    """np.quantile(x[offset + ranks], level) for every offset, given ranks already sorted."""
    position = (len(sorted_ranks) - 1) * level
    below = int(np.floor(position))
    above = min(below + 1, len(sorted_ranks) - 1)
    fraction = position - below
    low = sorted_values[offsets + sorted_ranks[below]]
    high = sorted_values[offsets + sorted_ranks[above]]
    return low + fraction * (high - low)


def _median_ranks(size: int, samples: int, seed: int) -> np.ndarray:
    """Positions (0-based) of the middle order statistic(s) of ``samples`` bootstrap resamples."""
    rng = np.random.default_rng([seed, size])
    middle = (size + 1) // 2
    first = rng.beta(middle, size - middle + 1, size=samples)
    uniforms = [first]
    if size % 2 == 0:
        uniforms.append(first + (1 - first) * rng.beta(1.0, size - middle, size=samples))
    ranks = np.ceil(size * np.stack(uniforms, axis=1)).astype(np.int64) - 1
    return np.clip(ranks, 0, size - 1)


# ---------------------------------------------------------------------------------------------
# estimate_all
# ---------------------------------------------------------------------------------------------


def estimate_all(technologies: pd.DataFrame, technology_links: pd.DataFrame, adoption: pd.DataFrame,
                 answers: pd.DataFrame, workshop_results: pd.DataFrame,
                 settings: BlendSettings | None = None, *,
                 responses: pd.DataFrame | None = None,
                 respondent_filter: RespondentFilter | None = None,
                 disclosure_threshold: int = DEFAULT_THRESHOLD,
                 as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Blended estimates for every technology and quantity.

    Inputs are the frames documented in :mod:`analysis.schemas`; ``responses`` supplies submission
    dates for ``newest_evidence`` and the respondents' attributes for ``respondent_filter`` (the
    respondents a view counts; default everyone). Every other row given is used: filter demo data
    out first if it should not count.

    Disclosure control is applied here, before anything leaves: survey answers enter only under
    the rule of :func:`published_survey` with ``disclosure_threshold`` (1 turns it off). Estimates
    whose survey evidence is left out rest on the other sources and say so in ``survey_note``.
    ``as_of`` (the end of a past day) uses the survey answers submitted by then, in steps (see
    :func:`published_survey`); the other frames must already be as of that day
    (:func:`analysis.as_of.evidence_as_of`).

    Returns one row per (technology_id, quantity), ordered by technology_id then
    ``schemas.QUANTITIES``, with columns ``ESTIMATE_COLUMNS``:
    point (category code, or signed minutes), point_index (category position; the value itself
    for minutes), lower/upper and lower_index/upper_index (90% interval), p_<code> (posterior
    predictive probabilities of the quantity's categories, NaN for other codes), discontinued_share
    (adoption stage: weighted share of evidence saying discontinued), n_catalogue (desk value
    present: 0/1; adoption stage: sites), n_survey (respondents whose answers are used: 0 or at least
    the threshold), survey_withheld (answers left out by disclosure control), survey_note,
    n_workshop (standing consensus results), effective_n (weighted evidence), agreement, newest_evidence, strength
    (thin/moderate/strong) and primary_workforce_group.
    """
    settings = settings or BlendSettings()
    technologies = s.validate_frame(technologies, "technologies")
    s.check_unique(technologies, "technologies", ["technology_id"])
    technologies = technologies.sort_values("technology_id", kind="stable")
    technology_ids = technologies["technology_id"].to_numpy(dtype=np.int64)
    n_tech = len(technology_ids)
    links = s.validate_frame(technology_links, "technology_links")
    s.check_known_technologies(links, "technology_links", pd.Index(technology_ids))
    adoption = s.validate_frame(adoption, "adoption")
    workshops = s.validate_frame(workshop_results, "workshop_results")
    answers = s.validate_frame(answers, "answers")
    submitted = _submission_dates(responses)

    prepared = _engine_answers(answers, technology_ids)
    published = published_survey(prepared, n_tech, settings, responses, respondent_filter, disclosure_threshold, as_of)
    survey = published.ordinal
    survey_columns = {c: survey[c].to_numpy() for c in ("quantity", "tech_pos", "category", "weight")}
    survey_dates = _dates_of(survey["response_id"].to_numpy(), submitted)

    sites = current_site_status(adoption)
    site_pos = _technology_positions(sites["technology_id"].to_numpy(np.int64), technology_ids, "adoption", sites.index)
    site_status = category_positions(sites["status"], s.ADOPTION_STATUSES)
    standing = standing_workshop_results(workshops)
    standing = standing[standing["carries_weight"]]
    workshop_pos = _technology_positions(
        standing["technology_id"].to_numpy(np.int64), technology_ids, "workshop_results", standing.index
    )
    catalogue_dates = technologies["last_reviewed"].fillna(technologies["updated_at"]).to_numpy()

    frames = []
    for q, quantity in enumerate(s.ORDINAL_QUANTITIES):
        categories = s.QUANTITY_CATEGORIES[quantity]
        n_cat = len(categories)
        evidence = np.zeros((n_tech, n_cat))
        newest = np.full(n_tech, np.datetime64("NaT"), dtype="datetime64[ns]")
        n_catalogue = np.zeros(n_tech, dtype=np.int64)
        discontinued_weight = np.zeros(n_tech)

        rows = survey_columns["quantity"] == q
        tech = survey_columns["tech_pos"][rows]
        category = survey_columns["category"][rows]
        weight = survey_columns["weight"][rows]
        on_scale = category >= 0
        evidence += _weighted_counts(tech[on_scale], category[on_scale], weight[on_scale], n_tech, n_cat)
        discontinued_weight += np.bincount(tech[~on_scale], weights=weight[~on_scale], minlength=n_tech)
        newest = _latest(newest, tech, survey_dates[rows])

        if quantity == "adoption_stage":
            on_stage = site_status < len(categories)
            evidence += settings.site_weight * _weighted_counts(
                site_pos[on_stage], site_status[on_stage], None, n_tech, n_cat)
            ended = site_status == s.ADOPTION_STATUSES.index("discontinued")
            discontinued_weight += settings.site_weight * np.bincount(site_pos[ended], minlength=n_tech)
            n_catalogue = np.bincount(site_pos, minlength=n_tech)
            newest = _latest(newest, site_pos, sites["updated_at"].to_numpy())
        else:
            desk = category_positions(technologies[s.CATALOGUE_COLUMN[quantity]], categories)
            has_desk = desk >= 0
            evidence[np.flatnonzero(has_desk), desk[has_desk]] += settings.prior_strength
            n_catalogue = has_desk.astype(np.int64)
            newest = _max_dates(newest, np.where(has_desk, catalogue_dates, np.datetime64("NaT")))

        in_quantity = (standing["quantity"].astype(object) == quantity).to_numpy()
        band = category_positions(standing["category"][in_quantity], categories)
        w_pos = workshop_pos[in_quantity]
        n_workshop = np.bincount(w_pos, minlength=n_tech)
        evidence += settings.workshop_weight * _weighted_counts(w_pos, band, None, n_tech, n_cat)
        newest = _latest(newest, w_pos, standing["closed_at"].to_numpy()[in_quantity])

        summary = ordinal_summary(evidence + settings.background_alpha, settings.background_alpha, settings.interval)
        codes = np.array(categories, dtype=object)
        frame: dict[str, object] = {
            "technology_id": technology_ids,
            "quantity": quantity,
            "point": codes[summary["point"]],
            "point_index": summary["point"].astype(float),
            "lower": codes[summary["lower"]],
            "upper": codes[summary["upper"]],
            "lower_index": summary["lower"].astype(float),
            "upper_index": summary["upper"].astype(float),
            "latent_point": summary["latent_point"],
            "latent_lower": summary["latent_lower"],
            "latent_upper": summary["latent_upper"],
        }
        for k, code in enumerate(categories):
            frame[f"p_{code}"] = summary["probabilities"][:, k]
        total_stage_weight = summary["effective_n"] + discontinued_weight
        frame["discontinued_share"] = (
            np.divide(discontinued_weight, total_stage_weight, out=np.zeros(n_tech), where=total_stage_weight > 0)
            if quantity == "adoption_stage" else np.nan
        )
        frame["n_catalogue"] = n_catalogue
        frame["n_survey"] = published.n_used[:, q]
        frame["survey_withheld"] = np.isin(published.status[:, q], (WITHHELD_TOO_FEW, WITHHELD_SINGLES_OUT))
        frame["survey_note"] = published.notes(q)
        frame["n_workshop"] = n_workshop
        frame["effective_n"] = summary["effective_n"]
        frame["agreement"] = summary["agreement"]
        frame["newest_evidence"] = newest
        frame["strength"] = strength_labels(summary["effective_n"], settings)
        frames.append(frame)

    frames.append(_minutes_estimates(published, technology_ids, submitted, settings))
    estimates = _interleave(frames, n_tech)
    estimates["primary_workforce_group"] = estimates["technology_id"].map(_primary_groups(links))
    return estimates[list(ESTIMATE_COLUMNS)]


def update_estimates(previous: pd.DataFrame, touched: frozenset[int] | set[int], technologies: pd.DataFrame,
                     technology_links: pd.DataFrame, adoption: pd.DataFrame, answers: pd.DataFrame,
                     workshop_results: pd.DataFrame, settings: BlendSettings | None = None, *,
                     responses: pd.DataFrame | None = None, respondent_filter: RespondentFilter | None = None,
                     disclosure_threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """What :func:`estimate_all` (today, same settings, filter and threshold) gives after a change
    that touched only the evidence of the ``touched`` technologies — their answers, responses or
    workshop results; the catalogue (technologies, links, sites) the same — computed from its
    result ``previous`` before the change by estimating those technologies alone.

    Exact because a technology's estimates depend only on its own evidence and the settings: the
    disclosure rule counts respondents per technology and quantity, and the bootstrap's draws
    depend only on a group's size. When ``previous`` is not of the same technologies (or a
    column's type would change), everything is estimated again.
    """
    def everything() -> pd.DataFrame:
        return estimate_all(technologies, technology_links, adoption, answers, workshop_results, settings,
                            responses=responses, respondent_filter=respondent_filter,
                            disclosure_threshold=disclosure_threshold)

    n_quantities = len(s.QUANTITIES)
    ids = np.sort(technologies["technology_id"].to_numpy(dtype=np.int64))
    if (len(previous) != len(ids) * n_quantities or list(previous.columns) != list(ESTIMATE_COLUMNS)
            or not np.array_equal(previous["technology_id"].to_numpy()[::n_quantities], ids)):
        return everything()
    chosen = np.isin(ids, np.fromiter(touched, dtype=np.int64, count=len(touched)))
    if not chosen.any():
        return previous

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["technology_id"].isin(ids[chosen]).to_numpy(dtype=bool, na_value=False)]

    fresh = estimate_all(only(technologies), only(technology_links), only(adoption), only(answers),
                         only(workshop_results), settings, responses=responses,
                         respondent_filter=respondent_filter, disclosure_threshold=disclosure_threshold)
    rows = (np.flatnonzero(chosen)[:, None] * n_quantities + np.arange(n_quantities)).reshape(-1)
    columns = {}
    for name in ESTIMATE_COLUMNS:
        if fresh[name].dtype != previous[name].dtype:
            return everything()
        column = previous[name].copy()
        column.iloc[rows] = fresh[name].to_numpy()
        columns[name] = column
    return pd.DataFrame(columns)


def _interleave(frames: list[dict[str, object]], n_tech: int) -> pd.DataFrame:
    """One frame ordered by technology then quantity from per-quantity column dicts.

    Each dict holds arrays of length n_tech (technology order) or scalars; a column missing from
    a dict (e.g. another quantity's probabilities) is NaN there.
    """
    columns: dict[str, np.ndarray] = {}
    for name in ESTIMATE_COLUMNS:
        if name == "primary_workforce_group":
            continue
        parts = [np.broadcast_to(np.asarray(frame.get(name, np.nan)), (n_tech,)) for frame in frames]
        stacked = np.stack(parts, axis=1) if n_tech else np.empty((0, len(frames)))
        flat = stacked.reshape(-1)  # row-major: technology-major, quantity-minor
        # point/lower/upper mix category codes and minutes: keep them as plain objects.
        columns[name] = pd.Series(flat, dtype=object) if name in ("point", "lower", "upper") else flat
    return pd.DataFrame(columns)


def _weighted_counts(tech: np.ndarray, category: np.ndarray, weight: np.ndarray | None,
                     n_tech: int, n_cat: int) -> np.ndarray:
    flat = np.bincount(tech * n_cat + category, weights=weight, minlength=n_tech * n_cat)
    return flat.reshape(n_tech, n_cat).astype(float)


def _is_later(current: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """True where ``current`` is a date later than ``candidate`` (NaT never wins)."""
    return ~np.isnat(current) & (np.isnat(candidate) | (current > candidate))


def _latest(newest: np.ndarray, tech: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Fold dates into the per-technology newest date (NaT-aware)."""
    if len(tech) == 0:
        return newest
    # NaT is the smallest int64, so an integer maximum ignores it unless every date is NaT.
    latest = np.full(len(newest), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, tech, np.asarray(dates, dtype="datetime64[ns]").view(np.int64))
    return _max_dates(newest, latest.view("datetime64[ns]"))


def _max_dates(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Element-wise latest of two date arrays, ignoring NaT."""
    return np.where(_is_later(first, second), first, second).astype("datetime64[ns]")


def _submission_dates(responses: pd.DataFrame | None) -> pd.Series | None:
    if responses is None:
        return None
    responses = s.validate_frame(responses, "responses")
    s.check_unique(responses, "responses", ["response_id"])
    return pd.Series(responses["submitted_at"].to_numpy(), index=responses["response_id"].to_numpy())


def _dates_of(response_ids: np.ndarray, submitted: pd.Series | None) -> np.ndarray:
    if submitted is None or len(submitted) == 0:
        return np.full(len(response_ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    position = submitted.index.get_indexer(response_ids)
    dates = submitted.to_numpy(dtype="datetime64[ns]")[np.maximum(position, 0)]
    return np.where(position >= 0, dates, np.datetime64("NaT"))


def _primary_groups(links: pd.DataFrame) -> pd.Series:
    primary = links[(links["kind"].astype(object) == "workforce_group") & links["is_primary"]]
    primary = primary.sort_values(["technology_id", "code"], kind="stable")
    return primary.drop_duplicates("technology_id").set_index("technology_id")["code"].astype(object)


def _minutes_estimates(published: PublishedSurvey, technology_ids: np.ndarray, submitted: pd.Series | None,
                       settings: BlendSettings) -> dict[str, object]:
    n_tech = len(technology_ids)
    values = published.minutes.sort_values(["tech_pos", "minutes"], kind="stable", ignore_index=True)
    tech = values["tech_pos"].to_numpy()
    minutes = values["minutes"].to_numpy(dtype=float)
    counts = np.bincount(tech, minlength=n_tech)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n_tech else np.zeros(0, np.int64)
    point = group_medians(minutes, offsets, counts)
    lower, upper = bootstrap_median_intervals(
        minutes, offsets, counts, settings.bootstrap_samples, settings.interval, settings.seed)
    # Agreement: share of values on the same side as the median (saved / added / no change).
    same_side = np.sign(minutes) == np.sign(point[tech]) if len(tech) else np.zeros(0, bool)
    agreeing = np.bincount(tech, weights=same_side.astype(float), minlength=n_tech)
    newest = _latest(np.full(n_tech, np.datetime64("NaT"), dtype="datetime64[ns]"), tech,
                     _dates_of(values["response_id"].to_numpy(), submitted))
    strength = strength_labels(counts.astype(float), settings)
    strength[counts < MIN_VALUES_FOR_INTERVAL] = "thin"
    return {
        "technology_id": technology_ids,
        "quantity": "minutes_per_case",
        "point": point.astype(object),
        "point_index": point,
        "lower": lower.astype(object),
        "upper": upper.astype(object),
        "lower_index": lower,
        "upper_index": upper,
        "latent_point": np.nan,
        "latent_lower": np.nan,
        "latent_upper": np.nan,
        "discontinued_share": np.nan,
        "n_catalogue": 0,
        "n_survey": counts,
        "survey_withheld": np.isin(published.status[:, _MINUTES_Q], (WITHHELD_TOO_FEW, WITHHELD_SINGLES_OUT)),
        "survey_note": published.notes(_MINUTES_Q),
        "n_workshop": 0,
        "effective_n": counts.astype(float),
        "agreement": np.divide(agreeing, counts, out=np.full(n_tech, np.nan), where=counts > 0),
        "newest_evidence": newest,
        "strength": strength,
    }


# ---------------------------------------------------------------------------------------------
# Provenance and sensitivity
# ---------------------------------------------------------------------------------------------

EVIDENCE_COLUMNS: tuple[str, ...] = ("source", "reference", "value", "weight", "used", "note", "date")


def evidence_for(technology_id: int, quantity: str, technologies: pd.DataFrame, adoption: pd.DataFrame,
                 answers: pd.DataFrame, workshop_results: pd.DataFrame,
                 responses: pd.DataFrame | None = None, settings: BlendSettings | None = None, *,
                 respondent_filter: RespondentFilter | None = None,
                 disclosure_threshold: int = DEFAULT_THRESHOLD,
                 as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every evidence row behind one estimate, for the provenance drill-down.

    Columns: source (catalogue | adoption | survey | workshop), reference (catalogue entry id,
    site record, survey response record number, workshop id + round), value (the category code or
    signed minutes), weight (pseudo-responses it adds; 0 when it is ignored), used (bool), note
    (why a row is ignored, or user/aware for survey rows), date. No respondent identity or profile
    answer is included: survey rows carry only the internal response record number.
    Rows are ordered by source, then date (newest first).

    Survey rows follow the estimate's disclosure rule (:func:`published_survey`): when its survey
    evidence is withheld, one row says so instead (no count, value or date), and "don't know"
    answers, which carry no weight, are never listed.
    """
    settings = settings or BlendSettings()
    if quantity not in s.QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; expected one of {', '.join(s.QUANTITIES)}")
    technologies = s.validate_frame(technologies, "technologies")
    entry = technologies[technologies["technology_id"] == technology_id]
    if entry.empty:
        raise ValueError(f"technology_id {technology_id} is not in technologies")
    technology_ids = np.array([technology_id], dtype=np.int64)
    answers = s.validate_frame(answers, "answers")
    answers = answers[answers["technology_id"].eq(technology_id).fillna(False).to_numpy(bool)]
    prepared = _engine_answers(answers, technology_ids)
    submitted = _submission_dates(responses)
    published = published_survey(prepared, 1, settings, responses, respondent_filter, disclosure_threshold, as_of)
    status = int(published.status[0, s.QUANTITIES.index(quantity)])

    parts = []
    if status in (WITHHELD_TOO_FEW, WITHHELD_SINGLES_OUT):
        parts.append(pd.DataFrame({"source": ["survey"], "reference": ["withheld"], "value": [None], "weight": [0.0],
                                   "used": [False], "note": [published.note(0, quantity)], "date": [pd.NaT]}))
    elif quantity == "minutes_per_case":
        values = published.minutes
        parts.append(pd.DataFrame({
            "source": "survey",
            "reference": "survey response " + values["response_id"].astype(str),
            "value": values["minutes"].astype(object),
            "weight": 1.0,
            "used": True,
            "note": "signed minutes (+ saved, - added)",
            "date": _dates_of(values["response_id"].to_numpy(), submitted),
        }))
    else:
        survey = published.ordinal
        survey = survey[survey["quantity"] == s.ORDINAL_QUANTITIES.index(quantity)]
        parts.append(pd.DataFrame({
            "source": "survey",
            "reference": "survey response " + survey["response_id"].astype(str),
            "value": prepared.values_at(survey["row"].to_numpy()),
            "weight": survey["weight"].to_numpy(),
            "used": True,
            "note": np.where(survey["pooled"].to_numpy(bool), published.note(0, quantity),
                             np.where(survey["is_user"].to_numpy(bool), "uses the technology",
                                      "knows of it (not a user)")),
            "date": _dates_of(survey["response_id"].to_numpy(), submitted),
        }))
    if quantity == "adoption_stage":
        parts.append(_adoption_evidence(adoption, technology_id, settings))
    elif quantity != "minutes_per_case":
        parts.append(_catalogue_evidence(entry.iloc[0], quantity, settings))
        parts.append(_workshop_evidence(workshop_results, technology_id, quantity, s.QUANTITY_CATEGORIES[quantity],
                                        settings))
    evidence = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(
        not p.empty for p in parts) else pd.DataFrame({c: [] for c in EVIDENCE_COLUMNS})
    source_order = pd.Categorical(evidence["source"], ["catalogue", "adoption", "workshop", "survey"], ordered=True)
    evidence = evidence.assign(_order=source_order).sort_values(
        ["_order", "date"], ascending=[True, False], kind="stable", na_position="last")
    return evidence.drop(columns="_order").reset_index(drop=True)[list(EVIDENCE_COLUMNS)]


def _catalogue_evidence(entry: pd.Series, quantity: str, settings: BlendSettings) -> pd.DataFrame:
    value = entry[s.CATALOGUE_COLUMN[quantity]]
    present = not pd.isna(value)
    date = entry["last_reviewed"] if not pd.isna(entry["last_reviewed"]) else entry["updated_at"]
    return pd.DataFrame({
        "source": ["catalogue"],
        "reference": [f"catalogue entry {int(entry['technology_id'])}"],
        "value": [str(value) if present else None],
        "weight": [settings.prior_strength if present else 0.0],
        "used": [present],
        "note": ["desk assessment (prior)" if present else "ignored: no desk assessment"],
        "date": [date],
    })


def _adoption_evidence(adoption: pd.DataFrame, technology_id: int, settings: BlendSettings) -> pd.DataFrame:
    adoption = s.validate_frame(adoption, "adoption")
    records = adoption[adoption["technology_id"] == technology_id]
    current = current_site_status(records)
    superseded = records.drop(index=current.index)
    status = pd.concat([current["status"].astype(object), superseded["status"].astype(object)])
    used = np.r_[np.ones(len(current), bool), np.zeros(len(superseded), bool)]
    is_discontinued = (status == "discontinued").to_numpy()
    return pd.DataFrame({
        "source": "adoption",
        "reference": ("site " + pd.concat([current["site_id"], superseded["site_id"]]).astype(str)
                      + " (" + pd.concat([current["region"], superseded["region"]]).astype(str) + ")").to_numpy(),
        "value": status.to_numpy(),
        "weight": np.where(used, settings.site_weight, 0.0),
        "used": used,
        "note": np.where(
            used,
            np.where(is_discontinued, "current status: counts towards discontinued_share", "current status"),
            "ignored: superseded by a later record for this site",
        ),
        "date": pd.concat([current["updated_at"], superseded["updated_at"]]).to_numpy(),
    })


def _workshop_evidence(workshop_results: pd.DataFrame, technology_id: int, quantity: str,
                       categories: tuple[str, ...], settings: BlendSettings) -> pd.DataFrame:
    workshops = s.validate_frame(workshop_results, "workshop_results")
    rows = workshops[(workshops["technology_id"] == technology_id)
                     & (workshops["quantity"].astype(object) == quantity)]
    standing = standing_workshop_results(rows)
    carries = pd.Series(False, index=rows.index)
    carries[standing.index[standing["carries_weight"]]] = True
    is_standing = rows.index.isin(standing.index)
    note = np.where(
        carries.to_numpy(),
        "consensus in: placed on its band",
        np.where(is_standing, "ignored: no consensus (" + rows["consensus"].astype(str) + ")",
                 "ignored: superseded by a later round"),
    )
    return pd.DataFrame({
        "source": "workshop",
        "reference": ("workshop " + rows["workshop_id"].astype(str) + " round " + rows["round"].astype(str)).to_numpy(),
        "value": rows["category"].astype(object).to_numpy(),
        "weight": np.where(carries.to_numpy(), settings.workshop_weight, 0.0),
        "used": carries.to_numpy(),
        "note": note,
        "date": rows["closed_at"].to_numpy(),
    })


def compare_estimates(default_estimates: pd.DataFrame, new_estimates: pd.DataFrame) -> pd.DataFrame:
    """Sensitivity comparison of two ``estimate_all`` outputs (e.g. defaults vs slider settings).

    One row per (technology_id, quantity) present in either. Columns: technology_id, quantity,
    point_default, point_new, point_index_default, point_index_new, strength_default, strength_new,
    lower_default, upper_default, lower_new, upper_new, shift (new - default index; minutes
    difference for minutes_per_case), interval_default, interval_new ("lower – upper"), changed
    (point or interval differs).
    """
    keys = ["technology_id", "quantity"]
    kept = ["point", "point_index", "lower", "upper", "strength"]
    merged = default_estimates[keys + kept].merge(
        new_estimates[keys + kept], on=keys, how="outer", suffixes=("_default", "_new"), sort=True)

    def interval_text(suffix: str) -> pd.Series:
        return merged[f"lower{suffix}"].map(_as_text) + " – " + merged[f"upper{suffix}"].map(_as_text)

    result = merged[keys].copy()
    for column in ("point", "point_index", "strength", "lower", "upper"):
        result[f"{column}_default"] = merged[f"{column}_default"]
        result[f"{column}_new"] = merged[f"{column}_new"]
    result["shift"] = merged["point_index_new"] - merged["point_index_default"]
    result["interval_default"] = interval_text("_default")
    result["interval_new"] = interval_text("_new")
    same_point = merged["point_default"].map(_as_text) == merged["point_new"].map(_as_text)
    result["changed"] = ~same_point | (result["interval_default"] != result["interval_new"])
    return result


def _as_text(value: object) -> str:
    """Display text of an estimate value: category codes as is, minutes rounded, missing as "–"."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.1f}"
    return str(value)
