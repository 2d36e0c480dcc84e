"""A report table shows at most MAX_ROWS rows and says how many more its file holds."""

from __future__ import annotations

from collector.evidence.html import MAX_ROWS, table


def test_rows_beyond_the_bound_are_named_with_their_file() -> None:
    rows = [[str(i)] for i in range(MAX_ROWS + 7)]
    html = table(["n"], rows, "en", "devices.csv")
    assert html.count("<tr>") == MAX_ROWS + 1  # the head's row and MAX_ROWS body rows
    assert "7 more rows are not shown; devices.csv has them all" in html


def test_a_caller_that_formatted_only_the_shown_rows_gives_the_total() -> None:
    shown = [[str(i)] for i in range(MAX_ROWS)]
    html = table(["n"], shown, "zh", "devices.csv", total=30_000)
    assert html.count("<tr>") == MAX_ROWS + 1
    assert f"另有 {30_000 - MAX_ROWS} 行未显示" in html
    assert "未显示" not in table(["n"], shown, "zh", "devices.csv")
