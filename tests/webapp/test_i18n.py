"""Languages: selection order, the switch, html lang, and complete catalogs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import webapp

TRANSLATIONS = Path(webapp.__file__).parent / "translations"
CATALOGS = {"zh_CN": TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES", "en": TRANSLATIONS / "en" / "LC_MESSAGES"}


def _lang_and_h1(response) -> tuple[str, str]:
    text = response.get_data(as_text=True)
    return re.search(r'<html lang="([^"]+)"', text).group(1), re.search(r"<h1>(.*?)</h1>", text).group(1)


def test_default_is_simplified_chinese(client):
    assert _lang_and_h1(client.get("/login")) == ("zh-CN", "登录")


@pytest.mark.parametrize("header, expected", [
    ("en-US,en;q=0.9", ("en", "Log in")),
    ("en-GB", ("en", "Log in")),
    ("zh-CN,zh;q=0.9,en;q=0.5", ("zh-CN", "登录")),
    ("fr-FR,en;q=0.5", ("en", "Log in")),
    ("fr-FR,de;q=0.5", ("zh-CN", "登录")),
    ("de, zh;q=0.8, en;q=0.7", ("zh-CN", "登录")),
    ("zh-TW;q=0.9, en;q=0.8", ("zh-CN", "登录")),
    ("en;q=0.4, zh-CN;q=0.9", ("zh-CN", "登录")),
    ("zh;q=0, en", ("en", "Log in")),
])
def test_accept_language_best_match(client, header, expected):
    assert _lang_and_h1(client.get("/login", headers={"Accept-Language": header})) == expected


def test_lang_param_overrides_browser_and_persists(client):
    english = {"Accept-Language": "en-US,en;q=0.9"}
    assert _lang_and_h1(client.get("/login?lang=zh_CN", headers=english)) == ("zh-CN", "登录")
    assert _lang_and_h1(client.get("/login", headers=english)) == ("zh-CN", "登录")  # session remembers
    assert _lang_and_h1(client.get("/login?lang=en")) == ("en", "Log in")
    assert _lang_and_h1(client.get("/login")) == ("en", "Log in")


def test_unknown_lang_param_is_ignored(client):
    assert _lang_and_h1(client.get("/login?lang=xx", headers={"Accept-Language": "en"})) == ("en", "Log in")


def test_choice_survives_login_and_logout(client, users, login, csrf_token):
    client.get("/login?lang=en")
    login(client, "rev")
    assert _lang_and_h1(client.get("/"))[0] == "en"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert _lang_and_h1(client.get("/login"))[0] == "en"


def test_lang_cookie_remembers_the_choice_for_a_new_session(app):
    first = app.test_client()
    response = first.get("/login?lang=en")
    cookie = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("lang=en;") and "HttpOnly" in c for c in cookie)
    later = app.test_client()
    later.set_cookie("lang", "en")
    assert _lang_and_h1(later.get("/login"))[0] == "en"


def test_switch_links_keep_the_page_and_its_query(client):
    text = client.get("/login?next=/map&lang=en").get_data(as_text=True)
    assert 'href="/login?next=%2Fmap&amp;lang=zh_CN"' in text
    assert '<strong lang="en" aria-current="true">English</strong>' in text


def test_logged_in_pages_are_translated(client, users, login):
    login(client, "admin")
    zh = client.get("/admin/users?lang=zh_CN").get_data(as_text=True)
    en = client.get("/admin/users?lang=en").get_data(as_text=True)
    assert "用户管理" in zh and "添加用户" in zh and "审核员" in zh and "退出" in zh
    assert "Add a user" in en and "Reviewer" in en and "Log out" in en
    assert "添加用户" not in en


def test_chinese_names_render_as_utf8(client, users, login, runtime):
    from fieldkit import users as users_lib

    users_lib.add_user(runtime, "李检察官", "pw-li-1234567", role="reviewer", team="金昌",
                       display_name="李")
    login(client, "admin")
    response = client.get("/admin/users")
    assert response.content_type == "text/html; charset=utf-8"
    assert "李检察官" in response.get_data(as_text=True) and "金昌" in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_every_msgid_is_translated(lang):
    with open(CATALOGS[lang] / "messages.po", "rb") as fh:
        catalog = read_po(fh)
    ids = [m for m in catalog if m.id]
    assert len(ids) > 40
    untranslated = [m.id for m in ids if not (m.string if isinstance(m.string, str) else all(m.string))]
    fuzzy = [m.id for m in ids if m.fuzzy]
    assert untranslated == [] and fuzzy == []


def test_catalogs_have_the_same_msgids_and_compiled_mo_is_current():
    ids = {}
    for lang, folder in CATALOGS.items():
        with open(folder / "messages.po", "rb") as fh:
            po = {m.id: m.string for m in read_po(fh) if m.id}
        with open(folder / "messages.mo", "rb") as fh:
            mo = {m.id: m.string for m in read_mo(fh) if m.id}
        assert mo == po, f"{lang}: messages.mo is stale; run scripts/update_translations.sh"
        ids[lang] = set(po)
    assert ids["zh_CN"] == ids["en"]


def test_placeholders_survive_translation():
    with open(CATALOGS["zh_CN"] / "messages.po", "rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if message.id and isinstance(message.id, str):
            wanted = sorted(re.findall(r"%\(\w+\)[sd]", message.id))
            assert sorted(re.findall(r"%\(\w+\)[sd]", message.string)) == wanted, message.id


def test_templates_and_views_strings_are_all_extracted():
    """Every literal ``_('...')`` in templates and views is in the catalog (run update_translations.sh)."""
    with open(CATALOGS["en"] / "messages.po", "rb") as fh:
        known = {m.id for m in read_po(fh) if m.id}
    root = Path(webapp.__file__).parent
    pattern = re.compile(r"""\b_l?\(\s*(['"])((?:(?!\1).)+)\1\s*[,)]""")
    found = set()
    for path in list(root.rglob("*.html")) + list(root.glob("*.py")):
        found |= {m.group(2) for m in pattern.finditer(path.read_text(encoding="utf-8"))}
    assert sorted(found - known) == []
