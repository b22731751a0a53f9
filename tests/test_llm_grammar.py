"""Grammar-constrained JSON for the LLM instructor (issue 20, family 5), and the LLM / combined
instructors from the command line (family 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.generation.instructor_llm import IntentDraft, LLMInstructor
from genrec.generation.intent import ACTIONS, Feedback
from genrec.generation.vocabulary import CatalogVocabulary
from genrec.llm.grammar import schema_grammar

FORM = schema_grammar(IntentDraft, {"action": list(ACTIONS)}, optional=False)


def test_the_grammar_accepts_the_form_and_nothing_else():
    st = FORM.start()
    assert st.forced() == '{"action": '
    st.advance(st.forced())
    assert not st.accepts('"browse"') and not st.accepts("retrieve") and st.accepts('"ret')
    st.advance('"retrieve"')
    assert st.forced() == ', "categories": '
    good = json.dumps(
        IntentDraft(action="create", categories=["tea"], price_max=15.0).model_dump(), separators=(", ", ": ")
    )
    probe = FORM.start()
    assert probe.accepts(good)
    probe.advance(good)
    assert probe.done and IntentDraft.model_validate(json.loads(probe.output())).categories == ["tea"]
    assert not FORM.start().accepts('{"action": "retrieve", "brands": []}')  # keys keep the form's order


def test_compact_forms_may_skip_keys():
    compact = schema_grammar(IntentDraft, {"action": list(ACTIONS)})
    st = compact.start()
    text = '{"action": "retrieve", "not_brands": ["Suave"], "price_max": 10}'
    assert st.accepts(text)
    st.advance(text)
    assert st.done and json.loads(st.output())["not_brands"] == ["Suave"]
    assert not compact.start().accepts('{"action": "retrieve", "categories": [""]}')  # no empty strings


@pytest.fixture(scope="module")
def vocab():
    from genrec.config import SyntheticConfig
    from genrec.data.synthetic import generate

    return CatalogVocabulary.from_dataset(generate(SyntheticConfig(n_users=100, n_items=150, seed=4)))


def test_negated_values_stay_exclusions_whatever_the_model_says(vocab: CatalogVocabulary):
    from genrec.llm.local import TransformersBackend

    llm = LLMInstructor(vocab, TransformersBackend())  # the model is never loaded here
    brand, category = vocab.top("brand", 1)[0], vocab.top("category", 1)[0]
    wrong = IntentDraft(action="retrieve", brands=[brand], categories=[category])
    text = f"{category}, nothing by {brand}"
    c = llm.validate(wrong, text, llm_refs())
    assert c.exclude_brands == [brand] and not c.brands and c.categories == [category]
    flipped = IntentDraft(action="retrieve", not_categories=[category])
    assert llm.validate(flipped, f"show me {category}", llm_refs()).categories == [category]


def llm_refs():
    from genrec.generation.instructor import References

    return References()


@pytest.mark.slow
def test_smollm2_answers_valid_json_under_the_grammar(vocab: CatalogVocabulary):
    from genrec.config import LLMConfig
    from genrec.llm.registry import create_backend

    llm = LLMInstructor(vocab, create_backend(LLMConfig(threads=1)))
    brand, category = vocab.top("brand", 1)[0], vocab.top("category", 1)[0]
    requests = [
        "hmm",
        f"{category} under ten dollars",
        f"{category} but nothing by {brand}",
        f"design a new {category}",
    ]
    intents = [llm.understand(t, Feedback(clicks=[vocab.item_ids[0]])) for t in requests]
    assert llm.asked == len(requests) and llm.failures == 0  # every answer parsed and validated
    assert intents[1].constraints.price_max == 10.0
    assert brand not in intents[2].constraints.brands


@pytest.mark.slow
@pytest.mark.parametrize("method", ["llm", "combined"])
def test_llm_and_combined_instructors_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    script = tmp_path / "turns.txt"
    script.write_text("show me something\nhmm\n")
    data = ["--opt", "n_users=100", "--opt", "n_items=80", "--opt", "n_categories=3"]
    args = ["chat", "--json", "--store", str(tmp_path / "db.duckdb"), "--script", str(script), *data]
    args += [
        "--set",
        "pipeline.recommender=popularity",
        "--set",
        f"instructor.method={method}",
        "--set",
        "llm.threads=1",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    turns = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [t["action"] for t in turns] == ["retrieve", "clarify"] and turns[0]["entries"]
