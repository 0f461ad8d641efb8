"""Row heights of wrapped text (issue 6, found with the LibreOffice check in bench/office_check.py):
LibreOffice does not fit rows to wrapped text when it opens a workbook, so every row holding more than
one line of wrapped text carries an estimated height, written straight into the sheet XML."""

from __future__ import annotations

import re
from dataclasses import replace

from portal.exports.page_layout import LINE_HEIGHT, MAX_ROW_HEIGHT, row_height, wrapped_lines
from portal.exports.profile_workbook import Audience
from tests.unit.test_workbook import _criterion, build, profile_data, sheet_xml


def heights(xml: str) -> dict[int, float]:
    return {int(number): float(height) for number, height in re.findall(r'<row r="(\d+)" ht="([0-9.]+)"', xml)}


def test_the_estimate():
    assert wrapped_lines("short", 10) == 1
    assert wrapped_lines("x" * 23, 10) == 3            # 11 characters a line in a 10-unit column
    assert wrapped_lines("a\nb\n\nc", 40) == 4           # every line break starts a line, empty ones too
    assert row_height(["x" * 30, 5, None], [(0, 40), (2, 10)]) is None
    assert row_height(["x" * 100, "y" * 500], [(0, 40), (1, 10)]) == min(46 * LINE_HEIGHT + 2, MAX_ROW_HEIGHT)


def test_rows_with_wrapped_text_carry_a_height_in_the_sheet_xml():
    long = "We screen every partner before the first order and every year after. " * 12
    data = replace(profile_data([_criterion("1.1", narrative=long), _criterion("1.2", narrative="Short.",
                                                                              requirement="Short.", title="T")]),
                   facilities=[])
    xml = sheet_xml(build(Audience.CBP, data))
    criteria = heights(xml["Criteria"])
    assert 1 not in criteria and 2 in criteria and criteria[2] == 11 * LINE_HEIGHT + 2  # 840 characters, 77 a line
    assert 3 in criteria and criteria[3] < criteria[2]   # its evidence and plan texts still wrap
    assert 'customHeight' not in xml["Criteria"]          # Excel may still fit the row when it is edited
    summary = heights(xml["Summary"])
    assert summary and all(height <= MAX_ROW_HEIGHT for height in summary.values())
