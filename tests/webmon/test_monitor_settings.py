"""The monitor's settings come from the environment and luigi.cfg, and refuse bad values at start."""

from __future__ import annotations

from pathlib import Path

from webmon_support import Manage

PRINT = "from django.conf import settings; print(settings.LUIGID_URL, settings.WEBMON_PAGE_SIZE)"


def test_luigid_url_comes_from_luigi_cfg_unless_the_environment_says(manage: Manage, tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text(
        "[core]\nscheduler_host = 10.1.2.3\nscheduler_port = 9082\n[task_history]\ndb_connection = sqlite:///x.db\n"
    )
    from_cfg = manage("shell", "-c", PRINT, env={"LUIGI_CONFIG_PATH": str(cfg), "LUIGID_URL": None})
    assert from_cfg.stdout.split()[-2:] == ["http://10.1.2.3:9082", "50"]
    from_env = manage("shell", "-c", PRINT, env={"LUIGI_CONFIG_PATH": str(cfg), "LUIGID_URL": "http://l:1"})
    assert from_env.stdout.split()[-2] == "http://l:1"


def test_bad_values_stop_the_start_with_a_sentence(manage: Manage) -> None:
    for env, sentence in [
        ({"LUIGID_URL": "localhost:8082"}, "LUIGID_URL: expected an http:// or https:// URL with a host"),
        ({"WEBMON_PAGE_SIZE": "0"}, "WEBMON_PAGE_SIZE=0: expected a whole number of at least 1"),
        ({"WEBMON_LOG_LEVEL": "chatty"}, "WEBMON_LOG_LEVEL=chatty: expected one of DEBUG/INFO/WARNING/ERROR"),
    ]:
        result = manage("check", env=env)
        assert result.returncode != 0
        assert sentence in result.stderr
