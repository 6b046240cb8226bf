"""The account page's listening part: last poll, last refusal in words, streams the account's
access does not include, and the month's estimated cost where the platform bills reads."""

from __future__ import annotations

from sqlmodel import select

from orchestrator import db
from orchestrator.models import Account, ListenCursor
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import texts


def _cursors(bare_engine, name: str) -> None:
    now = utcnow()
    month = now.strftime("%Y-%m")
    with db.session_scope(bare_engine) as s:
        account = s.exec(select(Account).where(Account.name == name)).one()
        s.add(ListenCursor(account_id=account.id, stream="tag:w4r", cursor="9", last_ok_at=now, month=month,
                           calls_this_month=40, posts_read_this_month=1000))
        s.add(ListenCursor(account_id=account.id, stream="keyword:juan lópez", month=month,
                           last_error={"code": "unavailable", "fr": "X ne permet pas à ce compte de chercher.",
                                       "en": "X does not let this account search."}))
        s.add(ListenCursor(account_id=account.id, stream="answers", last_error_at=now, month=month, calls_this_month=1,
                           last_error={"code": "transient", "fr": "X est indisponible (503).",
                                       "en": "X is unavailable (503)."}))


def test_the_account_page_says_how_listening_goes_and_what_it_costs(app, account, bare_engine, monkeypatch) -> None:
    from channels.x import XChannel

    monkeypatch.setattr(XChannel, "listen_cost_per_post", 0.005)
    _cursors(bare_engine, account)
    shown = texts(app("victor", "channels"))
    assert "Écoute du public" in shown and "Dernière écoute réussie" in shown
    assert "Non écoutés sur ce compte (1) : « Juan López »" in shown  # as the content types it
    assert "X ne permet pas à ce compte de chercher." in shown and "« Tester la connexion » relance" in shown
    assert "Dernier refus de la plateforme" in shown and "X est indisponible (503)." in shown
    assert "41 appels d'écoute" in shown and "publications du public lues" in shown
    assert "5,00\xa0$\xa0US" in shown  # 1,000 posts read at US$0.005, written as French readers write it
    english = texts(app("victor", "channels", lang="en"))
    assert 'Not listened to on this account (1): "Juan López"' in english and "US$5.00" in english


def test_no_cost_is_shown_where_the_platform_does_not_bill_reads(app, account, bare_engine) -> None:
    from channels.x import XChannel

    _cursors(bare_engine, account)
    shown = texts(app("victor", "channels"))
    assert "Écoute du public" in shown
    assert ("Coût estimé" in shown) == (XChannel.listen_cost_per_post > 0)


def test_a_counted_term_shows_what_reading_it_would_cost_a_month(app, account, bare_engine) -> None:
    import datetime as dt
    import json

    now = utcnow()
    with db.session_scope(bare_engine) as s:
        account_id = s.exec(select(Account).where(Account.name == account)).one().id
        s.add(ListenCursor(account_id=account_id, stream="count:tag:liberezjuan", last_ok_at=now,
                           month=now.strftime("%Y-%m"), calls_this_month=1,
                           cursor=json.dumps({"posts": 700, "since": (now - dt.timedelta(days=7)).isoformat(),
                                              "at": now.isoformat()})))
    shown = texts(app("victor", "channels")).replace("\xa0", " ").replace("\u202f", " ")
    # 700 posts a week: 3,000 a month at US$0.005 each
    assert "liberezjuan : 700 publications du public sur les 7 derniers jours" in shown
    assert "environ 15,00 $ US par mois" in shown
    english = texts(app("victor", "channels", lang="en")).replace("\xa0", " ")
    assert "about US$15.00 a month" in english


def _unavailable(bare_engine, name: str, *streams: str, fr: str, en: str) -> None:
    with db.session_scope(bare_engine) as s:
        account = s.exec(select(Account).where(Account.name == name)).one()
        for stream in streams:
            s.add(ListenCursor(account_id=account.id, stream=stream, month=utcnow().strftime("%Y-%m"),
                               last_error={"code": "unavailable", "fr": fr, "en": en}))


def test_unlistened_terms_are_named_as_typed_and_the_card_says_so_while_closed(app, bare_engine, four_accounts) -> None:
    """The terms are shown as staff typed them (« #JusticePourJuan », not the stream key
    "tag:justicepourjuan"), and the closed card of an account whose access lacks search says
    that its listening needs a look."""
    from orchestrator.services import listening
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.campaigns import current_campaign, get_case

    with db.session_scope(bare_engine) as s:
        case = get_case(s, slug="juan-lopez", campaign=current_campaign(s))
        listening.set_terms(s, actor=SYSTEM, case_id=case.id,
                            terms={"fr": {"hashtags": ["JusticePourJuan"], "keywords": ["Forêt de Guapinol"]}})
    _unavailable(bare_engine, "x-fr", "tag:justicepourjuan", "keyword:forêt de guapinol",
                 fr="L'accès de ce compte X ne comprend pas la recherche.", en="This X account's access lacks search.")
    at = app("victor", "channels")
    shown = texts(at)
    assert "#JusticePourJuan" in shown and "« Forêt de Guapinol »" in shown
    assert "justicepourjuan" not in shown and "tag:" not in shown
    labels = {e.label for e in at.expander}
    assert any("x-fr" in label and "écoute à vérifier" in label for label in labels), labels
    assert not any("facebook-fr" in label and "écoute à vérifier" in label for label in labels), labels


def test_mastodon_keywords_are_said_not_searched_without_asking_for_a_new_test(app, bare_engine, four_accounts) -> None:
    """Mastodon searches no keywords whatever the access: the page says which are not listened to
    there and why, without a warning, without sending staff to re-test the account, and without
    flagging the closed card."""
    _unavailable(bare_engine, "mastodon-fr", "keyword:guapinol",
                 fr="Mastodon ne permet pas de chercher des mots-clés dans les publications du public : seuls les "
                    "hashtags y sont écoutés.",
                 en="Mastodon offers no search of keywords in public posts: only hashtags are listened to.")
    at = app("victor", "channels")
    assert "Non écoutés ici : « guapinol »" in "\n".join(c.value for c in at.caption)
    assert not any("guapinol" in w.value for w in at.warning), [w.value for w in at.warning]
    assert "Tester la connexion » relance" not in texts(at)
    assert not any("écoute à vérifier" in e.label for e in at.expander)


def test_every_rate_budget_an_account_page_shows_is_named_in_both_languages() -> None:
    """The budget table names each endpoint in the reader's words: none appears as its internal key
    ("mentions", "login")."""
    from channels.registry import channel_class
    from dashboard.strings import STRINGS

    for kind in ("x", "facebook", "mastodon", "bluesky"):
        for endpoint in channel_class(kind).rate_limits:
            entry = STRINGS.get(f"channels.endpoint.{endpoint}")
            assert entry and entry.get("fr") and entry.get("en"), f"{kind}: no words for the budget {endpoint!r}"
