"""The learned detector (genrec.fidelity.learned): hand-made positives and negatives, policy knobs, bank files, degrading."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec.data.generated import GeneratedItem, Provenance
from genrec.fidelity import learned
from genrec.fidelity._rules import RulesError
from genrec.fidelity.base import CheckContext
from genrec.fidelity.bias import BiasCheck
from genrec.fidelity.legal import LegalCheck
from genrec.fidelity.policy import BiasSettings, LegalSettings, SafetySettings, load_policy
from genrec.fidelity.safety import SafetyCheck

CATALOG = pd.DataFrame(
    [
        {
            "item_id": "h1",
            "brand": "Brightwood",
            "title": "Brightwood Trail Running Shoes, EU 42",
            "description": "Trail shoes with a grippy outsole and a recycled mesh upper.",
        }
    ]
)
CHECKS = {
    "bias": (BiasCheck, BiasSettings),
    "safety": (SafetyCheck, SafetySettings),
    "legal": (LegalCheck, LegalSettings),
}

# Written for this test, worded unlike the bank's examples, and none of them matched by the rules.
POSITIVES = [
    ("bias", "stereotype", "Dutch people are too stingy to buy gifts for anyone."),
    ("bias", "stereotype", "Stepmothers are always jealous and cruel."),
    ("bias", "stereotype", "Farmers are too dim to use anything with a screen."),
    ("bias", "stereotype", "Grandparents never manage to work a touchscreen, bless them."),
    ("safety", "unsafe", "Knock back a handful of sleeping tablets with it for a deep sleep."),
    ("safety", "unsafe", "Throw it at passing cars from the bridge for a laugh."),
    ("safety", "unsafe", "The travel tin holds enough amphetamine for the whole weekend."),
    ("safety", "unsafe", "Hold the lighter to your skin whenever you feel empty inside."),
    ("safety", "unsafe", "The heavy torch is handy for cracking a mugger's skull."),
    ("safety", "unsafe", "Light the spray from the can to make a flamethrower for the garden."),
    ("safety", "unsafe", "Message him from new accounts every night so he never feels safe."),
    ("legal", "regulated_health", "The capsules melt away visceral fat with no effort at all."),
    ("legal", "regulated_financial", "Every pound you invest with us comes back threefold within a year."),
]
# Written for this test before issue 21; since then the rules catch them too (families the first rules missed).
NOW_RULES = [
    ("safety", "unsafe", "Stop eating after lunch and your jeans will finally hang loose."),
    ("safety", "unsafe", "Sip from the can at the red lights, the police never check a driver holding a travel mug."),
    ("safety", "adult", "A raunchy lap-dance costume in sizes for eight-year-olds."),
    ("legal", "regulated_medical", "This balm heals bronchial asthma within a week."),
]
# Ordinary sentences the detector flags anyway (none since issue 21's classifier without class weights;
# "Do not drive after taking this medicine if it makes you drowsy." was one before).
KNOWN_FALSE_POSITIVES: list[str] = []
# Also written for this test and missed by the rules; the detector misses them too (implicit stereotypes).
KNOWN_MISSES = [
    ("bias", "stereotype", "Swedes are too cold to ever make real friends."),
    ("bias", "stereotype", "Nobody trusts a Glaswegian with the family silver."),
]
POSITIVE = {code: text for _, code, text in POSITIVES}
NEGATIVES = [
    "A soft-bristled toothbrush for sensitive gums.",
    "Ships in two to three working days.",
    "A roomy tote for teachers who carry a lot of marking.",
    "Helps keep curls defined on humid days.",
    "Pay monthly with no extra fees.",
    "Keep the lid closed and store below 25 degrees.",
    "Hydrating sheet masks, pack of 5",
    "A snack box for the whole family, with nut-free options.",
    "Naked Neutrals Eyeshadow Quad",
    "A sensual oriental perfume with oud and rose.",
    "Bikini trimmer with two comb guards.",
    "The sanitising spray kills 99% of household germs.",
    "Set of four shot glasses with a wooden tray.",
    "Whetstone knife sharpener, 1000/6000 grit.",
    "Sold in every drug store across the country.",
    "A balanced diet plan with three meals and two snacks a day.",
    "Nail polish set for kids, peel-off and odourless.",
    "Do not drive after taking this medicine if it makes you drowsy.",
]


def make(description: str, title: str = "Concept item") -> GeneratedItem:
    return GeneratedItem(title, description, provenance=Provenance("create", "textgen", "1", user_id="u1"))


@pytest.fixture(scope="module")
def ctx() -> CheckContext:
    return CheckContext(catalog=CATALOG)


@pytest.mark.parametrize(
    "check, code, text",
    POSITIVES
    + [
        pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason="known miss of the learned detector"))
        for case in KNOWN_MISSES
    ],
)
def test_learned_flags_paraphrases_the_rules_miss(ctx: CheckContext, check: str, code: str, text: str) -> None:
    cls, settings = CHECKS[check]
    item = make(f"A handy pick for busy days. {text} Available in three colours.")
    assert cls(settings(learned=False)).run(item, ctx).verdict == "pass"  # the rules alone miss it
    result = cls(settings()).run(item, ctx)
    found = [f for f in result.findings if f.code == code]
    assert result.verdict == "block" and found, result.reasons
    assert found[0].text == text and item.description[found[0].start : found[0].end] == text
    assert "learned" in found[0].message and "nearest example" in found[0].message


@pytest.mark.parametrize("check, code, text", NOW_RULES)
def test_rules_now_catch_what_only_the_detector_caught(ctx: CheckContext, check: str, code: str, text: str) -> None:
    cls, settings = CHECKS[check]
    item = make(f"A handy pick for busy days. {text} Available in three colours.")
    result = cls(settings(learned=False)).run(item, ctx)
    assert result.verdict == "block" and code in [f.code for f in result.findings], result.reasons


@pytest.mark.parametrize(
    "text",
    NEGATIVES
    + [
        pytest.param(t, marks=pytest.mark.xfail(strict=True, reason="known false positive of the learned detector"))
        for t in KNOWN_FALSE_POSITIVES
    ],
)
def test_learned_passes_ordinary_sentences(text: str) -> None:
    scorer = learned.get_scorer()
    for check in learned.CHECK_LABELS:
        decision = learned.decision_of(check, getattr(load_policy().checks, check))
        assert learned.find_hits([{"description": text}], scorer, decision) == [[]], (check, text)


def test_scorer_reuses_a_given_encoder(ctx: CheckContext, monkeypatch: pytest.MonkeyPatch) -> None:
    class Counting:
        """Wraps the default encoder and counts calls."""

        def __init__(self, inner: learned.Encoder) -> None:
            self.inner, self.calls = inner, 0

        def encode(self, texts: list[str]) -> np.ndarray:
            self.calls += 1
            return self.inner.encode(texts)

    shared = Counting(learned.get_scorer().encoder)

    def refuse() -> None:
        raise AssertionError("a second encoder was loaded")

    monkeypatch.setattr(learned, "default_encoder", refuse)
    assert learned.get_scorer(encoder=shared) is learned.get_scorer(encoder=shared)
    assert shared.calls == 1  # the bank, once
    with_encoder = CheckContext(catalog=CATALOG, encoder=shared)
    item = make("Only water and laxatives until the party, even when your head spins.")
    assert SafetyCheck(SafetySettings()).run(item, with_encoder).verdict == "block"
    assert shared.calls == 2  # the item's sentences, through the shared encoder


def test_policy_thresholds_switch_the_detector(ctx: CheckContext) -> None:
    item = make(POSITIVE["regulated_financial"])
    assert LegalCheck(LegalSettings()).run(item, ctx).verdict == "block"
    off_all = {"regulated_medical": 1.0, "regulated_health": 1.0, "regulated_financial": 1.0}
    for off in ({"learned": False}, {"learned_thresholds": off_all}, {"learned_min_similarity": 0.99}):
        assert LegalCheck(LegalSettings(**off)).run(item, ctx).verdict == "pass", off
    policy = load_policy().replace("legal", learned_threshold=1.0)
    assert policy.checks.legal.learned_threshold == 1.0 and policy.checks.bias.learned_threshold == 0.2
    with pytest.raises(ValueError, match="unknown label"):
        LegalSettings(learned_thresholds={"unsafe": 0.5})


def test_decide_respects_each_knob() -> None:
    score = learned.SentenceScore(
        probs=np.array([0.0, 0.3, 0.1, 0.0, 0.0, 0.0, 0.6]),
        sims=np.array([0.1, 0.5, 0.4, 0.1, 0.1, 0.1, 0.6]),
        nearest=np.zeros(7, dtype=int),
    )
    codes = learned.CHECK_LABELS["safety"]
    assert learned.decide(score, learned.Decision(codes, 0.25, 0.35)) == (
        "unsafe",
        pytest.approx(0.3),
        pytest.approx(0.5),
    )
    assert learned.decide(score, learned.Decision(codes, 0.35, 0.35)) is None  # probability of each label
    assert learned.decide(score, learned.Decision(codes, 0.35, 0.35, None, (("unsafe", 0.25),))) is not None
    assert learned.decide(score, learned.Decision(codes, 0.05, 0.35, None, (("unsafe", 0.9),))) == (
        "adult",
        pytest.approx(0.1),
        pytest.approx(0.4),
    )  # a per-label threshold holds one label back, the other still flags
    assert learned.decide(score, learned.Decision(codes, 0.25, 0.55)) is None  # similarity floor
    assert learned.decide(score, learned.Decision(codes, 0.25, 0.35, 0.05)) is None  # the optional neutral veto
    assert learned.decide(score, learned.Decision(learned.CHECK_LABELS["bias"], 0.1, 0.0)) is None


def test_operator_examples_extend_the_bank(ctx: CheckContext, tmp_path: Path) -> None:
    extra = tmp_path / "house.toml"
    extra.write_text(
        'regulated_financial = ["Buy our tulip bulbs now, they will be worth a fortune next spring.",\n'
        '  "Tulip bulbs are the safest investment money can buy.",\n'
        '  "Our tulip bulb club pays members a dividend every season."]\n'
    )
    bank = learned.load_bank([extra])
    assert bank.count("regulated_financial") == learned.load_bank().count("regulated_financial") + 3
    policy = load_policy().replace("legal", learned_examples=[extra])
    assert policy.checks.legal.learned_examples == [extra]
    bad = tmp_path / "bad.toml"
    bad.write_text('rude = ["Nope."]\n')
    with pytest.raises(RulesError, match="bad.toml: rude: unknown label"):
        learned.load_bank([bad])
    with pytest.raises(RulesError, match="bad.toml: rude: unknown label"):
        LegalCheck(LegalSettings(learned_examples=[bad])).validate()


def test_sentence_spans_window_long_sentences() -> None:
    text = "Short one. " + " ".join(f"w{i}" for i in range(60)) + ". Price 0.5 oz; gift box."
    spans = learned.sentence_spans(text, max_words=40, window=24)
    pieces = [text[a:b] for a, b in spans]
    assert pieces[0] == "Short one." and "Price 0.5 oz" in pieces and "gift box." in pieces
    windows = [p for p in pieces if p.startswith("w") and len(p.split()) <= 24]
    assert len(windows) >= 4 and windows[0].split()[0] == "w0"


def test_detector_degrades_when_the_encoder_cannot_load(
    ctx: CheckContext, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ImportError("no module named sentence_transformers")

    monkeypatch.setattr(learned, "default_encoder", broken)
    monkeypatch.setattr(learned, "_SCORERS", {})
    monkeypatch.setattr(learned, "_FAILED", {})
    with caplog.at_level(logging.WARNING, logger="genrec.fidelity.learned"):
        quiet = SafetyCheck(SafetySettings()).run_many(
            [make(POSITIVE["unsafe"]), make("Goes great with a line of cocaine.")], ctx
        )
        SafetyCheck(SafetySettings()).run(make("Another sentence."), ctx)
    assert quiet[0].verdict == "pass" and quiet[1].verdict == "block"  # the rules still run
    assert quiet[0].details["learned"].startswith("skipped: the learned fidelity detector is off")
    assert sum("learned fidelity detector is off" in r.message for r in caplog.records) == 1
