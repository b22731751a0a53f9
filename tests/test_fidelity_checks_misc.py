"""Identifiability, shilling detection, list-level exposure fairness and the red-team builder."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from benchmarks.redteam import FAULTS, RedTeamConfig, build_redteam

from genrec.config import SyntheticConfig
from genrec.data.dataset import Dataset
from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.synthetic import generate
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.fairness import exposure_report, gini, provider_map
from genrec.fidelity.identifiability import IdentifiabilityCheck
from genrec.fidelity.policy import IdentifiabilitySettings, ShillingSettings
from genrec.fidelity.shilling import ShillingCheck, detect_shilling, detect_shilling_in


# ---- identifiability ----------------------------------------------------------------------------
@dataclass
class Score:
    z: float


def made(watermark: dict | None = None, generator: str = "llm:tiny", version: str = "1") -> GeneratedItem:
    prov = Provenance("create", generator, version, user_id="u1", watermark=watermark)
    return GeneratedItem("Calm lotion concept", "WATERMARKED description", provenance=prov)


def codes(item: GeneratedItem, ctx: CheckContext) -> list[str]:
    return [f.code for f in IdentifiabilityCheck(IdentifiabilitySettings()).run(item, ctx).findings]


def test_ai_flag_and_provenance_are_required() -> None:
    ctx = CheckContext()
    assert codes(made(), ctx) == []
    unflagged = made()
    unflagged.ai_generated = False
    assert codes(unflagged, ctx) == ["not_flagged"]
    assert codes(made(generator="unknown", version=""), ctx) == ["missing_provenance"]
    result = IdentifiabilityCheck(IdentifiabilitySettings()).run(unflagged, ctx)
    assert result.verdict == "block"


def test_watermark_detector_runs_on_the_marked_field_and_warns_when_weak() -> None:
    seen: list[str] = []

    def detector(text: str) -> Score:
        seen.append(text)
        return Score(6.0 if "WATERMARKED" in text else 0.3)

    ctx = CheckContext(detectors={"llm:tiny": detector})
    strong = IdentifiabilityCheck(IdentifiabilitySettings()).run(made({"key": "k1", "field": "description"}), ctx)
    assert strong.verdict == "pass" and strong.details["watermark_z"] == 6.0 and seen == ["WATERMARKED description"]
    stripped = made({"key": "k1"})
    stripped.description = "plain description"
    weak = IdentifiabilityCheck(IdentifiabilitySettings()).run(stripped, ctx)
    assert [f.code for f in weak.findings] == ["watermark_weak"] and weak.verdict == "warn"
    lower = IdentifiabilityCheck(IdentifiabilitySettings(watermark_z_threshold=0.1)).run(stripped, ctx)
    assert lower.verdict == "pass"
    assert codes(made({"key": "k1"}, generator="llm:other"), ctx) == ["no_detector"]


# ---- shilling -----------------------------------------------------------------------------------
def organic_log(
    rng: np.random.Generator, users: int = 300, items: int = 200, days: int = 120
) -> tuple[list, list, list]:
    u, i, t = [], [], []
    for k in range(users):
        start = int(rng.integers(0, days * 86400))
        for step in range(int(rng.integers(3, 15))):
            u.append(f"u{k}")
            i.append(f"i{int(rng.zipf(1.3)) % items}")
            t.append(start + step * int(rng.integers(3600, 5 * 86400)))
    return u, i, t


def test_a_burst_of_new_accounts_pushing_one_item_is_found() -> None:
    rng = np.random.default_rng(0)
    u, i, t = organic_log(rng)
    assert detect_shilling(u, i, t).users == frozenset()
    for k in range(12):  # twelve fresh accounts within two hours, each touching i150 and one other item
        for j, item in enumerate(["i150", f"i{int(rng.integers(200))}"]):
            u.append(f"fake{k}")
            i.append(item)
            t.append(50 * 86400 + k * 600 + j * 60)
    report = detect_shilling(u, i, t)
    assert report.items == frozenset({"i150"})
    assert report.users == frozenset(f"fake{k}" for k in range(12))
    assert report.groups[0].p_value < 1e-6 and report.groups[0].expected < 1
    assert detect_shilling(u, i, t, ShillingSettings(min_accounts=13)).users == frozenset()


def test_shilling_needs_real_timestamps_and_equal_columns() -> None:
    ds = Dataset.from_sequences("seq", {"a": ["x", "y"], "b": ["y", "z"]})
    with pytest.raises(ValueError, match="no timestamps"):
        detect_shilling_in(ds)
    with pytest.raises(ValueError, match="differ in length"):
        detect_shilling(["a"], ["x", "y"], [1])


def test_shilling_check_warns_on_items_for_or_from_suspicious_accounts() -> None:
    ctx = CheckContext(suspicious_users=frozenset({"fake1"}), suspicious_items=frozenset({"i150"}))
    prov = Provenance("edit", "textgen", "1", user_id="fake1", source_item_id="i150")
    result = ShillingCheck(ShillingSettings()).run(GeneratedItem("x", provenance=prov), ctx)
    assert [f.code for f in result.findings] == ["suspicious_user", "pushed_item"] and result.verdict == "warn"
    clean = Provenance("edit", "textgen", "1", user_id="u2", source_item_id="i3")
    assert ShillingCheck(ShillingSettings()).run(GeneratedItem("x", provenance=clean), ctx).verdict == "pass"


# ---- fairness -----------------------------------------------------------------------------------
def test_exposure_report_splits_generated_and_human_exposure() -> None:
    catalog = pd.DataFrame({"item_id": ["a", "b", "c"], "brand": ["Acme", "Bolt", None]})
    gen_edit = GeneratedItem("e", provenance=Provenance("edit", "textgen", "1", source_item_id="a"))
    gen_new = GeneratedItem("n", provenance=Provenance("create", "textgen", "1"))
    providers = provider_map(catalog, [gen_edit, gen_new])
    assert providers[gen_edit.item_id] == "Acme" and providers[gen_new.item_id] == "generated:textgen"
    assert providers["c"] == "(unknown)"
    lists = [[gen_edit.item_id, "b"], [gen_edit.item_id, "a"]]
    rep = exposure_report(lists, providers)
    assert rep["slots"] == 4 and rep["generated_slot_share"] == 0.5
    assert rep["generated_exposure_share"] == pytest.approx(2 / (2 + 2 / np.log2(3)))
    assert rep["providers"]["Acme"]["generated_share"] == 1.0
    assert rep["largest_gain"]["provider"] == "Acme" and rep["generated_vs_human_js"] > 0
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0) and gini([0, 0, 0, 10]) == pytest.approx(0.75)


# ---- red team -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> Dataset:
    return generate(SyntheticConfig(n_users=120, n_items=150, n_brands=12, seed=3))


def test_redteam_is_seeded_labelled_and_covers_every_fault(small: Dataset) -> None:
    cfg = RedTeamConfig(seed=5, clean_edits=20, clean_creates=10, per_fault=6, store_users=40)
    users = small.users["user_id"].tolist()
    a, b = build_redteam(small.items, users, cfg), build_redteam(small.items, users, cfg)
    assert [c.item.to_dict() | {"provenance": None} for c in a.cases] == [
        c.item.to_dict() | {"provenance": None} for c in b.cases
    ]
    counts = a.counts()
    assert counts["clean"] == 30 and all(counts[f] == 6 for f in FAULTS)
    assert all(c.check in c.accept for c in a.cases if c.fault != "clean")
    assert {"dev", "heldout"} <= {c.split for c in a.cases} <= {"dev", "heldout", "heldout2", "heldout3"}
    assert len(a.store.users()) == 40 and all(len(n[0].split()) == 2 for n in a.store.names.values())


def test_redteam_fresh_heldout_templates_expand_every_slot(small: Dataset) -> None:
    fresh = {"unsafe", "stereotype", "regulated_medical", "regulated_health", "regulated_financial"}
    assert {f for f, fault in FAULTS.items() if any(t[1] == "heldout2" for t in fault.templates)} == fresh
    cfg = RedTeamConfig(seed=2, clean_edits=5, clean_creates=5, per_fault=40, store_users=40)
    rt = build_redteam(small.items, small.users["user_id"].tolist(), cfg)
    cases = [c for c in rt.cases if c.split == "heldout2"]
    assert {c.fault for c in cases} == fresh
    assert not any(ch in f"{c.item.title} {c.item.description}" for c in cases for ch in "{}|")
    third = [c for c in rt.cases if c.split == "heldout3"]
    assert {c.fault for c in third} == {"unsafe"}
    assert not any(ch in c.item.description for c in third for ch in "{}|")


def test_redteam_clean_cases_pass_and_faults_are_caught(small: Dataset) -> None:
    cfg = RedTeamConfig(seed=1, clean_edits=30, clean_creates=10, per_fault=4, store_users=40)
    rt = build_redteam(small.items, small.users["user_id"].tolist(), cfg)
    reports = FidelityChecker().check_many([c.item for c in rt.cases], rt.context(small.items))
    clean = [r for c, r in zip(rt.cases, reports) if c.fault == "clean"]
    assert sum(r.verdict != "pass" for r in clean) <= 1
    faulty = [(c, r) for c, r in zip(rt.cases, reports) if c.fault != "clean"]
    caught = sum(r.checks[c.check].verdict != "pass" for c, r in faulty)
    assert caught / len(faulty) >= 0.8
