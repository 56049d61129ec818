"""Consensus analysis of workshop ratings (Delphi percentage rules and RAND/UCLA), pure pandas.

Input everywhere: long-format ratings with columns participant, group, item, round, rating
(NaN = missing, excluded from every count). See docs/consensus.md for the formulas and the
edge-case decisions. Every statistic is computed with vectorised groupby operations.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.consensus_io import (
    RATING_COLUMNS,
    RatingsError,
    RatingsFileError,
    format_cell_value,
    read_ratings_csv,
    validate_ratings,
)
from analysis.consensus_rules import (
    BAND_ORDER,
    COMET_EVERY_GROUP_RULE,
    COMET_RULE,
    DEFAULT_SCALE,
    IPRAS_ASYMMETRY_FACTOR,
    IPRAS_BASE,
    RAM_RULE,
    RAND_UCLA_CENTRE,
    ConsensusRule,
    Scale,
    rule_from_cli,
)

__all__ = [
    "ALL_GROUPS_LABEL",
    "COMET_EVERY_GROUP_RULE",
    "COMET_RULE",
    "DEFAULT_SCALE",
    "RAM_RULE",
    "RATING_COLUMNS",
    "STANDARD_RULES",
    "ConsensusRule",
    "RatingsError",
    "RatingsFileError",
    "Scale",
    "accord_round_summary",
    "consensus_report",
    "interpercentile_statistics",
    "read_ratings_csv",
    "rule_from_cli",
    "sensitivity",
    "stability",
    "summarise_by_group",
    "summarise_items",
    "validate_ratings",
]

ITEM_KEYS = ["item", "round"]
GROUP_KEYS = ["item", "round", "group"]
# Linear interpolation between order statistics: numpy's and pandas' default ("type 7").
PERCENTILE_METHOD = "linear"
# IPR and IPRAS are compared after rounding so floating-point noise cannot turn a tie into
# disagreement; the rule is strict (IPR > IPRAS), so a tie is not disagreement.
COMPARISON_DECIMALS = 9

STANDARD_RULES: dict[str, ConsensusRule] = {
    "comet_70_15": COMET_RULE,
    "comet_every_group": COMET_EVERY_GROUP_RULE,
    "ram": RAM_RULE,
}
ALL_GROUPS_LABEL = "(all groups)"
APPROPRIATENESS_TO_CONSENSUS = {"appropriate": "in", "inappropriate": "out", "uncertain": "none"}

SUMMARY_COLUMNS = [
    "n", "n_low", "n_mid", "n_high", "median", "q1", "q3", "iqr",
    "pct_low", "pct_mid", "pct_high", "consensus",
    "p30", "p70", "ipr", "iprcp", "asymmetry_index", "ipras", "disagreement", "appropriateness",
]  # fmt: skip


def _check_rule_fits_scale(rule: ConsensusRule, scale: Scale) -> None:
    if rule.kind == "ram" and not scale.supports_rand_ucla:
        raise ValueError(
            f"the RAND/UCLA (ram) rule needs the 1-9 scale (IPRAS was calibrated on it); this scale is "
            f"{scale.range_text()}. Use the comet rule or custom thresholds instead."
        )


def _band_of(ratings: pd.Series, scale: Scale) -> np.ndarray:
    """Band name per rating; a value between two bands (e.g. 3.5) counts in the middle band."""
    return np.select(
        [ratings <= scale.low[1], ratings >= scale.high[0]], ["low", "high"], default="mid"
    )


def interpercentile_statistics(p30: pd.Series, p70: pd.Series) -> pd.DataFrame:
    """RAND/UCLA disagreement from the 30th and 70th percentiles (1-9 scale).

    Columns: ipr = P70 - P30; iprcp = (P30 + P70) / 2; asymmetry_index = |5 - iprcp|;
    ipras = 2.35 + 1.5 * asymmetry_index; disagreement = ipr > ipras (nullable boolean,
    NA where a percentile is missing).
    """
    ipr = p70 - p30
    iprcp = (p30 + p70) / 2
    asymmetry_index = (RAND_UCLA_CENTRE - iprcp).abs()
    ipras = IPRAS_BASE + IPRAS_ASYMMETRY_FACTOR * asymmetry_index
    disagreement = (ipr.round(COMPARISON_DECIMALS) > ipras.round(COMPARISON_DECIMALS)).astype("boolean")
    disagreement = disagreement.mask(ipr.isna())
    return pd.DataFrame(
        {
            "ipr": ipr,
            "iprcp": iprcp,
            "asymmetry_index": asymmetry_index,
            "ipras": ipras,
            "disagreement": disagreement,
        }
    )


def _distribution(clean: pd.DataFrame, keys: list[str], scale: Scale) -> pd.DataFrame:
    """Counts, quartiles, band shares and RAND/UCLA statistics per key combination.

    Every key combination present in `clean` gets a row, including those whose ratings are
    all missing (n = 0, statistics NaN).
    """
    valid = clean[clean["rating"].notna()]
    index = pd.MultiIndex.from_frame(clean[keys].drop_duplicates()).sort_values()
    band_counts = (
        valid.assign(band=_band_of(valid["rating"], scale))
        .groupby([*keys, "band"])
        .size()
        .unstack("band")
        .reindex(index=index, columns=list(BAND_ORDER))
        .fillna(0)
        .astype("int64")
    )
    quantiles = (
        valid.groupby(keys)["rating"]
        .quantile([0.25, 0.5, 0.75, 0.3, 0.7], interpolation=PERCENTILE_METHOD)
        .unstack(-1)
        .reindex(index=index, columns=[0.25, 0.5, 0.75, 0.3, 0.7])
    )
    n = band_counts.sum(axis=1)
    stats = pd.DataFrame(
        {
            "n": n,
            "n_low": band_counts["low"],
            "n_mid": band_counts["mid"],
            "n_high": band_counts["high"],
            "median": quantiles[0.5],
            "q1": quantiles[0.25],
            "q3": quantiles[0.75],
        },
        index=index,
    )
    stats["iqr"] = stats["q3"] - stats["q1"]
    share = 100 / n.where(n > 0)
    for band in BAND_ORDER:
        stats[f"pct_{band}"] = stats[f"n_{band}"] * share
    if scale.supports_rand_ucla:
        stats["p30"] = quantiles[0.3]
        stats["p70"] = quantiles[0.7]
        ram = interpercentile_statistics(stats["p30"], stats["p70"])
        stats = stats.join(ram)
        median = stats["median"]
        no_disagreement = ~stats["disagreement"].fillna(True).astype(bool)
        appropriateness = pd.Series(
            np.select(
                [
                    (median >= scale.high[0]) & no_disagreement,
                    (median <= scale.low[1]) & no_disagreement,
                ],
                ["appropriate", "inappropriate"],
                default="uncertain",
            ),
            index=index,
            dtype="str",
        )
        stats["appropriateness"] = appropriateness.where(n > 0)
    else:
        for column in ("p30", "p70", "ipr", "iprcp", "asymmetry_index", "ipras"):
            stats[column] = np.nan
        stats["disagreement"] = pd.Series(pd.NA, index=index, dtype="boolean")
        stats["appropriateness"] = pd.Series(np.nan, index=index, dtype="str")
    return stats


def _classify(stats: pd.DataFrame, rule: ConsensusRule) -> pd.Series:
    """in / out / none for each row of a _distribution table, ignoring require_every_group."""
    if rule.kind == "ram":
        return stats["appropriateness"].map(APPROPRIATENESS_TO_CONSENSUS).fillna("none").astype("str")
    assert rule.in_pct is not None and rule.out_pct is not None
    assert rule.in_bands is not None and rule.out_bands is not None
    n = stats["n"]
    in_count = stats[[f"n_{band}" for band in rule.in_bands]].sum(axis=1)
    out_count = stats[[f"n_{band}" for band in rule.out_bands]].sum(axis=1)
    # Compare counts, not rounded percentages: 7 of 10 is exactly 70%, 3 of 20 exactly 15%.
    def at_least(count: pd.Series, pct: float) -> pd.Series:
        return count * 100 >= pct * n

    def fewer_than(count: pd.Series, pct: float) -> pd.Series:
        return count * 100 < pct * n

    is_in = (n > 0) & at_least(in_count, rule.in_pct) & fewer_than(out_count, rule.out_pct)
    is_out = (n > 0) & at_least(out_count, rule.in_pct) & fewer_than(in_count, rule.out_pct)
    return pd.Series(np.select([is_in, is_out], ["in", "out"], default="none"), index=stats.index, dtype="str")


def _require_every_group(overall: pd.Series, by_group: pd.Series) -> pd.Series:
    """Keep the overall result only where every group with ratings reaches the same one.

    `by_group` is indexed by (item, round, group) and holds only groups with n > 0, so a
    group without ratings for an item in a round is skipped.
    """
    overall_for_each_group = overall.reindex(by_group.index.droplevel("group")).to_numpy()
    agrees = pd.Series(by_group.to_numpy() == overall_for_each_group, index=by_group.index)
    every_group_agrees = agrees.groupby(level=ITEM_KEYS).all().reindex(overall.index, fill_value=True)
    return overall.where(every_group_agrees, "none")


class _RatingsAnalysis:
    """Validated ratings with the overall and per-group tables computed once, so several
    rules (sensitivity, ACCORD summary) can be applied without recomputing them."""

    def __init__(self, ratings: pd.DataFrame, scale: Scale) -> None:
        self.scale = scale
        self.ratings = validate_ratings(ratings, scale)
        self.overall = _distribution(self.ratings, ITEM_KEYS, scale)
        self._by_group: pd.DataFrame | None = None

    @property
    def by_group(self) -> pd.DataFrame:
        if self._by_group is None:
            self._by_group = _distribution(self.ratings, GROUP_KEYS, self.scale)
        return self._by_group

    def consensus(self, rule: ConsensusRule) -> pd.Series:
        _check_rule_fits_scale(rule, self.scale)
        overall = _classify(self.overall, rule)
        if not rule.require_every_group:
            return overall
        rated_groups = self.by_group[self.by_group["n"] > 0]
        return _require_every_group(overall, _classify(rated_groups, rule))


def _with_consensus(stats: pd.DataFrame, consensus: pd.Series) -> pd.DataFrame:
    table = stats.assign(consensus=consensus)[SUMMARY_COLUMNS]
    return table.reset_index()


def summarise_items(
    ratings: pd.DataFrame, rule: ConsensusRule, scale: Scale = DEFAULT_SCALE
) -> pd.DataFrame:
    """One row per (item, round), sorted by item then round.

    Columns: item, round, n (non-missing ratings), n_low, n_mid, n_high, median, q1, q3, iqr,
    pct_low, pct_mid, pct_high (0-100, NaN when n = 0), consensus ("in"/"out"/"none" under
    `rule`), p30, p70, ipr, iprcp, asymmetry_index, ipras, disagreement (nullable bool),
    appropriateness ("appropriate"/"uncertain"/"inappropriate"). The RAND/UCLA columns are
    computed whatever the rule, and are NaN when n = 0 or the scale is not 1-9.
    """
    analysis = _RatingsAnalysis(ratings, scale)
    return _with_consensus(analysis.overall, analysis.consensus(rule))


def summarise_by_group(
    ratings: pd.DataFrame, rule: ConsensusRule, scale: Scale = DEFAULT_SCALE
) -> pd.DataFrame:
    """summarise_items per (item, round, group); consensus applies the rule within that group
    alone (require_every_group has no meaning inside one group). Groups present in the data
    with only missing ratings for an item-round appear with n = 0."""
    analysis = _RatingsAnalysis(ratings, scale)
    _check_rule_fits_scale(rule, scale)
    return _with_consensus(analysis.by_group, _classify(analysis.by_group, rule))


def stability(ratings: pd.DataFrame) -> pd.DataFrame:
    """Change between each round and the one before it, per (item, round >= 2).

    Columns: item, round, previous_round, n_both_rounds (participants with a rating for the
    item in both rounds), n_changed (of those, how many gave a different rating),
    share_changed (n_changed / n_both_rounds, NaN when 0), iqr_previous, iqr_current (IQR of
    everyone who rated the item in that round), iqr_change (current - previous).
    """
    clean = validate_ratings(ratings, scale=None)
    valid = clean[clean["rating"].notna()]
    previous = valid[["participant", "item", "round", "rating"]].assign(round=valid["round"] + 1)
    paired = valid.merge(previous, on=["participant", "item", "round"], suffixes=("", "_previous"))
    changes = (
        paired.assign(changed=paired["rating"] != paired["rating_previous"])
        .groupby(ITEM_KEYS)["changed"]
        .agg(n_both_rounds="size", n_changed="sum")
    )
    quartiles = valid.groupby(ITEM_KEYS)["rating"].quantile([0.25, 0.75], interpolation=PERCENTILE_METHOD).unstack(-1)
    iqr = quartiles[0.75] - quartiles[0.25] if not quartiles.empty else pd.Series(dtype=float)

    later_rounds = clean.loc[clean["round"] >= 2, ITEM_KEYS].drop_duplicates().sort_values(ITEM_KEYS)
    table = later_rounds.assign(previous_round=later_rounds["round"] - 1).reset_index(drop=True)
    current_index = pd.MultiIndex.from_frame(table[ITEM_KEYS])
    previous_index = pd.MultiIndex.from_arrays([table["item"], table["previous_round"]])
    counts = changes.reindex(current_index).fillna(0).astype("int64")
    table["n_both_rounds"] = counts["n_both_rounds"].to_numpy()
    table["n_changed"] = counts["n_changed"].to_numpy()
    table["share_changed"] = table["n_changed"] / table["n_both_rounds"].where(table["n_both_rounds"] > 0)
    table["iqr_previous"] = iqr.reindex(previous_index).to_numpy(dtype=float)
    table["iqr_current"] = iqr.reindex(current_index).to_numpy(dtype=float)
    table["iqr_change"] = table["iqr_current"] - table["iqr_previous"]
    return table


def _rules_for_sensitivity(
    scale: Scale, rules: Mapping[str, ConsensusRule] | None
) -> dict[str, ConsensusRule]:
    chosen = {
        name: rule
        for name, rule in STANDARD_RULES.items()
        if rule.kind != "ram" or scale.supports_rand_ucla
    }
    for name, rule in (rules or {}).items():
        if name in ("item", "round", "n", "depends_on_rule"):
            raise ValueError(f"rule name {name!r} clashes with a column of the sensitivity table")
        if name in chosen and chosen[name] != rule:
            raise ValueError(f"rule name {name!r} is taken by a standard rule; choose another name")
        chosen[name] = rule
    return chosen


def sensitivity(
    ratings: pd.DataFrame,
    scale: Scale = DEFAULT_SCALE,
    rules: Mapping[str, ConsensusRule] | None = None,
) -> pd.DataFrame:
    """The same ratings classified under several rules, side by side, per (item, round).

    Always includes the standard rules comet_70_15, comet_every_group and ram (ram only on a
    1-9 scale); `rules` adds more, e.g. {"workshop": the workshop's own rule}. Columns: item,
    round, n, one column per rule name ("in"/"out"/"none"), depends_on_rule (True when the
    rules disagree for that item and round).
    """
    analysis = _RatingsAnalysis(ratings, scale)
    chosen = _rules_for_sensitivity(scale, rules)
    table = pd.DataFrame({"n": analysis.overall["n"]})
    for name, rule in chosen.items():
        table[name] = analysis.consensus(rule)
    table["depends_on_rule"] = table[list(chosen)].nunique(axis=1) > 1
    return table.reset_index()


def _validated_invited(invited: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in ("group", "round", "invited") if column not in invited.columns]
    if missing:
        raise ValueError(f"the invited table is missing column(s): {', '.join(missing)}")
    numbers = invited[["round", "invited"]].apply(pd.to_numeric, errors="coerce")
    problems = [
        f"invited table row {label}, column {column}: {format_cell_value(invited.at[label, column])} is not a "
        f"{'positive' if column == 'round' else 'non-negative'} whole number"
        for column, lowest in (("round", 1), ("invited", 0))
        for label in invited.index[
            ~(numbers[column].notna() & (numbers[column] >= lowest) & (numbers[column] % 1 == 0))
        ]
    ]
    if problems:
        raise ValueError("; ".join(problems))
    clean = pd.DataFrame(
        {
            "group": invited["group"].astype("str").str.strip(),
            "round": numbers["round"].astype("int64"),
            "invited": numbers["invited"].astype("int64"),
        }
    )
    duplicated = clean.duplicated(["group", "round"], keep=False)
    if duplicated.any():
        pairs = sorted(set(zip(clean.loc[duplicated, "group"], clean.loc[duplicated, "round"])))
        raise ValueError(
            "the invited table lists a group more than once in a round: "
            + ", ".join(f"{group!r} in round {round_number}" for group, round_number in pairs)
        )
    return clean


def accord_round_summary(
    ratings: pd.DataFrame,
    rule: ConsensusRule,
    invited: pd.DataFrame | None = None,
    scale: Scale = DEFAULT_SCALE,
) -> pd.DataFrame:
    """Per-round reporting table with the items the ACCORD guideline asks for.

    One row per round (rounds in the ratings or the invited table). Columns: round, invited
    (sum of the invited table for that round; NA when unknown), responded (participants with
    at least one rating that round), response_rate_pct, then per group (sorted)
    invited_<group> and responded_<group>, items_rated (items with at least one rating),
    items_consensus_in, items_consensus_out, items_no_consensus (among rated items) and
    rule (the pre-registered rule's sentence).
    """
    analysis = _RatingsAnalysis(ratings, scale)
    consensus = analysis.consensus(rule)
    invited_table = _validated_invited(invited) if invited is not None else None
    valid = analysis.ratings[analysis.ratings["rating"].notna()]

    rounds = set(analysis.ratings["round"])
    groups = set(analysis.ratings["group"])
    if invited_table is not None:
        rounds |= set(invited_table["round"])
        groups |= set(invited_table["group"])
    round_index = pd.Index(sorted(rounds), name="round")
    group_names = sorted(groups)

    respondents = valid[["round", "group", "participant"]].drop_duplicates()
    responded_by_group = (
        respondents.groupby(["round", "group"]).size().unstack("group")
        .reindex(index=round_index, columns=group_names).fillna(0).astype("int64")
    )
    if invited_table is not None:
        invited_by_group = (
            invited_table.pivot(index="round", columns="group", values="invited")
            .reindex(index=round_index, columns=group_names).astype("Int64")
        )
        invited_total = invited_table.groupby("round")["invited"].sum().reindex(round_index).astype("Int64")
    else:
        invited_by_group = pd.DataFrame(pd.NA, index=round_index, columns=group_names, dtype="Int64")
        invited_total = pd.Series(pd.NA, index=round_index, dtype="Int64")

    table = pd.DataFrame(index=round_index)
    table["invited"] = invited_total
    # A participant keeps one group (validated), so group counts add up to the round's total.
    table["responded"] = responded_by_group.sum(axis=1)
    rate = table["responded"] / invited_total.astype("Float64").where(invited_total > 0)
    table["response_rate_pct"] = (100 * rate).astype(float)
    for group in group_names:
        table[f"invited_{group}"] = invited_by_group[group]
        table[f"responded_{group}"] = responded_by_group[group]

    rated = (analysis.overall["n"] > 0).to_numpy()
    outcomes = pd.DataFrame(
        {"round": consensus.index.get_level_values("round")[rated], "outcome": consensus.to_numpy()[rated]}
    )
    outcome_counts = (
        outcomes.groupby(["round", "outcome"]).size().unstack("outcome")
        .reindex(index=round_index, columns=["in", "out", "none"])
        .fillna(0)
        .astype("int64")
    )
    table["items_rated"] = outcome_counts.sum(axis=1)
    table["items_consensus_in"] = outcome_counts["in"]
    table["items_consensus_out"] = outcome_counts["out"]
    table["items_no_consensus"] = outcome_counts["none"]
    table["rule"] = rule.describe(scale)
    return table.reset_index()


REPORT_COLUMNS_PERCENTAGE = ["n", "median", "iqr", "pct_low", "pct_mid", "pct_high", "consensus"]
REPORT_DECIMALS = {
    "median": 2, "iqr": 2, "p30": 2, "p70": 2, "ipr": 2, "ipras": 2,
    "pct_low": 1, "pct_mid": 1, "pct_high": 1,
}  # fmt: skip
REPORT_COLUMNS_RAM = ["n", "median", "p30", "p70", "ipr", "ipras", "disagreement", "appropriateness", "consensus"]


def consensus_report(
    ratings: pd.DataFrame,
    rule: ConsensusRule,
    scale: Scale = DEFAULT_SCALE,
    by_group: bool = False,
) -> pd.DataFrame:
    """The table `roadmap consensus RATINGS.csv --rule ...` prints.

    Columns: item, round, [group], then for percentage rules n, median, iqr, pct_low, pct_mid,
    pct_high, consensus; for ram n, median, p30, p70, ipr, ipras, disagreement,
    appropriateness, consensus. Percentages are rounded to 1 decimal, other statistics to 2.
    With by_group, each item-round has an overall row (group "(all groups)", carrying the
    rule's result including require_every_group) followed by one row per group (the rule
    applied within that group). The rule's sentence is in `report.attrs["rule"]`.
    """
    analysis = _RatingsAnalysis(ratings, scale)
    columns = REPORT_COLUMNS_PERCENTAGE if rule.is_percentage_rule else REPORT_COLUMNS_RAM
    report = _with_consensus(analysis.overall, analysis.consensus(rule))
    if by_group:
        groups = _with_consensus(analysis.by_group, _classify(analysis.by_group, rule))
        report = pd.concat([report.assign(group=ALL_GROUPS_LABEL, _order=0), groups.assign(_order=1)])
        report = report.sort_values(["item", "round", "_order", "group"], kind="stable")
        keys = GROUP_KEYS
    else:
        keys = ITEM_KEYS
    report = report[keys + columns].reset_index(drop=True)
    report = report.round({column: places for column, places in REPORT_DECIMALS.items() if column in columns})
    report.attrs["rule"] = rule.describe(scale)
    return report
