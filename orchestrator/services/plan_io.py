"""The plan's file formats: reading a CSV (or JSON) plan into rows, and writing every delivery in
the same layout so an export imports back as is.

Line numbers are spreadsheet rows: the header is line 1, the first delivery line 2, whatever line
breaks a text holds. In a JSON plan, line N is the Nth delivery plus one, to match the CSV.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from content.words import Message
from orchestrator import csvsafe
from orchestrator.models import Account, Campaign, Case, Delivery, Post

#: Header names (English and French) and the field each one fills.
HEADERS = {
    "case": "case", "cas": "case",
    "language": "language", "langue": "language",
    "text": "text", "texte": "text",
    "link": "link", "lien": "link",
    "account": "account", "compte": "account",
    "at": "at", "quand": "at",
    "image": "image",
    "alt": "alt",
}
REQUIRED = ("case", "language", "text", "account", "at")

#: What the export writes: the import's columns first, then what it reports and the import ignores.
EXPORT_COLUMNS = (
    "case", "language", "text", "link", "account", "at", "image", "alt",
    "state", "kind", "published_at", "platform_id", "platform_url", "source_code",
    "likes", "shares", "replies", "quotes", "views", "metrics_at", "delivery_id", "post_id",
)


@dataclasses.dataclass(frozen=True)
class Problem(Message):
    """A problem of a plan file, at a line (0: the file as a whole), in both languages."""

    line: int  # 0: the file as a whole
    fr: str
    en: str

    def text(self, language: str = "fr") -> str:
        message = super().text(language)
        if not self.line:
            return message
        return f"Ligne {self.line} : {message}" if language == "fr" else f"Line {self.line}: {message}"


@dataclasses.dataclass(frozen=True)
class RawRow:
    """One delivery line as written, cleaned of stray spaces; nothing checked yet."""

    line: int
    case: str
    language: str
    text: str
    link: str | None
    account: str
    at: str
    image: str
    alt: str


def _row(line: int, values: dict[str, Any]) -> RawRow:
    def get(name: str) -> str:
        value = values.get(name)
        return "" if value is None else csvsafe.uncell(str(value).strip())

    # Spreadsheets save line breaks inside a cell as CRLF; posts keep LF.
    text = get("text").replace("\r\n", "\n").replace("\r", "\n")
    return RawRow(line=line, case=get("case"), language=get("language").lower(), text=text,
                  link=get("link") or None, account=get("account"), at=get("at"), image=get("image"), alt=get("alt"))


def read_plan(data: bytes) -> tuple[list[RawRow], list[Problem]]:
    """Rows of a plan file: CSV in UTF-8 (with or without BOM, ``,`` or ``;``), or JSON as
    written by the export. Unknown columns are ignored, so an export reads back."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [], [Problem(0, f"le fichier n'est pas en UTF-8 (octet illisible à la ligne {line}) : "
                               "enregistrez-le en « CSV UTF-8 ».",
                            f"the file is not UTF-8 (unreadable byte on line {line}): save it as 'CSV UTF-8'.")]
    if content.lstrip().startswith(("[", "{")):
        return _read_json(content)
    return _read_csv(content)


def _read_json(content: str) -> tuple[list[RawRow], list[Problem]]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        return [], [Problem(0, f"JSON illisible : {exc}", f"unreadable JSON: {exc}")]
    items = data.get("deliveries") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return [], [Problem(0, "le JSON doit être une liste d'envois (ou « deliveries »: [...]).",
                            "the JSON must be a list of deliveries (or \"deliveries\": [...]).")]
    rows = []
    for number, item in enumerate(items, start=2):
        fields = {HEADERS[k.strip().lower()]: v for k, v in item.items() if k.strip().lower() in HEADERS}
        rows.append(_row(number, fields))
    return rows, []


def _read_csv(content: str) -> tuple[list[RawRow], list[Problem]]:
    header_line = content.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        return [], [Problem(0, "le fichier est vide : il faut une ligne d'en-tête puis une ligne par envoi.",
                            "the file is empty: a header line then one line per delivery are needed.")]
    fields: list[str | None] = []
    problems = []
    for name in header:
        field = HEADERS.get(name.strip().lower())
        if field is not None and field in fields:
            problems.append(Problem(1, f"la colonne « {field} » apparaît deux fois (en anglais et en français ?).",
                                    f"column '{field}' appears twice (in English and in French?)."))
        fields.append(field)
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        known = ", ".join(REQUIRED)
        problems.append(Problem(1, f"colonnes manquantes : {', '.join(missing)} (il faut {known} ; "
                                   "en français : cas, langue, texte, compte, quand).",
                                f"missing columns: {', '.join(missing)} ({known} are needed)."))
    if problems:
        return [], problems
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        rows.append(_row(number, {f: c for f, c in zip(fields, cells, strict=False) if f is not None}))
    if not rows:
        problems.append(Problem(0, "aucun envoi dans le fichier (seulement l'en-tête).",
                                "no delivery in the file (only the header)."))
    return rows, problems


#: A plan cell naming an image of the media library: "media:12" (its number in the library).
MEDIA_REFERENCE = re.compile(r"^media\s*[:#]\s*(\d{1,9})$", re.IGNORECASE)


def image_folders(base_dir: Path | None) -> list[Path]:
    """Where a plan's image paths may point: the folder the operator declared
    (``PORTEVOIX_PLAN_IMAGE_DIR``) and, at the command line only, the plan file's own folder."""
    from orchestrator.settings import get_settings

    declared = get_settings().plan_image_dir
    return [folder.resolve() for folder in (base_dir, declared) if folder is not None]


def load_image(raw: RawRow, base_dir: Path | None, cache: dict[Path, dict[str, Any]],
               session: Session | None = None) -> tuple[list[dict[str, Any]], Problem | None]:
    """A row's image: an image of the media library (``media:12``), or a file inside the allowed
    folders (:func:`image_folders`), decoded as a real image before it is accepted and then kept
    inline on the post (as the compose page does), so the post does not depend on the file staying
    where it is. URLs are refused: nothing is fetched. A path outside the allowed folders is
    refused before anything is looked at, with the same words whether it exists or not: the plan
    must not tell anyone which files the server holds."""
    if not raw.image:
        return [], None
    if raw.image.startswith(("http://", "https://")):
        return [], Problem(raw.line, f"image « {raw.image} » : seules les images de la médiathèque ou d'un fichier "
                                     "local sont acceptées (téléchargez-la d'abord).",
                           f"image '{raw.image}': only images of the media library or local files are accepted "
                           "(download it first).")
    reference = MEDIA_REFERENCE.match(raw.image.strip())
    if reference:
        return _library_image(raw, int(reference.group(1)), session)
    if not raw.alt:
        return [], Problem(raw.line, "une image demande son texte alternatif (colonne alt).",
                           "an image needs its alt text (alt column).")
    folders = image_folders(base_dir)
    outside = Problem(raw.line, f"image « {raw.image} » : seules les images de la médiathèque (media:12) ou d'un dossier "
                                "d'images déclaré par l'administration du serveur sont acceptées.",
                      f"image '{raw.image}': only images of the media library (media:12) or of an image folder "
                      "declared by the server's administrators are accepted.")
    given = Path(raw.image)
    if not folders or "\x00" in raw.image:
        return [], outside
    candidates = [given] if given.is_absolute() else [folder / given for folder in folders]
    for candidate in candidates:
        path = candidate.resolve()  # links and ".." followed first: the real place must be inside
        if not any(path.is_relative_to(folder) for folder in folders):
            continue
        if path in cache:
            return [{**cache[path], "alt": raw.alt}], None
        if path.is_file():
            return _file_image(raw, path, cache)
    if any(c.resolve().is_relative_to(f) for c in candidates for f in folders):
        return [], Problem(raw.line, f"image introuvable : « {raw.image} ».", f"image not found: '{raw.image}'.")
    return [], outside


def _file_image(raw: RawRow, path: Path, cache: dict[Path, dict[str, Any]]) -> tuple[list[dict[str, Any]], Problem | None]:
    """The file's bytes, accepted only once Pillow has decoded them as a PNG, JPEG, GIF or WebP
    image within the media library's limits (whatever the name says)."""
    from orchestrator.services import media_library
    from orchestrator.services.auth import ServiceError
    from orchestrator.settings import get_settings

    limit = get_settings().media_max_bytes
    try:
        if path.stat().st_size > limit:
            raise ServiceError(f"image trop lourde (plus de {limit // (1024 * 1024)} Mo).",
                               f"image too large (over {limit // (1024 * 1024)} MB).")
        data = path.read_bytes()
        mime, extension, _width, _height = media_library.inspect(data, max_bytes=limit)
    except ServiceError as exc:
        return [], Problem(raw.line, f"image « {raw.image} » refusée : {exc.fr}", f"image '{raw.image}' refused: {exc.en}")
    except OSError:
        return [], Problem(raw.line, f"image « {raw.image} » illisible.", f"image '{raw.image}' cannot be read.")
    cache[path] = {"data": base64.b64encode(data).decode(), "mime_type": mime,
                   "filename": f"{path.stem}.{extension}", "source": raw.image}
    return [{**cache[path], "alt": raw.alt}], None


def _library_image(raw: RawRow, media_id: int, session: Session | None) -> tuple[list[dict[str, Any]], Problem | None]:
    """A reference to an image of the media library, as the compose page stores it; its alt
    text is the row's, else the library's in the row's language."""
    from orchestrator.models import MediaItem

    item = session.get(MediaItem, media_id) if session is not None else None
    if item is None:
        return [], Problem(raw.line, f"image « {raw.image} » : pas d'image n° {media_id} dans la médiathèque.",
                           f"image '{raw.image}': no image number {media_id} in the media library.")
    alt = raw.alt or item.alt.get(raw.language) or item.alt.get("fr", "")
    if not alt:
        return [], Problem(raw.line, "une image demande son texte alternatif (colonne alt).",
                           "an image needs its alt text (alt column).")
    return [{"media_id": item.id, "alt": alt, "filename": item.filename, "mime_type": item.mime_type,
             "source": raw.image}], None


def parse_at(raw: RawRow) -> tuple[dt.datetime | None, bool, Problem | None]:
    text = raw.at
    if text.lower() in ("now", "maintenant"):
        return None, True, None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, False, Problem(raw.line, f"date illisible « {text} » : écrivez 2025-12-06T12:00-05:00, ou now.",
                                    f"unreadable time '{text}': write 2025-12-06T12:00-05:00, or now.")
    if value.tzinfo is None or value.utcoffset() is None:
        return None, False, Problem(raw.line, f"« {text} » n'a pas de fuseau horaire : ajoutez le décalage, "
                                              "par exemple 2025-12-06T12:00-05:00.",
                                    f"'{text}' has no time zone: add the offset, e.g. 2025-12-06T12:00-05:00.")
    try:
        # 9999-12-31T23:59-05:00 is past the last instant Python can hold once put in UTC.
        value = value.astimezone(dt.UTC)
    except OverflowError:
        value = dt.datetime.max.replace(tzinfo=dt.UTC)
    if value.year > MAX_YEAR:
        return None, False, Problem(raw.line, f"« {text} » est trop loin dans le temps : une date avant {MAX_YEAR + 1}, "
                                              "par exemple 2025-12-06T12:00-05:00.",
                                    f"'{text}' is too far ahead: a date before {MAX_YEAR + 1}, e.g. 2025-12-06T12:00-05:00.")
    return value, False, None


#: No campaign plans further ahead; a later year is a typing mistake (and 9999 overflows).
MAX_YEAR = 2100



# ---------------------------------------------------------------------------------------------
# Export


def _iso(value: dt.datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat() if value else ""


def delivery_records(session: Session, *, campaign: Campaign, batch: int = 5000) -> list[dict[str, Any]]:
    """Every delivery of the campaign, oldest first. Times carry the campaign's offset (Montréal
    time for the sample edition), which the import reads back to the same instant."""
    zone = ZoneInfo(campaign.timezone)
    records: list[dict[str, Any]] = []
    last_id = 0
    while True:  # by id, in batches, so one query never holds the whole table
        found = list(session.exec(
            select(Delivery, Post, Account, Case)
            .join(Post, col(Post.id) == Delivery.post_id)
            .join(Account, col(Account.id) == Delivery.account_id)
            .outerjoin(Case, col(Case.id) == Post.case_id)
            .where(Post.campaign_id == campaign.id, col(Delivery.id) > last_id)
            .order_by(col(Delivery.id)).limit(batch)
        ))
        if not found:
            break
        for d, p, a, c in found:
            image = p.images[0] if p.images else {}
            records.append({
                "case": c.slug if c else "", "language": p.language, "text": p.text, "link": p.link or "",
                "account": a.name, "at": _iso(d.scheduled_at, zone),
                "image": image.get("source") or image.get("path") or "", "alt": image.get("alt", ""),
                "state": d.state, "kind": a.kind, "published_at": _iso(d.published_at, zone),
                "platform_id": d.platform_id or "", "platform_url": d.platform_url or "",
                "source_code": d.source_code, "likes": d.likes, "shares": d.shares, "replies": d.replies,
                "quotes": d.quotes, "views": d.views, "metrics_at": _iso(d.metrics_at, zone),
                "delivery_id": d.id, "post_id": p.id,
            })
        last_id = found[-1][0].id or 0
    return records


def export_deliveries(session: Session, *, campaign: Campaign, fmt: str = "csv") -> str:
    """Every delivery as CSV (UTF-8, comma) or JSON, in the layout the import reads."""
    records = delivery_records(session, campaign=campaign)
    if fmt == "json":
        return json.dumps({"campaign": campaign.slug, "timezone": campaign.timezone, "deliveries": records},
                          ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        from orchestrator.services.auth import ServiceError

        raise ServiceError(f"Format inconnu « {fmt} » : csv ou json.", f"Unknown format '{fmt}': csv or json.")
    out = io.StringIO()
    # cells a spreadsheet would run as formulas are neutralised; the import undoes it
    writer = csvsafe.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        writer.writerow(["" if record.get(k) is None else record[k] for k in EXPORT_COLUMNS])
    return out.getvalue()
