"""Technology records: validation against the vocabularies, create/update/delete, analysis frames."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from storage.catalogue import TechnologyInput, create_technology, delete_technology, get_technology, load_frames, update_technology
from storage.db import read_session
from storage.vocabularies import all_codes, subtype_parents


def context(engine) -> dict:
    with read_session(engine) as session:
        return {"codes": all_codes(session), "subtype_parents": subtype_parents(session)}


def valid(**overrides) -> dict:
    values = {
        "name": "Chest X-ray triage", "company": "Acme", "type_code": "diagnostics", "subtype_code": "imaging",
        "clinical_areas": ["radiology"], "workforce_groups": ["medic:radiology", "ahp:radiology"], "points_of_care": ["secondary"],
        "time_to_deployment": "within_1y", "impact_workforce": "high", "ukca_ce_class": "IIa", "ukca_ce_regime": "MDR",
    }
    values.update(overrides)
    return values


def test_valid_input_sets_the_first_group_as_primary(engine) -> None:
    item = TechnologyInput.model_validate(valid(), context=context(engine))
    assert item.primary_workforce_group == "medic:radiology"
    assert item.needs_classification is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type_code": "astrology"}, "type_code: 'astrology' is not a known technology type"),
        ({"type_code": "automation", "subtype_code": "imaging"}, "subtype_code: 'imaging' is not a subtype of 'automation'"),
        ({"clinical_areas": ["radiology", "alchemy"]}, "clinical_areas: unknown clinical area 'alchemy'"),
        ({"primary_workforce_group": "nurse:district_nursing"}, "primary_workforce_group: must be one of the technology's workforce groups"),
        ({"ukca_ce_class": "IV"}, "'IV' is not a UKCA/CE class: use one of I, IIa, IIb, III"),
        ({"fda_submission_number": "BK200123"}, "fda_pathway: required when the FDA submission number does not show it"),
        ({"fda_pathway": "PMA approved", "fda_submission_number": "K123456"},
         "fda_pathway: PMA does not match submission number K123456, which is a 510(k) number"),
        ({"fda_pathway": "510(k) or PMA"}, "is not an FDA pathway"),
        ({"name": "  "}, "a name is required"),
    ],
)
def test_invalid_input_names_the_field(engine, overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        TechnologyInput.model_validate(valid(**overrides), context=context(engine))
    assert message in str(error.value)


def test_missing_type_marks_the_record_to_classify(engine) -> None:
    item = TechnologyInput.model_validate(valid(type_code=None, subtype_code=None), context=context(engine))
    assert item.needs_classification is True


def test_create_update_delete_round_trip(engine) -> None:
    ctx = context(engine)
    technology_id = create_technology(engine, TechnologyInput.model_validate(valid(catalogue_id="X-1"), context=ctx))
    stored = get_technology(engine, technology_id)
    assert stored.name == "Chest X-ray triage"
    assert {(link.kind, link.code, link.is_primary) for link in stored.links} == {
        ("clinical_area", "radiology", False), ("workforce_group", "medic:radiology", True),
        ("workforce_group", "ahp:radiology", False), ("point_of_care", "secondary", False),
    }
    assert [(e.scheme, e.value) for e in stored.external_ids] == [("catalogue", "X-1")]

    update_technology(engine, technology_id, TechnologyInput.model_validate(
        valid(workforce_groups=["ahp:radiology"], points_of_care=["secondary", "primary"], catalogue_id="X-1"), context=ctx))
    stored = get_technology(engine, technology_id)
    groups = [(link.code, link.is_primary) for link in stored.links if link.kind == "workforce_group"]
    assert groups == [("ahp:radiology", True)]
    assert sorted(link.code for link in stored.links if link.kind == "point_of_care") == ["primary", "secondary"]

    frames = load_frames(engine)
    assert frames["technologies"]["technology_id"].tolist() == [technology_id]
    assert set(frames["technology_links"]["kind"]) == {"clinical_area", "workforce_group", "point_of_care"}

    delete_technology(engine, technology_id)
    assert get_technology(engine, technology_id) is None
    with pytest.raises(LookupError):
        delete_technology(engine, technology_id)
