"""Reading ratings files: tolerated variants and one test per kind of error."""

import io
import math

import pytest

from analysis.consensus import RatingsFileError, Scale, read_ratings_csv
from tests.fixtures.consensus import FIXTURES_DIR

HEADER = b"participant,group,item,round,rating\n"
FIVE_POINT = Scale(min=1, max=5, low=(1, 2), mid=(3, 3), high=(4, 5))


def problems_in(content: bytes, scale: Scale | None = None) -> list[str]:
    with pytest.raises(RatingsFileError) as error:
        read_ratings_csv(content) if scale is None else read_ratings_csv(content, scale)
    return error.value.problems


def test_reads_a_valid_file_into_typed_columns():
    ratings = read_ratings_csv(FIXTURES_DIR / "two_round_workshop.csv")
    assert list(ratings.columns) == ["participant", "group", "item", "round", "rating"]
    assert len(ratings) == 15
    assert str(ratings["round"].dtype) == "int64"
    assert str(ratings["rating"].dtype) == "float64"
    assert ratings.iloc[0].tolist() == ["c1", "clinicians", "triage-chatbot", 1, 8.0]
    # m2 left triage-chatbot blank in round 1
    assert math.isnan(ratings.iloc[4]["rating"])


def test_tolerates_bom_crlf_header_variants_blank_lines_and_extra_columns():
    # the fixture has a UTF-8 BOM, CRLF line ends, headers " Participant ", "GROUP", " Round ",
    # "Rating " and an extra Reason column, a blank line, spaces round values and trailing empty cells
    ratings = read_ratings_csv(FIXTURES_DIR / "excel_export_bom_crlf.csv")
    assert ratings[["participant", "group", "item", "round"]].values.tolist() == [
        ["c1", "clinicians", "triage-chatbot", 1],
        ["m1", "managers", "triage-chatbot", 1],
        ["c2", "clinicians", "triage-chatbot", 2],
    ]
    assert ratings["rating"].tolist() == [8.0, pytest.approx(math.nan, nan_ok=True), 7.0]


def test_accepts_path_text_path_bytes_and_file_objects_alike():
    path = FIXTURES_DIR / "two_round_workshop.csv"
    content = path.read_bytes()
    expected = read_ratings_csv(path)
    for source in (str(path), content, bytearray(content), io.BytesIO(content), io.StringIO(content.decode())):
        assert read_ratings_csv(source).equals(expected)


def test_reads_semicolon_separated_and_windows_1252_files():
    content = "Participant;Group;Item;Round;Rating\r\np1;clinicians;café-robot;1;8\r\n".encode("cp1252")
    ratings = read_ratings_csv(content)
    assert ratings.iloc[0].tolist() == ["p1", "clinicians", "café-robot", 1, 8.0]


def test_reports_every_row_problem_in_file_order_with_file_row_numbers():
    with pytest.raises(RatingsFileError) as error:
        read_ratings_csv(FIXTURES_DIR / "invalid_rows.csv")
    assert error.value.problems == [
        "row 2, column rating: 'ten' is not a number",
        "row 3, column group: is blank",
        "row 4, column round: '0' is not a positive whole number",
        "row 5, column rating: 12 is outside the scale 1-9",
        "row 6: has 6 fields but the header has 5",
        "row 8, column round: 'two' is not a positive whole number",
        "rows 2 and 7: participant 'c1' rated item 'triage-chatbot' in round 1 more than once",
        "participant 'c6' is in more than one group: 'managers' (row 9), 'clinicians' (row 10)",
    ]
    assert str(error.value).startswith("8 problem(s) in the ratings file:\n- row 2, column rating: 'ten' is not a number")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (b"p1,g,A,1,ten", "row 2, column rating: 'ten' is not a number"),
        (b"p1,g,A,1,NA", "row 2, column rating: 'NA' is not a number"),
        (b"p1,g,A,1,inf", "row 2, column rating: 'inf' is not a number"),
        (b"p1,g,A,1,0", "row 2, column rating: 0 is outside the scale 1-9"),
        (b"p1,g,A,1,9.5", "row 2, column rating: 9.5 is outside the scale 1-9"),
        (b"p1,g,A,0,5", "row 2, column round: '0' is not a positive whole number"),
        (b"p1,g,A,1.5,5", "row 2, column round: '1.5' is not a positive whole number"),
        (b"p1,g,A,-1,5", "row 2, column round: '-1' is not a positive whole number"),
        (b"p1,g,A,,5", "row 2, column round: is blank"),
        (b" ,g,A,1,5", "row 2, column participant: is blank"),
        (b"p1,g,,1,5", "row 2, column item: is blank"),
        (b"p1,g,A,1", "row 2: has 4 fields but the header has 5"),
        (b"p1,g,A,1,5,extra", "row 2: has 6 fields but the header has 5"),
    ],
)
def test_each_kind_of_cell_problem(row, problem):
    assert problems_in(HEADER + row + b"\n") == [problem]


def test_a_whole_number_round_written_as_decimal_is_accepted():
    assert read_ratings_csv(HEADER + b"p1,g,A,2.0,5\n")["round"].tolist() == [2]


def test_rating_range_follows_the_scale():
    assert problems_in(HEADER + b"p1,g,A,1,6\n", FIVE_POINT) == ["row 2, column rating: 6 is outside the scale 1-5"]
    assert read_ratings_csv(HEADER + b"p1,g,A,1,5\n", FIVE_POINT)["rating"].tolist() == [5.0]


def test_duplicate_ratings_name_all_their_rows():
    content = HEADER + b"p1,g,A,1,5\np1,g,A,2,5\np1,g,A,1,6\np1,g,A,1,\n"
    assert problems_in(content) == ["rows 2, 4 and 5: participant 'p1' rated item 'A' in round 1 more than once"]


def test_participant_in_two_groups_is_an_error():
    content = HEADER + b"p1,clinicians,A,1,5\np1,managers,B,1,5\np1,clinicians,C,1,5\n"
    assert problems_in(content) == ["participant 'p1' is in more than one group: 'clinicians' (rows 2 and 4), 'managers' (row 3)"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty: expected a header row with participant, group, item, round, rating"),
        (b"\n\n", "the file is empty: expected a header row with participant, group, item, round, rating"),
        (b"who,group,item,round\n", "row 1: missing required column(s) participant, rating (found: who, group, item, round)"),
        (b"participant,group,item,round,rating,Rating\n", "row 1: column rating appears more than once"),
        (b"\x81\x8d\n", "the file is not text in UTF-8 or Windows-1252; save it as CSV UTF-8"),
    ],
)
def test_file_level_problems(content, problem):
    assert problems_in(content) == [problem]


def test_missing_file_is_reported_not_raised_as_os_error(tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(RatingsFileError, match="cannot read .*nowhere.csv"):
        read_ratings_csv(missing)


def test_long_problem_lists_are_shortened_in_the_message():
    content = HEADER + b"".join(b"p%d,g,A,1,x\n" % number for number in range(60))
    with pytest.raises(RatingsFileError) as error:
        read_ratings_csv(content)
    assert len(error.value.problems) == 60
    assert str(error.value).splitlines()[-1] == "- ... and 10 more"


def test_header_only_file_gives_an_empty_table():
    ratings = read_ratings_csv(HEADER)
    assert ratings.empty
    assert list(ratings.columns) == ["participant", "group", "item", "round", "rating"]
