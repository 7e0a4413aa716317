"""pipelines/stack.py: which luigid, webmon and demo site a luigi command uses.

The precedence rules are pure (`resolve`); `apply` is driven on a fresh
luigi config parser reading the repository's luigi.cfg and real files of
"your own", with records naming real processes (one whose command line names
luigi, as a luigid's does, one that is gone, one that is not luigid).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from luigi.configuration.cfg_parser import LuigiConfigParser

from pipelines import stack
from pipelines.exceptions import StackError
from pipelines.stack import OwnSetting, Stack, resolve

Parser = Callable[..., LuigiConfigParser]

STACK = Stack(luigid_pid=1, luigid_port=18082, demo_site_port=18091, webmon_port=18000,
              webmon_base_url="http://127.0.0.1:18000")
RECORD = """# What ./scheduler.sh up started
LUIGID_PID={pid}
LUIGID_PORT=18082
DEMO_SITE_PORT=18091
WEBMON_PORT=18000
WEBMON_BASE_URL=http://127.0.0.1:18000
"""


def test_it_uses_the_running_stack_when_nothing_else_is_given() -> None:
    addresses = resolve({}, STACK)
    assert (addresses.luigid_port, addresses.webmon_url, addresses.demo_site_port) == (
        18082, "http://127.0.0.1:18000", 18091)
    assert addresses.notes == ()


def test_it_changes_nothing_without_a_stack_or_a_variable() -> None:
    addresses = resolve({}, None)
    assert (addresses.luigid_port, addresses.webmon_url, addresses.demo_site_port) == (None, None, None)


def test_a_variable_wins_over_the_stack() -> None:
    env = {"LUIGID_PORT": "19082", "WEBMON_PORT": "19000", "DEMO_SITE_PORT": "19091"}
    addresses = resolve(env, STACK)
    assert (addresses.luigid_port, addresses.webmon_url) == (19082, "http://127.0.0.1:19000")
    assert addresses.demo_site_port is None  # already in the environment, where the spec reads it
    assert resolve({"WEBMON_BASE_URL": "https://mon.example.com/", "WEBMON_PORT": "19000"}, STACK).webmon_url == (
        "https://mon.example.com")


def test_an_empty_variable_counts_as_unset() -> None:
    assert resolve({"LUIGID_PORT": "", "WEBMON_BASE_URL": " "}, STACK).luigid_port == 18082


def test_your_own_config_file_wins_over_the_stack_and_says_so() -> None:
    own = OwnSetting("/etc/crawl/luigi.cfg", "http://127.0.0.1:9999")
    own_url = OwnSetting("/etc/crawl/luigi.cfg", "https://mon.example.com")
    addresses = resolve({}, STACK, own, own_url)
    assert (addresses.luigid_port, addresses.webmon_url) == (None, None)
    assert addresses.notes == (
        "luigid at http://127.0.0.1:9999 as /etc/crawl/luigi.cfg sets it; the stack ./scheduler.sh up runs has "
        "luigid at http://127.0.0.1:18082 (--scheduler-port 18082 reaches it)",
        "run links point at https://mon.example.com as /etc/crawl/luigi.cfg sets [runs] webmon_url; the stack "
        "./scheduler.sh up runs has webmon at http://127.0.0.1:18000",
    )
    assert resolve({}, None, own, own_url).notes == ()  # no stack: nothing to say


@pytest.mark.parametrize("env, sentence", [
    ({"LUIGID_PORT": "abc"}, "LUIGID_PORT='abc' (in the environment) is not a port number"),
    ({"WEBMON_PORT": "70000"}, "WEBMON_PORT='70000' (in the environment) is not a port number"),
    ({"DEMO_SITE_PORT": "80.5"}, "DEMO_SITE_PORT='80.5' (in the environment) is not a port number"),
    ({"WEBMON_BASE_URL": "mon.example.com"}, "WEBMON_BASE_URL='mon.example.com' (in the environment) is not a URL"),
])
def test_it_refuses_a_variable_that_is_not_a_port_with_a_sentence(env: dict[str, str], sentence: str) -> None:
    with pytest.raises(StackError, match=sentence.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        resolve(env, None)


def test_it_reads_the_record_up_writes() -> None:
    assert stack.parse_stack(RECORD.format(pid=1), "stack.env") == STACK


@pytest.mark.parametrize("text, sentence", [
    ("LUIGID_PID=1\n", "stack.env: no LUIGID_PORT, DEMO_SITE_PORT, WEBMON_PORT, WEBMON_BASE_URL"),
    (RECORD.format(pid=1).replace("18091", "x"), "DEMO_SITE_PORT='x' (in stack.env) is not a port number"),
    (RECORD.format(pid="me"), "LUIGID_PID='me' (in stack.env) is not a process id"),
    ("garbage\n", "stack.env:1: expected KEY=VALUE, got 'garbage'"),
])
def test_it_refuses_a_record_up_did_not_write(text: str, sentence: str) -> None:
    with pytest.raises(StackError) as refused:
        stack.parse_stack(text, "stack.env")
    assert sentence in str(refused.value)


# -- apply: real files, real processes ----------------------------------------------


@pytest.fixture
def fake_luigid() -> Iterator[int]:
    """A live process whose command line names luigi, as a recorded luigid's does.

    Waits until the child has exec'd: until then its /proc cmdline is its parent's, which names no luigi, so
    a test that came first read the stack as one whose luigid was gone (twice in CI: port 8082, not 18082).
    """
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "luigi"])
    deadline = time.monotonic() + 10
    while not stack.luigid_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stack.luigid_alive(proc.pid)
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def parser(monkeypatch: pytest.MonkeyPatch) -> Parser:
    """A fresh luigi config parser reading the repository's luigi.cfg and then the files given."""
    def make(*paths: Path) -> LuigiConfigParser:
        monkeypatch.setattr(LuigiConfigParser, "_config_paths", [str(stack.REPO_CONFIG), *map(str, paths)])
        config = LuigiConfigParser()
        config.read(LuigiConfigParser._config_paths)
        return config
    return make


def record(tmp_path: Path, pid: int) -> Path:
    path = tmp_path / "stack.env"
    path.write_text(RECORD.format(pid=pid))
    return path


def test_apply_points_luigi_at_the_running_stack(tmp_path: Path, fake_luigid: int, parser: Parser) -> None:
    config, env = parser(), {}
    stack.apply(config, env, record(tmp_path, fake_luigid))
    assert (config.get("core", "scheduler_host"), config.getint("core", "scheduler_port")) == ("127.0.0.1", 18082)
    assert config.get("core", "scheduler_url", "") == ""
    assert stack.webmon_url(config) == "http://127.0.0.1:18000"
    assert env == {"DEMO_SITE_PORT": "18091"}


def test_apply_ignores_a_record_whose_luigid_is_gone(tmp_path: Path, parser: Parser) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "import luigi"])
    gone.wait()
    config, env = parser(), {}
    stack.apply(config, env, record(tmp_path, gone.pid))
    assert config.getint("core", "scheduler_port") == 8082  # luigi.cfg's, untouched
    assert stack.webmon_url(config) == "http://127.0.0.1:8000"
    assert env == {}


def test_apply_ignores_a_live_pid_that_is_not_luigid(tmp_path: Path, parser: Parser) -> None:
    other = subprocess.Popen(["sleep", "60"])  # the recorded pid, reused by another program
    try:
        config = parser()
        stack.apply(config, {}, record(tmp_path, other.pid))
        assert config.getint("core", "scheduler_port") == 8082
    finally:
        other.kill()
        other.wait()


def test_apply_keeps_your_own_config_file_without_a_stack(tmp_path: Path, parser: Parser) -> None:
    own = tmp_path / "mine.cfg"
    own.write_text("[core]\nscheduler_port = 9999\n[runs]\nwebmon_url = https://mon.example.com\n")
    config = parser(own)
    stack.apply(config, {}, tmp_path / "no-stack.env")
    assert config.getint("core", "scheduler_port") == 9999
    assert stack.webmon_url(config) == "https://mon.example.com"


def test_apply_keeps_your_own_config_file_with_a_stack_and_says_so(
        tmp_path: Path, fake_luigid: int, parser: Parser, capsys: pytest.CaptureFixture[str]) -> None:
    own = tmp_path / "mine.cfg"
    own.write_text("[core]\nscheduler_port = 9999\n")
    config = parser(own)
    stack.apply(config, {}, record(tmp_path, fake_luigid))
    assert config.getint("core", "scheduler_port") == 9999
    assert "the stack ./scheduler.sh up runs has luigid at http://127.0.0.1:18082" in capsys.readouterr().err
    assert stack.webmon_url(config) == "http://127.0.0.1:18000"  # the file does not set it: the stack's


def test_apply_says_a_broken_record_is_ignored(tmp_path: Path, parser: Parser,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.env"
    path.write_text("LUIGID_PID=1\nLUIGID_PORT=http\n")
    config = parser()
    stack.apply(config, {}, path)
    assert config.getint("core", "scheduler_port") == 8082
    assert f"{path}: no DEMO_SITE_PORT, WEBMON_PORT, WEBMON_BASE_URL; ignored" in capsys.readouterr().err
