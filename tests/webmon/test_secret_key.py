"""SECRET_KEY comes from the environment, or a development key with DEBUG on."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from webmon_support import Manage

from webmon.secret_key import secret_key

NO_KEY_SENTENCE = "SECRET_KEY is not set: with DEBUG off, set the SECRET_KEY environment variable"


def test_the_environment_wins(tmp_path: Path) -> None:
    assert secret_key("from-env", debug=False, dev_key_file=tmp_path / "secret_key") == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_with_debug_on_a_dev_key_is_made_once_and_only_the_owner_can_read_it(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"  # var/ does not exist yet, as in a fresh clone
    first = secret_key(None, debug=True, dev_key_file=path)
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(None, debug=True, dev_key_file=path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temp file left


def test_with_debug_off_a_missing_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"^{NO_KEY_SENTENCE}"):
        secret_key(None, debug=False, dev_key_file=tmp_path / "secret_key")
    assert not (tmp_path / "secret_key").exists()


def test_an_empty_dev_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="is empty: delete it"):
        secret_key(None, debug=True, dev_key_file=tmp_path / "secret_key")


def test_manage_check_fails_with_the_sentence_when_debug_is_off_and_no_key_is_set(manage: Manage) -> None:
    result = manage("check", env={"DEBUG": "false", "SECRET_KEY": None})
    assert result.returncode != 0
    assert NO_KEY_SENTENCE in result.stderr


def test_manage_check_passes_when_debug_is_off_and_a_key_is_set(manage: Manage) -> None:
    result = manage("check", env={"DEBUG": "false", "SECRET_KEY": "a-production-key"})
    assert result.returncode == 0, result.stderr
    assert "a-production-key" not in result.stdout + result.stderr


def test_manage_check_fails_with_the_sentence_on_a_bad_debug_value(manage: Manage) -> None:
    result = manage("check", env={"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG=maybe: expected one of true/false/1/0/yes/no" in result.stderr
