"""Bad input on the real luigi command line prints its one sentence, not luigi's traceback.

Every case runs `python -m luigi` in a subprocess against a real luigid, as a
user would. A broken spec still exits 35 (scheduling_error), a bad command-line
value 40 (luigi's code for a parameter it cannot read); a genuine bug keeps its
traceback.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import cli_errors
from pipelines.exceptions import SpecError
from pipelines.spec import load_spec
from tests.conftest import PYTHON, ROOT, Luigid

AT = "2026-11-21T0730"
DEMO = (ROOT / "pipelines/crawls/demo.toml").read_text()


def sentence(spec_dir: Path, name: str, overrides: dict | None = None) -> str:
    """The sentence load_spec gives for crawl `name` in `spec_dir`, as the CLI must print it."""
    with pytest.raises(SpecError) as caught:
        load_spec(name, [spec_dir], overrides=overrides)
    return str(caught.value)


def said(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def assert_only_the_sentence(result: subprocess.CompletedProcess, expected: str) -> None:
    output = said(result)
    assert f"ERROR: {expected}\n" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Will not run" not in output, output[-3000:]


@pytest.fixture(scope="module")
def specs(luigid: Luigid) -> Path:
    """Broken specs of several kinds, and one that loads, in luigid's spec_dirs."""

    def write(name: str, text: str) -> None:
        (luigid.spec_dir / f"{name}.toml").write_text(text.replace('name = "demo"', f'name = "{name}"'))

    write("bad-type", DEMO.replace("concurrency = 16", 'concurrency = "four"'))
    write("unknown-key", DEMO.replace('name = "demo"', 'name = "demo"\ncolour = "red"'))
    write("toml-syntax", DEMO.replace("max_pages = 20000", "max_pages = "))
    write("fine", DEMO)
    return luigid.spec_dir


def test_the_bad_type_sentence_is_the_one_the_readme_shows(specs: Path) -> None:
    assert sentence(specs, "bad-type") == (
        f"{specs}/bad-type.toml: fetch.concurrency: expected a whole number >= 1, got the string 'four'")


@pytest.mark.parametrize("crawl", ["bad-type", "unknown-key", "toml-syntax", "no-such-crawl"])
def test_a_broken_spec_prints_its_sentence_alone_and_exits_35(luigid: Luigid, specs: Path, crawl: str) -> None:
    result = luigid.run("RunCrawl", "--crawl", crawl, "--at", AT)
    assert result.returncode == 35, said(result)[-3000:]
    assert_only_the_sentence(result, sentence(specs, crawl))


def test_a_missing_spec_file_given_as_a_path_prints_its_sentence(luigid: Luigid, tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    result = luigid.run("RunCrawl", "--crawl", str(missing), "--at", AT)
    assert result.returncode == 35, said(result)[-3000:]
    assert_only_the_sentence(result, f"{missing}: no such crawl spec file")


def test_an_override_the_spec_lacks_prints_its_sentence(luigid: Luigid, specs: Path) -> None:
    result = luigid.run("RunCrawl", "--crawl", "fine", "--at", AT, "--overrides", '{"fetch.concurency": 4}')
    assert result.returncode == 35, said(result)[-3000:]
    assert_only_the_sentence(result, sentence(specs, "fine", {"fetch.concurency": 4}))


@pytest.mark.parametrize(("args", "expected"), [
    (["--at", "tomorrow"],
     "--at expects a UTC minute such as 2026-11-21T0730 or 2026-11-21T07:30, got 'tomorrow'"),
    (["--at", "2026-11-21T07:30:15"], "--at is a minute; '2026-11-21T07:30:15' has seconds"),
    (["--at", AT, "--overrides", "{max_pages: 5}"],
     "--overrides '{max_pages: 5}': not valid JSON (Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1))"),
    (["--at", AT, "--overrides", "[5]"],
     '--overrides: expected a JSON object of spec keys such as {"max_pages": 100}, got [5]'),
    ([], "RunCrawl needs --at: Logical time of the tick, UTC, to the minute."),
])
def test_a_bad_command_line_value_prints_its_sentence_alone_and_exits_40(luigid: Luigid, specs: Path,
                                                                         args: list[str], expected: str) -> None:
    result = luigid.run("RunCrawl", "--crawl", "fine", *args)
    assert result.returncode == 40, said(result)[-3000:]
    assert said(result).strip() == f"ERROR: {expected}"  # nothing else: luigi stopped before scheduling


def test_a_maintenance_task_with_a_bad_value_prints_its_sentence(luigid: Luigid) -> None:
    result = subprocess.run([PYTHON, "-m", "luigi", "--module", "pipelines.maintenance.tasks", "BackupDatabase",
                             "--db", "everything", "--date", "2026-11-21"],
                            cwd=ROOT, env=luigid.env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 40, said(result)[-3000:]
    output = said(result)
    assert output.startswith("ERROR: --db: everything is not a valid choice from "), output[-3000:]
    assert "Traceback" not in output


def test_a_real_bug_in_complete_keeps_its_traceback(luigid: Luigid, specs: Path, tmp_path: Path) -> None:
    unreadable = f"sqlite:///{tmp_path}/no-such-folder/items.db"  # the items DB cannot be opened
    result = luigid.run("RunCrawl", "--crawl", "fine", "--at", AT, "--store-db-connection", unreadable)
    assert result.returncode == 35, said(result)[-3000:]
    output = said(result)
    assert "Will not run RunCrawl(crawl=fine, at=2026-11-21T0730) or any dependencies due to error in complete()" \
        in output
    assert "Traceback (most recent call last):" in output
    assert "unable to open database file" in output


# -- the filter itself, on records as luigi 3.8.1 makes them ---------------------------------

def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("luigi-interface", logging.WARNING, __file__, 1, message, (), info)


def traceback_text(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


def test_a_spec_error_that_only_caused_a_later_error_is_not_taken_for_it() -> None:
    try:
        try:
            raise SpecError("x.toml", "name", "expected a string")
        except SpecError as first:
            raise KeyError("a bug while handling it") from first
    except KeyError as exc:
        text = traceback_text(exc)
    rec = record(f"Will not run T() or any dependencies due to error in complete() method:\n{text}")
    assert cli_errors.sentence_for(rec) is None


def test_a_value_error_raised_outside_parameter_parsing_is_a_bug() -> None:
    try:
        int("not from a parameter")
    except ValueError as exc:
        assert cli_errors.command_line_sentence(exc) is None


def test_install_adds_one_filter_however_often_it_is_called() -> None:
    for _ in range(3):
        cli_errors.install()
    filters = logging.getLogger("luigi-interface").filters
    assert sum(isinstance(f, cli_errors.UserErrorFilter) for f in filters) == 1


def test_luigi_still_names_the_record_as_the_filter_expects() -> None:
    # If a luigi upgrade changes its headline, the CLI tests above fail; this one says why.
    worker = (Path(sys.modules["luigi"].__file__).parent / "worker.py").read_text()
    assert "Will not run {task} or any dependencies due to error in complete() method:\\n{tb}" in worker
