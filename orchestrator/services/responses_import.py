"""Importing response counts from a CSV export into the database, once.

The same bytes (same SHA-256) are never counted twice. A *different* file that holds figures
already imported (a corrected or a later export of the same tool) replaces those figures: among
imported rows, (case, kind, day, source type, source) is a natural key with a unique index, and
writing is an upsert on it. Lines for the same key within one file are added together first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from channels.registry import KINDS
from orchestrator.models import Campaign, Case, Delivery, Response, ResponseImport
from orchestrator.services.auth import Actor, audit, require
from orchestrator.services.campaigns import current_campaign
from orchestrator.services.responses_csv import (
    UNKNOWN_SOURCE,
    ColumnMapping,
    LineError,
    Parsed,
    inspect_bytes,
    normalize,
    parse,
)
from orchestrator.services.responses_fields import SOURCE, value_reason
from orchestrator.timeutil import utcnow

CHANNEL_KINDS = KINDS
BATCH = 1000

#: The fields an import reads, in words (the report names them).
FIELD_LABELS = {
    "case": ("cas", "case"),
    "kind": ("type d'action", "kind of action"),
    "count": ("nombre", "count"),
    "date": ("date", "date"),
    "source": ("source", "source"),
}
REASONS = {
    "name": ("nom", "name"),
    "email": ("courriel", "e-mail"),
    "address": ("adresse postale", "postal address"),
    "phone": ("téléphone", "phone"),
    "other": ("donnée personnelle", "personal data"),
}


@dataclasses.dataclass
class ImportReport:
    """What an import found and did; shown before anything is saved (dry run) and after."""

    filename: str
    sha256: str
    encoding: str = ""
    delimiter: str = ""
    lines: int = 0
    bad_lines: int = 0
    errors: list[LineError] = dataclasses.field(default_factory=list)
    used: dict[str, str] = dataclasses.field(default_factory=dict)
    dropped: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    ignored: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    keys: int = 0
    total: int = 0
    by_case: dict[str, int] = dataclasses.field(default_factory=dict)
    by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    by_source_type: dict[str, int] = dataclasses.field(default_factory=dict)
    keys_replaced: int = 0
    #: Actions whose source the file gave but is none of ours (counted without a source), and
    #: how many distinct such values there were (never the values themselves).
    unknown_source_actions: int = 0
    unknown_source_values: int = 0
    already_imported: tuple[int, dt.datetime] | None = None
    skip_bad_lines: bool = False
    dry_run: bool = False
    saved: bool = False
    import_id: int | None = None

    @property
    def blocked(self) -> bool:
        """Errors and no permission to skip them: nothing may be saved."""
        return self.bad_lines > 0 and not self.skip_bad_lines

    def summary(self, language: str = "fr", *, on_page: bool = False) -> list[str]:
        """The report in words; ``on_page`` for the dashboard, whose way to skip bad lines is a
        checkbox rather than the command line's option."""
        from babel.dates import format_datetime
        from babel.numbers import format_decimal

        fr = language == "fr"
        locale = "fr_CA" if fr else "en_CA"

        def n(value: int) -> str:
            return format_decimal(value, locale=locale)

        out: list[str] = []
        if self.already_imported:
            number, when = self.already_imported
            at = format_datetime(when, format="medium", tzinfo=dt.UTC, locale=locale)
            out.append(f"Ce fichier a déjà été importé (import n° {number}, {at} UTC) : rien n'est compté deux fois."
                       if fr else f"This file was already imported (import #{number}, {at} UTC): nothing is counted twice.")
            return out
        sep = {"\t": "tabulation" if fr else "tab"}.get(self.delimiter, self.delimiter)
        out.append(f"Encodage {self.encoding}, séparateur « {sep} », {n(self.lines)} lignes." if fr
                   else f"Encoding {self.encoding}, delimiter '{sep}', {n(self.lines)} lines.")
        fields = ", ".join(f"{FIELD_LABELS.get(k, (k, k))[0 if fr else 1]} {v}" for k, v in self.used.items())
        out.append(("Colonnes lues : " if fr else "Columns read: ") + fields)
        for position, header, reason in self.dropped:
            label = REASONS.get(reason, REASONS["other"])[0 if fr else 1]
            out.append(f"Colonne {position} « {header} » supprimée sans être lue : données personnelles ({label})." if fr
                       else f"Column {position} '{header}' dropped unread: personal data ({label}).")
        if self.ignored:
            names = ", ".join(f"« {h} »" if fr else f"'{h}'" for _, h in self.ignored)
            out.append(f"Colonnes ignorées : {names}." if fr else f"Ignored columns: {names}.")
        out.append(f"{n(self.total)} actions en {n(self.keys)} lignes agrégées (cas, type, jour, source)." if fr
                   else f"{n(self.total)} actions in {n(self.keys)} aggregated rows (case, kind, day, source).")
        if self.unknown_source_actions:
            a, m = n(self.unknown_source_actions), n(self.unknown_source_values)
            out.append(f"{a} action(s) d'une source inconnue ({m} valeur(s) non reconnue(s)) : comptées sans source, "
                       "la valeur n'est pas enregistrée. Une source est un code de publication, une plateforme, un "
                       "événement de la campagne, ou un nom déclaré dans le fichier de correspondance." if fr else
                       f"{a} action(s) from an unknown source ({m} unrecognised value(s)): counted without a source, "
                       "the value is not stored. A source is a post's code, a platform, a campaign event, or a name "
                       "declared in the mapping file.")
        if self.bad_lines:
            out.append(f"{n(self.bad_lines)} ligne(s) en erreur :" if fr else f"{n(self.bad_lines)} lines with errors:")
            out.extend("  " + e.text(language) for e in self.errors)
            if self.bad_lines > len(self.errors):
                out.append(f"  … et {n(self.bad_lines - len(self.errors))} autres." if fr
                           else f"  … and {n(self.bad_lines - len(self.errors))} more.")
            if self.blocked and on_page:
                out.append("Rien n'a été importé : corrigez le fichier, ou cochez « Importer les bonnes lignes même si "
                           "d'autres sont en erreur »." if fr else
                           "Nothing was imported: fix the file, or tick “Import the good lines even if others have errors”.")
            elif self.blocked:
                out.append("Rien n'a été importé : corrigez le fichier ou demandez d'ignorer les lignes en erreur (--skip-bad-lines)."
                           if fr else "Nothing was imported: fix the file or ask to skip bad lines (--skip-bad-lines).")
            else:
                out.append("Les lignes en erreur sont ignorées." if fr else "Lines with errors are skipped.")
        if self.saved:
            out.append(f"Import n° {self.import_id} enregistré ; {n(self.keys_replaced)} chiffres déjà importés remplacés."
                       if fr else f"Import #{self.import_id} saved; {n(self.keys_replaced)} previously imported figures replaced.")
        elif self.dry_run and not self.blocked:
            out.append("Simulation : rien n'a été enregistré." if fr else "Dry run: nothing was saved.")
        return out


def case_lookup(session: Session, campaign: Campaign) -> tuple[dict[str, int], str]:
    """Normalized slugs and names of the featured people -> case id, and the slugs for messages."""
    lookup: dict[str, int] = {}
    slugs = []
    for case in session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))):
        assert case.id is not None
        slugs.append(case.slug)
        for name in (case.slug, *case.person.values()):
            lookup.setdefault(normalize(name), case.id)
    return lookup, ", ".join(slugs)


def declared_sources(mapping: ColumnMapping | None) -> set[str]:
    """The source names a mapping file declares (its ``values`` for source, and a default)."""
    if mapping is None:
        return set()
    names = set(mapping.values.get("source", {}).values())
    if mapping.defaults.get("source"):
        names.add(mapping.defaults["source"])
    return {n.strip() for n in names if n.strip() and SOURCE.match(n.strip()) and not value_reason(n)}


_CODES = sa.select(col(Delivery.source_code)).where(col(Delivery.source_code).in_(sa.bindparam("codes", expanding=True)))


def classify_sources(session: Session, campaign: Campaign, sources: set[str],
                     declared: set[str] | None = None) -> dict[str, tuple[str, str] | None]:
    """Each source as written in the file -> (source type, source): a code Porte-voix issued
    (a delivery's), a platform, an event of the campaign (its key dates), or a name the mapping
    file declares; ``None`` for anything else. A source is a free-text column in petition and CRM
    exports, where names and phone numbers turn up (``marie.tremblay``, ``5145551234``): only what
    we know is kept, never a value as written."""
    declared = declared or set()
    events = {normalize(str(d.get("slug", ""))): str(d.get("slug")) for d in campaign.key_dates or []}
    codes: set[str] = set()
    candidates = sorted({s.lower() for s in sources if s})
    for start in range(0, len(candidates), BATCH):
        chunk = candidates[start:start + BATCH]
        codes.update(session.execute(_CODES, {"codes": chunk}).scalars())
    out: dict[str, tuple[str, str] | None] = {}
    for source in sources:
        lowered = source.lower()
        if not source:
            out[source] = ("import", "")  # no source given
        elif lowered in codes:
            out[source] = ("delivery", lowered)
        elif lowered in CHANNEL_KINDS:
            out[source] = ("channel", lowered)
        elif normalize(source) in events:
            out[source] = ("event", events[normalize(source)])
        elif source in declared:
            out[source] = ("import", source)
        else:
            out[source] = None
    return out


def import_responses(
    session: Session,
    *,
    actor: Actor,
    data: IO[bytes],
    filename: str = "",
    mapping: ColumnMapping | None = None,
    skip_bad_lines: bool = False,
    dry_run: bool = False,
    campaign: Campaign | None = None,
) -> ImportReport:
    """Read ``data`` (a seekable binary stream), check every line, and, unless it is a dry run or
    has errors that may not be skipped, write the summed counts in batches. Nothing is written
    before the whole file has been read, so a rejected file leaves nothing behind."""
    require(actor, "editor", "importer des réponses", "import responses")
    campaign = campaign or current_campaign(session)
    mapping = mapping or ColumnMapping()
    facts = inspect_bytes(data, encoding=mapping.encoding)
    report = ImportReport(filename=filename.rsplit("/", 1)[-1][:255], sha256=facts.sha256,
                          skip_bad_lines=skip_bad_lines, dry_run=dry_run)
    earlier = session.exec(select(ResponseImport).where(ResponseImport.sha256 == facts.sha256)).first()
    if earlier is not None:
        report.already_imported = (earlier.id, earlier.created_at)  # type: ignore[assignment]
        return report
    cases, known = case_lookup(session, campaign)
    parsed = parse(data, facts=facts, cases=cases, mapping=mapping, known_cases=known)
    rows = _resolve(session, campaign, parsed, report, declared_sources(mapping))
    _fill(report, parsed, rows, session)
    if report.blocked or dry_run:
        return report
    record = ResponseImport(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        sha256=facts.sha256, filename=report.filename, encoding=facts.encoding, delimiter=parsed.delimiter,
        lines=parsed.lines, lines_skipped=parsed.bad_lines, keys_written=len(rows), total=report.total,
        dropped_columns=[{"position": p, "reason": r} for p, _, r in parsed.dropped],
        imported_by=actor.username, created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    report.keys_replaced = record.keys_replaced = write_rows(session, rows, import_id=record.id, entered_by=actor.username)
    session.add(record)
    report.saved, report.import_id = True, record.id
    audit(session, actor=actor, action="import_responses", target_type="response_import", target_id=record.id,
          lines=parsed.lines, skipped=parsed.bad_lines, total=report.total, replaced=report.keys_replaced,
          dropped_columns=len(parsed.dropped))
    return report


Row = tuple[int, str, dt.date, str, str, int]  # case_id, kind, day, source_type, source, count


def _resolve(session: Session, campaign: Campaign, parsed: Parsed, report: ImportReport,
             declared: set[str]) -> list[Row]:
    kinds = classify_sources(session, campaign, {key[3] for key in parsed.totals} - {UNKNOWN_SOURCE}, declared)
    merged: Counter[tuple[int, str, dt.date, str, str]] = Counter()
    unknown: set[str] = set()
    for (case_id, kind, day, source), count in parsed.totals.items():
        known = kinds.get(source)
        if known is None:  # counted, without a source: the value itself is not kept
            unknown.add(source)
            report.unknown_source_actions += count
            known = ("import", "")
        source_type, name = known
        merged[(case_id, kind, day, source_type, name)] += count  # "ABC1234" and "abc1234" are one post
    report.unknown_source_values = len(unknown)
    return [(*key, count) for key, count in merged.items()]


def _fill(report: ImportReport, parsed: Parsed, rows: list[Row], session: Session) -> None:
    report.encoding, report.delimiter = parsed.encoding, parsed.delimiter
    report.lines, report.bad_lines, report.errors = parsed.lines, parsed.bad_lines, parsed.errors
    report.used, report.dropped, report.ignored = parsed.used, parsed.dropped, parsed.ignored
    report.keys = len(rows)
    slugs = dict(session.exec(select(Case.id, Case.slug)).all())  # type: ignore[call-overload]
    by_case: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    for case_id, kind, _day, source_type, _source, count in rows:
        by_case[slugs.get(case_id, str(case_id))] += count
        by_kind[kind] += count
        by_type[source_type] += count
    report.total = sum(by_case.values())
    report.by_case, report.by_kind, report.by_source_type = dict(by_case), dict(by_kind), dict(by_type)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def write_rows(session: Session, rows: list[Row], *, import_id: int, entered_by: str) -> int:
    """Upsert imported rows on their natural key, BATCH at a time; returns how many replaced an
    earlier import's figure."""
    table: Any = Response.__table__  # type: ignore[attr-defined]
    key_columns = ("case_id", "kind", "day", "source_type", "source")
    imported = sa.select(sa.func.count()).select_from(table).where(table.c.import_id.is_not(None))
    before = session.execute(imported).scalar_one()
    now = utcnow()
    for start in range(0, len(rows), BATCH):
        stmt = _insert(session)(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key_columns),
            index_where=table.c.import_id.is_not(None),
            set_={"count": stmt.excluded["count"], "import_id": stmt.excluded.import_id,
                  "entered_by": stmt.excluded.entered_by, "created_at": stmt.excluded.created_at},
        )
        session.execute(stmt, [
            {"case_id": c, "kind": k, "day": d, "source_type": t, "source": s, "count": n,
             "import_id": import_id, "entered_by": entered_by, "created_at": now}
            for c, k, d, t, s, n in rows[start:start + BATCH]
        ])
    # An upsert either adds a row or replaces one: what did not add a row replaced one.
    return before + len(rows) - session.execute(imported).scalar_one()
