"""The browser UI in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

Sign in, see recommendations, like one and see the list change, ask for a new item and see it
flagged with its verdict, blocked drafts never on the page, another user unable to reach it, the
admin's audit log. Screenshots go to $GENREC_SCREENSHOTS when set (docs/ holds the ones in the README).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serve.support import ServerProcess, bearer, missing

pytestmark = pytest.mark.serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing("chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("GENREC_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def sign_in(browser: Any, server: ServerProcess, key: str, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.errors = []  # console errors and CSP violations land here
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(server.url + "/")
    assert page.url.endswith("/signin")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=rec]")
    return page


def rec_ids(page: Any) -> list[str]:
    return [el.get_attribute("data-item-id") for el in page.query_selector_all("#recs [data-testid=rec]")]


def test_sign_in_see_recommendations_like_one_and_the_list_changes(
    browser: Any, server: ServerProcess, user_keys: dict[str, str]
) -> None:
    page = sign_in(browser, server, user_keys["alice"])
    before = rec_ids(page)
    assert len(before) == 12
    card = page.locator("#recs [data-testid=rec]").first
    assert card.locator("[data-testid=why]").inner_text().strip()  # why it was recommended
    shot(page, "serve-home-desktop.png")
    card.locator("[data-testid=like]").click()
    page.wait_for_function(
        "(first) => document.querySelector('#recs [data-testid=rec]').dataset.itemId !== first", arg=before[0]
    )
    after = rec_ids(page)
    assert after != before and before[0] not in after
    page.reload()
    assert before[0] not in rec_ids(page)  # the like was stored: it holds after a reload
    assert not page.errors, page.errors
    page.context.close()


def test_an_edit_is_shown_as_a_change_against_its_source(
    browser: Any, server: ServerProcess, user_keys: dict[str, str]
) -> None:
    page = sign_in(browser, server, user_keys["alice"])
    page.locator("button", has_text="New conversation").click()
    page.wait_for_url(re.compile(r"session=new"))
    assert page.locator("[data-testid=turn]").count() == 0
    for n, instruction in enumerate(("show me something like my last purchase", "rewrite this one for me"), 1):
        page.fill("#instruction", instruction)
        page.click("[data-testid=ask]")
        page.locator("[data-testid=turn]").nth(n - 1).wait_for(timeout=300_000)
    edit = page.locator("[data-testid=turn]").nth(1)
    assert edit.get_attribute("data-action") == "edit"
    generated = edit.locator("[data-testid=generated-entry]")
    if generated.count():  # a passing edit (else every draft was held back, and the message says so)
        changes = generated.first.locator("[data-testid=changes]")
        assert changes.locator("a").count() == 1  # links its source item
        assert changes.locator("ins, del").count() or "(unchanged)" in changes.inner_text()
        generated.first.scroll_into_view_if_needed()
        shot(page, "serve-edit-desktop.png")
    else:
        assert "held back" in edit.inner_text() or "catalog items instead" in edit.inner_text()
    assert not page.errors, page.errors
    page.context.close()


def test_a_wrong_key_is_refused_and_a_form_without_its_token_is_rejected(
    browser: Any, server: ServerProcess, user_keys: dict[str, str]
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/signin")
    page.fill("#key", "grk_000000000000_" + "a" * 43)
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text(".alert")
    page = sign_in(browser, server, user_keys["bob"])
    forged = page.context.request.post(server.url + "/ui/feedback", form={"kind": "like", "item_id": "i00001"})
    assert forged.status == 403  # signed-in cookie, but no CSRF token
    cookie = next(c for c in page.context.cookies() if c["name"] == "genrec_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    context.close()
    page.context.close()


def test_ask_for_a_new_item_and_see_it_flagged_with_its_verdict(
    browser: Any, server: ServerProcess, user_keys: dict[str, str], admin_key: str
) -> None:
    first = httpx.post(server.url + "/v1/recommendations", json={"k": 1}, headers=bearer(user_keys["carol"])).json()
    category = first["items"][0]["categories"][-1]
    page = sign_in(browser, server, user_keys["carol"])
    # the test's tiny generator (80 epochs on 150 items) sometimes misspells every draft of a turn, and the quality
    # gate blocks them all ("Nothing I generated passed the checks"): ask again, as a person would, up to 4 times
    turns = page.locator("[data-testid=turn]")
    before = turns.count()
    for attempt in range(4):
        page.fill("#instruction", f"make me a new one: {category}")
        page.click("[data-testid=ask]")
        turns.nth(before + attempt).wait_for(timeout=300_000)
        if page.locator("[data-testid=generated-entry]").count():
            break
    entry = page.locator("[data-testid=generated-entry]").first
    entry.wait_for(timeout=5_000)
    assert entry.locator("[data-testid=ai-badge]").inner_text() == "AI-generated"
    assert entry.locator("[data-testid=verdict]").inner_text() in ("Checks passed", "Passed with warnings")
    entry.locator("summary", has_text="Why this verdict?").click()
    assert entry.locator(".why-verdict").inner_text().strip()
    item_id = entry.get_attribute("data-item-id")
    shot(page, "serve-turn-desktop.png")
    # blocked drafts are never on the page (the audit log keeps them for admins)
    audit = httpx.get(server.url + "/v1/admin/audit?verdict=block&limit=1000", headers=bearer(admin_key)).json()
    html = page.content()
    # a title may be on the page for another reason: a passing draft with the same title, or the catalog item a
    # blocked copy copied (shown as itself)
    cards = "[data-testid=generated-entry] .item-title, [data-testid=entry] .item-title, [data-testid=rec] .item-title"
    allowed = {t.strip() for t in page.locator(cards).all_inner_texts()}
    mine = [a for a in audit if a["user_id"] == "carol"]
    assert mine, "the tiny generator always has some drafts blocked"
    text = page.inner_text("body")
    for title in sorted(allowed, key=len, reverse=True):  # a blocked copy's title may sit inside its source's
        text = text.replace(title, "")
    leaked = [a for a in mine if a["item_id"] in html or a["title"] in text]
    assert not leaked, leaked
    page.set_viewport_size(PHONE)
    page.reload()
    page.locator("[data-testid=generated-entry]").first.scroll_into_view_if_needed()
    shot(page, "serve-turn-phone.png")
    page.goto(server.url + f"/items/{item_id}")
    assert page.locator("[data-testid=ai-badge]").count() == 1
    shot(page, "serve-item-phone.png")
    assert not page.errors, page.errors
    page.context.close()
    # another user reaches neither the item nor its title
    other = sign_in(browser, server, user_keys["bob"], PHONE)
    other.locator("#recs-title").evaluate(
        "e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 110)"
    )
    shot(other, "serve-home-phone.png")
    title = httpx.get(server.url + f"/v1/items/{item_id}", headers=bearer(user_keys["carol"])).json()["title"]
    response = other.goto(server.url + f"/items/{item_id}")
    assert response.status == 404 and title not in other.inner_text("body")
    other.goto(server.url + "/generated")
    assert item_id not in other.content() and title not in other.inner_text("body")
    other.context.close()


def test_text_from_users_is_escaped(browser: Any, server: ServerProcess, user_keys: dict[str, str]) -> None:
    page = sign_in(browser, server, user_keys["bob"])
    page.fill("#instruction", "<b id=injected>bold</b><img src=x onerror=alert(1)> tea")
    page.click("[data-testid=ask]")
    bubble = page.locator(".bubble.user", has_text="<b id=injected>").last
    bubble.wait_for(timeout=120_000)
    assert page.locator("#injected").count() == 0 and page.locator(".bubble.user img").count() == 0
    assert not [e for e in page.errors if "alert" in e]
    page.context.close()


def test_the_admin_sees_the_audit_log_filtered_and_the_loaded_models(
    browser: Any, server: ServerProcess, admin_key: str, user_keys: dict[str, str]
) -> None:
    page = sign_in(browser, server, admin_key)
    page.goto(server.url + "/admin")
    assert "tiger" in page.inner_text("[data-testid=models]")
    rows = page.locator("[data-testid=audit-table] tbody tr")
    assert rows.count() > 0
    page.select_option("select[name=verdict]", "block")
    page.locator("form.filters button").click()
    page.wait_for_url(re.compile(r"verdict=block"))
    verdicts = page.locator("[data-testid=audit-table] .verdict").all_inner_texts()
    assert verdicts and set(verdicts) == {"block"}
    shot(page, "serve-admin-desktop.png")
    page.fill("input[name=user_id]", "dave")
    page.locator("form[action='/admin/keys'] button").click()
    assert page.locator("[data-testid=new-key] code").inner_text().startswith("grk_")
    page.context.close()
    user = sign_in(browser, server, user_keys["alice"])
    assert user.goto(server.url + "/admin").status == 403
    user.context.close()
