"""Japanese and English for every string a user sees."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.test import Client

from ..conftest import BASE_DIR, subprocess_env

PO = BASE_DIR / "locale" / "ja" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


@pytest.mark.requirement("PROT-LANGUAGE")
def test_every_message_has_a_japanese_translation():
    catalogue = polib.pofile(str(PO))
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


@pytest.mark.requirement("PROT-LANGUAGE")
def test_translations_keep_their_placeholders():
    for entry in polib.pofile(str(PO)).translated_entries():
        # Japanese has one plural form: it takes the plural msgid's placeholders.
        source = entry.msgid_plural or entry.msgid
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            assert sorted(PLACEHOLDER.findall(source)) == sorted(
                PLACEHOLDER.findall(translation)
            ), entry.msgid


@pytest.mark.requirement("PROT-LANGUAGE")
def test_compiled_catalogue_matches_the_source():
    po = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural
        for e in polib.pofile(str(PO)).translated_entries()
    }
    mo = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in polib.mofile(str(MO)) if e.msgid
    }
    assert mo == po


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="gettext is not installed (make test installs it)"
)
def test_catalogue_holds_every_translatable_string_of_the_code(tmp_path: Path):
    for name in ["ecrf", "templates", "randomization", "locale", "manage.py"]:
        source = BASE_DIR / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ja", "--no-obsolete"],
        cwd=tmp_path,
        env=subprocess_env(PYTHONPATH=str(tmp_path)),
        check=True,
        capture_output=True,
    )
    fresh = {
        (e.msgctxt or "", e.msgid)
        for e in polib.pofile(str(tmp_path / "locale/ja/LC_MESSAGES/django.po"))
    }
    committed = {(e.msgctxt or "", e.msgid) for e in polib.pofile(str(PO))}
    assert sorted(fresh - committed) == [], "run `make messages` and translate the new strings"


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.django_db
def test_login_page_speaks_japanese_and_english():
    ja = Client(HTTP_ACCEPT_LANGUAGE="ja").get("/accounts/login/").content.decode()
    en = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/login/").content.decode()
    assert 'lang="ja"' in ja and "ログイン" in ja
    assert 'lang="en"' in en and "Sign in" in en


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
def test_templates_load_nothing_from_outside_the_app():
    for template in (BASE_DIR / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), template
