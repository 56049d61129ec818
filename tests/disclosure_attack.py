"""The derivation attack on published estimates, kept as a helper so every output is checked by it.

An export carries each ordinal estimate's probabilities ``p_k = alpha_k / sum(alpha)`` under the
documented model (docs/method.md). Knowing the model, anyone holding the export can try:

1. the smallest probability belongs to a category held only by the background ``b``, so
   ``sum(alpha) = b / min(p)``;
2. ``alpha_k - b`` is each category's evidence weight; take off the desk prior ``s`` on the
   desk assessment's category (the catalogue export names it);
3. what is left is the survey weight per category (plus workshop and site weight): whole users
   count 1 and aware answers 0.4, so the fractional part tells how many of each answered.

:func:`recover_answers` does exactly this. :func:`published_outputs` gathers everything that
leaves the estimation code (the estimates export, every view table, every drill-down, the report)
as text, so a test can check that none of it depends on answers that must stay withheld.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis import schemas as s
from analysis.blending import BlendSettings
from analysis.views import Filters
from storage.analysis_inputs import AnalysisInputs
from storage.exports import table_bytes
from streamlit_app.report import build_report, compute_analysis, compute_estimates

FIXED_MOMENT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def recover_answers(estimates: pd.DataFrame, technologies: pd.DataFrame,
                    settings: BlendSettings | None = None) -> pd.DataFrame:
    """The recipe above, on every ordinal estimate row that carries probabilities.

    Returns one row per (technology_id, quantity, category) with the recovered non-desk weight
    and, where it splits into whole users and aware answers, ``users`` and ``aware``.
    """
    settings = settings or BlendSettings()
    desk = technologies.set_index("technology_id")
    rows = []
    for _, estimate in estimates.iterrows():
        quantity = estimate["quantity"]
        if quantity not in s.ORDINAL_QUANTITIES:
            continue
        codes = s.QUANTITY_CATEGORIES[quantity]
        p = np.array([estimate[f"p_{code}"] for code in codes], dtype=float)
        if not np.isfinite(p).all() or p.min() <= 0:
            continue
        weights = p * (settings.background_alpha / p.min()) - settings.background_alpha
        column = s.CATALOGUE_COLUMN.get(quantity)
        desk_code = desk.loc[estimate["technology_id"], column] if column else None
        if isinstance(desk_code, str) and desk_code in codes:
            weights[codes.index(desk_code)] -= settings.prior_strength
        for code, weight in zip(codes, weights, strict=True):
            users, aware = _split(weight, settings)
            rows.append({"technology_id": estimate["technology_id"], "quantity": quantity, "category": code,
                         "weight": round(float(weight), 6), "users": users, "aware": aware})
    return pd.DataFrame(rows, columns=["technology_id", "quantity", "category", "weight", "users", "aware"])


def _split(weight: float, settings: BlendSettings) -> tuple[int | None, int | None]:
    """Whole users and aware answers adding up to ``weight`` (the fewest aware answers), if any."""
    for aware in range(0, 50):
        users = (weight - aware * settings.aware_weight) / settings.user_weight if settings.user_weight else 0.0
        if users >= -1e-6 and abs(users - round(users)) < 1e-6:
            return int(round(users)), aware
    return None, None


def published_outputs(inputs: AnalysisInputs, threshold: int, filters: Filters | None = None,
                      settings: BlendSettings | None = None,
                      labels: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, str]:
    """Everything a lead can see or export for these inputs, as text keyed by where it appears.

    The report's stamp of the data version (a count of writes) is blanked: it says nothing of
    any answer but differs between two databases built differently.
    """
    settings = settings or BlendSettings()
    filters = filters or Filters()
    estimates = compute_estimates(inputs, settings, threshold, filters.respondent_filter())
    analysis = compute_analysis(inputs, estimates, settings, filters, threshold, as_of="2030-01-01")
    outputs = {"estimates export": table_bytes(analysis.estimates_table, "csv").decode("utf-8")}
    for name, table in analysis.tables.items():
        outputs[f"table {name}"] = table_bytes(table, "csv").decode("utf-8")
    for type_code in analysis.types_present:
        for name, table in analysis.profile(type_code).items():
            outputs[f"profile {type_code} {name}"] = table_bytes(table, "csv").decode("utf-8")
    for technology_id in analysis.ids:
        for quantity in s.QUANTITIES:
            rows, note = analysis.evidence(int(technology_id), quantity)
            outputs[f"evidence {technology_id} {quantity}"] = table_bytes(rows, "csv").decode("utf-8") + f"\n{note}"
    report = build_report(analysis, [], labels, generated_at=FIXED_MOMENT, method_text="")
    outputs["report"] = re.sub(r"<td>Data version</td><td>\d+</td>", "<td>Data version</td><td>#</td>", report)
    return outputs


def differences(first: Mapping[str, str], second: Mapping[str, str]) -> list[str]:
    """Where two sets of published outputs differ (their names), for a readable failure."""
    return sorted(name for name in set(first) | set(second) if first.get(name) != second.get(name))
