"""Typed reads from TOML tables, with errors that name the file and the key.

Used by the crawl spec loader: every read records the key, so `finish()` can
report unknown keys with a "did you mean".
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any

from pipelines.exceptions import SpecError


class Table:
    """Typed reads from one TOML table; unknown keys are reported at the end."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def error(self, name: str | None, problem: str) -> SpecError:
        return SpecError(self.path, self.key(name) if name else (self.prefix.rstrip(".") or None), problem)

    def get(self, name: str, kinds: tuple[type, ...], expected: str, default: Any = None, required: bool = False) -> Any:
        self.used.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, f"is missing; expected {expected}")
            return default
        value = self.data[name]
        try:
            value = from_environment(value, kinds, expected)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None
        # TOML booleans are Python ints too; never accept one where a number is meant.
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(name, f"expected {expected}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(name, f"expected {expected}, got {describe(value)}")
        return value

    def string(self, name: str, default: str | None = None, required: bool = False) -> Any:
        value = self.get(name, (str,), "a string", default, required)
        if value is not None and required and not value.strip():
            raise self.error(name, "expected a non-empty string")
        return value

    def number(self, name: str, default: float, minimum: float, integer: bool = False) -> Any:
        kinds: tuple[type, ...] = (int,) if integer else (int, float)
        expected = "a whole number" if integer else "a number"
        value = self.get(name, kinds, f"{expected} >= {minimum:g}", default)
        if value < minimum:
            raise self.error(name, f"expected {expected} >= {minimum:g}, got {value!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        return self.get(name, (bool,), "true or false", default)

    def strings(self, name: str, default: list[str] | None = None, required: bool = False) -> list[str]:
        value = self.get(name, (list, str), "a list of strings", default, required)
        if isinstance(value, str):
            value = [value]
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(name, f"expected a list of non-empty strings, item {i + 1} is {describe(item)}")
        return list(value)

    def table(self, name: str) -> dict[str, Any]:
        return self.get(name, (dict,), "a table", {})

    def finish(self, extra_known: tuple[str, ...] = ()) -> None:
        unknown = sorted(set(self.data) - self.used - set(extra_known))
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, sorted(self.used | set(extra_known)), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys are {', '.join(sorted(self.used))}"
            raise self.error(name, f"unknown key{hint}")


class EnvValue(str):
    """A whole spec value that was one `${NAME}` or `${NAME:-default}` (pipelines.spec._interpolate).

    `ref` is the reference as written, `name` the variable, `from_env` False when the default gave
    the text. Keys that take no string convert it (`from_environment`); it pickles as a plain str.
    """

    ref: str
    name: str
    from_env: bool

    def __new__(cls, text: str, ref: str, name: str, from_env: bool) -> EnvValue:
        value = super().__new__(cls, text)
        value.ref, value.name, value.from_env = ref, name, from_env
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))


_INT = re.compile(r"[+-]?\d+(?:_\d+)*")
_FLOAT = re.compile(r"[+-]?(?:\d+(?:_\d+)*)?(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


def from_environment(value: Any, kinds: tuple[type, ...], expected: str) -> Any:
    """`value` converted to the key's type when it is an EnvValue and the key takes no string.

    Whole numbers for int keys, numbers for float keys (not nan or inf), true/false (yes/no, on/off,
    1/0, any case) for boolean keys; lists and tables are not converted. ValueError with the problem
    when the text is none of them, naming the variable: a value from the environment is never
    repeated (it may be a secret), a default written in the spec is.
    """
    if not isinstance(value, EnvValue):
        return value
    if str in kinds:
        return str(value)
    text = value.strip()
    if bool in kinds and int not in kinds:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
    elif int in kinds or float in kinds:
        if int in kinds and _INT.fullmatch(text):
            return int(text)
        if float in kinds and text and _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
            number = float(text)
            if math.isfinite(number):
                return number
    else:
        return value  # a list or a table: the caller says what it expected
    if value.from_env:
        raise ValueError(f"expected {expected}, but ${{{value.name}}} in the environment is not one "
                         "(its value is not shown: the environment holds secrets)")
    raise ValueError(f"expected {expected}, got {str(value)!r}, the default of {value.ref}")


def describe(value: Any) -> str:
    if isinstance(value, EnvValue):
        if value.from_env:
            return f"{value.ref} from the environment"
        return f"the string {str(value)!r} (the default of {value.ref})"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
