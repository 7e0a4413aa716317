"""The translation catalogues (locale/<language>/LC_MESSAGES/django.po and .mo) and their checks.

`manage.py catalogues` updates them: makemessages over webmon/ (templates and Python) for every
language of settings.LANGUAGES but English, then compilemessages. `manage.py catalogues --check`
changes nothing and says what is wrong (tests/webmon/test_i18n_catalogues.py runs it):

- a string marked for translation in webmon/ that a catalogue lacks, leaves untranslated or fuzzy;
- an entry of a catalogue that webmon/ no longer marks (left over);
- a .mo that is not the compiled form of its .po (compared as catalogues: GNU msgfmt versions may
  lay out the bytes differently).

Needs GNU gettext (xgettext, msgmerge, msgfmt): `apt-get install gettext`.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test.utils import override_settings
from django.utils.translation import to_locale

WEBMON = Path(__file__).resolve().parent.parent  # the folder makemessages reads: webmon/


def locales() -> list[str]:
    """zh_Hant, zh_Hans: the catalogue folders of the languages other than English."""
    return [to_locale(code) for code, _ in settings.LANGUAGES if code != "en"]


def po_path(root: Path, locale: str) -> Path:
    return root / locale / "LC_MESSAGES" / "django.po"


@dataclass(frozen=True)
class Entry:
    context: str | None
    msgid: str
    translations: tuple[str, ...]
    fuzzy: bool

    @property
    def key(self) -> str:
        return f"{self.context}\x04{self.msgid}" if self.context else self.msgid

    @property
    def translated(self) -> bool:
        return bool(self.translations) and all(self.translations)


_FIELD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$')


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (not its header, not obsolete #~ entries)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        key, fuzzy = None, False
        for line in block.splitlines():
            if line.startswith("#,"):
                fuzzy = fuzzy or "fuzzy" in line
                continue
            if line.startswith("#"):
                continue
            match = _FIELD.match(line)
            if match:
                key = match.group(1)
                fields[key] = json.loads(f'"{match.group(2)}"')
            elif line.startswith('"') and key:
                fields[key] += json.loads(line)
        if fields.get("msgid"):
            strings = tuple(v for k, v in sorted(fields.items()) if k.startswith("msgstr"))
            entries.append(Entry(fields.get("msgctxt"), fields["msgid"], strings, fuzzy))
    return entries


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


_POT_DATE = re.compile(r'^"POT-Creation-Date: [^"]*"\n', re.M)


def make_messages(locale_root: Path) -> None:
    """makemessages over webmon/ into `locale_root` (merging what is there), no obsolete entries kept.

    Lines are not wrapped and the header has no POT-Creation-Date, as the catalogues are committed: an
    update changes the entries that changed, and a second run nothing.
    """
    locale_root.mkdir(parents=True, exist_ok=True)
    with override_settings(LOCALE_PATHS=[locale_root]), _cwd(WEBMON):
        call_command("makemessages", locale=locales(), no_obsolete=True, no_wrap=True, verbosity=0)
    for locale in locales():
        po = po_path(locale_root, locale)
        if po.exists():
            po.write_text(_POT_DATE.sub("", po.read_text(encoding="utf-8")), encoding="utf-8")


def compile_messages(locale_root: Path) -> None:
    with override_settings(LOCALE_PATHS=[locale_root]), _cwd(locale_root):
        call_command("compilemessages", locale=locales(), verbosity=0)


def _catalog(mo: Path) -> dict[object, str]:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined] - the parsed .mo


def problems(locale_root: Path | None = None) -> list[str]:
    """What is wrong with the catalogues under `locale_root` (default settings.LOCALE_PATHS[0]); [] when nothing."""
    root = Path(locale_root or settings.LOCALE_PATHS[0])
    found: list[str] = []
    with tempfile.TemporaryDirectory(prefix="webmon-catalogues-") as scratch:
        fresh = Path(scratch) / "locale"
        for locale in locales():
            committed = po_path(root, locale)
            if not committed.exists():
                found.append(f"{committed} is missing: run manage.py catalogues")
                continue
            copy = po_path(fresh, locale)
            copy.parent.mkdir(parents=True)
            shutil.copy(committed, copy)
        make_messages(fresh)  # the committed entries merged with what webmon/ marks now
        for locale in locales():
            committed = po_path(root, locale)
            if not committed.exists():
                continue
            have = {e.key: e for e in read_po(committed)}
            marked = {e.key: e for e in read_po(po_path(fresh, locale))}
            for key in marked.keys() - have.keys():
                found.append(f"{locale}: not in the catalogue: {key!r}")
            for key in have.keys() - marked.keys():
                found.append(f"{locale}: no longer marked in webmon/: {key!r}")
            for key, entry in have.items():
                if entry.fuzzy:
                    found.append(f"{locale}: fuzzy: {key!r}")
                elif not entry.translated:
                    found.append(f"{locale}: not translated: {key!r}")
            mo = committed.with_suffix(".mo")
            compiled = Path(scratch) / f"{locale}.mo"
            done = subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(committed)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                found.append(f"{locale}: msgfmt refuses {committed}: {done.stderr.strip()[:500]}")
            elif not mo.exists():
                found.append(f"{mo} is missing: run manage.py compilemessages")
            elif _catalog(mo) != _catalog(compiled):
                found.append(f"{mo} is not the compiled {committed.name}: run manage.py compilemessages")
    return found
