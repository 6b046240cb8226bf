"""Retracting from the dashboard: the "Retirer" action on the case, post and delivery pages
(approvers and admins only) needs a reason and a confirmation; the progress shows what was
removed, what must be removed by hand (with the link), what is pending and the reposts seen;
four eyes wait for a second person on the page. French and English."""

from __future__ import annotations

from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign, PublicPost, Retraction, RetractionJob
from orchestrator.services import retractions
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import stored, texts

URL = "https://x.com/i/web/status/1900000000000000042"


def offered(at) -> str:  # type: ignore[no-untyped-def]
    """The labels of the page's expanders (where the "Retirer" action lives)."""
    return " ".join(str(e.label) for e in at.expander)


def published(scheduled) -> int:  # type: ignore[no-untyped-def]
    return scheduled(state="published", platform_id="1900000000000000042", platform_url=URL, published_at=utcnow())


def test_an_approver_retracts_a_case_with_a_reason_and_a_confirmation(app, bare_engine, scheduled) -> None:
    delivery_id = published(scheduled)
    at = app("alain", "cases")
    key = "case_retract_juan-lopez"
    assert "Retirer (1 publication(s) en ligne)" in offered(at)
    assert at.button(key=f"{key}_go").disabled  # the confirm step first
    at.checkbox(key=f"{key}_sure").check().run()
    at.button(key=f"{key}_go").click().run()
    assert "raison" in texts(at) and stored(bare_engine, select(Retraction)) == []  # refused: no reason
    at.text_area(key=f"{key}_reason").input("La famille demande le retrait").run()
    at.button(key=f"{key}_go").click().run()
    assert not at.exception
    [made] = stored(bare_engine, select(Retraction))
    assert made.reason == "La famille demande le retrait" and made.requested_by == "alain" and made.scope == "case"
    [job] = stored(bare_engine, select(RetractionJob))
    assert job.delivery_id == delivery_id and job.state == retractions.QUEUED
    shown = texts(at)
    assert "Retrait 1 demandé" in shown and "En cours" in shown
    assert "Retrait demandé (1 publication(s))" in shown  # the case's history keeps the reason
    # ... as a note, not as a change of status from "Active" to "Active"
    assert "Active → Active" not in shown and "alain : Retrait demandé" in shown


def test_the_progress_shows_what_must_be_removed_by_hand_and_the_reposts_seen(app, bare_engine, scheduled) -> None:
    delivery_id = published(scheduled)
    with db.session_scope(bare_engine) as s:
        from orchestrator.services.auth import Actor

        number = retractions.request(s, actor=Actor("alain", "approver"), reason="Transfert", delivery_id=delivery_id).id
        job = s.exec(select(RetractionJob)).one()
        job.state, job.error = retractions.FAILED, "X a refusé la suppression."
        s.add(job)
        campaign_id = s.exec(select(Campaign.id)).first()
        for n, kind in enumerate(("repost", "quote", "quote", "reply")):
            s.add(PublicPost(platform="x", post_key=f"k{n}", campaign_id=campaign_id, kind=kind, hour=utcnow(),
                             delivery_id=delivery_id))
    for lang, words in (("fr", ["Retrait {n}", "Non retirées", "X a refusé la suppression.",
                                "Impossible à retirer : 3 partage(s) ou citation(s) par d'autres vus."]),
                        ("en", ["Retraction {n}", "Not removed", "Cannot be removed: 3 repost(s) or quote(s) by "
                                                                 "others seen."])):
        at = app("victor", "queue", lang=lang)  # everyone sees the progress
        shown = texts(at)
        for word in words:
            assert word.format(n=number) in shown, (lang, word)
        assert URL in [b.proto.url for b in at.get("link_button")]  # where to remove it by hand


def test_an_editor_has_no_retract_action(app, bare_engine, scheduled) -> None:
    published(scheduled)
    for page in ("cases", "queue", "posts"):
        assert "Retirer (" not in offered(app("edith", page)), page
    assert "Retirer (1 publication(s) en ligne)" in offered(app("alain", "posts"))
    assert "Retirer (1 publication(s) en ligne)" in offered(app("ada", "queue"))


def test_four_eyes_a_second_person_confirms_on_the_page(app, bare_engine, scheduled, people) -> None:
    delivery_id = published(scheduled)
    with db.session_scope(bare_engine) as s:
        campaign = s.exec(select(Campaign)).first()
        assert campaign is not None
        campaign.retract_four_eyes = True
        s.add(campaign)
    at = app("alain", "queue")
    key = f"queue_retract_{delivery_id}"
    at.text_area(key=f"{key}_reason").input("Image sans consentement").run()
    at.checkbox(key=f"{key}_sure").check().run()
    at.button(key=f"{key}_go").click().run()
    assert "deuxième personne" in texts(at)
    [job] = stored(bare_engine, select(RetractionJob))
    assert job.state == retractions.WAITING
    confirm_key = f"queue_retractions_{delivery_id}_1_confirm"
    assert confirm_key not in [b.key for b in at.button]  # not for the one who asked
    other = app("ada", "queue")
    other.button(key=confirm_key).click().run()
    assert not other.exception
    [job] = stored(bare_engine, select(RetractionJob))
    assert job.state == retractions.QUEUED
    [made] = stored(bare_engine, select(Retraction))
    assert made.confirmed_by == "ada"


def test_a_retracted_delivery_is_shown_as_retracted_in_the_queue(app, bare_engine, scheduled) -> None:
    scheduled(state="published", platform_id="1900000000000000043", platform_url=URL, published_at=utcnow(),
              retracted_at=utcnow())
    for lang, word in (("fr", "Retirée"), ("en", "Retracted")):
        at = app("victor", "queue", lang=lang)
        cells = " ".join(str(v) for v in at.dataframe[0].value.to_numpy().ravel())
        assert word in cells, lang
        assert ("Retirée des plateformes" if lang == "fr" else "Removed from the platforms") in texts(at)


def test_a_failed_deletion_done_by_hand_is_noted(app, bare_engine, scheduled) -> None:
    from orchestrator.models import Delivery
    from orchestrator.services.auth import Actor

    delivery_id = published(scheduled)
    with db.session_scope(bare_engine) as s:
        number = retractions.request(s, actor=Actor("alain", "approver"), reason="Transfert", delivery_id=delivery_id).id
        job = s.exec(select(RetractionJob)).one()
        job.state, job.error = retractions.FAILED, "X a refusé la suppression."
        s.add(job)
    key = f"queue_retractions_{delivery_id}_{number}_hand_{delivery_id}"
    assert key not in [b.key for b in app("edith", "queue").button]  # an approver says so
    at = app("alain", "queue")
    at.button(key=key).click().run()
    assert not at.exception
    [job] = stored(bare_engine, select(RetractionJob))
    assert job.state == retractions.BY_HAND
    [row] = stored(bare_engine, select(Delivery))
    assert row.retracted_at is not None
    assert "Non retirées" in texts(at) and "X a refusé" not in texts(at)


def test_an_admin_turns_four_eyes_on_retractions_on_for_an_edition(app, bare_engine) -> None:
    [before] = stored(bare_engine, select(Campaign).where(Campaign.is_current == True))  # noqa: E712
    assert not before.retract_four_eyes
    assert f"edition_retract_four_eyes_{before.slug}" not in [w.key for w in app("alain", "campaigns").toggle]
    at = app("ada", "campaigns")
    at.toggle(key=f"edition_retract_four_eyes_{before.slug}").set_value(True).run()
    assert not at.exception
    [after] = stored(bare_engine, select(Campaign).where(Campaign.id == before.id))
    assert after.retract_four_eyes
