"""Stop everything in the dashboard: the banner on every page for every role (French and
English), the admins' page to suspend and to lift, settling what became overdue."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Delivery, Suspension
from orchestrator.services import suspensions
from orchestrator.services.auth import Actor
from orchestrator.settings import get_settings
from orchestrator.worker.claimer import Claimer
from tests.dashboard.helpers import stored, texts

ADA = Actor("ada", "admin")
REASON = "Juan transféré : on se tait"
SHOWN_REASON = REASON.replace(":", "\\:")  # as Markdown source: what people typed is shown as typed


def suspend(engine, **scope) -> int:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as s:
        return suspensions.suspend(s, actor=ADA, reason=REASON, **scope).id  # type: ignore[return-value]


@pytest.mark.parametrize("who", ["victor", "edith", "alain", "ada"])
def test_the_banner_is_on_every_page_for_every_role_in_both_languages(app, bare_engine, account, who) -> None:
    suspend(bare_engine)
    suspend(bare_engine, account=account)
    for lang, words in (("fr", ["Publication suspendue pour toute l'organisation", f"Publication suspendue pour le compte {account}",
                                "par ada"]),
                        ("en", ["Publishing suspended for the whole organisation",
                                f"Publishing suspended for the {account} account", "by ada"])):
        for page in ("overview", "queue", "cases", "compose"):
            at = app(who, page, lang=lang)
            shown = texts(at)
            for expected in [*words, SHOWN_REASON]:
                assert expected in shown, (who, lang, page, expected)
            links = [link.proto.page for link in at.get("page_link")]
            assert bool(links) is (who == "ada"), (who, page, links)  # the way to lift: admins only


def test_no_banner_without_a_suspension(app, bare_engine) -> None:
    at = app("victor", "overview")
    assert "suspendue" not in texts(at) and not at.get("page_link")


def test_an_admin_suspends_with_a_reason_from_the_page(app, bare_engine) -> None:
    at = app("ada", "stop")
    at.button(key="stop_suspend").click().run()
    assert "raison" in texts(at) and stored(bare_engine, select(Suspension)) == []  # refused: no reason
    at.text_area(key="stop_reason").input("Crise : tout arrêter").run()
    at.button(key="stop_suspend").click().run()
    assert not at.exception
    [made] = stored(bare_engine, select(Suspension))
    assert made.reason == "Crise : tout arrêter" and made.set_by == "ada" and made.campaign_id is None
    assert "Publication suspendue pour toute l'organisation" in texts(at)


@pytest.mark.parametrize("choice", ["publish", "reschedule", "cancel"])
def test_lifting_shows_what_is_overdue_and_asks_what_to_do(app, bare_engine, scheduled, choice) -> None:
    late = scheduled(in_hours=-3)
    later = scheduled(in_hours=5)
    number = suspend(bare_engine)
    assert Claimer(bare_engine, get_settings(), "w").claim() == []
    at = app("ada", "stop")
    shown = texts(at)
    assert "En retard depuis la suspension : 1" in shown and SHOWN_REASON in shown
    assert list(at.dataframe[0].value.iloc[:, 0]) == [late]
    at.radio(key=f"stop_choice_{number}").set_value(choice).run()
    at.button(key=f"stop_lift_{number}").click().run()
    assert not at.exception
    assert "Suspension levée (1 envoi" in texts(at) and "Publication suspendue" not in texts(at)
    rows = {d.id: d for d in stored(bare_engine, select(Delivery))}
    expected = {"publish": states.SCHEDULED, "reschedule": states.SCHEDULED, "cancel": states.CANCELLED}[choice]
    assert rows[late].state == expected and rows[later].state == states.SCHEDULED
    if choice != "cancel":
        assert rows[late].due_at <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


def test_the_stop_page_is_not_theirs_for_others(app, bare_engine) -> None:
    suspend(bare_engine)
    for who in ("victor", "edith", "alain"):
        at = app(who, lang="en")
        assert "Publishing suspended for the whole organisation" in texts(at)  # the banner, no control
        assert not at.get("page_link")
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("views/stop.py")


def test_the_lift_page_in_english(app, bare_engine, scheduled) -> None:
    scheduled(in_hours=-1)
    suspend(bare_engine)
    Claimer(bare_engine, get_settings(), "w").claim()
    shown = texts(app("ada", "stop", lang="en"))
    assert "Overdue since the suspension: 1" in shown and "Suspension no. 1 — the whole organisation" in shown


def test_an_embargo_is_shown_on_the_case_and_post_cards_and_set_from_the_case(app, bare_engine, scheduled) -> None:
    from orchestrator.models import Case
    from orchestrator.services import embargo

    scheduled()
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    with db.session_scope(bare_engine) as s:
        juan = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        embargo.set_case_embargo(s, actor=Actor("edith", "editor"), case_id=juan.id, until=until)
    for lang, words in (("fr", "Cas sous embargo jusqu'au"), ("en", "Case under embargo until")):
        assert words in texts(app("victor", "cases", lang=lang))
    for lang, words in (("fr", "Sous embargo jusqu'au"), ("en", "Under embargo until")):
        assert words in texts(app("victor", "posts", lang=lang))
    with db.session_scope(bare_engine) as s:
        from orchestrator.services import posts

        waiting = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", text="À approuver",
                                    submit=True)
        embargo.set_post_embargo(s, actor=Actor("edith", "editor"), post_id=waiting.id, until=until)
    assert "Sous embargo jusqu'au" in texts(app("alain", "approvals"))
    # an editor may not lift it: the refusal says so; an approver may
    at = app("edith", "cases")
    at.toggle(key="case_embargo_juan-lopez_toggle").set_value(True).run()
    at.button(key="case_embargo_juan-lopez_lift").click().run()
    assert "lever ou avancer l'embargo" in texts(at)
    at = app("alain", "cases")
    at.toggle(key="case_embargo_juan-lopez_toggle").set_value(True).run()
    at.button(key="case_embargo_juan-lopez_lift").click().run()
    assert not at.exception
    [juan] = stored(bare_engine, select(Case).where(Case.slug == "juan-lopez"))
    assert juan.embargo_until is None
    assert "sous embargo" not in texts(app("victor", "cases")).lower()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_lifting_one_of_two_suspensions_says_what_the_other_still_holds(app, bare_engine, scheduled, account,
                                                                       lang) -> None:
    late = scheduled(in_hours=-1)
    everything = suspend(bare_engine)
    also_the_account = suspend(bare_engine, account=account)
    Claimer(bare_engine, get_settings(), "w").claim()
    at = app("ada", "stop")
    # The radio's words are read in French outside a run: the language changes for the click's run.
    at.session_state["lang"] = lang
    at.button(key=f"stop_lift_{everything}").click().run()
    assert not at.exception
    [row] = stored(bare_engine, select(Delivery).where(Delivery.id == late))
    assert row.state == states.SCHEDULED  # released by the first, held again at the next claim
    words = {"fr": f"1 envoi(s) restent retenus : la suspension n° {also_the_account} les couvre encore",
             "en": f"1 delivery(ies) stay held: suspension no. {also_the_account} still covers them"}[lang]
    assert [w.value for w in at.warning if words in w.value], texts(at)
    # lifting the last one says nothing more
    at = app("ada", "stop")
    at.button(key=f"stop_lift_{also_the_account}").click().run()
    assert not [w for w in at.warning if "retenus" in w.value or "stay held" in w.value]


def test_the_overdue_list_names_the_account_and_the_text_and_editions_go_by_their_names(app, bare_engine, scheduled,
                                                                                        account) -> None:
    scheduled(in_hours=-1, text="Écrivez pour Juan López aujourd'hui !")
    suspend(bare_engine)
    Claimer(bare_engine, get_settings(), "w").claim()
    at = app("ada", "stop")
    table = at.dataframe[0].value
    assert list(table["Compte"]) == [account]
    assert list(table["Texte"]) == ["Écrivez pour Juan López aujourd'hui !"]
    at.radio(key="stop_scope").set_value("campaign").run()
    box = at.selectbox(key="stop_campaign")
    assert box.options == ["Écrire, ça libère ! 2025"] and box.value == "ecrire-2025"
