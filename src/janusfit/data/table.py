"""Text tables split into columns of strings, as ``pandas.read_csv(..., header=None, dtype=str)`` splits them.

The releases are whitespace- or comma-separated tables with no quoting, so a
split per line reads them; pandas (0.5–1.7 s to import, in every job that
reads a dataset) is not needed. What pandas does with such files is kept,
so a file reads to the same numbers and fails with the same messages:
blank lines are skipped, a row shorter than the first is padded with missing
values and a longer one is refused, and pandas' missing-value spellings
(``NA``, ``nan``, an empty CSV field, ...) are missing values.
tests/test_loaders.py compares every release file with pandas.
"""

from __future__ import annotations

import numpy as np

# pandas.read_csv's default na_values: cells spelled so are missing values.
MISSING = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


class TableError(ValueError):
    """Rows that do not form a table: a row longer than the first."""


class Table:
    """Columns of cells (``None`` where missing), by name once :attr:`columns` is set."""

    def __init__(self, rows: list[list[str]]):
        width = len(rows[0]) if rows else 0
        for number, row in enumerate(rows, start=1):
            if len(row) > width:
                raise TableError(f"expected {width} fields in data row {number}, saw {len(row)}")
        self.n_rows = len(rows)
        self.columns = list(range(width))
        self.header: str | None = None  # the line the names were read from, for messages
        self._cells = [
            [row[j] if j < len(row) and row[j] not in MISSING else None for row in rows] for j in range(width)
        ]

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, len(self._cells)

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, column) -> list[str | None]:
        return self._cells[self.columns.index(column)]

    def strings(self, column) -> np.ndarray:
        """The column as a numpy string array; a missing cell reads ``nan``, as pandas writes it."""
        return np.array(["nan" if cell is None else cell for cell in self[column]], dtype=str)


def parse(text: str, comma: bool, skip_rows: int = 0, comment: str | None = None) -> Table:
    """The table in ``text`` after its first ``skip_rows`` lines, split at commas or else at runs of whitespace.

    With ``comment``, everything from that character to the end of its line
    is dropped. Split at whitespace, an empty cell (two tabs in a row) is no
    cell at all, and the values after it would move into the columns before:
    so a row shorter than the first is refused there, where pandas pads it.
    """
    rows = []
    for line in text.split("\n")[skip_rows:]:
        if comment is not None:
            line = line.partition(comment)[0]
        if not line.strip():
            continue
        rows.append(line.rstrip("\r").split(",") if comma else line.split())
    if not comma:
        for number, row in enumerate(rows, start=1):
            if len(row) < len(rows[0]):
                raise TableError(
                    f"data row {number} has {len(row)} values where the first has {len(rows[0])}: in a table "
                    "separated by spaces or tabs an empty cell cannot be told apart, and the values after it "
                    "would be read into the wrong columns; write NaN (or NA) in an empty cell"
                )
    return Table(rows)


class NotANumber(ValueError):
    """The cell at ``index`` is neither a number nor missing."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def to_floats(cells: list[str | None]) -> np.ndarray:
    """The cells as floats, a missing one as NaN; :class:`NotANumber` names the first that is neither.

    numpy parses as Python's ``float()`` does, correctly rounded; digit
    separators (``1_000``), which pandas does not take, are refused too.
    """
    values = ["nan" if cell is None else cell for cell in cells]
    if not any("_" in v for v in values):
        try:
            return np.array(values, dtype=float)
        except ValueError:
            pass
    for index, value in enumerate(values):
        try:
            float(value.replace("_", "x"))
        except ValueError:
            raise NotANumber(index) from None
    return np.array([float(v) for v in values])
