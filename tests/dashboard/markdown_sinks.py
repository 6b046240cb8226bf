"""What a page hands to Streamlit's Markdown renderer, and what it shows as typed, read from an
AppTest's element tree: the page tests scan both for hostile text (tests/hostile.py) that reaches
Markdown as typed, or that shows its escaping backslashes where it is shown as typed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from streamlit.testing.v1 import AppTest

from dashboard.common import plain
from tests.hostile import MARKUP, live_markup

#: What each element type hands to Streamlit's Markdown renderer, by the protobuf message that
#: carries it (Streamlit 1.67.0: its docstrings, and its frontend's components read for the option
#: lists). Every element's ``label`` and ``help`` are Markdown too. A type missing from both tables
#: below is reported, so a new kind of element on a page is classified before it passes.
MARKDOWN_FIELDS: dict[str, tuple[str, ...]] = {
    "Markdown": ("body",),  # markdown, caption, badge, divider, write
    "Heading": ("body",),  # title, header, subheader
    "Alert": ("body",),  # error, warning, info, success
    "Toast": ("body",),
    "Progress": ("text",),
    "Spinner": ("text",),
    "Metric": ("body", "delta"),  # the value and the change are Markdown, like the label
    "Radio": ("options",),
    "ButtonGroup": ("options.content",),  # pills and segmented_control
    "ImageList": ("imgs.caption",),
    "Dialog": ("title",),
    "Dataframe": ("columns",),  # a column's label and help tooltip (its cells are drawn as text)
    **dict.fromkeys(("Button", "DownloadButton", "LinkButton", "PageLink", "MenuButton", "Checkbox", "TextInput",
                     "TextArea", "NumberInput", "DateInput", "DateTimeInput", "TimeInput", "Slider", "FileUploader",
                     "ColorPicker", "CameraInput", "AudioInput", "ChatInput", "Feedback", "Pagination",
                     "Expandable", "Tab", "Popover", "ChatMessage"), ()),
    # Streamlit 1.67 draws a select box's and a multiselect's options as text, not Markdown (their
    # frontend components never hand them to the Markdown renderer): escaping them would show
    # backslashes. test_page_matrix.py::test_the_scan_knows_the_installed_streamlit asks for this to
    # be checked again when Streamlit changes.
    "Selectbox": (), "MultiSelect": (),
}
#: Element types that show text as typed, or no text: nothing of theirs is Markdown. ``Table``
#: (st.table) is in neither table on purpose: its cells are Markdown; pages use common.table.
TEXT_ONLY = {"Text", "Code", "Json", "Html", "Exception", "Empty", "Help", "VegaLiteChart", "PlotlyChart",
             "DeckGlJsonChart", "GraphVizChart", "EChartsChart", "Audio", "Video", "IFrame", "Balloons", "Snow",
             "Skeleton", "Space", "Favicon", "BidiComponent", "ComponentInstance", "Column", "FlexContainer",
             "Form", "GridContainer", "Horizontal", "Vertical", "Transparent", "TabContainer"}
#: Fields whose text the reader sees as typed: a hostile fragment escaped there shows its backslashes.
AS_TYPED_FIELDS: dict[str, tuple[str, ...]] = {"Text": ("body",), "Selectbox": ("options",),
                                               "MultiSelect": ("options",)}
#: The Streamlit version whose renderer the two tables above describe.
SCANNED_STREAMLIT = "1.67.0"


def walk(node: object) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from walk(child)


def _values(message: object, path: str) -> Iterator[str]:
    """The strings at ``path`` ("imgs.caption": the caption of every image) in a protobuf message."""
    head, _, rest = path.partition(".")
    descriptor = message.DESCRIPTOR  # type: ignore[attr-defined]
    if head not in descriptor.fields_by_name:
        return
    value = getattr(message, head)
    items = list(value) if descriptor.fields_by_name[head].is_repeated else [value]  # type: ignore[attr-defined]
    for item in items:
        if rest:
            yield from _values(item, rest)
        elif isinstance(item, str) and item:
            yield item


def _message(node: object) -> object | None:
    """The protobuf message that describes an element: a block's own kind (an expander, a tab, a
    popover, a dialog) rather than the generic ``Block``."""
    proto = getattr(node, "proto", None)
    if proto is not None and proto.DESCRIPTOR.name == "Block":
        which = proto.WhichOneof("type")
        return getattr(proto, which) if which else None  # no kind: a page's root, nothing drawn
    return proto


def markdown_texts(at: AppTest) -> Iterator[tuple[str, str]]:
    """(element type, text) for every string the page hands to Markdown: see ``MARKDOWN_FIELDS``.
    An element type that table does not know comes out as ("unknown element", its type)."""
    for node in walk(at._tree):
        message = _message(node)
        if message is None:
            continue
        name = message.DESCRIPTOR.name  # type: ignore[attr-defined]
        kind = str(getattr(node, "type", "") or name)
        if name in TEXT_ONLY:
            continue
        if name not in MARKDOWN_FIELDS:
            yield "unknown element", name
            continue
        for field in ("label", "help", *MARKDOWN_FIELDS[name]):
            for value in _values(message, field):
                if field == "columns":  # the column configuration, as JSON: each column's label and help
                    for config in json.loads(value or "{}").values():
                        yield kind, str(config.get("label") or "")
                        yield kind, str(config.get("help") or "")
                else:
                    yield kind, value


def as_typed_texts(at: AppTest) -> Iterator[tuple[str, str]]:
    """(element type, text) for the strings shown as typed: see ``AS_TYPED_FIELDS``."""
    for node in walk(at._tree):
        message = _message(node)
        name = message.DESCRIPTOR.name if message is not None else ""  # type: ignore[attr-defined]
        for field in AS_TYPED_FIELDS.get(name, ()):
            for value in _values(message, field):
                yield str(getattr(node, "type", name)), value


def markup_problems(at: AppTest) -> list[str]:
    """Hostile markup live in a Markdown sink, escaped text shown with its backslashes, and element
    types the scan does not know, as short phrases (empty: nothing)."""
    found = []
    for kind, text in markdown_texts(at):
        if kind == "unknown element":
            found.append(f"an element type the scan does not know: {text} (add it to MARKDOWN_FIELDS or TEXT_ONLY)")
            continue
        found.extend(f"live markup in {kind}: {fragment}" for fragment in live_markup(text))
    for kind, text in as_typed_texts(at):
        found.extend(f"escaped text shown with its backslashes in {kind}: {plain(fragment)}"
                     for fragment in MARKUP if plain(fragment) in text)
    return found
