"""[monitors] and `schema` in a crawl spec: good ones load, each bad one fails with its sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.exceptions import SpecError
from pipelines.quality import Monitors
from pipelines.spec import load_spec
from tests.pipelines.test_spec import GOOD, write

SCHEMA = {"type": "object", "required": ["title", "price"],
          "properties": {"title": {"type": "string", "minLength": 1}, "price": {"type": "number", "minimum": 0}}}


def spec_with(tmp_path: Path, top: str = "", monitors: str = "") -> Path:
    """GOOD with `top` lines before its first table and a [monitors] section at the end."""
    text = GOOD.replace("\n[fetch]\n", f"\n{top}\n[fetch]\n", 1) if top else GOOD
    return write(tmp_path, text + ("\n[monitors]\n" + monitors if monitors else ""))


def sentence(tmp_path: Path, top: str = "", monitors: str = "") -> str:
    path = spec_with(tmp_path, top, monitors)
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message, message
    return message


def test_a_spec_without_monitors_has_none_and_warns_by_default(tmp_path: Path) -> None:
    spec = load_spec(str(spec_with(tmp_path)))
    assert spec.monitors == Monitors() and not spec.monitors.any
    assert spec.monitors.on_violation == "warn" and spec.schema is None


def test_it_loads_monitors_and_a_schema_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "shop.json").write_text(json.dumps(SCHEMA))
    spec = load_spec(str(spec_with(tmp_path, 'schema = "schemas/shop.json"',
                                   'min_items = 10\nmax_item_drop = 0.3\nmax_invalid_ratio = 0.05\n'
                                   'on_violation = "fail"\n\n[monitors.coverage]\nprice = 0.95\ntitle = 1\n')))
    assert spec.monitors == Monitors(min_items=10, max_item_drop=0.3, coverage=(("price", 0.95), ("title", 1.0)),
                                     max_invalid_ratio=0.05, on_violation="fail")
    assert spec.schema == SCHEMA and spec.schema_path == str((tmp_path / "schemas" / "shop.json").resolve())


def test_it_rejects_coverage_of_a_field_the_spec_does_not_have(tmp_path: Path) -> None:
    message = sentence(tmp_path, monitors="[monitors.coverage]\nprise = 0.9\n")
    assert message.endswith("monitors.coverage.prise: is not a field of this spec (its fields: title, sku, price)")


@pytest.mark.parametrize(("line", "key"), [("max_item_drop = 1.5", "max_item_drop"),
                                           ("max_item_drop = -0.1", "max_item_drop"),
                                           ("[monitors.coverage]\nprice = 95", "coverage.price")])
def test_it_rejects_a_ratio_outside_0_to_1(tmp_path: Path, line: str, key: str) -> None:
    value = line.rsplit("= ", 1)[1]
    assert sentence(tmp_path, monitors=line + "\n").endswith(f"monitors.{key}: expected a ratio from 0 to 1, "
                                                             f"got {float(value) if '.' in value else int(value)!r}")


def test_it_rejects_a_ratio_that_is_no_number(tmp_path: Path) -> None:
    assert sentence(tmp_path, monitors='max_item_drop = "30%"\n').endswith(
        "monitors.max_item_drop: expected a ratio from 0 to 1, got the string '30%'")


def test_it_rejects_a_negative_min_items(tmp_path: Path) -> None:
    assert sentence(tmp_path, monitors="min_items = -1\n").endswith(
        "monitors.min_items: expected a whole number >= 0, got -1")


def test_it_rejects_an_unknown_on_violation(tmp_path: Path) -> None:
    assert sentence(tmp_path, monitors='on_violation = "page"\n').endswith(
        "monitors.on_violation: expected \"warn\" or \"fail\", got 'page'")


def test_it_rejects_an_unknown_monitor_and_suggests_the_right_one(tmp_path: Path) -> None:
    assert sentence(tmp_path, monitors="min_item = 3\n").endswith(
        "monitors.min_item: unknown key; did you mean 'min_items'?")


def test_it_rejects_max_invalid_ratio_without_a_schema(tmp_path: Path) -> None:
    assert sentence(tmp_path, monitors="max_invalid_ratio = 0.1\n").endswith(
        "monitors.max_invalid_ratio: needs a JSON Schema to count invalid items: set `schema` (a path to a .json "
        "file, relative to the spec) at the top of the spec")


def test_it_rejects_a_missing_schema_file(tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere.json").resolve()
    assert sentence(tmp_path, 'schema = "nowhere.json"').endswith(
        f"schema: no such file {str(missing)!r} (the path is relative to the spec file)")


def test_it_rejects_a_schema_file_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{'type': 'object'}")
    message = sentence(tmp_path, 'schema = "bad.json"')
    assert "schema: " in message and "bad.json' is not JSON: Expecting property name" in message


def test_it_rejects_an_invalid_json_schema_with_where(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"type": "object", "properties": {"price": {"type": "money"}}}))
    message = sentence(tmp_path, 'schema = "bad.json"')
    assert "bad.json' is not a valid JSON Schema: 'money' is not valid under any of the given schemas" in message
    assert message.endswith("(at properties/price/type)")


def test_it_rejects_a_schema_that_is_not_a_path(tmp_path: Path) -> None:
    assert sentence(tmp_path, "schema = 3").endswith(
        "schema: expected a path to a JSON Schema file (.json), got int 3")
