"""Scale and ConsensusRule validation, serialisation, wording and the CLI rule builder."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from analysis.consensus import STANDARD_RULES, SUMMARY_COLUMNS
from analysis.consensus_rules import (
    COMET_RULE,
    DEFAULT_SCALE,
    RAM_RULE,
    ConsensusRule,
    Scale,
    rule_from_cli,
)

FIVE_POINT = Scale(min=1, max=5, low=(1, 2), mid=(3, 3), high=(4, 5), labels=("low", "medium", "high"))


def test_default_scale_is_the_delphi_1_to_9_scale():
    assert (DEFAULT_SCALE.min, DEFAULT_SCALE.max) == (1, 9)
    assert [DEFAULT_SCALE.band_range(band) for band in ("low", "mid", "high")] == [(1, 3), (4, 6), (7, 9)]
    assert DEFAULT_SCALE.label("high") == "critical"
    assert DEFAULT_SCALE.label("mid") == "important but not critical"
    assert DEFAULT_SCALE.supports_rand_ucla


def test_custom_ordinal_scale_is_accepted():
    assert FIVE_POINT.band_range("mid") == (3, 3)
    assert FIVE_POINT.bands_text(["mid"]) == "3 (medium)"
    assert FIVE_POINT.bands_text(["mid", "high"]) == "3-5"
    assert FIVE_POINT.bands_text(["low", "high"]) == "1-2 or 4-5"
    assert not FIVE_POINT.supports_rand_ucla


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ({"low": (1, 4)}, "the low and mid bands overlap (low ends at 4, mid starts at 4)"),
        ({"high": (8, 9)}, "there is a gap between the mid and high bands (mid ends at 6, high starts at 8)"),
        ({"min": 0}, "the low band must start at the scale minimum 0, not 1"),
        ({"max": 10}, "the high band must end at the scale maximum 10, not 9"),
        ({"mid": (6, 4)}, "the mid band 6-4 ends before it starts"),
        ({"labels": ("a", " ", "c")}, "every band needs a label"),
    ],
)
def test_invalid_scales_are_refused_with_the_reason(bands, message):
    with pytest.raises(ValidationError) as error:
        Scale(**bands)
    assert message in str(error.value)


def test_comet_rule_defaults_to_70_and_15_on_the_high_and_low_bands():
    assert (COMET_RULE.in_pct, COMET_RULE.out_pct) == (70.0, 15.0)
    assert (COMET_RULE.in_bands, COMET_RULE.out_bands) == (("high",), ("low",))
    assert COMET_RULE.is_percentage_rule and not RAM_RULE.is_percentage_rule


@pytest.mark.parametrize(
    "rule",
    [
        COMET_RULE,
        RAM_RULE,
        ConsensusRule(kind="comet", in_pct=80, out_pct=10, require_every_group=True),
        ConsensusRule(kind="custom", in_pct=75, out_pct=5, in_bands=("mid", "high")),
    ],
)
def test_rules_round_trip_through_json(rule):
    assert ConsensusRule.model_validate_json(rule.model_dump_json()) == rule


def test_band_sets_are_stored_in_scale_order_so_equal_rules_compare_equal():
    first = ConsensusRule(kind="custom", in_pct=75, out_pct=5, in_bands=["high", "mid"])
    second = ConsensusRule(kind="custom", in_pct=75, out_pct=5, in_bands=("mid", "high"))
    assert first == second
    assert first.in_bands == ("mid", "high")


def test_rules_are_frozen():
    with pytest.raises(ValidationError):
        COMET_RULE.in_pct = 50  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "ram", "in_pct": 70}, "the ram rule uses the median and IPRAS, not percentage thresholds; remove in_pct"),
        ({"kind": "custom", "in_pct": 70}, "a custom rule needs both in_pct and out_pct"),
        ({"kind": "comet", "in_pct": 0}, "in_pct must be above 0 and at most 100, not 0"),
        ({"kind": "comet", "in_pct": 101}, "in_pct must be above 0 and at most 100, not 101"),
        ({"kind": "comet", "in_pct": 50, "out_pct": 60}, "out_pct must be above 0 and at most in_pct (50), not 60"),
        ({"kind": "comet", "out_pct": 0}, "out_pct must be above 0"),
        (
            {"kind": "custom", "in_pct": 70, "out_pct": 10, "in_bands": ("mid", "high"), "out_bands": ("mid",)},
            "in_bands and out_bands share mid; they must be disjoint",
        ),
        ({"kind": "comet", "in_bands": ("mid", "high")}, "use kind 'custom' to count other bands"),
        ({"kind": "delphi"}, "Input should be 'comet', 'ram' or 'custom'"),
        ({"kind": "comet", "threshold": 3}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(fields, message):
    with pytest.raises(ValidationError) as error:
        ConsensusRule(**fields)
    assert message in str(error.value)


def test_describe_comet_rule_reads_as_one_preregistration_sentence():
    assert COMET_RULE.describe() == (
        "Consensus in if at least 70% of participants rate the item 7-9 (critical) and fewer than 15% "
        "rate it 1-3 (not important); consensus out if at least 70% rate it 1-3 and fewer than 15% "
        "rate it 7-9; otherwise no consensus."
    )


def test_describe_mentions_every_group_requirement_and_custom_bands_and_scale():
    rule = ConsensusRule(
        kind="custom", in_pct=66.7, out_pct=10, in_bands=("mid", "high"), require_every_group=True
    )
    assert rule.describe(FIVE_POINT) == (
        "Custom rule: consensus in if at least 66.7% of participants rate the item 3-5 and fewer than "
        "10% rate it 1-2 (low); consensus out if at least 66.7% rate it 1-2 and fewer than 10% rate it "
        "3-5; otherwise no consensus; the result must hold overall and within every stakeholder group "
        "that rated the item (otherwise no consensus)."
    )


def test_describe_ram_rule_states_the_ipras_formula_and_percentile_method():
    text = RAM_RULE.describe()
    assert text.startswith("RAND/UCLA appropriateness: an item is in (appropriate) if its median rating is 7-9")
    assert "IPRAS = 2.35 + 1.5 x |5 - (P30 + P70) / 2|" in text
    assert "linear interpolation" in text
    assert text.endswith("otherwise uncertain (no consensus); disagreement means the interpercentile range "
                         "P70 - P30 exceeds IPRAS = 2.35 + 1.5 x |5 - (P30 + P70) / 2|, with percentiles by "
                         "linear interpolation.")


def test_rule_from_cli_builds_each_kind():
    assert rule_from_cli("comet") == COMET_RULE
    assert rule_from_cli(" COMET ", in_pct=80) == ConsensusRule(kind="comet", in_pct=80, out_pct=15)
    assert rule_from_cli("ram", require_every_group=True) == ConsensusRule(kind="ram", require_every_group=True)
    assert rule_from_cli("custom", in_pct=75, out_pct=10) == ConsensusRule(kind="custom", in_pct=75, out_pct=10)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("delphi",), "unknown rule 'delphi': choose one of comet, ram, custom"),
        (("ram", 70), "the ram rule takes no --in/--out thresholds (it uses the median and IPRAS)"),
        (("custom", 70), "the custom rule needs both --in and --out, e.g. --in 75 --out 10"),
        (("comet", 60, 70), "out_pct must be above 0 and at most in_pct (60), not 70"),
    ],
)
def test_rule_from_cli_gives_one_line_reasons(arguments, message):
    with pytest.raises(ValueError) as error:
        rule_from_cli(*arguments)
    assert str(error.value) == message


def test_docs_name_every_summary_column_and_the_standard_rules():
    docs = (Path(__file__).parents[2] / "docs" / "consensus.md").read_text(encoding="utf-8")
    undocumented = [name for name in [*SUMMARY_COLUMNS, *STANDARD_RULES] if f"`{name}`" not in docs]
    assert undocumented == []
