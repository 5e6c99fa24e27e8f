"""Codes and cells: the small definitions the ETL and the dashboard share.

- :data:`ENGLAND` and the GSS area-code pattern (:func:`is_gss`);
- UK postcodes in form (:func:`normalise_postcode`);
- spreadsheet column letters (:func:`excel_col`), an .xlsx workbook's Excel error cells
  (:func:`excel_error_cells`), and opening a workbook or reading one of its
  sheets with a located error (:func:`open_workbook`, :func:`sheet_rows`);
- text files that are UTF-8 or Windows-1252, or UTF-8 with stray Windows-1252 bytes
  (:func:`decode_text_bytes`, :func:`decode_bytes`, :class:`NotText`).

Pure: no Streamlit, no database, no ``etl`` import (``etl`` imports this module).
"""

from __future__ import annotations

import codecs
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LocatedError

#: GSS code of England.
ENGLAND = "E92000001"

#: A GSS (ONS Government Statistical Service) area code: a country letter and eight digits —
#: E England, W Wales, S Scotland, N Northern Ireland, K Great Britain / UK groupings,
#: L Channel Islands, M Isle of Man.
GSS_RE = re.compile(r"^[EWSNKLM]\d{8}$")

# UK postcode format (UK Government Data Standards): outward code A9, A99, AA9, AA99, A9A or AA9A
# (second letter never I or Z), then inward code 9AA; plus the special GIR 0AA.
_OUTWARD = r"(?:[A-Z][0-9]{1,2}|[A-Z][A-HJ-Y][0-9]{1,2}|[A-Z][0-9][A-Z]|[A-Z][A-HJ-Y][0-9][A-Z])"
POSTCODE_RE = re.compile(rf"^(?:GIR0AA|{_OUTWARD}[0-9][A-Z]{{2}})$")
_WS = re.compile(r"\s+")


def is_gss(code: str | None) -> bool:
    """True for a GSS area code such as 'E07000223' (upper case, no spaces)."""
    return isinstance(code, str) and bool(GSS_RE.match(code))


def normalise_postcode(text: object) -> str | None:
    """'sw1a1aa ' → 'SW1A 1AA'; None when it is not a UK postcode in form (or not text)."""
    if not isinstance(text, str):
        return None
    compact = _WS.sub("", text).upper()
    if not POSTCODE_RE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


def excel_col(idx: int) -> str:
    """0-based column index → spreadsheet letters (0 → A, 26 → AA)."""
    s = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        s = chr(65 + r) + s
    return s


def open_workbook(source: str | Path | bytes, file: str | Path, error: type[LocatedError] = LocatedError):
    """A calamine workbook from a path or the file's bytes (xls, xlsx, xlsb, ods); a file that is
    not a readable spreadsheet raises ``error`` naming ``file``."""
    from python_calamine import CalamineWorkbook

    try:
        if isinstance(source, (bytes, bytearray)):
            return CalamineWorkbook.from_filelike(io.BytesIO(source))
        return CalamineWorkbook.from_path(str(source))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise error(f"cannot open as a spreadsheet: {exc}", file) from None


def sheet_rows(
    workbook, name: str, file: str | Path, error: type[LocatedError] = LocatedError, **to_python
) -> tuple[Any, list[list[Any]]]:
    """(sheet, all its rows) of an open calamine workbook. A sheet's XML is only inflated and parsed
    here, so a damaged sheet fails here (not at open), as ``error`` naming file and sheet."""
    try:
        sheet = workbook.get_sheet_by_name(name)
        return sheet, sheet.to_python(**to_python)
    except Exception as exc:
        raise error(f"cannot read this sheet, the file is damaged: {exc}", file, sheet=name) from None


def excel_error_cells(data: bytes) -> dict[str, dict[tuple[int, int], str]]:
    """Per sheet name, the cells of an .xlsx workbook that hold an Excel error (``#N/A``, ``#REF!``,
    ``#VALUE!`` …: a formula that failed), as {(row, column) 0-based: the error}. calamine reads
    such a cell as empty, so a failed look-up would pass for a blank cell. Other workbooks (.xls,
    .ods) and anything unreadable give {}; a sheet is only parsed when its XML holds an error cell."""
    import posixpath
    import zipfile
    import zlib
    from xml.etree import ElementTree

    out: dict[str, dict[tuple[int, int], str]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if "xl/workbook.xml" not in names:
                return {}
            rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            target = {r.get("Id"): r.get("Target", "") for r in rels}
            for sheet in ElementTree.fromstring(z.read("xl/workbook.xml")).iter():
                if not sheet.tag.endswith("}sheet"):
                    continue
                rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
                path = target.get(rid, "")
                path = path.lstrip("/") if path.startswith("/") else posixpath.normpath(posixpath.join("xl", path))
                if path not in names:
                    continue
                xml = z.read(path)
                if b't="e"' not in xml:
                    continue
                found = {}
                for cell in ElementTree.fromstring(xml).iter():
                    if cell.tag.endswith("}c") and cell.get("t") == "e" and cell.get("r"):
                        value = next((v.text for v in cell if v.tag.endswith("}v")), None)
                        found[_cell_index(cell.get("r"))] = value or "#ERROR"
                out[sheet.get("name")] = found
    except (
        zipfile.BadZipFile,
        KeyError,
        ElementTree.ParseError,
        ValueError,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
    ):
        # a damaged part (bad compressed data, a truncated or encrypted entry, an unknown compression
        # method): calamine's own reading says what is wrong
        return {}
    return out


def _cell_index(ref: str) -> tuple[int, int]:
    """'I3' → (2, 8): a cell reference as 0-based row and column."""
    m = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", ref.upper())
    if not m:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


class NotText(ValueError):
    """Bytes that are neither UTF-8 nor Windows-1252: ``line`` and ``byte`` say where."""

    def __init__(self, line: int, byte: int):
        super().__init__(f"byte 0x{byte:02x} on line {line}")
        self.line, self.byte = line, byte


@dataclass
class Decoded:
    """A text file's text and how it was read: ``first_bad`` is the (line, byte) of its first
    byte that is not UTF-8 (None: all UTF-8), ``bad`` how many such bytes, and ``utf8`` whether
    the rest holds UTF-8 characters beyond ASCII (a UTF-8 file with a stray Windows-1252 byte
    pasted in) rather than being Windows-1252 throughout."""

    text: str
    first_bad: tuple[int, int] | None = None
    bad: int = 0
    utf8: bool = False
    first_char: str = ""  # the first non-UTF-8 byte read as Windows-1252


_STRAY = threading.local()  # the bytes one decode_text_bytes call read as Windows-1252
#: A UTF-8 character beyond ASCII: a lead byte and its continuation bytes.
_UTF8_CHAR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _cp1252_byte(exc: UnicodeDecodeError) -> tuple[str, int]:
    """Codec error handler: the first byte that is not UTF-8 read as Windows-1252 (raises the
    Windows-1252 codec's own error for a byte it does not define)."""
    at = exc.start
    char = exc.object[at : at + 1].decode("cp1252")
    _STRAY.found.append(at)
    return char, at + 1


codecs.register_error("powerbalance.cp1252_byte", _cp1252_byte)


def decode_text_bytes(data: bytes) -> Decoded:
    """UTF-8 (BOM stripped), each byte that is not UTF-8 read as Windows-1252: a Windows-1252 file
    is so read whole, and a UTF-8 file with one stray byte (an apostrophe pasted from Word) keeps
    its '£' and 'é' rather than turning into 'Â£'. Raises :class:`NotText` at the first byte that
    is neither."""
    try:
        text = data.decode("utf-8")
        first, bad, char = None, 0, ""
    except UnicodeDecodeError as exc:
        if _UTF8_CHAR.search(data) is None:  # no UTF-8 character at all: Windows-1252 throughout
            return _cp1252(data, exc.start)
        _STRAY.found = []
        try:
            text = data.decode("utf-8", errors="powerbalance.cp1252_byte")
        except UnicodeDecodeError:
            at = _STRAY.found[-1] + 1 if _STRAY.found else 0
            at = next(i for i in range(at, len(data)) if data[i] >= 0x80 and data[i : i + 1] in _CP1252_UNDEFINED)
            raise NotText(data[:at].count(b"\n") + 1, data[at]) from None
        at, bad = _STRAY.found[0], len(_STRAY.found)
        first, char = (data[:at].count(b"\n") + 1, data[at]), data[at : at + 1].decode("cp1252")
    utf8 = bad > 0  # stray bytes in a file that holds UTF-8 characters (checked above)
    return Decoded(text[1:] if text.startswith("\ufeff") else text, first, bad, utf8, char)


def _cp1252(data: bytes, first: int) -> Decoded:
    """A file with no UTF-8 character read as Windows-1252; ``first``: its first non-UTF-8 byte."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise NotText(data[: exc.start].count(b"\n") + 1, data[exc.start]) from None
    where = (data[:first].count(b"\n") + 1, data[first])
    bad = len(data) - len(data.translate(None, bytes(range(0x80, 0x100))))
    return Decoded(text, where, bad, False, data[first : first + 1].decode("cp1252"))


#: The bytes Windows-1252 leaves undefined.
_CP1252_UNDEFINED = {b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"}


def decode_bytes(data: bytes) -> tuple[str, tuple[int, int] | None]:
    """UTF-8 (BOM stripped), else Windows-1252 (:func:`decode_text_bytes`). Returns the text and,
    when it was not all UTF-8, the (line, byte) of the first non-UTF-8 byte so the caller can warn;
    raises :class:`NotText` when the bytes are not Windows-1252 either. Shared by the ETL and the
    funders' upload."""
    decoded = decode_text_bytes(data)
    return decoded.text, decoded.first_bad


# ---- periods ------------------------------------------------------------------------------


def fy_of_year(year: int) -> str:
    """Calendar year → the financial year starting in April of it: 2017 → '2017-18'."""
    return f"{year}-{(year + 1) % 100:02d}"


def fy_of_survey(period: str) -> str | None:
    """Community Life Survey period → financial year label.

    '2013/14' → '2013-14'. The regional file labels years by their end: its '2020' values are
    published to one decimal place exactly like England's '2019/20' (the only year so
    published), so regional Y = survey year (Y-1)/Y → '(Y-1)-Y'.
    """
    p = str(period).strip()
    if len(p) == 7 and p[4] in "/-" and p[:4].isdigit() and p[5:].isdigit():
        return f"{p[:4]}-{p[5:]}"
    if len(p) == 4 and p.isdigit():
        return fy_of_year(int(p) - 1)
    return None
