"""The differencing guard (analysis.disclosure.differencing_guard): any two respondent views whose
boxes are nested, and that both publish a key, differ by 0 or at least the threshold of that key's
respondents. Checked against a direct count on random respondents and random nested boxes, over
every respondent dimension (the language a response was given in included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.disclosure import PUBLISHABLE, SINGLES_OUT, TOO_FEW, RespondentFilter, differencing_guard

THRESHOLD = 3
REGIONS, STAFF, SITES, LANGUAGES = ("a", "b", "c"), ("x", "y"), ("p", "q"), ("en", "cy")
MONTHS = ("2025-01", "2025-02", "2025-03", "2025-04")
N_KEYS = 3

respondent = st.fixed_dictionaries({
    "region": st.sampled_from([*REGIONS, None]),
    "staff_group": st.sampled_from([*STAFF, None]),
    "site_type": st.sampled_from(SITES),
    "language": st.sampled_from([*LANGUAGES, None]),
    "month": st.sampled_from(MONTHS),
    "keys": st.sets(st.integers(0, N_KEYS - 1)),
})


def frame(people: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "response_id": np.arange(1, len(people) + 1, dtype=np.int64),
        "region": pd.Series([p["region"] for p in people], dtype=object),
        "site_type": pd.Series([p["site_type"] for p in people], dtype=object),
        "staff_group": pd.Series([p["staff_group"] for p in people], dtype=object),
        "language": pd.Series([p["language"] for p in people], dtype=object),
        "submitted_at": pd.to_datetime([f"{p['month']}-10" for p in people]),
    })


def members(people: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(index + 1, key) for index, p in enumerate(people) for key in sorted(p["keys"])]
    return (np.array([r for r, _ in pairs], dtype=np.int64), np.array([k for _, k in pairs], dtype=np.int64))


def inside(person: dict, box: RespondentFilter) -> bool:
    """Box membership written out directly, as the definition says."""
    return ((not box.regions or person["region"] in box.regions)
            and (not box.staff_groups or person["staff_group"] in box.staff_groups)
            and (not box.site_types or person["site_type"] in box.site_types)
            and (not box.languages or person["language"] in box.languages)
            and (box.submitted_from is None or person["month"] >= box.submitted_from)
            and (box.submitted_to is None or person["month"] <= box.submitted_to))


@st.composite
def nested_boxes(draw) -> tuple[RespondentFilter, RespondentFilter]:
    """A box and a box inside it (each dimension's choice narrowed or kept; a month range shrunk)."""
    wide, narrow = {}, {}
    for field, codes in (("regions", REGIONS), ("staff_groups", STAFF), ("site_types", SITES), ("languages", LANGUAGES)):
        chosen = tuple(sorted(draw(st.sets(st.sampled_from(codes)))))
        wide[field] = chosen
        pool = chosen or codes
        narrowed = tuple(sorted(draw(st.sets(st.sampled_from(pool), min_size=1 if chosen else 0))))
        narrow[field] = narrowed
    low = draw(st.integers(0, len(MONTHS) - 1))
    high = draw(st.integers(low, len(MONTHS) - 1))
    inner_low = draw(st.integers(low, high))
    inner_high = draw(st.integers(inner_low, high))

    def bound(index: int, edge: int) -> str | None:
        return None if index == edge else MONTHS[index]

    wide.update(submitted_from=bound(low, 0), submitted_to=bound(high, len(MONTHS) - 1))
    narrow.update(submitted_from=bound(inner_low, 0), submitted_to=bound(inner_high, len(MONTHS) - 1))
    return RespondentFilter(**wide), RespondentFilter(**narrow)


def small(count: int) -> bool:
    return 0 < count < THRESHOLD


@settings(max_examples=400, deadline=None)
@given(people=st.lists(respondent, max_size=30), boxes=nested_boxes())
def test_nested_views_that_both_publish_never_differ_by_a_few(people, boxes):
    wide, narrow = boxes
    responses = frame(people)
    response_ids, keys = members(people)
    results = {box: differencing_guard(response_ids, keys, N_KEYS, responses, box, THRESHOLD)
               for box in (wide, narrow, RespondentFilter())}
    for key in range(N_KEYS):
        holders = [p for p in people if key in p["keys"]]
        counts = {box: sum(inside(p, box) for p in holders) for box in results}
        for box, result in results.items():
            assert result.n[key] == counts[box]  # the guard counts what the definition says
            if result.reason[key] == PUBLISHABLE:
                assert not small(counts[box])
        for bigger, smaller in ((wide, narrow), (RespondentFilter(), narrow), (RespondentFilter(), wide)):
            both = results[bigger].reason[key] == PUBLISHABLE and results[smaller].reason[key] == PUBLISHABLE
            if both:
                assert not small(counts[bigger] - counts[smaller]), (key, bigger, smaller, counts)
    # Pairs repeated count once; pairs the caller made once (in any order) may skip that step.
    order = np.random.default_rng(len(people)).permutation(len(keys))
    for box, result in results.items():
        for other in (differencing_guard(np.tile(response_ids, 2), np.tile(keys, 2), N_KEYS, responses, box, THRESHOLD),
                      differencing_guard(response_ids[order], keys[order], N_KEYS, responses, box, THRESHOLD, distinct=True)):
            assert np.array_equal(other.n, result.n) and np.array_equal(other.reason, result.reason)


def test_reasons_on_a_hand_made_example():
    people = ([{"region": "a", "staff_group": "x", "site_type": "p", "language": "en", "month": "2025-01", "keys": {0, 1}}] * 6
              + [{"region": "b", "staff_group": "x", "site_type": "p", "language": "en", "month": "2025-01", "keys": {0}}] * 2)
    response_ids, keys = members(people)
    result = differencing_guard(response_ids, keys, 3, frame(people), RespondentFilter(regions=("a",)), THRESHOLD)
    # key 0: 6 in the view, 8 in all -> the two in region b would be singled out
    # key 1: 6 in the view and 6 in all -> publishable; key 2: nobody -> nothing to hide
    assert result.n.tolist() == [6, 6, 0]
    assert result.reason.tolist() == [SINGLES_OUT, PUBLISHABLE, PUBLISHABLE]
    unfiltered = differencing_guard(response_ids[:2], keys[:2], 3, frame(people), None, THRESHOLD)
    assert unfiltered.n.tolist() == [1, 1, 0] and unfiltered.reason.tolist() == [TOO_FEW, TOO_FEW, PUBLISHABLE]


def test_a_respondent_filter_needs_the_respondents_attributes():
    with pytest.raises(ValueError, match="needs the responses frame"):
        differencing_guard(np.array([1]), np.array([0]), 1, None, RespondentFilter(regions=("a",)), THRESHOLD)
    with pytest.raises(ValueError, match="submitted_from"):
        RespondentFilter(submitted_from="2025-03", submitted_to="2025-01")


def test_a_language_filter_withholds_what_would_single_out_a_few_respondents():
    # Seven answered in English and two in Welsh: choosing English alone would, against the
    # unfiltered view, single out the two Welsh respondents.
    people = ([{"region": "a", "staff_group": "x", "site_type": "p", "language": "en", "month": "2025-01", "keys": {0}}] * 7
              + [{"region": "a", "staff_group": "x", "site_type": "p", "language": "cy", "month": "2025-01", "keys": {0}}] * 2)
    response_ids, keys = members(people)
    english = differencing_guard(response_ids, keys, 1, frame(people), RespondentFilter(languages=("en",)), THRESHOLD)
    assert english.n.tolist() == [7] and english.reason.tolist() == [SINGLES_OUT]
    people += [{"region": "a", "staff_group": "x", "site_type": "p", "language": "cy", "month": "2025-01", "keys": {0}}]
    response_ids, keys = members(people)
    english = differencing_guard(response_ids, keys, 1, frame(people), RespondentFilter(languages=("en",)), THRESHOLD)
    assert english.n.tolist() == [7] and english.reason.tolist() == [PUBLISHABLE]
