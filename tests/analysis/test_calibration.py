"""Calibration of the blended estimates on synthetic evidence with a known truth.

Ordinal quantities: the truth is the realised category, a draw from the technology's true
distribution p*, placed on the latent scale with a uniform jitter inside its category (the
randomised probability integral transform used to check discrete forecasts). The reported
latent 90% interval must contain it in 85-95% of technologies, for each quantity. The category
interval, which rounds the latent one outwards, must contain the realised category at least as
often. Minutes per case: the truth is the population median; the bootstrap percentile interval
must contain it in 85-95% of technologies with an interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import schemas, synthetic
from analysis.blending import estimate_all
from analysis.disclosure import DEFAULT_THRESHOLD

N_TECHNOLOGIES = 500


def blended(data: synthetic.SyntheticData, disclosure_threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    estimates = estimate_all(data.technologies, data.technology_links, data.adoption, data.answers,
                             data.workshop_results, responses=data.responses, disclosure_threshold=disclosure_threshold)
    return estimates.merge(data.truth, on=["technology_id", "quantity"], suffixes=("", "_true"))


def latent_covered(rows: pd.DataFrame) -> pd.Series:
    return (rows["latent_lower"] <= rows["true_position"]) & (rows["true_position"] <= rows["latent_upper"])


@pytest.fixture(scope="module")
def calibration() -> pd.DataFrame:
    # about 16 responses per technology, 30% of them aware-only, 20% of technologies with workshops
    return blended(synthetic.generate(N_TECHNOLOGIES, 8000, seed=0))


@pytest.mark.parametrize("quantity", schemas.ORDINAL_QUANTITIES)
def test_ordinal_intervals_cover_the_truth_about_90_percent(calibration, quantity):
    rows = calibration[calibration["quantity"] == quantity]
    assert len(rows) == N_TECHNOLOGIES
    latent = latent_covered(rows).mean()
    assert 0.85 <= latent <= 0.95, f"{quantity}: latent coverage {latent:.3f}"
    category = ((rows["lower_index"] <= rows["true_index"]) & (rows["true_index"] <= rows["upper_index"])).mean()
    assert category >= latent


def test_minutes_intervals_cover_the_true_median_about_90_percent(calibration):
    rows = calibration[(calibration["quantity"] == "minutes_per_case") & calibration["lower_index"].notna()]
    assert len(rows) >= 200
    coverage = ((rows["lower_index"] <= rows["true_index"]) & (rows["true_index"] <= rows["upper_index"])).mean()
    assert 0.85 <= coverage <= 0.95, f"minutes coverage {coverage:.3f}"


def total_variation(rows: pd.DataFrame, quantity: str) -> float:
    codes = schemas.QUANTITY_CATEGORIES[quantity]
    estimated = rows[[f"p_{c}" for c in codes]].to_numpy()
    true = rows[[f"p_{c}_true" for c in codes]].to_numpy()
    return float(0.5 * np.abs(estimated - true).sum(axis=1).mean())


@pytest.fixture(scope="module")
def thin_calibration() -> pd.DataFrame:
    # about 4 responses per technology: most technologies' survey evidence is withheld
    return blended(synthetic.generate(N_TECHNOLOGIES, 2000, seed=0))


@pytest.mark.parametrize("quantity", schemas.ORDINAL_QUANTITIES)
def test_thin_survey_evidence_withheld_leaves_intervals_somewhat_narrow(thin_calibration, quantity):
    """Where survey evidence is withheld the estimate rests on the desk value (3 pseudo-responses),
    sites and workshops, taken at face value: coverage drops to about 80% (docs/method.md)."""
    rows = thin_calibration[thin_calibration["quantity"] == quantity]
    withheld = rows[rows["survey_withheld"].astype(bool)]
    assert len(withheld) >= 0.5 * N_TECHNOLOGIES
    assert 0.75 <= latent_covered(withheld).mean() <= 0.95, f"{quantity}: {latent_covered(withheld).mean():.3f}"
    assert 0.75 <= latent_covered(rows).mean() <= 0.95


def test_estimates_approach_the_truth_as_evidence_grows():
    # The model's convergence (disclosure control off: with it, thin technologies are left to
    # their desk evidence whatever the survey says, which is the point of withholding).
    # Same seed -> same truth; only the number of responses changes (about 1, 5, 20, 80 per technology).
    errors = {}
    for responses in (300, 1500, 6000, 24000):
        merged = blended(synthetic.generate(300, responses, seed=7), disclosure_threshold=1)
        ordinal = merged[merged["quantity"] != "minutes_per_case"]
        minutes = merged[(merged["quantity"] == "minutes_per_case") & merged["point_index"].notna()]
        errors[responses] = {
            "distribution": np.mean([total_variation(ordinal[ordinal["quantity"] == q], q)
                                     for q in schemas.ORDINAL_QUANTITIES]),
            "median_category": float((ordinal["point_index"] - ordinal["true_median_index"]).abs().mean()),
            "minutes": float((minutes["point_index"] - minutes["true_index"]).abs().mean()),
        }
    for measure in ("distribution", "median_category", "minutes"):
        sequence = [errors[n][measure] for n in sorted(errors)]
        assert all(later < earlier for earlier, later in zip(sequence, sequence[1:])), (measure, sequence)
    assert errors[24000]["distribution"] < 0.5 * errors[300]["distribution"]
    assert errors[24000]["minutes"] < 0.25 * errors[300]["minutes"]
