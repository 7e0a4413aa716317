"""Reading a tick's items: the parse folder's lines, one per key, sorted; a pruned tick says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.exceptions import WorkflowError
from pipelines.workflows.ticks import read_tick_items


def write_lines(folder: Path, *records: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def test_the_last_line_of_a_key_wins_and_items_come_sorted_by_key(tmp_path: Path) -> None:
    folder = write_lines(tmp_path / "parse",
                         {"key": "b", "url": "u1", "fields": {"v": 1}},
                         {"key": "a", "url": "u2", "fields": {"v": 2, "extra": 0}},
                         {"key": "b", "url": "u3", "fields": {"v": 3}})
    items = read_tick_items(folder, "shop", "20261121T0730Z")
    assert [(i.key, i.url, i.fields) for i in items] == [("a", "u2", {"v": 2, "extra": 0}),
                                                                ("b", "u3", {"v": 3})]
    assert items.duplicates == 1 and len(items) == 2
    assert [i.key for i in items] == ["a", "b"]  # iterating again reads the lines again
    assert items.field_names(["v", "declared_only"]) == ["v", "declared_only", "extra"]


def test_a_tick_without_its_parse_folder_fails_with_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match=r"crawl 'shop' tick 20261121T0730Z has no parsed items at .*items.jsonl"):
        read_tick_items(tmp_path / "gone", "shop", "20261121T0730Z")


def test_a_line_that_is_no_item_names_its_file_and_line(tmp_path: Path) -> None:
    folder = write_lines(tmp_path / "parse", {"key": "a", "url": "u", "fields": {}}, {"no": "item"})
    with pytest.raises(WorkflowError, match=r"items.jsonl line 2 is not an item line"):
        read_tick_items(folder, "shop", "20261121T0730Z")
