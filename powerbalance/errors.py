"""One located error for bad input, shared by the ETL and the funders' upload reader.

Every error about a file says where the problem is: file, sheet, row and column, each only
when known, always in the same words: ``file f.xlsx, sheet 'Data', row 12, column 'F': message``.
:class:`etl.core.EtlInputError` (stops a build) and :class:`powerbalance.grants360.GrantsFileError`
(an upload that cannot be read) are subclasses.
"""

from __future__ import annotations

from pathlib import Path


class LocatedError(Exception):
    """Bad input, with where it is: ``file``, ``sheet``, ``row`` (1-based), ``column``."""

    def __init__(
        self,
        message: str,
        file: str | Path | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | int | None = None,
    ):
        self.message = message
        self.file = str(file) if file is not None else None
        self.sheet = sheet
        self.row = row
        self.column = column
        super().__init__(self.__str__())

    def __reduce__(self):
        """Pickled whole (a build step in another process raises it in the build's own)."""
        return (self.__class__, (self.message, self.file, self.sheet, self.row, self.column))

    def location(self) -> str:
        """'file f.xlsx, sheet 'Data', row 12, column 'F'' — only the parts that are known."""
        parts = []
        if self.file:
            parts.append(f"file {self.file}")
        if self.sheet is not None:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None and self.column != "":
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message
