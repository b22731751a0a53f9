"""The fidelity policy file: defaults, its effect on the checker's verdicts, and clear errors for bad files."""

import json
from pathlib import Path

import pandas as pd
import pytest

from genrec.data.generated import GeneratedItem, Provenance
from genrec.fidelity._rules import RulesError
from genrec.fidelity.base import CheckContext, PrivateStore
from genrec.fidelity.checker import CHECKS, FidelityChecker
from genrec.fidelity.policy import Policy, PolicyError, load_policy

CATALOG = pd.DataFrame(
    [
        {
            "item_id": "h1",
            "brand": "Lumen",
            "price": 24.0,
            "title": "Lumen Hydrating Serum, 30 ml",
            "description": "A lightweight serum with vitamin E for dry skin.",
        }
    ]
)
CTX = CheckContext(
    catalog=CATALOG, private=PrivateStore(texts={"u1": ["my grandmother's wobbly velvet hammock in Tartu"]})
)


def item(description: str = "A lightweight serum with vitamin E for dry skin.", **prov: object) -> GeneratedItem:
    p = {
        "kind": "edit",
        "generator": "textgen",
        "generator_version": "1",
        "user_id": "u1",
        "source_item_id": "h1",
        **prov,
    }
    return GeneratedItem(
        "Lumen Hydrating Serum, 30 ml", description, brand="Lumen", price=24.0, provenance=Provenance(**p)
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_the_packaged_default_equals_the_model_defaults_and_enables_every_check() -> None:
    policy = load_policy()
    assert policy == Policy()
    assert policy.enabled() == list(CHECKS)


def test_report_is_plain_json_and_stored_on_the_item() -> None:
    clean = item()
    report = FidelityChecker().check(clean, CTX)
    assert report.verdict == "pass" and clean.fidelity is not None
    stored = json.loads(json.dumps(clean.fidelity))
    assert stored["verdict"] == "pass" and set(stored["checks"]) == set(CHECKS)
    assert not clean.blocked


def test_verdict_is_the_worst_check_and_blocking_checks_are_named() -> None:
    bad = item("Email me at jo@example.com. So simple even your grandma can use it. Cures eczema.")
    report = FidelityChecker().check(bad, CTX)
    assert report.verdict == "block" and bad.blocked
    assert set(report.blocked_by) == {"privacy", "bias", "legal"}
    assert any("jo@example.com" in line for line in report.reasons)


def test_disabling_a_check(tmp_path: Path) -> None:
    bad = item("Email me at jo@example.com.")
    assert FidelityChecker().check(bad, CTX).verdict == "block"
    policy = write(tmp_path, "[checks.privacy]\nenabled = false\n")
    report = FidelityChecker(policy).check(bad, CTX)
    assert report.verdict == "pass" and "privacy" not in report.checks


def test_changing_a_threshold(tmp_path: Path) -> None:
    pricier = GeneratedItem(
        "Lumen Hydrating Serum, 30 ml",
        "A lightweight serum.",
        brand="Lumen",
        price=25.0,
        provenance=Provenance("edit", "textgen", "1", user_id="u1", source_item_id="h1"),
    )
    assert FidelityChecker().check(pricier, CTX).blocked_by == ["authenticity"]
    loose = FidelityChecker(write(tmp_path, "[checks.authenticity]\nprice_tolerance = 0.1\n"))
    assert loose.check(pricier, CTX).verdict == "pass"


def test_turning_a_warning_into_a_block_and_a_block_into_a_warning(tmp_path: Path) -> None:
    own = item("Perfect next to my grandmother's wobbly velvet hammock in Tartu.")
    assert FidelityChecker().check(own, CTX).verdict == "warn"  # the requester's own text warns by default
    strict = write(tmp_path, '[checks.privacy]\nblock = ["own_text", "email"]\n')
    assert FidelityChecker(strict).check(own, CTX).verdict == "block"
    mail = item("Email me at jo@example.com.")
    lenient = write(tmp_path, "[checks.privacy]\nblocking = false\n")
    assert FidelityChecker(lenient).check(mail, CTX).verdict == "warn"
    ignored = write(tmp_path, '[checks.privacy]\nignore = ["email"]\n')
    assert FidelityChecker(ignored).check(mail, CTX).verdict == "pass"


def test_policy_replace_validates() -> None:
    assert Policy().replace("legal", near_duplicate_threshold=0.9).checks.legal.near_duplicate_threshold == 0.9
    with pytest.raises(Exception):
        Policy().replace("legal", near_duplicate_threshold=3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[checks.privacy]\nshingle_sise = 4\n", r"checks\.privacy\.shingle_sise: unknown key"),
        ('[checks.privacy]\nblock = ["emial"]\n', r"checks\.privacy\.block: .*unknown finding code\(s\) \['emial'\]"),
        (
            "[checks.safety]\nprofanity_threshold = 1.5\n",
            r"checks\.safety\.profanity_threshold: .*less than or equal to 1",
        ),
        ('[checks.legal]\nprotected_brands = "all"\n', r"checks\.legal\.protected_brands: Input should be"),
        ("[checks.legal]\nsimilar_threshold = 0.9\n", r"checks\.legal: .*similar_threshold must be below"),
        ("[checks.biass]\nenabled = false\n", r"checks\.biass: unknown key"),
        ('on_error = "ignore"\n', r"on_error: Input should be 'warn' or 'block'"),
        ('[checks.bias]\nenabled = "yes please"\n', r"checks\.bias\.enabled: Input should be a valid boolean"),
        ('[checks.bias]\nlexicons = ["missing.toml"]\n', r"checks\.bias\.lexicons: no such file .*missing\.toml"),
        ("[checks.privacy\nenabled = false\n", r"is not valid TOML"),
    ],
)
def test_malformed_policy_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError, match=message) as err:
        load_policy(path)
    assert str(path) in str(err.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "nope.toml")


def test_relative_rule_paths_resolve_next_to_the_policy_and_broken_rules_fail_at_start(tmp_path: Path) -> None:
    (tmp_path / "claims.toml").write_text(
        '[[rules]]\ncode = "regulated_health"\npatterns = ["\\\\bglows forever\\\\b"]\n'
    )
    checker = FidelityChecker(write(tmp_path, '[checks.legal]\nrules = ["claims.toml"]\n'))
    assert checker.check(item("It glows forever."), CTX).blocked_by == ["legal"]
    (tmp_path / "claims.toml").write_text('[[rules]]\ncode = "regulated_crypto"\npatterns = ["x"]\n')
    with pytest.raises(RulesError, match=r"claims\.toml: rules\[0\]\.code"):
        FidelityChecker(tmp_path / "policy.toml")


def test_a_crashing_check_fails_closed() -> None:
    broken = CheckContext(catalog=pd.DataFrame([{"name": "no item_id column"}]))
    report = FidelityChecker().check(item(), broken)
    assert report.verdict == "block"
    assert any(f.code == "error" and "item_id" in f.message for r in report.checks.values() for f in r.findings)
    warn_only = FidelityChecker(Policy(on_error="warn")).check(item(), broken)
    assert warn_only.verdict == "warn"
