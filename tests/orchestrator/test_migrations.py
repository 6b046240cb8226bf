"""Every migration, both ways, on a database full of data from the revision before it.

The revision graph is walked, so a new migration is covered the day it is added: tables it creates
get a row (tests/orchestrator/seed.py) before the next one runs. A migration that changes existing data on
purpose declares it in ``CHANGES`` with a function giving the rows it is expected to produce.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from orchestrator import db
from tests.orchestrator.seed import fill_empty_tables, reflect, snapshot

#: revision id -> (table, old rows -> expected rows); empty while no migration rewrites data.
CHANGES: dict[str, Callable[[str, set[str]], set[str]]] = {}


def revisions_in_order(config: Config) -> list[str]:
    script = ScriptDirectory.from_config(config)
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def seed_0001(conn: sa.Connection) -> None:
    """Data as the first schema had it, in plain SQL (no model class, which follows the newest schema)."""
    aware = conn.dialect.name != "sqlite"

    def when(hour: int) -> dt.datetime:
        value = dt.datetime(2025, 12, 6, hour, 0, tzinfo=dt.UTC)
        return value if aware else value.replace(tzinfo=None)

    def run(sql: str, **params: Any) -> None:
        conn.execute(sa.text(sql), {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()})

    run("INSERT INTO campaign (id, slug, name, timezone, key_dates, hashtags, goal, link_rules, url, is_current, "
        "created_at, updated_at) VALUES (1, 'ecrire-2025', :name, 'America/Toronto', :kd, :tags, 5000, :lr, :url, "
        "true, :t, :t)", name={"fr": "Écrire, ça libère !", "en": "Write for Rights"}, kd=[{"date": "2025-12-10"}],
        tags={"fr": ["#ÉcrireÇaLibère"]}, lr={}, url={"fr": "https://amnistie.ca/ecrire"}, t=when(12))
    run("INSERT INTO \"case\" (id, campaign_id, slug, position, status, status_note, person, country, country_code, "
        "story, authority, ask, solidarity_kind, solidarity_address, solidarity_to, goal, image_alt, links, tags, "
        "created_at, updated_at) VALUES (1, 1, 'juan-lopez', 1, 'active', '', :p, :c, 'HN', :s, :a, :ask, 'letter', "
        ":sa, :st, 1000, :alt, :links, :tags, :t, :t)", p={"fr": "Juan López"}, c={"fr": "Honduras"},
        s={"fr": "Défenseur de l'environnement."}, a={"fr": "Procureur général"}, ask={"fr": "Justice"}, sa={},
        st={}, alt={}, links={}, tags=["environnement"], t=when(12))
    run("INSERT INTO post (id, campaign_id, case_id, language, text, link, images, status, author, approved_by, "
        "approved_at, review_comment, created_at, updated_at) VALUES (1, 1, 1, 'fr', :text, 'https://amnistie.ca/ecrire', "
        ":img, 'approved', 'marie', 'luc', :t, '', :t, :t)", text="Écrivez pour Juan López. #ÉcrireÇaLibère",
        img=[], t=when(13))
    run("INSERT INTO account (id, name, kind, base_url, language, handle, credentials, options, is_sandbox, healthy, "
        "last_error, created_at) VALUES (1, 'x-fr', 'x', NULL, 'fr', '@amnistie', 'gAAAAA-token', :o, false, true, '', :t)",
        o={"graph_version": "24.0"}, t=when(13))
    run("INSERT INTO delivery (id, post_id, account_id, state, scheduled_at, due_at, source_code, rendered_text, "
        "rendered_link, attempts, last_error, last_error_kind, held_reason, platform_id, platform_url, published_at, "
        "likes, shares, views, created_at, updated_at) VALUES (1, 1, 1, 'published', :t, :t, 'abc1234', :text, "
        "'https://amnistie.ca/ecrire?source=abc1234', 1, '', '', '', '1900', 'https://x.com/amnistie/status/1900', "
        ":t, 12, 3, 400, :t, :t)", text="Écrivez pour Juan López.", t=when(14))
    run("INSERT INTO attempt (delivery_id, at, actor, from_state, to_state, outcome, detail, duration_ms) "
        "VALUES (1, :t, 'worker-1', 'publishing', 'published', 'published', '', 420)", t=when(14))
    run("INSERT INTO \"user\" (id, username, password_hash, role, language, disabled, created_at) "
        "VALUES (1, 'marie', '$argon2id$v=19$m=65536,t=3,p=4$x$y', 'approver', 'fr', false, :t)", t=when(11))
    if not aware:
        return
    for table in ("campaign", "case", "post", "account", "delivery", "user"):  # explicit ids: move the sequences on
        conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), 10)"))


def _columns(conn: sa.Connection) -> dict[str, set[str]]:
    return {t.name: {c.name for c in t.columns} for t in reflect(conn).sorted_tables}


def _project(rows: set[str], columns: set[str]) -> set[str]:
    return {json.dumps({k: v for k, v in json.loads(r).items() if k in columns}, sort_keys=True) for r in rows}


def _assert_kept(before: dict[str, set[str]], columns: dict[str, set[str]], after: dict[str, set[str]],
                 revision: str, direction: str) -> None:
    for table, rows in before.items():
        assert table in after, f"{direction} to {revision} dropped the table {table} and its data"
        expected = CHANGES[revision](table, rows) if revision in CHANGES and direction == "upgrade" else rows
        kept = _project(after[table], columns[table])
        assert _project(expected, columns[table]) <= kept, f"{direction} to {revision} lost or changed rows of {table}"


def walk_both_ways(database_url: str, config: Config, *, start: str = "0001") -> list[str]:
    """Upgrade revision by revision over full data from ``start``, checking each step down and up
    again."""
    revisions = revisions_in_order(config)
    assert revisions[0] == "0001"
    revisions = revisions[revisions.index(start):]
    engine = db.make_engine(database_url)
    try:
        command.upgrade(config, revisions[0])
        with engine.begin() as conn:
            if start == "0001":
                seed_0001(conn)
            fill_empty_tables(conn)
        for previous, revision in zip(revisions, revisions[1:], strict=False):
            with engine.connect() as conn:
                before, columns = snapshot(conn), _columns(conn)
            assert all(before.values()), f"empty tables at {previous}: the test would prove nothing for them"

            command.upgrade(config, revision)
            with engine.connect() as conn:
                _assert_kept(before, columns, snapshot(conn), revision, "upgrade")

            command.downgrade(config, previous)
            with engine.connect() as conn:
                assert _columns(conn) == columns, f"downgrade from {revision} did not give {previous}'s schema back"
                _assert_kept(before, columns, snapshot(conn), previous, "downgrade")

            command.upgrade(config, revision)
            with engine.begin() as conn:
                fill_empty_tables(conn)  # the tables this revision added get data for the next step

        command.downgrade(config, "base")
        with engine.connect() as conn:
            assert set(_columns(conn)) <= {"alembic_version"}
        command.upgrade(config, "head")  # and back up from nothing
        with engine.connect() as conn:
            assert {"campaign", "delivery", "account"} <= set(_columns(conn))
    finally:
        engine.dispose()
    return revisions


def test_every_migration_upgrades_full_data_and_downgrades_back(database_url: str) -> None:
    walk_both_ways(database_url, db.alembic_config(database_url))


LOSSY = """
from alembic import op
import sqlalchemy as sa

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("{column}")
    op.create_table("extra", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("delivery.id"), nullable=False),
                    sa.Column("label", sa.String(8), nullable=False))


def downgrade() -> None:
    op.drop_table("extra")
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("{column}", sa.String, nullable=True))
"""


def test_the_walk_catches_a_migration_that_loses_data(database_url: str, tmp_path: Path) -> None:
    """The check itself can fail: a migration that drops a column's data is refused (the walk starts
    at the last real revision, with every table filled: the real steps have their own test)."""
    folder = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    config = db.alembic_config(database_url)
    head = revisions_in_order(config)[-1]
    (folder / "versions" / "9999_lossy.py").write_text(LOSSY.format(head=head, column="platform_url"))
    config.set_main_option("script_location", str(folder))
    with pytest.raises(AssertionError, match="upgrade to 9999 lost or changed rows of delivery"):
        walk_both_ways(database_url, config, start=head)


def test_the_first_revision_seed_reads_back_through_the_models(database_url: str) -> None:
    """The plain-SQL seed is what the application would have written: the models read it at head."""
    from sqlmodel import select

    from orchestrator.models import Campaign, Delivery

    db.upgrade(database_url, "0001")
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            seed_0001(conn)
        db.upgrade(database_url, "head")
        with db.session_scope(engine) as session:
            delivery = session.exec(select(Delivery)).one()
            assert delivery.published_at == dt.datetime(2025, 12, 6, 14, 0, tzinfo=dt.UTC)
            assert session.exec(select(Campaign)).one().name["fr"] == "Écrire, ça libère !"
    finally:
        engine.dispose()
