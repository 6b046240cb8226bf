"""Migration 0002 goes up and down cleanly on SQLite and PostgreSQL, and the schema it builds
matches the models (a column added to a model without a migration fails here)."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrator import db
from orchestrator.models import LinkClickHour, Response, ResponseImport

TABLES = {"response": Response, "response_import": ResponseImport, "link_click_hour": LinkClickHour}


def test_it_upgrades_downgrades_and_matches_the_models(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        db.upgrade(engine, "0002")
        inspector = sa.inspect(engine)
        for name, model in TABLES.items():
            assert {c["name"] for c in inspector.get_columns(name)} == set(model.__table__.columns.keys())  # type: ignore[attr-defined]
        unique = {i["name"]: i for i in inspector.get_indexes("response") if i["unique"]}
        assert unique["ux_response_imported_key"]["column_names"] == ["case_id", "kind", "day", "source_type", "source"]
        db.downgrade(engine, "0001")
        assert not set(TABLES) & set(sa.inspect(engine).get_table_names())
        db.upgrade(engine, "0002")
        assert set(TABLES) <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
