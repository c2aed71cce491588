"""In Chromium: log in, switch language, and nothing is fetched from outside the app."""

from __future__ import annotations

from urllib.parse import urlsplit


def test_login_and_switch_language(page, live_server, login, request_log, screenshot, assert_same_origin):
    page.goto(f"{live_server}/admin/users")
    assert urlsplit(page.url).path == "/login"
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1") == "登录"
    screenshot(page, "login-zh")

    page.fill("#username", "admin")
    page.fill("#password", "pw-wrong-123456")
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    assert "用户名或密码错误" in page.inner_text(".flash-error")

    login(page, "admin")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.is_visible("text=退出")
    css = page.evaluate("getComputedStyle(document.querySelector('.topbar')).display")
    assert css == "flex", "base.css did not load"

    with page.expect_navigation():
        page.click("a[data-lang=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.is_visible("text=Log out")
    page.goto(f"{live_server}/admin/users")  # the choice persists without ?lang
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Users"
    screenshot(page, "admin-users-en")

    with page.expect_navigation():
        page.click("button:has-text('Log out')")
    assert urlsplit(page.url).path == "/login"
    assert page.inner_text("h1") == "Log in"
    assert_same_origin(request_log, live_server)


def test_phone_layout_fits_the_screen(phone_page, live_server, login, screenshot):
    login(phone_page, "insp")
    overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone screen"
    assert "用户管理" not in phone_page.inner_text("nav")  # inspectors get no admin link
    screenshot(phone_page, "home-phone-zh")
