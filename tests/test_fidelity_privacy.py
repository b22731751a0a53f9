"""Privacy check: structured personal data, person names, and other users' names and private texts."""

import pandas as pd
import pytest

from genrec.data.generated import GeneratedItem, Provenance
from genrec.fidelity.base import CheckContext, PrivateStore
from genrec.fidelity.policy import PrivacySettings
from genrec.fidelity.privacy import PrivacyCheck, find_structured, luhn_ok

CATALOG = pd.DataFrame(
    [
        {
            "item_id": "h1",
            "title": "Paul Mitchell Tea Tree Shampoo, 300 ml",
            "description": "A cooling shampoo from Paul Mitchell with tea tree oil. Pack of 2.",
            "brand": "Paul Mitchell",
        },
        {
            "item_id": "h2",
            "title": "Essie Nail Polish Spring 2013 Collection, 0.46 fl oz",
            "description": "A glossy nail polish by Essie, SPF-free, in a 13.5 ml bottle.",
            "brand": "Essie",
        },
        {
            "item_id": "h3",
            "title": "Lumen Hydrating Serum, 30 ml",
            "description": "Great for travel and long flights, keeps skin soft all day.",
            "brand": "Lumen",
        },
    ]
)
STORE = PrivateStore(
    names={"alice": ["Alice Kowalczyk"], "bob": ["Robert Lindqvist"], "carol": ["Carol"]},
    texts={
        "alice": ["I wore this on my honeymoon in Porto and the wobbly suitcase lid finally snapped off."],
        "bob": ["My neighbour borrowed the rusty canoe before the wedding in Bergen and returned it painted green."],
    },
)


def item(
    description: str, title: str = "Calm lotion concept", user: str = "alice", source: str | None = None
) -> GeneratedItem:
    kind = "edit" if source else "create"
    return GeneratedItem(
        title, description, provenance=Provenance(kind, "textgen", "1", user_id=user, source_item_id=source)
    )


@pytest.fixture(scope="module")
def ctx() -> CheckContext:
    return CheckContext(catalog=CATALOG, private=STORE)


def codes(result) -> list[str]:
    return sorted(f.code for f in result.findings)


@pytest.mark.parametrize(
    "text, code",
    [
        ("Write to jane.doe+shop@mail.example.co.uk today", "email"),
        ("Write to jane.doe [at] example [dot] com today", "email"),
        ("Call (415) 555-0132 to order", "phone"),
        ("Hotline +44 20 7946 0958", "phone"),
        ("Phone: 4155550132", "phone"),
        ("Saved card 4111 1111 1111 1111 on file", "payment_card"),
        ("Pay with 3782-822463-10005", "payment_card"),
        ("Logged from 203.0.113.7 yesterday", "ip_address"),
        ("Logged from 2001:db8::8a2e:370:7334", "ip_address"),
        ("Ship to 42 Maple Street, Springfield, IL 62704.", "postal_address"),
        ("Return it to 7 harbor lane, apartment 4", "postal_address"),
        ("Send to PO Box 1234", "postal_address"),
    ],
)
def test_structured_personal_data_is_found_with_its_span(text: str, code: str) -> None:
    found = [m for m in find_structured(text) if m.code == code]
    assert found, text
    assert all(text[m.start : m.end] == m.text for m in found)


@pytest.mark.parametrize(
    "text",
    [
        "Essie Nail Polish Spring 2013 Collection, 0.46 fl oz, Pack of 4",
        "SPF 30 sunscreen, 1.7 oz / 50 ml, 2-in-1, model 2000-300",
        "Bluetooth 5.3 earbuds with 30-hour battery, version 1.2.3.4",
        "Saved card 4111 1111 1111 1112 on file",  # fails the Luhn check
        "Value Pack :: Hand Cream + Foot Cream",
    ],
)
def test_product_text_with_numbers_has_no_personal_data(text: str) -> None:
    assert find_structured(text) == []


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_other_users_name_and_text_block_and_name_the_user(ctx: CheckContext) -> None:
    leaked = STORE.texts["bob"][0]
    result = PrivacyCheck(PrivacySettings()).run(item(f"Lovely lotion. As Robert Lindqvist said: {leaked}"), ctx)
    assert result.verdict == "block"
    assert {"other_user_name", "other_user_text"} <= set(codes(result))
    assert result.details["users_leaked"] == ["bob"]
    text_finding = next(f for f in result.findings if f.code == "other_user_text")
    assert text_finding.field == "description" and "rusty canoe" in text_finding.text


def test_requesters_own_data_only_warns(ctx: CheckContext) -> None:
    mine = STORE.texts["alice"][0]
    result = PrivacyCheck(PrivacySettings()).run(item(f"For Alice Kowalczyk: {mine}", user="alice"), ctx)
    assert set(codes(result)) == {"own_name", "own_text"}
    assert result.verdict == "warn"


def test_public_catalog_phrases_and_single_first_names_are_not_private(ctx: CheckContext) -> None:
    store = PrivateStore(
        texts={"bob": ["Great for travel and long flights, keeps skin soft all day."]}, names={"carol": ["Carol"]}
    )
    local = CheckContext(catalog=CATALOG, private=store)
    result = PrivacyCheck(PrivacySettings()).run(
        item("Carol says: great for travel and long flights, keeps skin soft all day."), local
    )
    assert codes(result) == []


def test_person_names_flagged_but_catalog_brands_are_public(ctx: CheckContext) -> None:
    check = PrivacyCheck(PrivacySettings())
    flagged = check.run(item("Handmade in a small studio. Contact Margarethe Oyelaran for details."), ctx)
    assert codes(flagged) == ["person_name"] and flagged.findings[0].text == "Margarethe Oyelaran"
    assert codes(check.run(item("Mary Whitcombe recommends it."), ctx)) == ["person_name"]
    assert codes(check.run(item("A Paul Mitchell style shampoo with tea tree."), ctx)) == []


def test_person_name_search_can_be_switched_off(ctx: CheckContext) -> None:
    result = PrivacyCheck(PrivacySettings(person_names=False)).run(item("Contact Margarethe Oyelaran."), ctx)
    assert codes(result) == []


def test_clean_edit_passes(ctx: CheckContext) -> None:
    edit = item(
        "A cooling shampoo from Paul Mitchell with tea tree oil. Pack of 2.",
        "Paul Mitchell Tea Tree Shampoo, 300 ml",
        source="h1",
    )
    assert PrivacyCheck(PrivacySettings()).run(edit, ctx).verdict == "pass"
