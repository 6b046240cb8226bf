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
    assert "Cet accès ne comprend pas la recherche pour : juan lópez" in shown
    assert "X ne permet pas à ce compte de chercher." in shown
    assert "Dernier refus de la plateforme" in shown and "X est indisponible (503)." in shown
    assert "41 appels d'écoute" in shown and "publications du public lues" in shown
    assert "5.00 $ US" in shown  # 1,000 posts read at US$0.005
    english = texts(app("victor", "channels", lang="en"))
    assert "This access does not include search for: juan lópez" in english and "US$5.00" in english


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
    shown = texts(app("victor", "channels"))
    # 700 posts a week: 3,000 a month at US$0.005 each
    assert "liberezjuan : 700 publications du public sur les 7 derniers jours" in shown
    assert "environ 15.00 $ US par mois" in shown
    english = texts(app("victor", "channels", lang="en"))
    assert "about US$15.00 a month" in english
