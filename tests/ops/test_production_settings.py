"""The production profile: check --deploy, SECRET_KEY, ADMINS, error mails, Sentry.

Settings load once per process, so start-up behaviour runs `manage.py` in a
subprocess with the environment documented in docs/operations.md.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from webmon.monitor.production import parse_admins

ROOT = Path(__file__).resolve().parent.parent.parent


def production_env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """The production environment of docs/operations.md (install, step 3), on a throwaway DB."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECURE_", "WEBMON_", "SENTRY_")) and k not in ("DEBUG", "SECRET_KEY", "ADMINS")}
    env.update(
        DEBUG="false",
        SECRET_KEY=get_random_secret_key(),
        ALLOWED_HOSTS="mon.example.com",
        CSRF_TRUSTED_ORIGINS="https://mon.example.com",
        BEHIND_TLS_PROXY="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'webmon.db'}",
        ADMINS="Ops Team <ops@example.com>",
        SERVER_EMAIL="crawlops@example.com",
        LUIGI_CONFIG_PATH=str(ROOT / "luigi.cfg"),
    )
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_the_documented_production_env(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_the_https_settings(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0"),
                    "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_debug_off_without_secret_key_is_refused_with_a_sentence(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, SECRET_KEY=None), "check", "--deploy")
    assert result.returncode != 0
    assert "SECRET_KEY is not set: with DEBUG off, set the SECRET_KEY environment variable" in result.stderr


def test_bad_admins_is_refused_at_start(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, ADMINS="ops at example"), "check")
    assert result.returncode != 0
    assert "ADMINS: 'ops at example' is not an address" in result.stderr


def test_production_settings_values(tmp_path: Path) -> None:
    code = ("from django.conf import settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
            "s.SECURE_PROXY_SSL_HEADER, s.CACHES['default']['BACKEND'].rsplit('.', 1)[1], s.ADMINS, "
            "'whitenoise.middleware.WhiteNoiseMiddleware' in s.MIDDLEWARE)")
    result = manage(production_env(tmp_path), "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == ("False True True ('HTTP_X_FORWARDED_PROTO', 'https') DatabaseCache "
                                     "[('Ops Team', 'ops@example.com')] True")


@pytest.mark.parametrize(("value", "expected"), [
    ("", []),
    ("Ops Team <ops@example.com>", [("Ops Team", "ops@example.com")]),
    ("Ops <ops@example.com>, alice@example.org", [("Ops", "ops@example.com"), ("alice@example.org", "alice@example.org")]),
    (" <bob@example.com> ", [("bob@example.com", "bob@example.com")]),
])
def test_parse_admins(value: str, expected: list[tuple[str, str]]) -> None:
    assert parse_admins(value) == expected


@pytest.mark.parametrize("value", ["ops", "Ops <ops>", "a@b.org,,c@d.org", "Ops <a@b.org"])
def test_parse_admins_refuses_with_a_sentence(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="expected comma-separated entries such as"):
        parse_admins(value)


def test_server_errors_are_mailed_to_admins_without_the_html_page() -> None:
    handler = next(h for h in logging.getLogger("django.request").handlers if h.get_name() == "mail_admins")
    assert type(handler).__name__ == "AdminEmailHandler"
    assert handler.include_html is False
    assert handler.level == logging.ERROR
    assert settings.LOGGING["handlers"]["mail_admins"]["include_html"] is False
    assert logging.getLogger("django.request").propagate is False  # mailed once, not again by `django`


def test_a_server_error_mail_has_no_html_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core import mail
    from django.test import RequestFactory, override_settings
    from django.utils.log import AdminEmailHandler

    handler = AdminEmailHandler(include_html=False)
    request = RequestFactory().get("/boom")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /boom",
                                   None, sys.exc_info())
    record.request = request
    with override_settings(ADMINS=[("Ops", "ops@example.com")],
                           EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        handler.emit(record)
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["ops@example.com"]
        assert "RuntimeError" in mail.outbox[0].body
        assert not getattr(mail.outbox[0], "alternatives", [])


def test_sentry_is_not_initialised_without_a_dsn() -> None:
    import sentry_sdk

    assert "SENTRY_DSN" not in os.environ or not os.environ["SENTRY_DSN"]
    assert settings.SENTRY_ENABLED is False
    client = sentry_sdk.get_client()
    assert not client.is_active()
    assert client.transport is None


def test_sentry_is_initialised_with_a_dsn_and_sends_no_pii(tmp_path: Path) -> None:
    code = ("import sentry_sdk; from django.conf import settings as s; c = sentry_sdk.get_client(); "
            "print(s.SENTRY_ENABLED, c.is_active(), c.options['send_default_pii'], c.options['environment'])")
    env = production_env(tmp_path, SENTRY_DSN="https://public@127.0.0.1:9/1", SENTRY_ENVIRONMENT="staging")
    result = manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True False staging"
