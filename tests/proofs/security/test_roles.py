"""Every service function that acts for a person refuses a viewer, and changes nothing doing so.

The functions are found by introspection, not listed: every public function of every module in
``orchestrator.services`` with a parameter named ``actor``. Each is called as a viewer with
plausible arguments built from its signature (``SAMPLES``; real rows from a database holding the
2025 campaign, an account, a post, a delivery, people, a template, an image, a tally). It must
raise ``PermissionDenied``; then the session is *committed*, so anything the function touched
before refusing would be saved, and the whole database must be as it was.

A function that only reads, or that a viewer may legitimately call, goes in ``ALLOWED`` with the
reason. A new state-changing function without ``require()`` makes this test fail.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import pkgutil
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session, SQLModel, select

import orchestrator.services as services_pkg
from orchestrator import db
from orchestrator.models import Account, CallToAction, Campaign, Case, Delivery
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied
from tests.factories import make_account

VIEWER = Actor("victor", "viewer")

#: "module.function": why a viewer may call it (and it is still called: it must change nothing,
#: unless it says it changes the viewer's own row).
ALLOWED: dict[str, str] = {
    "auth.require": "the check itself",
    "auth.audit": "writes what a caller did after its own check; never called on its own behalf",
    "compose.my_posts": "reads the viewer's own posts",
    "four_eyes.approval_refusal": "the four-eyes check itself: says why, changes nothing",
    "four_eyes.edit_refusal": "the four-eyes check itself: says why, changes nothing",
    "reports.audit_entries": "reads; `actor` there is a filter (a username), not the person acting; "
                             "the audit page is shown to admins only",
    "users.set_language": "SELF: a person's own interface language, a preference anyone may set",
    "notify.send_test": "SELF: a test message to the person's own addresses (one outbox row for them)",
}
#: The tables a SELF function may change (the person's own rows there).
SELF_TABLES = {"users.set_language": {"user"}, "notify.send_test": {"notification_outbox"}}


def service_functions() -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for info in pkgutil.iter_modules(services_pkg.__path__):
        module = importlib.import_module(f"orchestrator.services.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != module.__name__ or "__mutmut" in name:
                continue  # private, imported, or a mutation test's copy of a function (make mutation)
            if "actor" in inspect.signature(fn).parameters:
                found.append((f"{info.name}.{name}", fn))
    return sorted(found, key=lambda item: item[0])


FUNCTIONS = service_functions()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_sample: Path) -> Iterator[dict[str, Any]]:
    """One database for the module: nothing may change it, which is the point."""
    from orchestrator.services import (
        case_edit,
        deliveries,
        media_library,
        posts,
        responses,
        templates_admin,
    )
    from orchestrator.services.users import add_user

    path = tmp_path_factory.mktemp("roles") / "roles.db"
    shutil.copyfile(sqlite_sample, path)
    mp = pytest.MonkeyPatch()
    mp.setenv("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    mp.setenv("PORTEVOIX_HOME", str(path.parent))
    from orchestrator.settings import get_settings

    get_settings.cache_clear()
    engine = db.make_engine(f"sqlite:///{path}")
    with db.session_scope(engine) as s:
        for name, role in {"victor": "viewer", "ada": "admin", "edith": "editor"}.items():
            add_user(s, actor=SYSTEM, username=name, password="un-mot-de-passe-long", role=role)
        campaign = s.exec(select(Campaign).where(Campaign.is_current)).one()
        case = s.exec(select(Case).where(Case.campaign_id == campaign.id, Case.slug == "juan-lopez")).one()
        make_account(s, "x", base_url="http://127.0.0.1:9")
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan !", submit=True)
        post.author = "edith"
        posts.approve_post(s, actor=SYSTEM, post_id=post.id)  # type: ignore[arg-type]
        delivery = deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name="x-fr",  # type: ignore[arg-type]
                                       at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        draft = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Brouillon", submit=True)
        template, _ = templates_admin.save_template(
            s, actor=SYSTEM, campaign_id=campaign.id, slug="essai", action_slug="ecrire-une-lettre",  # type: ignore[arg-type]
            language="fr", body="Écrivez pour {person} !")
        image = media_library.add_image(s, actor=SYSTEM, campaign_id=campaign.id, case_slug="juan-lopez",  # type: ignore[arg-type]
                                        data=_png(), filename="juan.png", alt={"fr": "Juan", "en": "Juan"})
        tally = responses.record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="letter", count=3,
                                       day=dt.date(2025, 12, 6))
        action = s.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id)).first()
        assert action is not None
        from orchestrator.models import InboxItem
        from orchestrator.services import inbox, integrations, notify

        item = InboxItem(platform="x", account_id=delivery.account_id, item_key="0" * 64, platform_item_id="77",
                         kind="reply", campaign_id=campaign.id, case_id=case.id, delivery_id=delivery.id, text="Où ?",
                         author="camille", language="fr", received_at=dt.datetime.now(dt.UTC))
        s.add(item)
        answer = inbox.save_answer(s, actor=SYSTEM, campaign_id=campaign.id or 0, language="fr", title="Où signer",
                                   text="Ici.")
        token, _ = integrations.create_token(s, actor=SYSTEM, name="crm", scopes=["read"])
        hook, _ = integrations.add_webhook(s, actor=SYSTEM, name="site", url="https://site.example.org/h",
                                           events=["published"])
        notify.save_preference(s, actor=SYSTEM, username="victor", events=["digest"], email="victor@example.org")
        s.flush()
        ids = {"campaign": campaign.id, "case": case.id, "post": draft.id, "approved": post.id, "action": action.id,
               "delivery": delivery.id, "template": template.id, "media": image.id, "response": tally.id,
               "inbox_item": item.id, "answer": answer.id, "token": token.id, "webhook": hook.id}
        assert case_edit  # imported for the samples below
    yield {"engine": engine, **ids}
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "orange").save(out, format="PNG")
    return out.getvalue()


def _samples(s: Session, w: dict[str, Any]) -> dict[str, Any]:
    """A plausible value for each parameter name met in the services."""
    from content.loader import bundled_campaign, load_campaign
    from orchestrator.services.series import SeriesPlan

    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    return {
        "post_id": w["post"], "delivery_id": w["delivery"], "campaign_id": w["campaign"], "case_id": w["case"],
        "source_id": w["campaign"], "template_id": w["template"], "media_id": w["media"],
        "response_id": w["response"], "sibling_id": w["approved"], "action_id": w["action"],
        "engine": w["engine"], "case": s.get(Case, w["case"]), "account": s.exec(select(Account)).first(),
        "campaign": s.get(Campaign, w["campaign"]),
        "terms": {"fr": {"hashtags": ["JusticePourJuan"], "keywords": ["Guapinol"]}},
        "case_slug": "juan-lopez", "account_name": "x-fr", "account_names": ["x-fr"], "name": "x-fr",
        "kind": "x", "credentials": {"bearer_token": "autre"}, "base_url": None,
        "language": "fr", "text": "Écrivez pour Juan !", "link": None, "comment": "non", "reason": "essai",
        "note": "essai", "status": "paused", "from_status": "active", "offset": 1, "slugs": ["juan-lopez"],
        "at": soon, "published": True, "username": "ada", "password": "un-autre-mot-de-passe", "role": "viewer",
        "disabled": True, "archived": True, "changes": {"goal": 1}, "slug": "essai-2", "action_slug": "ecrire-une-lettre",
        "body": "Pour {person}", "alt": {"fr": "a", "en": "a"}, "credit": "", "filename": "a.png",
        "day_goal": 10, "count": 1, "day": dt.date(2025, 12, 7), "starts_on": dt.date(2026, 11, 1),
        "ends_on": dt.date(2026, 12, 31), "content": load_campaign(bundled_campaign("2025")),
        "keys": [Fernet.generate_key()], "comment_text": "", "published_at": soon,
        "token_id": w["token"], "webhook_id": w["webhook"], "scopes": ["read", "responses:write"],
        "url": "https://crm.example.org/hook", "events": ["published"], "active": False,
        "suspension_id": 1, "choice": "publish", "until": soon, "flag": "name",
        "retraction_id": 1, "on": True,
        "item_id": w["inbox_item"], "answer_id": w["answer"], "title": "Où signer", "words": ["traitres"],
        "plan": SeriesPlan(name="essai", start=dt.date(2025, 12, 1), end=dt.date(2025, 12, 3),
                           time=dt.time(12, 0), accounts=["x-fr"], text="Pour {person}"),
    }


#: Where one name means different things in different functions.
OVERRIDES: dict[str, dict[str, Any]] = {
    "accounts.add_account": {"name": "x-nouveau"},
    "case_edit.create_case": {"data": {"slug": "nouveau", "person": {"fr": "Nouvelle personne"}}},
    "campaign_admin.create_campaign": {"data": {"slug": "ecrire-2026", "name": {"fr": "2026"}}},
    "campaign_admin.copy_campaign": {"name": {"fr": "Écrire 2026"}},
    "media_library.add_image": {"data": b"\x89PNG not really"},
    "plan_import.import_plan": {"data": b"case,account,at,text\n"},
    "responses_import.import_responses": {"data": io.BytesIO(b"case,kind,count,day\n")},
    "case_edit.set_status": {"status": "active"},
    "actions_admin.save_action": {"kind": "letter", "label": {"fr": "Écrire", "en": "Write"},
                                  "text": {"fr": "Écrivez.", "en": "Write."}, "url": None, "key_date": None},
    "reports.audit_entries": {"actor": "victor"},  # a filter there, not the person acting
    "four_eyes.approval_refusal": {"author": "ada", "edited_by": ["victor"]},
    "four_eyes.edit_refusal": {"author": "ada", "status": "draft"},
    "inbox.set_state": {"state": "done"},
    "reply_limits.set_reply_limit": {"limit": "nobody"},
}


def _call(fn: Callable[..., Any], qualname: str, s: Session, w: dict[str, Any]) -> Any:
    samples = {**_samples(s, w), "session": s, "actor": VIEWER, **OVERRIDES.get(qualname, {})}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.name not in samples:
            if p.default is not p.empty:
                continue
            pytest.fail(f"{qualname}: add a sample value for the parameter {p.name!r} to SAMPLES")
        if p.kind is p.POSITIONAL_OR_KEYWORD:
            args.append(samples[p.name])
        else:
            kwargs[p.name] = samples[p.name]
    return fn(*args, **kwargs)


def snapshot(engine: sa.Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(sa.select(t)))
                for t in SQLModel.metadata.sorted_tables}


def test_the_services_are_found() -> None:
    names = {name for name, _ in FUNCTIONS}
    assert {"posts.approve_post", "deliveries.cancel", "users.set_role", "accounts.add_account"} <= names
    assert len(FUNCTIONS) > 40


def test_no_service_function_acts_for_anyone_unless_told_who() -> None:
    """Forgetting ``actor`` must not grant everything: no service function defaults it (to the
    machine's all-powerful actor or anyone). The worker, the demo and the command line name
    theirs (``SYSTEM``, ``command_line_operator()``)."""
    filters = {"reports.audit_entries"}  # there `actor` is a username to filter on
    defaulted = [name for name, fn in FUNCTIONS if name not in filters
                 and inspect.signature(fn).parameters["actor"].default is not inspect.Parameter.empty]
    assert defaulted == []


def test_the_allowlist_names_real_functions() -> None:
    names = {name for name, _ in FUNCTIONS}
    assert not set(ALLOWED) - names, "remove stale entries from ALLOWED"


@pytest.mark.parametrize(("qualname", "fn"), [pytest.param(*f, id=f[0]) for f in FUNCTIONS if f[0] not in ALLOWED])
def test_a_viewer_is_refused_and_nothing_changes(qualname: str, fn: Callable[..., Any], world: dict[str, Any]) -> None:
    engine = world["engine"]
    before = snapshot(engine)
    with Session(engine) as s:
        try:
            result = _call(fn, qualname, s, world)
        except PermissionDenied as exc:
            assert "victor" in exc.fr and "victor" in exc.en
        else:
            s.rollback()
            pytest.fail(f"{qualname} let a viewer through (returned {result!r}): add require(), or list it in "
                        "ALLOWED with the reason a viewer may call it")
        s.commit()  # whatever was touched before the refusal would be saved now
    assert snapshot(engine) == before, f"{qualname} changed the database before refusing"


@pytest.mark.parametrize("qualname", sorted(ALLOWED))
def test_what_a_viewer_may_call_changes_nothing_else(qualname: str, world: dict[str, Any]) -> None:
    fn = dict(FUNCTIONS)[qualname]
    if qualname.startswith("auth."):
        return  # the building blocks themselves; every test above goes through them
    engine = world["engine"]
    before = snapshot(engine)
    with Session(engine) as s:
        _call(fn, qualname, s, world)
        s.commit()
    after = snapshot(engine)
    if ALLOWED[qualname].startswith("SELF"):
        changed = {t for t in before if before[t] != after[t]}
        assert changed <= SELF_TABLES[qualname]
        for table in SELF_TABLES[qualname]:
            before.pop(table), after.pop(table)
        if qualname == "notify.send_test":  # for the viewer only
            from orchestrator.models import NotificationOutbox

            with Session(engine) as s:
                assert {r.recipient for r in s.exec(select(NotificationOutbox))} == {"victor"}
    assert after == before


def test_a_viewer_may_change_only_their_own_password(world: dict[str, Any]) -> None:
    from orchestrator.services.users import set_password

    with db.session_scope(world["engine"]) as s:
        set_password(s, actor=VIEWER, username="victor", password="un-mot-de-passe-long")
        with pytest.raises(PermissionDenied):
            set_password(s, actor=VIEWER, username="ada", password="un-mot-de-passe-long")


def test_the_delivery_is_still_there(world: dict[str, Any]) -> None:
    """The fixture really holds the rows the samples point at (a refusal for a missing row would
    prove nothing)."""
    with Session(world["engine"]) as s:
        assert s.get(Delivery, world["delivery"]) is not None
        assert s.get(Case, world["case"]) is not None
