"""Every shipped workflow task takes the tick as `at` and parameters a schedule can give as JSON."""

from __future__ import annotations

import json

import luigi
import pytest

from pipelines.exceptions import WorkflowError
from pipelines.tasks import MinuteParameter
from pipelines.workflows.compare import PriceComparison
from pipelines.workflows.demo import ShopReport
from pipelines.workflows.export import ExportItems, csv_columns
from pipelines.workflows.ticks import Item, TickItems

TASK_PARAMS = {
    ExportItems: {"crawl": "demo", "format": "jsonl"},
    PriceComparison: {"left": "demo", "right": "demo-b", "key": "upc", "fields": ["title", "condition"]},
    ShopReport: {"left": "demo", "right": "demo-b"},
}


@pytest.mark.parametrize("cls", list(TASK_PARAMS), ids=lambda c: c.__name__)
def test_the_tick_is_a_minute_parameter_named_at(cls: type[luigi.Task]) -> None:
    assert isinstance(dict(cls.get_params())["at"], MinuteParameter)


@pytest.mark.parametrize("cls", list(TASK_PARAMS), ids=lambda c: c.__name__)
def test_json_task_params_build_the_task_and_its_params_are_json_again(cls: type[luigi.Task]) -> None:
    given = json.loads(json.dumps(TASK_PARAMS[cls]))  # as a schedule stores them
    params = dict(cls.get_params())
    text = {name: value if isinstance(value, str) else params[name].serialize(value) for name, value in given.items()}
    task = cls.from_str_params({**text, "at": "2026-11-21T0730"})
    assert task.at.isoformat() == "2026-11-21T07:30:00"
    for name, value in given.items():
        assert json.loads(json.dumps(params[name].normalize(task.param_kwargs[name]), default=list)) == value
    json.dumps(task.to_str_params(only_public=True))


def test_a_field_named_like_an_export_column_is_refused_with_a_sentence() -> None:
    items = TickItems.of([Item("k", "u", {"_url": "x"})])
    with pytest.raises(WorkflowError, match="field '_url' has the name of the export's own _url column"):
        csv_columns(items, [])
