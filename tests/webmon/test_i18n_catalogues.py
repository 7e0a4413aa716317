"""The catalogues: every string webmon marks is translated in zh_Hant and zh_Hans, none fuzzy, and the
committed .mo files are the compiled .po files (`manage.py catalogues --check`; needs GNU gettext)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from webmon.monitor.catalogues import locales, po_path, problems

LOCALE = Path(settings.LOCALE_PATHS[0])


def test_every_marked_string_is_translated_in_both_catalogues_and_compiled() -> None:
    assert locales() == ["zh_Hant", "zh_Hans"]
    assert problems() == []
    call_command("catalogues", "--check")  # what a developer runs; raises on a problem


def copy_of_catalogues(tmp_path: Path) -> Path:
    root = tmp_path / "locale"
    shutil.copytree(LOCALE, root)
    return root


def test_the_check_finds_an_untranslated_a_fuzzy_and_a_missing_string(tmp_path: Path) -> None:
    root = copy_of_catalogues(tmp_path)
    hans = po_path(root, "zh_Hans")
    text = hans.read_text(encoding="utf-8")
    text = text.replace('msgid "Nothing is running."\nmsgstr "目前没有任何运行。"', 'msgid "Nothing is running."\nmsgstr ""')
    text = text.replace('msgid "Trigger now"\n', '#, fuzzy\nmsgid "Trigger now"\n')
    hant = po_path(root, "zh_Hant")
    hant_text = hant.read_text(encoding="utf-8").replace('msgid "Log in"\nmsgstr "登入"\n', "")
    hans.write_text(text, encoding="utf-8")
    hant.write_text(hant_text, encoding="utf-8")
    found = problems(root)
    assert "zh_Hans: not translated: 'Nothing is running.'" in found
    assert "zh_Hans: fuzzy: 'Trigger now'" in found
    assert "zh_Hant: not in the catalogue: 'Log in'" in found
    assert any(p.startswith(f"{hans.with_suffix('.mo')} is not the compiled") for p in found)


def test_the_check_finds_a_stale_mo_and_a_left_over_entry(tmp_path: Path) -> None:
    root = copy_of_catalogues(tmp_path)
    hant = po_path(root, "zh_Hant")
    text = hant.read_text(encoding="utf-8").replace('msgstr "總覽"', 'msgstr "概觀"')
    hant.write_text(text + '\nmsgid "A sentence no template says"\nmsgstr "沒有範本說的句子"\n', encoding="utf-8")
    found = problems(root)
    assert f"{hant.with_suffix('.mo')} is not the compiled django.po: run manage.py compilemessages" in found
    assert "zh_Hant: no longer marked in webmon/: 'A sentence no template says'" in found
    assert not [p for p in found if p.startswith("zh_Hans")]


def test_the_command_fails_on_a_problem(tmp_path: Path) -> None:
    root = copy_of_catalogues(tmp_path)
    (root / "zh_Hans" / "LC_MESSAGES" / "django.mo").unlink()
    from django.test import override_settings

    with override_settings(LOCALE_PATHS=[root]), pytest.raises(CommandError, match="django.mo is missing"):
        call_command("catalogues", "--check")
