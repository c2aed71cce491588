"""Languages: Simplified Chinese (default) and English, via Flask-Babel.

The locale is, in order: a ``?lang=`` parameter (remembered in the session and in a
long-lived ``lang`` cookie, so the choice survives logging in and out), the session, the cookie,
the browser's ``Accept-Language``, and finally ``zh_CN``.

Catalogs: ``webapp/translations/{zh_Hans_CN,en}/LC_MESSAGES/messages.po`` (+ compiled ``.mo``),
maintained with ``scripts/update_translations.sh``. Babel names the zh_CN locale ``zh_Hans_CN``,
which is why the Chinese catalog has that directory name.
"""

from __future__ import annotations

from urllib.parse import urlencode

from babel import Locale
from flask import Flask, g, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

babel = Babel()


def kind_labels() -> dict[str, str]:
    """Translated names of the layer kinds (``fieldkit.store.models.LAYER_KINDS``)."""
    return {"great_wall": _l("Great Wall"), "river": _l("River"), "fitness_site": _l("Fitness site"),
            "boundary": _l("Boundary")}


class CodeLabel:
    """A stored code's name on a page: in Chinese FieldKit's own term (:mod:`fieldkit.labels`, the
    words the ledger, the 巡查报告 and the documents print), in English the translated name."""

    __slots__ = ("zh", "en")

    def __init__(self, zh: str, en) -> None:
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return self.zh if current_lang() == "zh_CN" else str(self.en)


def code_labels(zh: dict[str, str], english: dict) -> dict[str, CodeLabel]:
    """``{code: CodeLabel}`` for every code of ``english``, its Chinese from ``zh``."""
    return {code: CodeLabel(zh.get(code, str(name)), name) for code, name in english.items()}


def init_i18n(app: Flask) -> None:
    """Install Flask-Babel with FieldKit's locale selector and the language-switch helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(_remember_lang_param)
    app.after_request(_set_lang_cookie)
    app.context_processor(
        lambda: {"html_lang": html_lang, "lang_links": lang_links, "LANGUAGES": LANGUAGES,
                 "kind_labels": kind_labels()}
    )


def select_locale() -> str:
    """The request's locale code (one of :data:`LANGUAGES`)."""
    for candidate in (request.args.get("lang"), session.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return best_language(request.accept_languages)


def best_language(accepted) -> str:
    """The first of the browser's languages (by quality) we speak, matching on the primary subtag
    too (``zh-TW`` → ``zh_CN``, ``en-GB`` → ``en``); :data:`DEFAULT_LOCALE` if none."""
    primary = {code.split("_")[0]: code for code in LANGUAGES}
    for value, quality in accepted:
        tag = value.replace("-", "_").lower()
        if quality <= 0 or tag == "*":
            continue
        for code in LANGUAGES:
            if tag == code.lower():
                return code
        if tag.split("_")[0] in primary:
            return primary[tag.split("_")[0]]
    return DEFAULT_LOCALE


def _remember_lang_param() -> None:
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        g.set_lang_cookie = lang


def _set_lang_cookie(response):
    lang = g.get("set_lang_cookie")
    if lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=bool(request.is_secure))
    return response


def current_lang() -> str:
    """The current locale as one of the :data:`LANGUAGES` codes (Babel spells zh_CN ``zh_Hans_CN``)."""
    locale = get_locale()
    return next((code for code in LANGUAGES if Locale.parse(code) == locale), DEFAULT_LOCALE)


def html_lang() -> str:
    """BCP 47 tag of the current locale for ``<html lang>``: ``zh-CN`` or ``en``."""
    return current_lang().replace("_", "-")


def lang_links() -> list[tuple[str, str, str, bool]]:
    """(code, label, URL of this page in that language, is current) for the language switch."""
    current = current_lang()
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    links = []
    for code, label in LANGUAGES.items():
        query = urlencode(args + [("lang", code)])
        links.append((code, label, f"{request.path}?{query}", code == current))
    return links
