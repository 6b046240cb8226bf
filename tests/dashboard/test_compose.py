from __future__ import annotations

import datetime as dt
import io

import pytest
from babel.numbers import format_decimal
from sqlmodel import Session, select

from orchestrator.models import Account, Delivery, Post
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import local, utcnow
from tests.dashboard.helpers import stored, texts

TZ = "America/Toronto"


def _write(at, text: str, accounts: list[str] | None = None):
    at.text_area(key="compose_text").input(text)
    if accounts is not None:
        at.multiselect(key="compose_accounts").set_value(accounts)
    return at.run()


def _at(at, when: dt.datetime):
    """Choose « À une date et une heure » and set it (campaign time)."""
    at.radio(key="compose_when").set_value("at").run()
    moment = local(when, TZ)
    at.date_input(key="compose_date").set_value(moment.date())
    at.time_input(key="compose_time").set_value(moment.time().replace(second=0, microsecond=0))
    return at.run()


def _png(fmt: str = "PNG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def _uploader(at):
    return next(u for u in at.file_uploader if u.key.startswith("compose_upload"))


def test_an_editor_submits_a_post_for_approval(app, account, session):
    at = app("edith", "compose")
    _write(at, "Écrivez pour Juan López : https://amnistie.ca/marathon", [account])
    assert "x-fr" in texts(at)  # the per-account preview
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert not at.exception
    post = session.exec(select(Post)).one()
    assert (post.status, post.author, post.language) == ("pending", "edith", "fr")
    delivery = session.exec(select(Delivery)).one()
    assert delivery.post_id == post.id and delivery.state == "scheduled"
    assert f"Publication n° {post.id} soumise pour approbation" in texts(at)
    assert at.text_area(key="compose_text").value == ""  # the form is emptied


def test_a_draft_is_saved_unscheduled(app, bare_engine):
    at = app("edith", "compose")
    _write(at, "Un brouillon")
    at.button(key="compose_save").click().run()
    (post,) = stored(bare_engine, select(Post))
    assert post.status == "draft"
    assert stored(bare_engine, select(Delivery)) == []


def test_live_counter_flags_a_text_too_long_for_x(app, account, bare_engine):
    at = app("edith", "compose")
    _write(at, "é" * 300, [account])
    shown = texts(at)
    assert "300 / 280" in shown
    assert "au-delà de la limite de 280" in shown
    assert "corrigez-la avant de la soumettre" in shown
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert any("ne convient pas" in e.value for e in at.error)  # the service refuses, nothing saved
    assert stored(bare_engine, select(Post)) == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_account_of_the_four_kinds_gets_its_preview_and_counter(app, four_accounts, lang):
    """Mastodon needs its instance's address to build a validator: with it, no account hides the others."""
    at = app("edith", "compose", lang=lang)
    _write(at, "Écrivez pour Juan López. #ÉcrireÇaLibère", four_accounts)
    assert not at.exception
    shown = texts(at)
    for name, platform, limit in (("x-fr", "X", "280"), ("facebook-fr", "Facebook", "63"),
                                  ("mastodon-fr", "Mastodon", "500"), ("bluesky-fr", "Bluesky", "300")):
        assert f"**{name}** · {platform}" in shown.replace("\\-", "-")
        assert f" / {limit}" in shown
    assert not at.error  # in particular no "instance URL" error
    note = "pas encore lue" if lang == "fr" else "has not been read yet"
    assert note in shown  # the Mastodon limit is the default one, and the page says so
    # platforms by their names, never the stored kind in brackets
    assert "(mastodon)" not in shown and "(x)" not in shown


def test_the_account_choices_read_as_platform_names(app, four_accounts):
    at = app("edith", "compose")
    options = at.multiselect(key="compose_accounts").options
    assert set(options) == {"x-fr · X", "facebook-fr · Facebook", "mastodon-fr · Mastodon", "bluesky-fr · Bluesky"}
    assert at.multiselect(key="compose_accounts").placeholder == "Choisissez une ou plusieurs options…"


@pytest.mark.parametrize("lang, words", [("fr", "n'est pas une image"), ("en", "is not a readable")])
def test_a_file_that_is_not_an_image_is_refused_with_words(app, bare_engine, lang, words):
    at = app("edith", "compose", lang=lang)
    # any file reaches the page (the uploader's own filter only shows a red mark), which says why
    assert _uploader(at).allowed_type == []
    for name, data in (("photo.png", b"this is text, not a picture"), ("notes.txt", b"hello")):
        _uploader(at).set_value((name, data, "image/png")).run()
        assert any(name in e.value and words in e.value for e in at.error), [e.value for e in at.error]
        at.text_input(key="compose_alt").input("Juan López")
        at.button(key="compose_add_image").click().run()
        assert at.session_state["compose_images"] == []
    _uploader(at).set_value(("juan.png", _png(), "image/png")).run()
    assert not at.error
    at.button(key="compose_add_image").click().run()
    assert [i["mime_type"] for i in at.session_state["compose_images"]] == ["image/png"]
    _write(at, "Avec une photo")
    at.button(key="compose_save").click().run()
    assert stored(bare_engine, select(Post))[0].images[0]["alt"] == "Juan López"


def test_adding_an_image_without_a_file_says_so(app):
    at = app("edith", "compose")
    at.button(key="compose_add_image").click().run()
    assert any("Choisissez d'abord un fichier" in e.value for e in at.error)


def test_after_submit_the_form_is_cleared_and_a_second_click_makes_nothing_more(app, four_accounts, bare_engine):
    at = app("edith", "compose")
    _write(at, "Écrivez pour Juan López.", ["x-fr", "mastodon-fr"])
    _at(at, utcnow() + dt.timedelta(days=1))
    at.button(key="compose_submit").click().run()
    assert len(stored(bare_engine, select(Post))) == 1
    assert "soumise pour approbation" in texts(at)
    # nothing stale is left to send again: text, accounts and time are back to their start
    assert at.text_area(key="compose_text").value == ""
    assert at.multiselect(key="compose_accounts").value == []
    assert at.radio(key="compose_when").value == "none"
    at.button(key="compose_submit").click().run()
    assert any("texte de la publication est vide" in e.value for e in at.error)
    assert len(stored(bare_engine, select(Post))) == 1
    assert len(stored(bare_engine, select(Delivery))) == 2


def test_the_same_form_sent_twice_makes_one_post(app, account, bare_engine):
    at = app("edith", "compose")
    token = at.session_state["compose_token"]
    _write(at, "Écrivez pour Juan López.", [account])
    at.button(key="compose_submit").click().run()
    # the browser sends the same form again (a second click that was already on its way)
    at.session_state["compose_token"] = token
    _write(at, "Écrivez pour Juan López.", [account])
    at.button(key="compose_submit").click().run()
    assert "déjà été soumis" in texts(at)
    assert len(stored(bare_engine, select(Post))) == 1


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_past_time_is_published_only_when_the_person_says_so(app, account, bare_engine, lang):
    at = app("edith", "compose", lang=lang)
    _write(at, "Écrivez pour Juan López.", [account])
    _at(at, utcnow() - dt.timedelta(days=1))
    assert ("déjà passée" if lang == "fr" else "already passed") in texts(at)
    at.button(key="compose_submit").click().run()
    assert any(("déjà passée" if lang == "fr" else "already passed") in e.value for e in at.error)
    assert stored(bare_engine, select(Post)) == []
    before = utcnow()
    at.checkbox(key="compose_publish_now").check().run()
    at.button(key="compose_submit").click().run()
    (delivery,) = stored(bare_engine, select(Delivery))
    assert delivery.scheduled_at >= before - dt.timedelta(seconds=1)  # now, not yesterday


def test_not_scheduled_yet_keeps_the_accounts_and_checks_them(app, four_accounts, bare_engine):
    at = app("edith", "compose")
    _write(at, "é" * 1000, ["x-fr", "mastodon-fr"])
    assert at.radio(key="compose_when").value == "none"
    thousand = format_decimal(1000, locale="fr_CA")  # numbers as French readers write them
    assert f"{thousand} / 280" in texts(at) and f"{thousand} / 500" in texts(at)
    at.button(key="compose_submit").click().run()
    assert any("ne convient pas" in e.value for e in at.error)  # never approvable with 0 deliveries
    assert stored(bare_engine, select(Post)) == []
    _write(at, "Écrivez pour Juan López.", ["x-fr", "mastodon-fr"])
    at.button(key="compose_submit").click().run()
    (post,) = stored(bare_engine, select(Post))
    ids = {a.name: a.id for a in stored(bare_engine, select(Account))}
    assert post.accounts == [ids["x-fr"], ids["mastodon-fr"]]
    assert stored(bare_engine, select(Delivery)) == []
    assert "comptes gardés pour plus tard : 2" in texts(at)


def test_per_account_adjustments_make_one_post_with_variants(app, four_accounts, bare_engine):
    at = app("edith", "compose")
    _write(at, "Texte commun", four_accounts)
    at.text_area(key="compose_variant_bluesky-fr").input("Texte pour Bluesky").run()
    at.text_area(key="compose_variant_mastodon-fr").input("Texte pour Mastodon").run()
    assert "Texte ajusté pour ce compte." in texts(at)
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert not at.exception
    (post,) = stored(bare_engine, select(Post))
    ids = {a.name: str(a.id) for a in stored(bare_engine, select(Account))}
    assert post.text == "Texte commun"
    assert post.variants == {ids["bluesky-fr"]: "Texte pour Bluesky", ids["mastodon-fr"]: "Texte pour Mastodon"}
    assert len(stored(bare_engine, select(Delivery))) == 4


def test_the_author_sees_the_rejection_comment_and_resubmits(app, session, bare_engine):
    from orchestrator import db
    from orchestrator.services import posts
    from orchestrator.services.auth import Actor

    with db.session_scope(bare_engine) as s:
        post = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", text="Premier jet", submit=True)
        posts.reject_post(s, actor=Actor("alain", "approver"), post_id=post.id, comment="Ajoutez le lien")
        post_id = post.id
    at = app("edith", "compose")
    assert "Ajoutez le lien" in texts(at)
    at.text_area(key=f"mine_text_{post_id}").input("Deuxième jet https://amnistie.ca").run()
    at.button(key=f"mine_submit_{post_id}").click().run()
    saved = session.get(Post, post_id)
    assert (saved.status, saved.text) == ("pending", "Deuxième jet https://amnistie.ca")


def test_the_author_withdraws_a_pending_post_from_my_posts(app, bare_engine, session):
    from orchestrator import db
    from orchestrator.services import posts
    from orchestrator.services.auth import Actor

    with db.session_scope(bare_engine) as s:
        post_id = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", text="Trop tôt",
                                    submit=True).id
    at = app("edith", "compose")
    at.button(key=f"mine_withdraw_{post_id}").click().run()
    assert not at.exception
    assert session.get(Post, post_id).status == "draft"
    assert "retirée" in texts(at)
    assert f"mine_withdraw_{post_id}" not in {b.key for b in at.button}  # a draft is edited, not withdrawn


def test_a_viewer_cannot_compose(app):
    at = app("victor", "compose")
    assert "Lecture seule" in texts(at)
    assert not [b for b in at.button if b.key in ("compose_save", "compose_submit")]


def test_a_post_links_its_sibling(app, session, bare_engine):
    from orchestrator import db
    from orchestrator.services import posts

    with db.session_scope(bare_engine) as s:
        english = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Write for Juan", language="en").id
    at = app("edith", "compose")
    _write(at, "Écrivez pour Juan")
    at.selectbox(key="compose_sibling").set_value(english).run()
    at.button(key="compose_save").click().run()
    french = session.exec(select(Post).where(Post.language == "fr")).one()
    assert french.sibling_id == english
    assert session.get(Post, english).sibling_id == french.id


def test_a_post_goes_to_the_edition_chosen_in_the_sidebar(app, session, bare_engine):
    from orchestrator import db
    from orchestrator.models import Campaign
    from orchestrator.services import campaign_admin
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(bare_engine) as s:
        current = s.exec(select(Campaign)).one()
        copy = campaign_admin.copy_campaign(s, actor=SYSTEM, source_id=current.id, slug="ecrire-2026",
                                     name={"fr": "Écrire, ça libère ! 2026", "en": "Write for Rights 2026"},
                                     starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2027, 1, 31), include_cases=True)
        copy_id, current_id = copy.id, current.id
    at = app("edith", "compose")
    at.session_state["campaign_id"] = copy_id
    at.run()
    _write(at, "Pour l'édition suivante")
    at.button(key="compose_save").click().run()
    assert not at.exception
    post = session.exec(select(Post)).one()
    assert post.campaign_id == copy_id != current_id


def test_one_broken_post_in_my_posts_does_not_hide_the_others(app, bare_engine, session):
    from orchestrator import db
    from orchestrator.services import posts
    from orchestrator.services.auth import Actor

    with db.session_scope(bare_engine) as s:
        good = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", text="Bonne").id
        bad = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", text="Abîmée").id
        broken = s.get(Post, bad)
        broken.status = "unknown-status"  # a row no page knows how to read
        s.add(broken)
    at = app("edith", "compose")
    assert not at.exception
    assert any(f"n° {bad} ne peut pas être affichée" in e.value for e in at.error)
    assert f"mine_text_{good}" in {ta.key for ta in at.text_area}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_instagram_and_threads_get_their_previews_and_a_warning_that_does_not_block(app, bare_engine, campaign, lang):
    from tests.factories import make_account

    with Session(bare_engine) as s:
        names = [make_account(s, kind, name=f"{kind}-fr") for kind in ("instagram", "threads")]
        s.commit()
    at = app("edith", "compose", lang=lang)
    _write(at, "Écrivez pour Juan López. #un #deux #trois #quatre #cinq #six", names)
    assert not at.exception
    shown = texts(at).replace("\\-", "-")
    assert "**instagram-fr** · Instagram" in shown and "**threads-fr** · Threads" in shown
    # Instagram: text alone is refused (a problem); six hashtags only warned (shown, not blocking)
    warned = [i.value for i in at.info if "#" not in i.value and ("5" in i.value)]
    assert warned and ("mots-clics" in warned[0] if lang == "fr" else "hashtags" in warned[0])
    refused = " ".join(w.value for w in at.warning)
    assert ("texte seul" if lang == "fr" else "text alone") in refused
    # the summary above the submit button speaks of the post, not only its text: Instagram refuses
    # it for want of an image, and the reason is under its account
    summary = " ".join(e.value for e in at.error)
    assert ("Cette publication ne convient pas" if lang == "fr" else "This post does not suit") in summary
