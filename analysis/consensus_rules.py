"""Rating scales and pre-registered consensus rules for Delphi and RAND/UCLA workshops.

Both are frozen pydantic models so a workshop can store its rule as JSON before round 1
(``rule.model_dump_json()`` / ``ConsensusRule.model_validate_json(...)``) and quote the exact
wording in its write-up (``rule.describe(scale)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

Band = Literal["low", "mid", "high"]
BAND_ORDER: tuple[Band, ...] = ("low", "mid", "high")
RuleKind = Literal["comet", "ram", "custom"]
RULE_KINDS: tuple[RuleKind, ...] = ("comet", "ram", "custom")

DEFAULT_BAND_LABELS = ("not important", "important but not critical", "critical")
COMET_IN_PCT = 70.0
COMET_OUT_PCT = 15.0

# RAND/UCLA disagreement constants (IPRAS = 2.35 + 1.5 * |5 - IPRCP|); 5 is the centre of 1-9.
IPRAS_BASE = 2.35
IPRAS_ASYMMETRY_FACTOR = 1.5
RAND_UCLA_CENTRE = 5.0


class Scale(BaseModel):
    """An ordinal rating scale split into three contiguous bands (inclusive integer ranges)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: int = 1
    max: int = 9
    low: tuple[int, int] = (1, 3)
    mid: tuple[int, int] = (4, 6)
    high: tuple[int, int] = (7, 9)
    labels: tuple[str, str, str] = DEFAULT_BAND_LABELS

    @model_validator(mode="after")
    def _bands_partition_the_scale(self) -> Self:
        problems: list[str] = []
        for band in BAND_ORDER:
            first, last = self.band_range(band)
            if first > last:
                problems.append(f"the {band} band {first}-{last} ends before it starts")
        if self.low[0] != self.min:
            problems.append(f"the low band must start at the scale minimum {self.min}, not {self.low[0]}")
        if self.high[1] != self.max:
            problems.append(f"the high band must end at the scale maximum {self.max}, not {self.high[1]}")
        for lower, upper in (("low", "mid"), ("mid", "high")):
            lower_end = self.band_range(lower)[1]
            upper_start = self.band_range(upper)[0]
            if upper_start <= lower_end:
                problems.append(
                    f"the {lower} and {upper} bands overlap ({lower} ends at {lower_end}, "
                    f"{upper} starts at {upper_start})"
                )
            elif upper_start > lower_end + 1:
                problems.append(
                    f"there is a gap between the {lower} and {upper} bands "
                    f"({lower} ends at {lower_end}, {upper} starts at {upper_start})"
                )
        if any(not label.strip() for label in self.labels):
            problems.append("every band needs a label")
        if problems:
            raise ValueError("invalid scale: " + "; ".join(problems))
        return self

    def band_range(self, band: Band) -> tuple[int, int]:
        """The inclusive (first, last) values of one band."""
        return {"low": self.low, "mid": self.mid, "high": self.high}[band]

    def label(self, band: Band) -> str:
        return self.labels[BAND_ORDER.index(band)]

    @property
    def supports_rand_ucla(self) -> bool:
        """IPRAS was calibrated on 1-9 panels, so the RAND/UCLA method needs a 1-9 scale."""
        return self.min == 1 and self.max == 9

    def range_text(self) -> str:
        return f"{self.min}-{self.max}"

    def bands_text(self, bands: Iterable[Band], with_label: bool = True) -> str:
        """Human text for a set of bands, merging neighbours: ("mid", "high") -> "4-9"."""
        ordered = sorted(set(bands), key=BAND_ORDER.index)
        spans: list[list[int]] = []
        for band in ordered:
            first, last = self.band_range(band)
            if spans and spans[-1][1] + 1 == first:
                spans[-1][1] = last
            else:
                spans.append([first, last])
        text = " or ".join(f"{first}" if first == last else f"{first}-{last}" for first, last in spans)
        if with_label and len(ordered) == 1:
            text += f" ({self.label(ordered[0])})"
        return text


DEFAULT_SCALE = Scale()


def _percent_text(value: float) -> str:
    return f"{value:g}%"


class ConsensusRule(BaseModel):
    """A consensus rule chosen before round 1.

    kind "comet": in if >= in_pct % rate in the high band and < out_pct % rate in the low band;
    out is the mirror; thresholds default to 70/15 and the bands are fixed.
    kind "custom": the same shape with any thresholds (required) and any disjoint band sets.
    kind "ram": RAND/UCLA median band plus IPRAS disagreement; takes no thresholds.
    require_every_group: the classification must also hold within every stakeholder group
    that has ratings for the item in that round (groups without ratings are skipped).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RuleKind
    in_pct: float | None = None
    out_pct: float | None = None
    in_bands: tuple[Band, ...] | None = None
    out_bands: tuple[Band, ...] | None = None
    require_every_group: bool = False

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults_for_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        kind = filled.get("kind")
        if kind == "comet":
            filled["in_pct"] = COMET_IN_PCT if filled.get("in_pct") is None else filled["in_pct"]
            filled["out_pct"] = COMET_OUT_PCT if filled.get("out_pct") is None else filled["out_pct"]
        if kind in ("comet", "custom"):
            filled["in_bands"] = filled.get("in_bands") or ("high",)
            filled["out_bands"] = filled.get("out_bands") or ("low",)
            # Store band sets in scale order so equal rules serialise identically.
            for key in ("in_bands", "out_bands"):
                bands = filled[key]
                if isinstance(bands, str):
                    bands = (bands,)
                if all(band in BAND_ORDER for band in bands):
                    filled[key] = tuple(sorted(set(bands), key=BAND_ORDER.index))
        return filled

    @model_validator(mode="after")
    def _check_thresholds(self) -> Self:
        if self.kind == "ram":
            given = [
                name
                for name in ("in_pct", "out_pct", "in_bands", "out_bands")
                if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    "the ram rule uses the median and IPRAS, not percentage thresholds; "
                    f"remove {', '.join(given)}"
                )
            return self
        if self.in_pct is None or self.out_pct is None:
            raise ValueError("a custom rule needs both in_pct and out_pct")
        if not 0 < self.in_pct <= 100:
            raise ValueError(f"in_pct must be above 0 and at most 100, not {self.in_pct:g}")
        if not 0 < self.out_pct <= self.in_pct:
            # out_pct <= in_pct makes "in" and "out" mutually exclusive.
            raise ValueError(
                f"out_pct must be above 0 and at most in_pct ({self.in_pct:g}), not {self.out_pct:g}"
            )
        assert self.in_bands is not None and self.out_bands is not None  # filled before validation
        overlap = set(self.in_bands) & set(self.out_bands)
        if overlap:
            raise ValueError(f"in_bands and out_bands share {', '.join(sorted(overlap))}; they must be disjoint")
        if self.kind == "comet" and (self.in_bands != ("high",) or self.out_bands != ("low",)):
            raise ValueError(
                "a comet rule counts the high band for in and the low band for out; "
                "use kind 'custom' to count other bands"
            )
        return self

    @property
    def is_percentage_rule(self) -> bool:
        return self.kind != "ram"

    def describe(self, scale: Scale = DEFAULT_SCALE) -> str:
        """One sentence for the pre-registration / methods section."""
        if self.kind == "ram":
            sentence = (
                "RAND/UCLA appropriateness: an item is in (appropriate) if its median rating is "
                f"{scale.bands_text(['high'])} without disagreement and out (inappropriate) if its median is "
                f"{scale.bands_text(['low'])} without disagreement, otherwise uncertain (no consensus); "
                "disagreement means the interpercentile range P70 - P30 exceeds "
                "IPRAS = 2.35 + 1.5 x |5 - (P30 + P70) / 2|, with percentiles by linear interpolation"
            )
        else:
            assert self.in_pct is not None and self.out_pct is not None
            assert self.in_bands is not None and self.out_bands is not None
            in_text = scale.bands_text(self.in_bands)
            out_text = scale.bands_text(self.out_bands)
            prefix = "Consensus" if self.kind == "comet" else "Custom rule: consensus"
            sentence = (
                f"{prefix} in if at least {_percent_text(self.in_pct)} of participants rate the item "
                f"{in_text} and fewer than {_percent_text(self.out_pct)} rate it {out_text}; "
                f"consensus out if at least {_percent_text(self.in_pct)} rate it "
                f"{scale.bands_text(self.out_bands, with_label=False)} and fewer than "
                f"{_percent_text(self.out_pct)} rate it {scale.bands_text(self.in_bands, with_label=False)}; "
                "otherwise no consensus"
            )
        if self.require_every_group:
            sentence += (
                "; the result must hold overall and within every stakeholder group that rated the item "
                "(otherwise no consensus)"
            )
        return sentence + "."


COMET_RULE = ConsensusRule(kind="comet")
COMET_EVERY_GROUP_RULE = ConsensusRule(kind="comet", require_every_group=True)
RAM_RULE = ConsensusRule(kind="ram")


def rule_from_cli(
    rule_name: str,
    in_pct: float | None = None,
    out_pct: float | None = None,
    require_every_group: bool = False,
) -> ConsensusRule:
    """Build a rule from `--rule comet|ram|custom [--in N --out N]` options.

    comet takes optional --in/--out (default 70/15), custom needs both, ram takes neither.
    Raises ValueError with a message fit to print as the CLI's one-line reason.
    """
    kind = rule_name.strip().lower()
    if kind not in RULE_KINDS:
        raise ValueError(f"unknown rule {rule_name!r}: choose one of {', '.join(RULE_KINDS)}")
    if kind == "ram" and (in_pct is not None or out_pct is not None):
        raise ValueError("the ram rule takes no --in/--out thresholds (it uses the median and IPRAS)")
    if kind == "custom" and (in_pct is None or out_pct is None):
        raise ValueError("the custom rule needs both --in and --out, e.g. --in 75 --out 10")
    try:
        return ConsensusRule(
            kind=kind, in_pct=in_pct, out_pct=out_pct, require_every_group=require_every_group
        )
    except ValidationError as error:
        # pydantic's ValidationError text is multi-line; keep the CLI reason on one line.
        messages = [detail["msg"].removeprefix("Value error, ") for detail in error.errors()]
        raise ValueError("; ".join(messages)) from None
