"""Privacy: personal data in a generated item, and other users' names and private texts.

Design. Structured personal data (e-mails, phone numbers, payment cards, IP addresses, postal
addresses) is found with regular expressions plus validators: the Luhn checksum and issuer
prefixes for cards, ``ipaddress`` for IPs, digit counts and layouts for phones, US state codes
and street suffixes for addresses. Person names come from three sources: the user store
(exact multi-word names), a given-name list followed by a capitalised surname, and cue phrases
("contact ...", "my name is ..."); names that the catalog itself uses (brand names, names in
two or more catalog items, names in an edit's source item) are public and not flagged.
Presidio with spaCy's small English model was measured first: on the Amazon Beauty titles its
PERSON entity fired on 41% of human items ("Simmer", "Tea Rose", "Fluid Ounce") at about 2 ms
a title, far from the 2% false-positive budget, so this smaller design is used instead.

Other users' private texts (reviews, messages) are matched by word-shingle overlap against an
index of every user's texts; shingles that also occur in the public catalog, or in the texts of
many users, are dropped first, so only overlaps that could only come from one user's private
text count.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from genrec.data.generated import GeneratedItem
from genrec.fidelity import _rules
from genrec.fidelity._catalog import record_text
from genrec.fidelity._norm import finding, normalized_fields, normalizer
from genrec.fidelity._text import ShingleIndex, clean, shingles, tokens
from genrec.fidelity.base import Check, CheckContext, Finding, PrivateStore
from genrec.fidelity.policy import PrivacySettings
from genrec.textnorm import english_words


@dataclass(frozen=True)
class Match:
    """A piece of personal data found in a text."""

    code: str
    start: int
    end: int
    text: str
    message: str


# ---- structured personal data --------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})\.)+[A-Za-z]{2,24}(?![\w-])"
)
_TLDS = r"(?:com|net|org|edu|gov|io|co|uk|de|fr|es|it|nl|info|biz|me|us|ca|au|in)"
_EMAIL_OBFUSCATED = re.compile(
    r"(?<![\w.])[A-Za-z0-9][A-Za-z0-9._%+-]*\s*(?:\[at\]|\(at\)|\{at\}|\s+at\s+)\s*[A-Za-z0-9-]+"
    r"(?:\s*(?:\[dot\]|\(dot\)|\{dot\}|\s+dot\s+|\.)\s*[A-Za-z0-9-]+)*?"
    r"\s*(?:\[dot\]|\(dot\)|\{dot\}|\s+dot\s+)\s*" + _TLDS + r"\b",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"""(?<![\w+/.,-])
    (?:
        \+\d{1,3}[\s.-]?(?:\(0?\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}   # +44 20 7946 0958
      | (?:1[\s.-])?\(\d{3}\)[\s.-]?\d{3}[\s.-]?\d{4}                             # (415) 555-0132
      | (?:1[\s.-])?\d{3}[\s.-]\d{3}[\s.-]\d{4}                                   # 415-555-0132
      | 0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}                                         # 020 7946 0958
    )
    (?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?
    (?![\w/-]|[.,]\d)""",
    re.VERBOSE | re.IGNORECASE,
)
_PHONE_CUE = re.compile(
    r"\b(?:phone|tel|telephone|call|text|whatsapp|mobile|cell|fax)\b\s*(?:me\s+)?(?:at|on)?\s*[:.#]?\s*"
    r"(\+?\d[\d\s().-]{5,18}\d)(?![\w-])",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])|(?<![\d.])\d{4}(?:\.\d{4}){3}(?!\d|\.\d)")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?=(?:[0-9A-Fa-f]*:){2})(?=[0-9A-Fa-f:]*[0-9A-Fa-f]{2})[0-9A-Fa-f:]{3,39}(?![\w:])")
_VERSION_CUE = re.compile(r"(?:\bv|version|firmware|ver\.?)\s*$", re.IGNORECASE)
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Court|Ct|Place|Pl|Terrace|Parkway|Pkwy|"
    r"Circle|Cir|Highway|Hwy|Square|Sq|Close|Crescent|Gardens|Grove|Mews|Row|Way|Alley|Plaza)"
)
_STREET = re.compile(
    r"\b\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+|\d{1,3}(?:st|nd|rd|th)\s+){1,4}"
    + _STREET_SUFFIX
    + r"\b\.?(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[A-Za-z0-9-]+)?"
)
_STREET_LOWER = re.compile(  # lower-case spelling: full suffix words only, and a unit or a comma after
    r"\b\d{1,6}\s+(?:[a-z]+\s+){1,3}(?:street|avenue|road|lane|boulevard|drive|court|terrace|parkway|place)"
    r"(?:,?\s+(?:apt|apartment|suite|unit|flat)\.?\s*[a-z0-9-]+|,\s+[a-z]+)",
    re.IGNORECASE,
)
_STRASSE = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|weg|platz|allee|gasse)\s+\d{1,4}[a-z]?\b")
_STREET_INTL = re.compile(  # number before or after a street word of another language
    r"\b\d{1,5}[a-z]?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|allee|impasse|quai|place|via|viale|piazza|corso|"
    r"calle|avenida|plaza|paseo|rua|travessa|praca|straat|laan|gracht|weg|plein|ulica|ul\.|utca|gatan|gata|vej|katu)"
    r"\s+(?:(?:de|des|du|la|le|di|del|della|da|do|dos|van|der)\s+)*[A-Z][\w'-]+"
    r"|\b(?:rue|avenue|via|calle|avenida|rua|ulica|ul\.)\s+(?:(?:de|des|du|la|le|di|del|della|da|do)\s+)*[A-Z][\w'-]+"
    r"(?:\s+[A-Z][\w'-]+)?,?\s+\d{1,5}\b",
)
_POSTCODE_CITY = re.compile(r"(?<=,\s)\d{4,5}\s+[A-Z][a-z]{2,}(?:[\s-][A-Z][a-z]+)?\b")
_JP_ADDRESS = re.compile(r"\b\d{1,2}-\d{1,2}-\d{1,3},?\s+[A-Z][a-z]+(?:-ku)?\b")
_SPACED_DIGITS = re.compile(r"(?<![\w.])\d(?:[\s,.-]{1,3}\d){6,14}(?![\w]|[.,]\d)")
_PO_BOX = re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d{1,6}\b", re.IGNORECASE)
_US_STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
]
_CITY_STATE_ZIP = re.compile(
    r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2},\s(?:" + "|".join(_US_STATES) + r")\s\d{5}(?:-\d{4})?\b"
)
_UK_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s\d[ABD-HJLNP-UW-Z]{2}\b")


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer(digits: str) -> str | None:
    """The card network a number's prefix and length belong to, or None."""
    n = len(digits)
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if n == 16 and (51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720):
        return "mastercard"
    if n == 15 and digits[:2] in ("34", "37"):
        return "amex"
    if 16 <= n <= 19 and (digits[:4] == "6011" or digits[:2] == "65" or 644 <= int(digits[:3]) <= 649):
        return "discover"
    if 16 <= n <= 19 and 3528 <= int(digits[:4]) <= 3589:
        return "jcb"
    if n == 14 and (digits[:2] in ("36", "38") or 300 <= int(digits[:3]) <= 305):
        return "diners"
    if 16 <= n <= 19 and digits[:2] == "62":
        return "unionpay"
    return None


def _phone_digits_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", re.split(r"(?i)\s*(?:x|ext\.?|extension)\s*\d", text)[0])
    return 7 <= len(digits) <= 15 and len(set(digits)) > 2


def find_structured(text: str) -> list[Match]:
    """E-mails, phone numbers, payment cards, IP addresses and postal addresses in ``text``."""
    out: list[Match] = []
    for m in _EMAIL.finditer(text):
        out.append(Match("email", m.start(), m.end(), m.group(), "e-mail address"))
    for m in _EMAIL_OBFUSCATED.finditer(text):
        out.append(Match("email", m.start(), m.end(), m.group(), "obfuscated e-mail address"))
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        issuer = card_issuer(digits) if 13 <= len(digits) <= 19 else None
        if issuer and luhn_ok(digits):
            out.append(Match("payment_card", m.start(), m.end(), m.group(), f"{issuer} card number (Luhn-valid)"))
    taken = [(c.start, c.end) for c in out]
    for m in _PHONE.finditer(text):
        if _phone_digits_ok(m.group()) and not _overlaps(m.start(), m.end(), taken):
            out.append(Match("phone", m.start(), m.end(), m.group(), "phone number"))
    taken = [(c.start, c.end) for c in out]
    for m in _PHONE_CUE.finditer(text):
        s, e = m.span(1)
        if _phone_digits_ok(m.group(1)) and not _overlaps(s, e, taken):
            out.append(Match("phone", s, e, m.group(1), "phone number after a contact cue"))
    taken = [(c.start, c.end) for c in out]
    for m in _SPACED_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 7 <= len(digits) <= 15 and len(set(digits)) > 2 and not _overlaps(m.start(), m.end(), taken):
            out.append(Match("phone", m.start(), m.end(), m.group(), "phone number spelled digit by digit"))
    for m in _IPV4.finditer(text):
        if _VERSION_CUE.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        out.append(Match("ip_address", m.start(), m.end(), m.group(), "IPv4 address"))
    for m in _IPV6.finditer(text):
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        out.append(Match("ip_address", m.start(), m.end(), m.group(), "IPv6 address"))
    for rx, what in (
        (_STREET, "street address"),
        (_STREET_LOWER, "street address"),
        (_STRASSE, "street address"),
        (_PO_BOX, "post-office box"),
        (_CITY_STATE_ZIP, "city, state and ZIP code"),
        (_UK_POSTCODE, "UK postcode"),
        (_STREET_INTL, "street address"),
        (_POSTCODE_CITY, "postcode and city"),
        (_JP_ADDRESS, "street address"),
    ):
        for m in rx.finditer(text):
            if rx is _POSTCODE_CITY and english_words().get(m.group().split()[-1].lower(), 0) >= 200:
                continue  # "2000 Watts", "1200 Pieces": a number and a common word, not a postcode and a city
            out.append(Match("postal_address", m.start(), m.end(), m.group(), what))
    return _dedupe(out)


def _overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def _dedupe(matches: list[Match]) -> list[Match]:
    """Drop matches of the same code inside a longer one."""
    matches.sort(key=lambda m: (m.start, -(m.end - m.start)))
    out: list[Match] = []
    for m in matches:
        if any(o.code == m.code and o.start <= m.start and m.end <= o.end for o in out):
            continue
        out.append(m)
    return out


# ---- person names ---------------------------------------------------------------------------
_CAP = r"[A-Z][a-z]+(?:['’-][A-Z]?[a-z]+)?"
_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame)\.?\s+(" + _CAP + r")(?:\s+(" + _CAP + r"))?")
_PARTICLE = r"(?:(?:van|von|der|de|del|della|di|da|du|le|la|ni|nic|mac|mc|o|al|el|bin|binti|ben|ter|ten)\s+)?"
_NAME = _CAP + r"\s+(?:[A-Z]\.\s+)?" + _PARTICLE + r"(?:" + _CAP + r"|[A-Z][a-z]*[A-Z][a-z]+)"
# The cue is case-insensitive, the name is not: "call five five" or "our human" are no names.
_NAME_CUE = re.compile(
    r"(?i:\b(?:contact|call|text|ask\s+for|e-?mail|message|write\s+to|reach|ping|my\s+name\s+is|name\s+is|named|"
    r"dear|signed|written\s+by|reviewed\s+by|regards|sincerely|cheers|owner|customer|thanks|thank\s+you|"
    r"made\s+by|designed\s+by|formulated\s+by|blended\s+by|created\s+by|tested\s+by|endorsed\s+by|"
    r"recommended\s+by|loved\s+by|used\s+by|approved\s+by|developed\s+by|handmade\s+by|curated\s+by)"
    r"(?:\s+(?:our|my|the|your|a|beauty|head|chief|resident|personal|regular))*"
    r"(?:\s+(?:friend|neighbou?r|sister|brother|mother|mum|mom|father|dad|wife|husband|partner|daughter|son|"
    r"aunt|uncle|cousin|grandma|grandpa|grandmother|grandfather|colleague|boss|chemist|founder|owner|maker|"
    r"coach|editor|doctor|nurse|stylist|designer|artist|trainer|therapist|barista|chef|customer|client|"
    r"regular|teacher|manager|dermatologist|expert|reviewer))?)[:,]?\s+(" + _NAME + r")"
)
_ROLE_NAME = re.compile(  # "my neighbour Radomir Kestrel", "coach Kwabena Asante-Mensah"
    r"(?i:\b(?:my|our|your|his|her|their)\s+(?:\w+\s+)?(?:friend|neighbou?r|sister|brother|mother|mum|mom|father|"
    r"dad|wife|husband|partner|daughter|son|aunt|uncle|cousin|grandma|grandpa|colleague|boss|chemist|founder|maker|"
    r"coach|editor|doctor|nurse|stylist|designer|trainer|therapist|barista|chef|customer|client|regular|teacher|"
    r"manager|landlord|tenant|flatmate|roommate)|\b(?:coach|editor|chemist|doctor|dr|nurse|stylist|designer|"
    r"founder|chef|professor|prof|mr|mrs|ms|miss|mx|sir|dame|captain|officer))\.?[:,]?\s+(" + _NAME + r")"
)
_NAME_BEFORE_VERB = re.compile(
    r"\b(" + _CAP + r"\s+(?:[A-Z]\.\s+)?" + _CAP + r")\s+(?:recommends|recommended|says|said|loves|loved|swears\s+by|"
    r"approves|suggests|suggested|writes|wrote|reviewed|tested|personally)\b"
)
_FIRST_LAST = re.compile(r"\b(" + _CAP + r")\s+(?:[A-Z]\.\s+)?(" + _CAP + r"|Mc[A-Z][a-z]+|O['’][A-Z][a-z]+)\b")
_NOT_SURNAMES = frozenset(
    [
        "and",
        "or",
        "the",
        "with",
        "for",
        "from",
        "in",
        "on",
        "at",
        "by",
        "of",
        "to",
        "new",
        "free",
        "pro",
        "plus",
        "max",
        "mini",
        "set",
        "kit",
        "pack",
        "size",
    ]
)


class NameFinder:
    """Person names: given name + capitalised surname, honorifics and cue phrases, minus public names."""

    def __init__(self, given_names: Iterable[str], public_names: Iterable[str] = (), common_words: Iterable[str] = ()):
        self.given = frozenset(n.lower() for n in given_names)
        self.public = frozenset(" ".join(t.text for t in tokens(n)) for n in public_names)
        self.common = frozenset(w.lower() for w in common_words) | _NOT_SURNAMES

    def find(self, text: str, allowed: Iterable[str] = ()) -> list[Match]:
        """Person names in ``text`` that are neither public nor in ``allowed``."""
        allow = [" ".join(t.text for t in tokens(a)) for a in allowed]
        out: list[Match] = []
        for m in _FIRST_LAST.finditer(text):
            first, last = m.group(1), m.group(2)
            if first.lower() in self.given and last.lower() not in self.common and last.lower() not in self.given:
                out.append(Match("person_name", m.start(), m.end(), m.group(), "given name and surname"))
        for m in _HONORIFIC.finditer(text):
            end = m.end(2) if m.group(2) and m.group(2).lower() not in self.common else m.end(1)
            if m.group(1).lower() not in self.common:
                out.append(Match("person_name", m.start(), end, text[m.start() : end], "name after a title"))
        for rx, what in (
            (_NAME_CUE, "name after a contact cue"),
            (_ROLE_NAME, "name after a role"),
            (_NAME_BEFORE_VERB, "name before a personal verb"),
        ):
            for m in rx.finditer(text):
                words = re.findall(r"[A-Za-z'’-]+", m.group(1))
                if not any(w.lower() in self.common for w in words):
                    out.append(Match("person_name", m.start(1), m.end(1), m.group(1), what))
        kept = []
        for found in _dedupe(out):
            words = [t.text for t in tokens(found.text)]
            normed = " ".join(words)
            if self._public(words) or any(_contains(a, normed) for a in allow):
                continue
            kept.append(found)
        return kept

    def _public(self, words: list[str]) -> bool:
        """True when the name, or a two-plus-word start of it, or the name plus a word, is a public name."""
        if any(" ".join(words[:k]) in self.public for k in range(2, len(words) + 1)):
            return True
        return any(p.startswith(" ".join(words) + " ") for p in self.public) if len(words) >= 2 else False


def _contains(haystack: str, needle: str) -> bool:
    return f" {needle} " in f" {haystack} "


# ---- the user store ---------------------------------------------------------------------------
class PrivateIndex:
    """Users' names and private texts, indexed for lookups from generated text."""

    def __init__(self, store: PrivateStore, public_texts: Iterable[str], shingle_size: int, max_user_df: int) -> None:
        self.names: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)  # first token -> (tokens, user)
        for user, names in store.names.items():
            for name in names:
                toks = tuple(t.text for t in tokens(name))
                if len(toks) >= 2:  # a lone first name identifies nobody
                    self.names[toks[0]].append((toks, str(user)))
        self.texts = ShingleIndex(shingle_size)
        for user, texts in store.texts.items():
            for text in texts:
                self.texts.add(str(user), text)
        self.texts.drop_common(max_user_df)
        public = {s.key for text in public_texts for s in shingles(text, shingle_size)}
        self.texts.drop(public & set(self.texts.postings))

    def find_names(self, text: str) -> list[tuple[str, int, int]]:
        """(user id, start, end) of every stored multi-word name in ``text``."""
        toks = tokens(text)
        words = [re.sub(r"['’]s$", "", t.text) for t in toks]  # "Baumgartl's cat" names Baumgartl
        out = []
        for i, tok in enumerate(toks):
            for name, user in self.names.get(tok.text, ()):
                if tuple(words[i : i + len(name)]) == name:
                    out.append((user, tok.start, toks[i + len(name) - 1].end))
        return out


def _public_names(ctx: CheckContext, finder_words: set[str]) -> tuple[set[str], set[str]]:
    """Names the catalog makes public (brands, names in 2+ items) and frequent catalog words."""
    records = ctx.catalog_records()
    brands = {clean(r.get("brand")) for r in records.values()}
    per_name: Counter[str] = Counter()
    word_df: Counter[str] = Counter()
    for r in records.values():
        text = record_text(r)
        seen = set()
        for m in _FIRST_LAST.finditer(text):
            seen.add(" ".join(t.text for t in tokens(m.group())))
        for m in _HONORIFIC.finditer(text):
            seen.add(" ".join(t.text for t in tokens(m.group())))
        per_name.update(seen)
        word_df.update({t.text for t in tokens(text)})
    public = {b for b in brands if b} | {n for n, c in per_name.items() if c >= 2}
    common = {w for w, c in word_df.items() if c >= 20 and w not in finder_words}
    return public, common


class PrivacyCheck(Check):
    """Flags personal data, and other users' names and private texts, in a generated item."""

    name = "privacy"
    settings: PrivacySettings

    def validate(self) -> None:
        """Read the extra given-name lists."""
        for source in self.settings.name_lists:
            _rules.read_list(source)

    def _finder(self, ctx: CheckContext) -> NameFinder:
        def build() -> NameFinder:
            given: list[str] = []
            for source in _rules.sources(["given_names.txt"], self.settings.name_lists):
                given += _rules.read_list(source)
            public, common = _public_names(ctx, {g.lower() for g in given})
            return NameFinder(given, public, common)

        return ctx.cached(f"privacy.names.{tuple(self.settings.name_lists)}", build)

    def _index(self, ctx: CheckContext) -> PrivateIndex:
        s = self.settings

        def build() -> PrivateIndex:
            nz = normalizer(ctx)
            public = (nz.normalize(record_text(r)).text for r in ctx.catalog_records().values())
            private = PrivateStore(
                {u: [nz.normalize(x).text for x in names] for u, names in ctx.private.names.items()},
                {u: [nz.normalize(x).text for x in texts] for u, texts in ctx.private.texts.items()},
            )
            return PrivateIndex(private, public, s.shingle_size, s.max_user_df)

        return ctx.cached(f"privacy.index.{s.shingle_size}.{s.max_user_df}", build)

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Personal data, stored users' names and texts found in the item's title and description."""
        s = self.settings
        requester = ctx.requester(item)
        index = self._index(ctx)
        source = (
            ctx.catalog_records().get(str(item.provenance.source_item_id)) if item.provenance.source_item_id else None
        )
        allowed = [f"{record_text(source)} {clean(source.get('brand'))}"] if source else []
        findings: list[Finding] = []
        leaked_users: set[str] = set()
        for fld, n in normalized_fields(item, ctx).items():
            text = n.text
            if not text:
                continue
            for m in find_structured(text):
                findings.append(finding(m.code, m.message, fld, n, m.start, m.end))
            user_spans = []
            for user, start, end in index.find_names(text):
                own = user == requester
                code = "own_name" if own else "other_user_name"
                msg = "the requesting user's name" if own else "the name of another user in the store"
                findings.append(finding(code, msg, fld, n, start, end))
                user_spans.append((start, end))
                if not own:
                    leaked_users.add(user)
            if s.person_names:
                for m in self._finder(ctx).find(text, allowed):
                    if not _overlaps(m.start, m.end, user_spans):
                        findings.append(finding(m.code, m.message, fld, n, m.start, m.end, 0.8))
            for ov in index.texts.query(text, min_shared=s.min_shared_shingles):
                own = ov.key == requester
                code = "own_text" if own else "other_user_text"
                share = ov.query_containment
                for start, end in ov.spans:
                    msg = (
                        f"{'the requesting user' if own else 'another user'}'s private text "
                        f"({ov.shared} shared {s.shingle_size}-word shingles)"
                    )
                    findings.append(finding(code, msg, fld, n, start, end, min(1.0, 0.5 + share)))
                if not own:
                    leaked_users.add(ov.key)
        return findings, {"users_leaked": sorted(leaked_users)}
