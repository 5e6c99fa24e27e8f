"""360Giving uploads that were misread: UK date-times, messages on refused rows, row numbers in the
problems download, near-miss hints, files whose content is not what their name says, and a single
beneficiaryLocation object in JSON. Every file is made here by hand (csv text, openpyxl, json), so
the expected figures are the file's own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from powerbalance.grants360 import GrantsFileError, near_misses, read_360giving
from tests.helpers import GRANT_COLUMNS, workbook

TODAY = dt.date(2026, 11, 23)


def grant(n: int, award_date: str = "2023-04-01", **cells: str) -> list[str]:
    """One grant row under GRANT_COLUMNS; ``cells`` overrides columns by title (spaces for ':')."""
    row = dict(
        zip(
            GRANT_COLUMNS,
            [f"360G-m-{n}", "t", "d", "GBP", str(100 * n), award_date, "GB-CHC-1136547", "Org", "GB-CHC-299963", "F"],
        )
    )
    row.update({k.replace("_", " "): v for k, v in cells.items()})
    return [row[c] for c in GRANT_COLUMNS]


def csv_bytes(rows: list[list[str]], header: list[str] = GRANT_COLUMNS) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    return buf.getvalue().encode()


# --------------------------------------------------------------------------------------------
# G: d/m/y dates followed by a time of day
# --------------------------------------------------------------------------------------------

DATE_TIMES = ["01/04/2023 09:30", "24/07/2014 00:00", "3/8/2014 9:30:00 AM", "02/01/2023 13:45:10"]
THE_DATES = [dt.date(2023, 4, 1), dt.date(2014, 7, 24), dt.date(2014, 8, 3), dt.date(2023, 1, 2)]


@pytest.mark.parametrize("kind", ["csv", "xlsx_text"])
def test_uk_dates_with_a_time_of_day_are_read_as_the_date(kind):
    rows = [grant(n, d) for n, d in enumerate(DATE_TIMES, start=1)]
    if kind == "csv":
        gf = read_360giving(csv_bytes(rows), "times.csv", today=TODAY)
    else:
        gf = read_360giving(workbook({"Grants": [GRANT_COLUMNS, *rows]}), "times.xlsx", today=TODAY)
    assert not gf.errors
    assert list(gf.grants["award_date"]) == THE_DATES
    [fmt] = [p for p in gf.problems if p.check == "date_format"]
    assert (fmt.column, fmt.row, fmt.cell) == ("Award Date", 2, "F2")
    assert "day/month/year" in fmt.message and "'01/04/2023 09:30'" in fmt.message
    assert "in 4 rows" in fmt.message and "time of day after the date (4 rows) is dropped" in fmt.message


def test_a_uk_date_time_that_does_not_exist_or_is_not_a_time_is_still_refused():
    rows = [grant(1, "31/02/2023 10:00"), grant(2, "01/04/2023 soon"), grant(3, "01/04/2023")]
    gf = read_360giving(csv_bytes(rows), "bad_times.csv", today=TODAY)
    assert [(p.row, p.check) for p in gf.errors] == [(2, "impossible_date"), (3, "malformed_date")]
    assert list(gf.grants["grant_id"]) == ["360G-m-3"]


# --------------------------------------------------------------------------------------------
# J: messages on refused rows; whole row numbers in the problems table
# --------------------------------------------------------------------------------------------


def test_required_field_warnings_state_the_rows_real_fate():
    total = ["Total", "", "", "", "300", "", "", "", "", ""]  # a Total row: only Identifier and Amount
    no_title = grant(2, Title="")
    gf = read_360giving(csv_bytes([grant(1), no_title, total]), "total.csv", today=TODAY)
    assert list(gf.grants["row"]) == [2, 3]  # the Total row (line 4) is not loaded
    on_total = [p for p in gf.problems if p.row == 4]
    assert {p.column for p in on_total if p.severity == "error"} == {"Currency", "Award Date"}
    required = [p for p in on_total if p.severity == "warning" and p.check == "required"]
    assert len(required) == 5
    assert all("row not loaded" in p.message and "still loaded" not in p.message for p in required)
    [title] = [p for p in gf.problems if p.row == 3]
    assert title.column == "Title" and "(row still loaded)" in title.message


def test_problem_rows_are_whole_numbers_when_a_sheet_is_skipped():
    data = workbook({"Notes": [["Our grants"]], "Grants": [GRANT_COLUMNS, grant(1), grant(2, Amount_Awarded="abc")]})
    gf = read_360giving(data, "notes.xlsx", today=TODAY)
    frame = gf.problems_frame()
    assert str(frame["row"].dtype) == "Int64"
    assert frame["row"].isna().sum() == 1  # the sheet_skipped warning has no row
    lines = frame.to_csv(index=False).splitlines()
    [bad] = [line for line in lines if "amount_not_number" in line]
    assert ",Grants,3,Amount Awarded,E3," in bad
    groups = gf.problem_groups()
    assert groups.loc[groups["check"] == "amount_not_number", "rows"].tolist() == ["3"]


# --------------------------------------------------------------------------------------------
# K: near misses
# --------------------------------------------------------------------------------------------


def test_near_misses_offer_each_title_its_best_heading_once():
    wanted = ["Identifier", "Amount Awarded", "Award Date"]
    found = near_misses(["Grant ID", "Title", "Amount Awarded (£)", "Date Awarded", "Currency"], wanted)
    assert found == ["Grant ID → Identifier", "Amount Awarded (£) → Amount Awarded", "Date Awarded → Award Date"]
    # two headings look like one title: only the better one is offered
    assert near_misses(["Amount", "Amount Awarded (£)"], ["Amount Awarded"]) == ["Amount Awarded (£) → Amount Awarded"]


def test_a_file_with_its_own_headings_is_told_the_right_renames():
    header = ["Grant ID", "Title", "Description", "Currency", "Amount Awarded (£)", "Date Awarded", *GRANT_COLUMNS[6:]]
    with pytest.raises(GrantsFileError) as exc:
        read_360giving(csv_bytes([grant(1)], header), "own.csv")
    assert (
        "(near misses: Grant ID → Identifier; Amount Awarded (£) → Amount Awarded; Date Awarded → Award Date)"
        in exc.value.message
    )


# --------------------------------------------------------------------------------------------
# L: content that is not what its name says
# --------------------------------------------------------------------------------------------


def test_a_csv_named_xlsx_is_read_as_csv_with_a_warning_saying_so():
    data = csv_bytes([grant(1), grant(2)])
    gf = read_360giving(data, "grants.xlsx", today=TODAY)
    same = read_360giving(data, "grants.csv", today=TODAY)
    assert gf.format == "csv" and list(gf.grants["grant_id"]) == list(same.grants["grant_id"])
    assert gf.grants["amount_gbp"].sum() == 300
    [w] = [p for p in gf.problems if p.check == "file_format"]
    assert w.severity == "warning"
    assert "grants.xlsx is a text (CSV) file" in w.message and "rename it to .csv" in w.message
    assert not [p for p in same.problems if p.check == "file_format"]


def test_a_workbook_named_csv_is_read_as_a_workbook_with_a_warning_saying_so():
    gf = read_360giving(workbook({"Grants": [GRANT_COLUMNS, grant(1)]}), "grants.csv", today=TODAY)
    assert gf.format == "spreadsheet" and len(gf.grants) == 1
    [w] = [p for p in gf.problems if p.check == "file_format"]
    assert "grants.csv is a spreadsheet workbook" in w.message


@pytest.mark.parametrize(
    "data,name,what",
    [
        (b"<html><body><table><tr><th>Identifier</th></tr></table></body></html>", "export.xls", "an HTML web page"),
        (
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "export.xls",
            "an XML Spreadsheet 2003 file",
        ),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "grants.xlsx", "a PDF document"),
        (b"\x00\x01\x02\x03binary\x00junk", "grants.ods", "neither an .xlsx, .xls or .ods workbook nor text"),
        (b"PK\x03\x04 not really a zip", "grants.xlsx", "starts like a ZIP (.xlsx or .ods) file but is damaged"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "grants.xls", "starts like an old-style Excel (.xls) file"),
    ],
)
def test_a_file_that_is_not_a_workbook_is_refused_saying_what_it_is_and_what_to_do(data, name, what):
    with pytest.raises(GrantsFileError) as exc:
        read_360giving(data, name)
    assert exc.value.file == name
    assert what in exc.value.message and "Cannot detect" not in exc.value.message
    assert exc.value.message.endswith(("and upload that", "upload the spreadsheet or CSV file the PDF was made from"))


# --------------------------------------------------------------------------------------------
# N: JSON beneficiaryLocation as a single object
# --------------------------------------------------------------------------------------------


def json_grant(n: int, location) -> dict:
    return {
        "id": f"360G-j-{n}",
        "title": "t",
        "description": "d",
        "currency": "GBP",
        "amountAwarded": 100 * n,
        "awardDate": "2023-04-01",
        "recipientOrganization": [{"id": "GB-CHC-1136547", "name": "Org"}],
        "fundingOrganization": [{"id": "GB-CHC-299963", "name": "F"}],
        "beneficiaryLocation": location,
    }


def test_a_single_beneficiary_location_object_is_read_and_other_shapes_are_reported():
    leeds = {"geoCode": "E08000035", "geoCodeType": "LAD", "name": "Leeds"}
    grants = [json_grant(1, leeds), json_grant(2, [leeds]), json_grant(3, "Leeds"), json_grant(4, ["E08000035"])]
    gf = read_360giving(json.dumps({"grants": grants}).encode(), "locations.json", today=TODAY)
    codes = gf.grants.set_index("grant_id")["beneficiary_codes"]
    assert codes.notna().to_dict() == {"360G-j-1": True, "360G-j-2": True, "360G-j-3": False, "360G-j-4": False}
    assert set(codes.dropna()) == {"E08000035"}
    found = [(p.severity, p.row, p.grant_id, p.cell) for p in gf.problems if p.check == "malformed_location"]
    assert found == [
        ("warning", 3, "360G-j-3", "grants/2/beneficiaryLocation"),
        ("warning", 4, "360G-j-4", "grants/3/beneficiaryLocation/0"),
    ]


# --------------------------------------------------------------------------------------------
# headings that are near misses of a standard title
# --------------------------------------------------------------------------------------------


def test_near_miss_headings_of_any_column_are_named_with_the_title_meant_and_their_values():
    header = ["Recipient Org:Postcode" if c == "Recipient Org:Identifier" else c for c in GRANT_COLUMNS] + [
        "Beneficiary Location:1:GeoCode",
        "Notes",
    ]
    rows = [grant(n) + ["E05009861" if n < 3 else "", "x"] for n in range(1, 6)]
    for n, r in enumerate(rows):
        r[header.index("Recipient Org:Postcode")] = "TS1 3BA" if n < 4 else ""
    gf = read_360giving(csv_bytes(rows, header), filename="near.csv", today=TODAY)
    unused = {p.column: p for p in gf.problems if p.check == "column_not_used"}
    assert set(unused) == {"Recipient Org:Postcode", "Beneficiary Location:1:GeoCode"}  # 'Notes' is no near miss
    post, geo = unused["Recipient Org:Postcode"], unused["Beneficiary Location:1:GeoCode"]
    col = header.index("Recipient Org:Postcode")
    assert (post.row, post.cell) == (1, f"{chr(65 + col)}1")
    assert "did you mean Recipient Org:Postal Code?" in post.message and "4 values were not used" in post.message
    assert "did you mean Beneficiary Location:1:Geographic Code?" in geo.message
    assert "2 values were not used" in geo.message
    assert len(gf.grants) == 5 and gf.grants["recipient_postcode"].isna().all()  # never read as a guess


def test_zero_amount_and_not_gbp_warnings_agree_with_the_rows_fate():
    rows = [
        grant(1, Amount_Awarded="0"),  # loaded
        grant(2, Amount_Awarded="0", Award_Date=""),  # refused for its missing Award Date
        grant(3, Currency="EUR"),  # loaded
        grant(4, Currency="EUR", Award_Date="31/02/2023"),  # refused: a date that does not exist
    ]
    gf = read_360giving(csv_bytes(rows), "fate.csv", today=TODAY)
    assert list(gf.grants["row"]) == [2, 4]
    by_row = {p.row: p for p in gf.problems if p.check in ("zero_amount", "not_gbp")}
    assert "loaded, but check" in by_row[2].message and "not loaded" not in by_row[2].message
    assert "it is loaded without a £ amount" in by_row[4].message
    for refused in (3, 5):
        assert "row not loaded for its errors" in by_row[refused].message
        assert "loaded," not in by_row[refused].message and "is loaded" not in by_row[refused].message


# --------------------------------------------------------------------------------------------
# Excel error cells
# --------------------------------------------------------------------------------------------


def test_excel_error_cells_are_located_problems_never_blanks():
    header = [*GRANT_COLUMNS, "Recipient Org:Postal Code", "Beneficiary Location:Geographic Code"]
    rows = [grant(n) + ["TS1 3BA", ""] for n in range(1, 6)]
    rows[1][10] = "#N/A"  # a failed postcode look-up: I… of row 3
    rows[2][4] = "#REF!"  # the amount: E4
    rows[3][11] = "#VALUE!"
    data = workbook({"Grants": [header, *rows]})
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb["Grants"]["E4"].data_type == "e"  # the file holds Excel error cells, not text
    gf = read_360giving(data, "errors.xlsx", today=TODAY)
    got = [(p.severity, p.check, p.row, p.cell) for p in gf.problems if p.row and p.row > 1]
    assert got == [
        ("warning", "excel_error", 3, "K3"),
        ("error", "excel_error", 4, "E4"),
        ("warning", "excel_error", 5, "L5"),
    ]
    assert "#REF!" in gf.errors[0].message and "#N/A" in gf.problems[0].message
    assert not [p for p in gf.problems if p.check == "required"]  # an error cell is not 'required'/blank
    assert list(gf.grants["row"]) == [2, 3, 5, 6]
