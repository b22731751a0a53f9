"""Property-based fuzzing of every loader: random malformed files load cleanly or fail with one clear line.

For each loader, hypothesis mutates one file of a valid sample (controls, BOMs, bad UTF-8, huge
numbers, brackets, truncation, swapped and duplicated lines, ...) and asserts, through the API
and through ``genrec data convert``: a successful load of clean data, or a ``DataFormatError`` /
exit 2 whose one line names the file; never a traceback; the store unchanged on failure.
The profile is fixed (derandomized, no example database) so CI runs the same inputs every time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from benchmarks.fuzz_inputs import NASTY, OPS, SAMPLES, Mutation, check_case, seed_store, write_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

payloads = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.binary(max_size=12),
)
mutations = st.lists(
    st.builds(Mutation, st.sampled_from(OPS), st.floats(0, 1), payloads, st.integers(1, 40)), min_size=1, max_size=4
)


@pytest.fixture(scope="module")
def store_path():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.duckdb"
        seed_store(path)
        yield path


def fuzz(kind: str, store_path: Path, variant: str, target: int, edits: list[Mutation]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, options, victim = write_case(Path(tmp), kind, variant, target, edits)
        outcome = check_case(kind, source, options, victim, store_path)
    assert outcome.ok, (outcome, edits)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_loader_fuzz(kind, store_path):
    @FUZZ
    @given(variant=st.sampled_from(sorted(SAMPLES[kind])), target=st.integers(0, 2), edits=mutations)
    def run(variant: str, target: int, edits: list[Mutation]) -> None:
        fuzz(kind, store_path, variant, target, edits)

    run()


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_unmutated_samples_load(kind, store_path):
    for variant in SAMPLES[kind]:
        with tempfile.TemporaryDirectory() as tmp:
            source, options, victim = write_case(Path(tmp), kind, variant, 0, [])
            outcome = check_case(kind, source, options, victim, store_path)
        assert outcome.api == "loaded" and outcome.cli == "stored" and outcome.ok, (variant, outcome)
