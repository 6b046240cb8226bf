"""Reading response counts out of CSV exports (petition tools, CRMs, spreadsheets), in a stream.

Nothing here touches the database. The rules that keep the public's personal data out:

- only five fields are ever read from a line (case, kind, count, date, source); every other
  column is dropped unread, and columns whose header or values look like names, e-mail
  addresses, postal addresses or phone numbers are reported as *personal data dropped*;
- the values that are kept are checked: a case or kind must be a known one, a count a number, a
  date a date, a source a short slug (no spaces, no ``@``) that is not a phone number;
- error messages name the line and the column, never the cell's content (a misaligned file could
  put someone's name where a count should be).

Memory is bounded by the number of distinct (case, kind, day, source) combinations, not by the
number of lines: a file is read line by line and summed into a dict as it goes.
"""

from __future__ import annotations

import codecs
import collections
import csv
import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterator
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field

from content.words import Message
from orchestrator.models import RESPONSE_KINDS
from orchestrator.services.auth import ServiceError
from orchestrator.services.responses_fields import (
    HEADER_ALIASES,
    KIND_ALIASES,
    MAX_COUNT,
    SOURCE,
    header_reason,
    normalize,
    parse_count,
    parse_day,
    value_reason,
)

FIELDS = ("case", "kind", "count", "date", "source")
#: Stands for a source the file gave that cannot be one of ours (it is counted, not kept).
UNKNOWN_SOURCE = "\x00unknown"
MAX_KEYS = 500_000  # distinct (case, kind, day, source): far beyond a real campaign
MAX_ERRORS_KEPT = 100
CHUNK = 1 << 16


# ---------------------------------------------------------------------------------------------
# Column mapping files


class ColumnMapping(BaseModel):
    """How to read a file laid out differently (YAML or JSON; see docs/responses.md)."""

    model_config = ConfigDict(extra="forbid")
    #: field -> the file's header for it, e.g. {"case": "Dossier", "count": "Quantité"}
    columns: dict[str, str] = Field(default_factory=dict)
    #: field -> one value for every line, e.g. {"kind": "signature", "count": "1"}
    defaults: dict[str, str] = Field(default_factory=dict)
    #: field -> {file value: our value}, e.g. {"case": {"Pétition Juan": "juan-lopez"}}
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    delimiter: str | None = None
    encoding: str | None = None


def load_mapping(text: str, *, name: str = "mapping") -> ColumnMapping:
    import json

    import yaml

    try:
        raw = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
        mapping = ColumnMapping.model_validate(raw or {})
    except Exception as exc:  # YAML, JSON and pydantic each raise their own kind
        raise ServiceError(f"Fichier de correspondance « {name} » illisible : {exc}",
                           f"Unreadable mapping file '{name}': {exc}") from exc
    unknown = sorted((set(mapping.columns) | set(mapping.defaults) | set(mapping.values)) - set(FIELDS))
    if unknown:
        raise ServiceError(
            f"Champ inconnu dans la correspondance : {', '.join(unknown)} (permis : {', '.join(FIELDS)}).",
            f"Unknown field in the mapping: {', '.join(unknown)} (allowed: {', '.join(FIELDS)}).",
        )
    if mapping.delimiter is not None and mapping.delimiter not in (",", ";", "\t", "|"):
        raise ServiceError("Séparateur permis : « , », « ; », « | » ou tabulation.",
                           "Allowed delimiters: ',', ';', '|' or tab.")
    return mapping


# ---------------------------------------------------------------------------------------------
# Reading a file


@dataclasses.dataclass(frozen=True)
class FileFacts:
    sha256: str
    encoding: str
    size: int


def inspect_bytes(stream: IO[bytes], *, encoding: str | None = None) -> FileFacts:
    """First pass over the bytes: SHA-256, and UTF-8 (with or without BOM), UTF-16 (with its BOM)
    or else Windows-1252. NUL bytes without a UTF-16 mark are refused with an encoding message
    rather than read as Windows-1252 (which would only say the columns are missing)."""
    digest = hashlib.sha256()
    utf8, cp1252 = codecs.getincrementaldecoder("utf-8")(), codecs.getincrementaldecoder("cp1252")()
    utf8_ok = cp1252_ok = True
    size, head, nul = 0, b"", False
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        if size == 0:
            head = chunk[:3]
        nul = nul or b"\x00" in chunk
        size += len(chunk)
        for decoder, ok in ((utf8, utf8_ok), (cp1252, cp1252_ok)):
            if ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    if decoder is utf8:
                        utf8_ok = False
                    else:
                        cp1252_ok = False
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if encoding is None:
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16"  # Excel's "Unicode text": its byte order mark says so
        elif nul:
            raise ServiceError(
                "Encodage non reconnu : le fichier contient des octets nuls, comme un fichier UTF-16 sans marque "
                "d'ordre des octets (ou un fichier qui n'est pas du texte). Enregistrez-le en « CSV UTF-8 ». "
                "Rien n'a été importé.",
                "Unknown encoding: the file holds NUL bytes, like UTF-16 without a byte order mark (or a file that "
                "is not text). Save it as 'CSV UTF-8'. Nothing was imported.")
        elif utf8_ok:
            encoding = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
        elif cp1252_ok:
            encoding = "cp1252"
        else:
            raise ServiceError("Encodage non reconnu : enregistrez le fichier en UTF-8 ou en Windows-1252.",
                               "Unknown encoding: save the file as UTF-8 or Windows-1252.")
    return FileFacts(sha256=digest.hexdigest(), encoding=encoding, size=size)


def sniff_delimiter(header_line: str) -> str:
    """French spreadsheets write ';' (the comma is their decimal mark); others ',' or tab."""
    counts = {d: header_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclasses.dataclass
class LineError(Message):
    """A refused line of a responses file, in both languages, with where it is."""

    line: int
    column: str
    fr: str
    en: str

    def text(self, language: str = "fr") -> str:
        where = f"ligne {self.line}" if language == "fr" else f"line {self.line}"
        if self.column:
            where += f", colonne « {self.column} »" if language == "fr" else f", column '{self.column}'"
        return f"{where} : {self.fr}" if language == "fr" else f"{where}: {self.en}"


@dataclasses.dataclass
class Parsed:
    encoding: str
    delimiter: str
    #: (case_id, kind, day, source) -> summed count
    totals: dict[tuple[int, str, dt.date, str], int]
    lines: int = 0
    bad_lines: int = 0
    errors: list[LineError] = dataclasses.field(default_factory=list)
    #: field -> "column « X »" or "= value" (where each field came from)
    used: dict[str, str] = dataclasses.field(default_factory=dict)
    #: (1-based position, header, reason) of columns dropped as personal data
    dropped: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    #: (position, header) of other columns left unread
    ignored: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def _fail(fr: str, en: str) -> ServiceError:
    return ServiceError(fr + " Rien n'a été importé.", en + " Nothing was imported.")


def parse(
    stream: IO[bytes],
    *,
    facts: FileFacts,
    cases: dict[str, int],
    mapping: ColumnMapping | None = None,
    known_cases: str = "",
) -> Parsed:
    """Second pass: read, check and sum every line. ``cases`` maps normalized slugs and names of
    the featured people to case ids."""
    mapping = mapping or ColumnMapping()
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=facts.encoding, newline="")
    first, offset = _first_line(text)
    if first is None:
        raise _fail("Le fichier est vide.", "The file is empty.")
    delimiter = mapping.delimiter or sniff_delimiter(first)
    source = _Lines(text, first=first, number=offset + 1)
    reader = csv.reader(source, delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise _fail(f"En-tête illisible ({exc}).", f"Unreadable header ({exc}).") from exc
    source.take()
    parsed = Parsed(encoding=facts.encoding, delimiter=delimiter, totals={})
    positions = _columns(header, mapping, parsed)
    watch = {position - 1 for position, _ in parsed.ignored}
    convert = _converters(mapping, cases, known_cases)
    width = len(header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            consumed = source.take()
            line = consumed[0][0] if consumed else source.number
            parsed.lines += 1
            _bad(parsed, LineError(line, "", f"ligne CSV mal formée ({exc})", f"malformed CSV line ({exc})"))
            source.give_back(consumed[1:])  # what an open quote swallowed is read again, line by line
            continue
        consumed = source.take()
        if not row or not "".join(row).strip():
            continue
        parsed.lines += 1
        line = consumed[0][0] if consumed else source.number
        if len(consumed) > 1 and _swallowed(row, consumed, width, positions, delimiter):
            # A stray quote opened a field that ran over the next lines: this line is reported,
            # and the lines it swallowed are read again one by one instead of being lost.
            _bad(parsed, LineError(line, "", "guillemet \" non fermé : la ligne ne peut pas être lue",
                                   "unclosed quote \": the line cannot be read"))
            source.give_back(consumed[1:])
            continue
        for index in list(watch):
            if index < len(row) and (reason := value_reason(row[index])):
                parsed.ignored = [(p, h) for p, h in parsed.ignored if p != index + 1]
                parsed.dropped.append((index + 1, header[index], reason))
                watch.discard(index)
        if len(row) != width:
            _bad(parsed, LineError(line, "", f"{len(row)} colonnes au lieu de {width}",
                                   f"{len(row)} columns instead of {width}"))
            continue
        values: dict[str, Any] = {}
        error = None
        for field in FIELDS:
            position = positions.get(field)
            raw = row[position] if position is not None else mapping.defaults.get(field, "")
            column = header[position] if position is not None else field
            try:
                values[field] = convert[field](raw)
            except _Refused as refused:
                error = LineError(line, column, refused.fr, refused.en)
                break
        if error is not None:
            _bad(parsed, error)
            continue
        key = (values["case"], values["kind"], values["date"], values["source"])
        if key not in parsed.totals and len(parsed.totals) >= MAX_KEYS:
            raise _fail(f"Plus de {MAX_KEYS} combinaisons (cas, type, jour, source) : découpez le fichier.",
                        f"More than {MAX_KEYS} (case, kind, day, source) combinations: split the file.")
        parsed.totals[key] = parsed.totals.get(key, 0) + values["count"]
    text.detach()  # leave the caller's stream open
    return parsed


def _first_line(text: IO[str]) -> tuple[str | None, int]:
    """The header line, and how many blank lines came before it (for line numbers)."""
    skipped = 0
    for line in text:
        if line.strip():
            return line, skipped
        skipped += 1
    return None, skipped


class _Lines:
    """The file's physical lines for ``csv.reader``, numbered, with the ones each record used
    (``take``) and a way to read some again (``give_back``): the reader pulls one line at a time
    and keeps nothing between records, so lines given back are simply served first."""

    def __init__(self, rest: IO[str], *, first: str, number: int) -> None:
        self._rest = rest
        self._again: collections.deque[tuple[int, str]] = collections.deque([(number, first)])
        self._used: list[tuple[int, str]] = []
        self.number = number - 1  # the last line served

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            line = next(self._rest)  # StopIteration ends the reader
            number = self.number + 1
        self.number = max(self.number, number)
        self._used.append((number, line))
        return line

    def take(self) -> list[tuple[int, str]]:
        used, self._used = self._used, []
        return used

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _swallowed(row: list[str], consumed: list[tuple[int, str]], width: int, positions: dict[str, int],
               delimiter: str) -> bool:
    """Whether a record that ran over several lines did so because of a stray quote rather than a
    legitimate line break inside a quoted cell: the columns no longer add up, a field we read holds
    a line break (no case, kind, count, date or source does), or a swallowed line is a whole line
    of the file on its own."""
    if len(row) != width:
        return True
    if any("\n" in row[p] or "\r" in row[p] for p in positions.values() if p < len(row)):
        return True
    for _number, line in consumed[1:]:
        try:
            alone = next(csv.reader([line.rstrip("\r\n").replace('"', "")], delimiter=delimiter), [])
        except csv.Error:
            continue
        if len(alone) == width:
            return True
    return False


def _bad(parsed: Parsed, error: LineError) -> None:
    parsed.bad_lines += 1
    if len(parsed.errors) < MAX_ERRORS_KEPT:
        parsed.errors.append(error)


def _columns(header: list[str], mapping: ColumnMapping, parsed: Parsed) -> dict[str, int]:
    """Which position holds each field; every other column is dropped or ignored."""
    wanted = {normalize(h): field for field, h in mapping.columns.items()}
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        norm = normalize(name)
        reason = header_reason(name)
        field = wanted.get(norm)
        if field is not None and reason:
            raise _fail(f"La colonne « {name} » contient des données personnelles : elle ne peut pas servir de « {field} ».",
                        f"Column '{name}' holds personal data: it cannot be used as '{field}'.")
        if field is None:
            alias = HEADER_ALIASES.get(norm)  # a field's own name wins over the personal-data words
            if alias and alias not in mapping.columns and alias not in mapping.defaults:
                field = alias
        if field is not None and field not in positions:
            positions[field] = index
        elif reason:
            parsed.dropped.append((index + 1, name, reason))
        else:
            parsed.ignored.append((index + 1, name))
    for field, name in mapping.columns.items():
        if field not in positions:
            raise _fail(f"Colonne « {name} » (pour « {field} ») absente de l'en-tête.",
                        f"Column '{name}' (for '{field}') is not in the header.")
    missing = [f for f in ("case", "kind", "count", "date") if f not in positions and f not in mapping.defaults]
    if missing:
        raise _fail(
            "Colonnes obligatoires absentes : " + ", ".join(missing)
            + " (en-têtes attendus : case,kind,count,date,source ou cas,type,nombre,date,source ; "
              "sinon, un fichier de correspondance).",
            "Missing required columns: " + ", ".join(missing)
            + " (expected headers: case,kind,count,date,source or cas,type,nombre,date,source; "
              "otherwise, a mapping file).",
        )
    for field in FIELDS:
        if field in positions:
            parsed.used[field] = f"« {header[positions[field]]} »"
        elif field in mapping.defaults:
            parsed.used[field] = f"= {mapping.defaults[field]}"
    return positions


class _Refused(Message, Exception):
    def __init__(self, fr: str, en: str) -> None:
        self.fr, self.en = fr, en


def _converters(mapping: ColumnMapping, cases: dict[str, int], known_cases: str) -> dict[str, Callable[[str], Any]]:
    translate = {field: {normalize(k): v for k, v in table.items()} for field, table in mapping.values.items()}

    def mapped(field: str, raw: str) -> str:
        table = translate.get(field)
        return table.get(normalize(raw), raw) if table else raw

    def personal(raw: str) -> None:
        if value_reason(raw):
            raise _Refused("cette valeur ressemble à une donnée personnelle ; elle n'est pas importée",
                           "this value looks like personal data; it is not imported")

    def case(raw: str) -> int:
        personal(raw)
        found = cases.get(normalize(mapped("case", raw)))
        if found is None:
            raise _Refused(f"cas inconnu (cas connus : {known_cases})", f"unknown case (known cases: {known_cases})")
        return found

    def kind(raw: str) -> str:
        personal(raw)
        found = KIND_ALIASES.get(normalize(mapped("kind", raw)))
        if found is None:
            raise _Refused(f"type inconnu (types permis : {', '.join(RESPONSE_KINDS)})",
                           f"unknown kind (allowed: {', '.join(RESPONSE_KINDS)})")
        return found

    def count(raw: str) -> int:
        if raw.isascii() and raw.isdigit() and "count" not in translate and len(raw) < 8:
            return int(raw)  # the common case, without the regular expressions
        try:
            return parse_count(mapped("count", raw))
        except ValueError:
            raise _Refused(f"nombre entier attendu (0 à {MAX_COUNT:,}, ex. : 1 234)".replace(",", " "),
                           f"a whole number is expected (0 to {MAX_COUNT:,}, e.g. 1234)") from None

    def date(raw: str) -> dt.date:
        try:
            return parse_day(mapped("date", raw))
        except ValueError:
            raise _Refused("date attendue (AAAA-MM-JJ ou JJ/MM/AAAA)",
                           "a date is expected (YYYY-MM-DD or DD/MM/YYYY)") from None

    def source(raw: str) -> str:
        value = mapped("source", raw).strip()
        if not value:
            return ""
        personal(value)
        # Whether it names something we know (a post's code, a platform, an event, a name the
        # mapping declares) is decided against the database (responses_import.classify_sources);
        # what cannot be one is set aside here, never kept as written.
        return value if SOURCE.match(value) else UNKNOWN_SOURCE

    # Exports repeat the same few cases, kinds, days and sources on every line: remembering
    # each answer (in a bounded table) makes a million-line file several times faster.
    return {"case": _memo(case), "kind": _memo(kind), "count": count, "date": _memo(date), "source": _memo(source)}


def _memo(convert: Callable[[str], Any], size: int = 4096) -> Callable[[str], Any]:
    seen: dict[str, tuple[bool, Any]] = {}

    def cached(raw: str) -> Any:
        hit = seen.get(raw)
        if hit is None:
            try:
                hit = (True, convert(raw))
            except _Refused as refused:
                hit = (False, refused)
            if len(seen) < size:
                seen[raw] = hit
        if hit[0]:
            return hit[1]
        raise hit[1]

    return cached
