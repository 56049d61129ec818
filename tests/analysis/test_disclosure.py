"""Hand-computed tests of small-count suppression (analysis.disclosure)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.disclosure import suppress_small_counts


def cells(result, columns):
    """The table as lists, suppressed cells shown as 'S'."""
    return [["S" if pd.isna(row[c]) else int(row[c]) for c in columns] for _, row in result.iterrows()]


def test_primary_and_secondary_suppression_across_rows_and_columns():
    table = pd.DataFrame({"group": ["A", "B"], "c1": [10, 7], "c2": [3, 12], "c3": [8, 0]})
    result = suppress_small_counts(table, ["c1", "c2", "c3"])
    # primary: A.c2 = 3 < 5.
    # row A has one hidden cell -> next smallest in the row, A.c3 = 8.
    # column c2 now has one hidden cell (A) -> B.c2 = 12; column c3 likewise -> B.c3 = 0.
    # row B then has two hidden cells, every line has 0 or >= 2: stable.
    assert cells(result, ["c1", "c2", "c3"]) == [[10, "S", "S"], [7, "S", "S"]]
    assert list(result["c2_suppressed"]) == [True, True]
    assert list(result["c1_suppressed"]) == [False, False]
    assert result.loc[0, "suppression_note"] == "c2: fewer than 5; c3: hidden so a small count cannot be derived"
    assert result.loc[1, "suppression_note"] == (
        "c2: hidden so a small count cannot be derived; c3: hidden so a small count cannot be derived")
    assert str(result["c1"].dtype) == "Int64"
    assert "below 5" in result.attrs["suppression_note"]
    # the input is left alone
    assert table.loc[0, "c2"] == 3


def test_zeros_and_large_counts_are_shown():
    table = pd.DataFrame({"n": [0, 10, 20]})
    result = suppress_small_counts(table, ["n"])
    assert cells(result, ["n"]) == [[0], [10], [20]]
    assert list(result["suppression_note"]) == ["", "", ""]


def test_secondary_suppression_within_by_groups():
    table = pd.DataFrame({"archetype": ["user", "user", "user", "driver", "driver"],
                          "training": ["a", "b", "c", "a", "b"], "n": [2, 9, 6, 8, 7]})
    result = suppress_small_counts(table, ["n"], by="archetype")
    # group user: 2 hidden (primary) -> its next smallest, 6, hidden too; group driver untouched
    assert cells(result, ["n"]) == [["S"], [9], ["S"], [8], [7]]


def test_whole_column_is_one_line_without_by():
    table = pd.DataFrame({"n": [4, 30, 12, 50]})
    result = suppress_small_counts(table, ["n"])
    # 4 hidden; the column total would reveal it, so the next smallest (12) goes too
    assert cells(result, ["n"]) == [["S"], [30], ["S"], [50]]


def test_threshold_is_configurable_and_validated():
    table = pd.DataFrame({"n": [6, 7, 30]})
    assert cells(suppress_small_counts(table, ["n"], threshold=5), ["n"]) == [[6], [7], [30]]
    # threshold 10: 6 and 7 both primary -> two hidden cells, nothing else needed
    assert cells(suppress_small_counts(table, ["n"], threshold=10), ["n"]) == [["S"], ["S"], [30]]
    with pytest.raises(ValueError, match="threshold"):
        suppress_small_counts(table, ["n"], threshold=0)


def test_unknown_columns_are_named():
    with pytest.raises(ValueError, match="'respondents'"):
        suppress_small_counts(pd.DataFrame({"n": [1]}), ["n", "respondents"])
    with pytest.raises(ValueError, match="'region'"):
        suppress_small_counts(pd.DataFrame({"n": [1]}), ["n"], by="region")


def test_cascading_secondary_suppression_reaches_a_stable_table():
    # rows x columns grid:
    #        c1  c2
    #   r1    1  20
    #   r2   20  20
    # r1.c1 primary -> row r1: r1.c2 (20); column c1: r2.c1; column c2 then has r1 hidden only
    # -> r2.c2 too. Every row and column ends with two hidden cells.
    table = pd.DataFrame({"c1": [1, 20], "c2": [20, 20]})
    result = suppress_small_counts(table, ["c1", "c2"])
    assert cells(result, ["c1", "c2"]) == [["S", "S"], ["S", "S"]]
