"""The survey evidence as the analysis input frames ``responses`` and ``answers`` (analysis/schemas.py).

Read with plain SELECTs straight into pandas (no ORM objects): the answers table reaches about a
million rows, and building one Python object per row would dominate the time.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from storage.models.survey import SurveyAnswer, SurveyInstrument, SurveyResponse
from storage.permissions import guarded

RESPONSE_COLUMNS = ("response_id", "instrument", "submitted_at", "region", "site_type", "staff_group", "is_demo")
ANSWER_COLUMNS = ("response_id", "technology_id", "variable", "value")


@guarded("survey.responses")
def load_survey_frames(engine: Engine, *, actor: Any = None) -> dict[str, pd.DataFrame]:
    """``{"responses": ..., "answers": ...}``:

    responses: response_id int64, instrument str, submitted_at datetime64[UTC], region / site_type /
    staff_group str or NA (profile answers), is_demo bool.
    answers: response_id int64, technology_id Int64 (NA for questions not asked per technology),
    variable str, value str.
    """
    responses_query = select(SurveyResponse.id, SurveyInstrument.name, SurveyResponse.submitted_at, SurveyResponse.region,
                             SurveyResponse.site_type, SurveyResponse.staff_group, SurveyResponse.is_demo).join(
        SurveyInstrument, SurveyInstrument.id == SurveyResponse.instrument_id).order_by(SurveyResponse.id)
    answers_query = select(SurveyAnswer.response_id, SurveyAnswer.technology_id, SurveyAnswer.variable,
                           SurveyAnswer.value).order_by(SurveyAnswer.id)
    with engine.connect() as connection:
        response_rows = connection.execute(responses_query).all()
        answer_rows = connection.execute(answers_query).all()
    responses = pd.DataFrame.from_records(response_rows, columns=list(RESPONSE_COLUMNS), coerce_float=False)
    answers = pd.DataFrame.from_records(answer_rows, columns=list(ANSWER_COLUMNS), coerce_float=False)
    responses["response_id"] = responses["response_id"].astype("int64")
    responses["instrument"] = responses["instrument"].astype("str")
    responses["submitted_at"] = pd.to_datetime(responses["submitted_at"], utc=True)
    for column in ("region", "site_type", "staff_group"):
        responses[column] = responses[column].astype("str")  # missing stays missing in pandas' str dtype
    responses["is_demo"] = responses["is_demo"].astype(bool)
    answers["response_id"] = answers["response_id"].astype("int64")
    answers["technology_id"] = pd.array(answers["technology_id"], dtype="Int64")
    answers["variable"] = answers["variable"].astype("str")
    answers["value"] = answers["value"].astype("str")
    return {"responses": responses, "answers": answers}
