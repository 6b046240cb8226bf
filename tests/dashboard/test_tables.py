"""Tables hand nothing a spreadsheet would run: Streamlit's own "download as CSV" and copy are
off, and the CSV the dashboard offers instead goes through orchestrator/csvsafe.py. Every table is
drawn by ``dashboard.common.table``."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pandas as pd
from streamlit import config

from dashboard.common import table_csv
from orchestrator.csvsafe import FORMULA_STARTS
from tests.hostile import FORMULA

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"


def read(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode()), "the byte order mark Excel needs for accents"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_a_formula_in_a_table_is_not_a_formula_in_its_download() -> None:
    frame = pd.DataFrame([{"Texte": FORMULA, "Compte": "@amnistie", "Problème": "-1 crédit", "Vues": 12027,
                           "Écart": -3, "Lien": None}])
    header, row = read(table_csv(frame))
    assert header == ["Texte", "Compte", "Problème", "Vues", "Écart", "Lien"]
    assert row == ["'" + FORMULA, "'@amnistie", "'-1 crédit", "12027", "-3", ""]  # numbers stay numbers
    texts = [cell for cell, value in zip(row, frame.iloc[0], strict=True) if isinstance(value, str)]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in texts)


def test_streamlit_s_own_table_download_and_copy_are_off() -> None:
    """Read by Streamlit's own loader, as `streamlit run dashboard/app.py` and `porte-voix up` do:
    the config.toml beside the script switches them off."""
    saved = config._main_script_path
    config._main_script_path = str(APP)
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("client.disableDataExport") is True
    finally:
        config._main_script_path = saved
        config.get_config_options(force_reparse=True)


def test_every_table_is_drawn_by_common_table() -> None:
    """st.dataframe, st.data_editor and st.table (whose cells are Markdown) are called in one
    place only: dashboard/common.py's table()."""
    found = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed: set[int] = set()
        if path.name == "common.py":
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name == "table":
                    allowed = {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("dataframe", "data_editor", "table")
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("common", "ui"))
                    and node.lineno not in allowed):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found
