"""The stack `./scheduler.sh up` runs: its recorded addresses, for every later command.

`up` writes var/run/stack.env (KEY=VALUE lines, replaced atomically) with the
ports it started luigid, the demo site and webmon on, webmon's base URL and
luigid's pid; `down` removes it. Importing the `pipelines` package, which
`python -m luigi --module pipelines.tasks ...` does before its worker connects,
calls `apply()`: it puts those addresses into luigi's configuration, so a plain
luigi command from any shell reaches the luigid `up` started, crawls the demo
site it started and links its runs to the webmon it started.

Which value wins, first match:

- luigid (`[core] scheduler_host/port`): the command line (`--scheduler-url`,
  `--scheduler-port`: luigi's own precedence), LUIGID_PORT, a luigi config file
  of your own that sets `[core] scheduler_url/host/port`, the running stack,
  the repository's luigi.cfg.
- webmon (`[runs] webmon_url`, the tracking URL of every run; webmon's
  WEBMON_BASE_URL default): WEBMON_BASE_URL, http://127.0.0.1:$WEBMON_PORT,
  your own file's `[runs] webmon_url`, the running stack, luigi.cfg.
- the demo site (DEMO_SITE_PORT, read by the demo spec's start URL):
  DEMO_SITE_PORT, the running stack, the spec's default 8090.

"Your own file" is one luigi reads after the repository's luigi.cfg
(LUIGI_CONFIG_PATH naming another file, or a luigi.cfg in another folder): a
value set there was chosen on purpose and is kept, with a note on stderr when
it differs from the running stack. The stack counts as running while its
recorded luigid pid is alive. With no stack and none of the variables,
nothing is changed.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import luigi.configuration
from luigi.configuration.cfg_parser import LuigiConfigParser

from pipelines.exceptions import StackError

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = ROOT / "var" / "run" / "stack.env"
REPO_CONFIG = ROOT / "luigi.cfg"
HOST = "127.0.0.1"  # scheduler.sh binds every service here
DEFAULT_WEBMON_URL = "http://127.0.0.1:8000"
CORE_OPTIONS = ("scheduler_url", "scheduler_host", "scheduler_port")
KEYS = ("LUIGID_PID", "LUIGID_PORT", "DEMO_SITE_PORT", "WEBMON_PORT", "WEBMON_BASE_URL")

_said: set[str] = set()  # notes already printed by this process (apply runs at every import site)


@dataclass(frozen=True)
class Stack:
    """What one `./scheduler.sh up` started, as var/run/stack.env records it."""

    luigid_pid: int
    luigid_port: int
    demo_site_port: int
    webmon_port: int
    webmon_base_url: str

    @property
    def luigid_url(self) -> str:
        return f"http://{HOST}:{self.luigid_port}"


@dataclass(frozen=True)
class OwnSetting:
    """A value set in a luigi config file of the user's own: which file, and the value in force."""

    file: str
    value: str


@dataclass(frozen=True)
class Addresses:
    """What `apply` changes; None leaves a value as configured."""

    luigid_port: int | None = None
    webmon_url: str | None = None
    demo_site_port: int | None = None  # goes into the environment: the demo spec reads DEMO_SITE_PORT
    notes: tuple[str, ...] = ()


def parse_port(name: str, value: str, where: str) -> int:
    """`value` as a TCP port, or StackError naming the variable and where it came from."""
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise StackError(f"{name}={value!r} ({where}) is not a port number: expected a whole number from 1 to 65535")
    return int(text)


def parse_url(name: str, value: str, where: str) -> str:
    text = value.strip()
    if not text.startswith(("http://", "https://")) or len(text) <= len("https://"):
        raise StackError(f"{name}={value!r} ({where}) is not a URL: expected http://host:port or https://host")
    return text.rstrip("/")


def parse_stack(text: str, source: str) -> Stack:
    """The record `./scheduler.sh up` writes: `# comments` and KEY=VALUE lines; unknown keys are ignored."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StackError(f"{source}:{number}: expected KEY=VALUE, got {line!r}")
        values[key.strip()] = value.strip()
    missing = [key for key in KEYS if not values.get(key)]
    if missing:
        raise StackError(f"{source}: no {', '.join(missing)}")
    where = f"in {source}"
    pid = values["LUIGID_PID"]
    if not pid.isdigit() or int(pid) < 1:
        raise StackError(f"LUIGID_PID={pid!r} ({where}) is not a process id")
    return Stack(
        luigid_pid=int(pid),
        luigid_port=parse_port("LUIGID_PORT", values["LUIGID_PORT"], where),
        demo_site_port=parse_port("DEMO_SITE_PORT", values["DEMO_SITE_PORT"], where),
        webmon_port=parse_port("WEBMON_PORT", values["WEBMON_PORT"], where),
        webmon_base_url=parse_url("WEBMON_BASE_URL", values["WEBMON_BASE_URL"], where),
    )


def read_stack(path: Path = STACK_FILE) -> Stack | None:
    """The recorded stack, None when there is no record; StackError when it is not one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StackError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_stack(text, str(path))


def luigid_alive(pid: int) -> bool:
    """Whether `pid` is a live luigid (its command line names luigi, so a reused pid does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        return b"luigi" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # exited just now, or no procfs here (then the pid is all we have)
        return not Path("/proc/self").exists()
    except OSError:
        return True


def running_stack(path: Path = STACK_FILE) -> Stack | None:
    """The recorded stack while its luigid lives, else None."""
    stack = read_stack(path)
    return stack if stack is not None and luigid_alive(stack.luigid_pid) else None


def own_config_files(paths: Sequence[str]) -> list[Path]:
    """The existing config files luigi reads after the repository's luigi.cfg: the user's own settings."""
    files = [Path(p).resolve() for p in paths if Path(p).is_file()]
    repo = REPO_CONFIG.resolve()
    if repo in files:
        last = len(files) - 1 - files[::-1].index(repo)
        files = files[last + 1:]
    return files


def _file_sets(path: Path, section: str, options: Sequence[str]) -> bool:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False  # luigi reports a broken file itself
    # Underscores only: luigi finds the repository's underscored option before a dashed one of yours.
    return any(parser.has_option(section, option) for option in options)


def _own(config: LuigiConfigParser, section: str, options: Sequence[str], value: str) -> OwnSetting | None:
    for path in reversed(own_config_files(type(config)._config_paths)):
        if _file_sets(path, section, options):
            return OwnSetting(str(path), value)
    return None


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None  # an empty variable is unset (systemd units and compose files pass them)


def resolve(env: Mapping[str, str], stack: Stack | None, own_luigid: OwnSetting | None = None,
            own_webmon_url: OwnSetting | None = None) -> Addresses:
    """The addresses to put in force, by the precedence in the module docstring (pure)."""
    notes: list[str] = []
    luigid_port: int | None = None
    if (text := _env(env, "LUIGID_PORT")) is not None:
        luigid_port = parse_port("LUIGID_PORT", text, "in the environment")
    elif own_luigid is not None:
        if stack is not None and own_luigid.value.rstrip("/") != stack.luigid_url:
            notes.append(f"luigid at {own_luigid.value} as {own_luigid.file} sets it; the stack ./scheduler.sh up "
                         f"runs has luigid at {stack.luigid_url} (--scheduler-port {stack.luigid_port} reaches it)")
    elif stack is not None:
        luigid_port = stack.luigid_port

    webmon_url: str | None = None
    if (text := _env(env, "WEBMON_BASE_URL")) is not None:
        webmon_url = parse_url("WEBMON_BASE_URL", text, "in the environment")
    elif (text := _env(env, "WEBMON_PORT")) is not None:
        webmon_url = f"http://{HOST}:{parse_port('WEBMON_PORT', text, 'in the environment')}"
    elif own_webmon_url is not None:
        if stack is not None and own_webmon_url.value.rstrip("/") != stack.webmon_base_url:
            notes.append(f"run links point at {own_webmon_url.value} as {own_webmon_url.file} sets [runs] "
                         f"webmon_url; the stack ./scheduler.sh up runs has webmon at {stack.webmon_base_url}")
    elif stack is not None:
        webmon_url = stack.webmon_base_url

    demo_site_port: int | None = None
    if (text := _env(env, "DEMO_SITE_PORT")) is not None:
        parse_port("DEMO_SITE_PORT", text, "in the environment")  # refused here rather than as a bad start URL
    elif stack is not None:
        demo_site_port = stack.demo_site_port
    return Addresses(luigid_port, webmon_url, demo_site_port, tuple(notes))


def configured_luigid_url(config: LuigiConfigParser) -> str:
    url = config.get("core", "scheduler_url", "")
    if url:
        return str(url)
    return f"http://{config.get('core', 'scheduler_host', 'localhost')}:{config.get('core', 'scheduler_port', '8082')}"


def webmon_url(config: object | None = None) -> str:
    """webmon's base URL as luigi's configuration has it (after `apply`): `[runs] webmon_url`."""
    config = luigi.configuration.get_config() if config is None else config
    return str(config.get("runs", "webmon_url", DEFAULT_WEBMON_URL)).rstrip("/")  # type: ignore[attr-defined]


def _set(config: LuigiConfigParser, section: str, option: str, value: str) -> None:
    if not config.has_section(section):
        config.add_section(section)
    config.set(section, option, value.replace("%", "%%"))  # luigi's parser interpolates %(name)s


def say(text: str) -> None:
    """One line on stderr, once per process: import time comes before luigi sets up logging."""
    if text not in _said:
        _said.add(text)
        sys.stderr.write(f"crawlops: {text}\n")


def apply(config: object | None = None, env: MutableMapping[str, str] | None = None,
          path: Path = STACK_FILE) -> Addresses:
    """Put the addresses in force into luigi's configuration (and DEMO_SITE_PORT into `env`).

    Raises StackError for a port variable that is not a port. A record that is
    not one is reported on stderr and ignored. A TOML configuration
    (LUIGI_CONFIG_PARSER=toml) is left as it is: it is entirely the user's.
    """
    env = os.environ if env is None else env
    config = luigi.configuration.get_config() if config is None else config
    if not isinstance(config, LuigiConfigParser):
        return Addresses()
    try:
        stack = running_stack(path)
    except StackError as exc:
        say(f"{exc}; ignored, as if no stack ran (./scheduler.sh up writes it again)")
        stack = None
    addresses = resolve(env, stack,
                        _own(config, "core", CORE_OPTIONS, configured_luigid_url(config)),
                        _own(config, "runs", ("webmon_url",), webmon_url(config)))
    if addresses.luigid_port is not None:
        _set(config, "core", "scheduler_host", HOST)
        _set(config, "core", "scheduler_port", str(addresses.luigid_port))
        _set(config, "core", "scheduler_url", "")  # luigi prefers a URL to host and port
    if addresses.webmon_url is not None:
        _set(config, "runs", "webmon_url", addresses.webmon_url)
    if addresses.demo_site_port is not None:
        env["DEMO_SITE_PORT"] = str(addresses.demo_site_port)
    for note in addresses.notes:
        say(note)
    return addresses
