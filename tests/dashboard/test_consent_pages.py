"""Consent and sensitive dates on the pages: the case page withdraws a consent (holding what is
queued and listing what is out, with its link), the approvals page names the consent a post
breaks and leaves its approve button off, and warns of a sensitive date; the media library marks
an image as showing the person's face; admins type an edition's sensitive dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign, Case, Delivery, MediaItem, Post
from orchestrator.services import consent, posts
from orchestrator.services.auth import Actor
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import stored, texts
from tests.orchestrator.services.helpers import png

EDITH = Actor("edith", "editor")


def _case(session, slug: str = "juan-lopez") -> Case:
    session.expire_all()
    case = session.exec(select(Case).where(Case.slug == slug)).one()
    session.rollback()  # the page writes next: no read left open on SQLite
    return case


def _withdraw_name(engine) -> None:
    with db.session_scope(engine) as s:
        case = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        consent.set_consent(s, actor=EDITH, case_id=case.id, name=False)


def test_an_editor_withdraws_a_consent_and_sees_what_is_out(app, scheduled, session):
    queued = scheduled(text="Écrivez pour Juan López !")
    silent = scheduled(text="Écrivez pour lui !")
    out = scheduled(state="published", text="Merci pour Juan López !", platform_url="https://x.com/amnistie/status/42",
                    published_at=utcnow())
    at = app("edith", "cases")
    at.toggle(key="case_consent_juan-lopez_toggle").set_value(True).run()
    at.checkbox(key="case_consent_juan-lopez_name").uncheck()  # in a form: sent with its button
    at.text_input(key="case_consent_juan-lopez_note").input("Appel de la sœur, 5 décembre")
    next(b for b in at.button if b.label == "Enregistrer le consentement").click().run()
    assert not at.exception and not at.error
    assert _case(session).consent_name is False
    assert session.get(Delivery, queued).state == "held" and session.get(Delivery, silent).state == "scheduled"
    session.rollback()  # the page writes next: no read left open on SQLite
    shown = texts(at)
    assert "1 envoi(s) retenu(s)" in shown
    assert "Consentement retiré" in shown and "nommer la personne" in shown
    assert f"Envoi n° {out}" in shown  # the published one, listed with its link to retract it
    assert any("https://x.com/amnistie/status/42" in m.value for m in at.markdown)
    # granting it back is not for an editor
    at.checkbox(key="case_consent_juan-lopez_name").check()
    next(b for b in at.button if b.label == "Enregistrer le consentement").click().run()
    assert any("n'a pas le droit de rendre un consentement" in e.value for e in at.error)
    assert _case(session).consent_name is False


def test_a_viewer_reads_the_consent_without_changing_it(app, bare_engine):
    _withdraw_name(bare_engine)
    at = app("victor", "cases")
    assert "RETIRÉ" in texts(at)
    assert "case_consent_juan-lopez_toggle" not in {w.key for w in at.toggle}


def test_approvals_name_the_consent_a_post_breaks_and_offer_no_approval(app, bare_engine, account):
    with db.session_scope(bare_engine) as s:
        post_id = posts.create_post(s, actor=EDITH, case_slug="sonia-dahmani", text="Sonia et Juan Lopez vous attendent.",
                                    submit=True).id
    _withdraw_name(bare_engine)
    at = app("alain", "approvals", lang="en")
    assert any("name the person" in e.value and "the case of Juan López" in e.value for e in at.error)
    assert at.button(key=f"approve_{post_id}").disabled


def test_approvals_warn_of_a_post_scheduled_on_a_sensitive_date(app, bare_engine, account):
    from orchestrator.services import deliveries

    with db.session_scope(bare_engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
        zone = ZoneInfo(campaign.timezone)
        day = (utcnow().astimezone(zone) + dt.timedelta(days=2)).date()
        campaign.sensitive_dates = [{"date": day.isoformat(), "label": {"fr": "Jour de deuil", "en": "Day of mourning"}}]
        post = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Écrivez !", submit=True)
        deliveries.schedule(s, actor=EDITH, post_id=post.id, account_name=account,
                            at=dt.datetime.combine(day, dt.time(12), tzinfo=zone))
        other = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Écrivez aussi !", submit=True)
        deliveries.schedule(s, actor=EDITH, post_id=other.id, account_name=account,
                            at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(12), tzinfo=zone))
    at = app("alain", "approvals")
    warned = [w.value for w in at.warning if "date sensible" in w.value]
    assert len(warned) == 1 and "Jour de deuil" in warned[0]  # the other post is on an ordinary day
    at = app("alain", "approvals", lang="en")
    assert any("sensitive date" in w.value and "Day of mourning" in w.value for w in at.warning)


def test_the_library_marks_an_image_as_showing_the_face(app, bare_engine, session):
    from orchestrator.services import media_library

    with db.session_scope(bare_engine) as s:
        media_id = media_library.add_image(s, actor=EDITH, campaign_id=1, case_slug="juan-lopez", data=png(),
                                           filename="juan.png", alt={"fr": "Juan", "en": "Juan"}).id
    at = app("edith", "media")
    at.checkbox(key=f"media_face_{media_id}").check()
    next(b for b in at.button if b.label == "Enregistrer").click().run()
    assert not at.error
    assert session.get(MediaItem, media_id).shows_face is True
    session.rollback()
    assert "Montre le visage de la personne" in texts(app("victor", "media"))


def test_an_admin_types_the_sensitive_dates_of_the_edition(app, session):
    at = app("ada", "campaigns")
    box = at.text_area(key="edition_sensitive_dates")
    assert "2025-12-06" in box.value  # the bundled edition's 6 December
    box.input("2025-12-06 | Journée de commémoration | Day of Remembrance\n2025-12-25 | Noël | Christmas")
    next(b for b in at.button if b.label == "Enregistrer").click().run()
    assert not at.error
    campaign = session.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
    assert [d["date"] for d in campaign.sensitive_dates] == ["2025-12-06", "2025-12-25"]
    assert campaign.sensitive_dates[1]["label"] == {"fr": "Noël", "en": "Christmas"}
    session.rollback()
    assert "Date sensible" in texts(app("victor", "campaigns"))


def test_compose_blocks_a_text_that_breaks_a_consent_before_it_is_submitted(app, account, bare_engine):
    _withdraw_name(bare_engine)
    at = app("edith", "compose")
    at.selectbox(key="compose_case").set_value("sonia-dahmani")
    at.text_area(key="compose_text").input("Sonia et Juan López attendent vos lettres.").run()
    assert any("nommer la personne" in e.value for e in at.error)  # before any account is chosen
    at.multiselect(key="compose_accounts").set_value([account]).run()
    assert any("nommer la personne" in w.value for w in at.warning)  # on the account's preview
    assert any("corrigez-la avant de la soumettre" in e.value for e in at.error)
    at.button(key="compose_submit").click().run()
    assert any("nommer la personne" in e.value for e in at.error)
    assert stored(bare_engine, select(Post)) == []


def test_compose_warns_of_a_sensitive_date_when_the_time_is_chosen(app, account, bare_engine):
    with db.session_scope(bare_engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
        zone = ZoneInfo(campaign.timezone)
        day = (utcnow().astimezone(zone) + dt.timedelta(days=3)).date()
        campaign.sensitive_dates = [{"date": day.isoformat(), "label": {"fr": "Jour de deuil", "en": "Day of mourning"}}]
    at = app("edith", "compose")
    at.text_area(key="compose_text").input("Écrivez !")
    at.multiselect(key="compose_accounts").set_value([account]).run()
    at.radio(key="compose_when").set_value("at").run()
    at.date_input(key="compose_date").set_value(day)
    at.time_input(key="compose_time").set_value(dt.time(12, 0)).run()
    assert any("Jour de deuil" in w.value for w in at.warning)
    at.date_input(key="compose_date").set_value(day + dt.timedelta(days=1)).run()
    assert not any("Jour de deuil" in w.value for w in at.warning)


def test_an_approver_retracts_a_published_post_that_breaks_a_withdrawn_consent(app, scheduled, session):
    from orchestrator.models import Retraction, RetractionJob

    out = scheduled(state="published", text="Merci pour Juan López !", platform_url="https://x.com/amnistie/status/43",
                    platform_id="43",
                    published_at=utcnow())
    _withdraw_name(session.get_bind())
    key = f"case_consent_juan-lopez_retract_{out}"
    editor = app("edith", "cases")
    editor.toggle(key="case_consent_juan-lopez_published").set_value(True).run()
    assert f"{key}_go" not in {b.key for b in editor.button}  # retracting is for approvers and admins
    at = app("alain", "cases")
    at.toggle(key="case_consent_juan-lopez_published").set_value(True).run()
    at.text_area(key=f"{key}_reason").input("La famille a retiré son accord pour le nom")
    at.checkbox(key=f"{key}_sure").check().run()
    next(b for b in at.button if b.key == f"{key}_go").click().run()
    assert not at.exception and not at.error
    session.expire_all()
    (asked,) = session.exec(select(Retraction)).all()
    assert asked.reason.startswith("La famille") and asked.requested_by == "alain"
    assert [j.delivery_id for j in session.exec(select(RetractionJob)).all()] == [out]
    session.rollback()


def test_the_posts_page_says_which_consent_a_post_breaks(app, bare_engine, account):
    """Walked in a browser: on Publications, a post awaiting approval whose deliveries a withdrawn
    consent holds read « En attente d'approbation » and nothing more; its author could not tell
    that no approval would send it."""
    with db.session_scope(bare_engine) as s:
        posts.create_post(s, actor=EDITH, case_slug="sonia-dahmani", text="Juan Lopez vous attend.", submit=True)
        posts.create_post(s, actor=EDITH, case_slug="sonia-dahmani", text="Sonia vous attend.", submit=True)
    _withdraw_name(bare_engine)
    for lang, words in (("fr", "pour le cas de Juan López"), ("en", "for the case of Juan López")):
        at = app("edith", "posts", lang=lang)
        at.session_state["posts_status"] = "pending"
        at.run()
        errors = [e.value for e in at.error if words in e.value]
        assert len(errors) == 1, (lang, texts(at))  # the post naming him, not the other


def test_a_face_whose_consent_was_withdrawn_is_not_shown_on_the_cards(app, bare_engine, account):
    """Walked in a browser: the approver saw the portrait of a person who had withdrawn their
    consent to show their face. The card now shows why the image is hidden, not the face; the
    other image of the post is still shown."""
    from orchestrator.services import media_library

    with db.session_scope(bare_engine) as s:
        campaign_id = _case(s).campaign_id
        face = media_library.add_image(s, actor=EDITH, campaign_id=campaign_id, case_slug="juan-lopez", data=png(),
                                       filename="juan.png", alt={"fr": "Portrait", "en": "Portrait"}, shows_face=True)
        card = media_library.add_image(s, actor=EDITH, campaign_id=campaign_id, case_slug="juan-lopez",
                                       data=png(colour=(30, 90, 200)), filename="carte.png", alt={"fr": "Une carte", "en": "A card"})
        refs = [media_library.reference(face, "fr"), media_library.reference(card, "fr")]
        post_id = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Écrivez-lui.", images=refs,
                                    submit=True).id
    shown = {lang: len(app("alain", "approvals", lang=lang).get("image")) for lang in ("fr", "en")}
    assert min(shown.values()) >= 2  # both images (and whatever else the page draws)
    with db.session_scope(bare_engine) as s:
        consent.set_consent(s, actor=EDITH, case_id=_case(s).id, face=False)
    for lang, words in (("fr", "Image 1 masquée"), ("en", "Image 1 hidden")):
        at = app("alain", "approvals", lang=lang)
        assert not at.exception
        assert len(at.get("image")) == shown[lang] - 1, lang  # the card, not the face
        assert any(words in w.value for w in at.warning), (lang, [w.value for w in at.warning])
        assert at.button(key=f"approve_{post_id}").disabled
    at = app("edith", "posts")
    at.session_state["posts_status"] = "pending"
    at.run()
    assert "Image 1 masquée" in " ".join(w.value for w in at.warning)
