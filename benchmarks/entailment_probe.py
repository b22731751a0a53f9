"""Can the offline LLM (SmolLM2-135M-Instruct) judge whether a source supports a stated fact? A feasibility probe.

For every authenticity finding on a hand-written *edit* of the burned clean sets (the fact is
supported: a false positive) or of an authenticity fault (the fact is not supported), the model
reads the source listing and the sentence holding the finding and is asked whether the listing
supports every fact in it; the score is log P(yes) - log P(no) of its next token. Reported: the
AUC, and at each threshold that passes a share of the supported facts, the share of faults that
would pass too (what a veto of authenticity findings by the model would cost). Burned sets only,
so this is a development measurement, not a held-out one.

    OMP_NUM_THREADS=2 python -m benchmarks.entailment_probe
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from sklearn.metrics import roc_auc_score

from benchmarks.common import Timer, command_line, commit, machine, peak_rss_mb, write_result
from benchmarks.fidelity_cases import handwritten_context, load_cases
from benchmarks.fidelity_report import BURNED_SETS
from benchmarks.run_fidelity import load
from genrec.fidelity._text import clean
from genrec.fidelity.checker import FidelityChecker
from genrec.llm.local import TransformersBackend

PROMPT = "Product listing: {source}\n\nNew text: {claim}\n\nDoes the product listing support every fact in the new text? Answer Yes or No."


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` around a span."""
    a = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    ends = [i for i in (text.find(c, end) for c in ".!?\n") if i >= 0]
    return text[a : min(ends, default=len(text))].strip()


def finding_pairs() -> list[tuple[str, str, int, str]]:
    """(source listing, sentence with the finding, 1 if the fact is supported, finding code) for both catalogs."""
    checker = FidelityChecker()
    out = []
    for dataset in ("synthetic", "amazon-beauty"):
        ds = load(dataset)
        cases = [c for c in load_cases(dataset, ds.items) if c.item.provenance.kind == "edit"]
        ctx = handwritten_context(ds.items)
        records = ctx.catalog_records()
        for case, report in zip(cases, checker.check_many([c.item for c in cases], ctx)):
            supported = not case.expect and case.file.removesuffix(".jsonl") in BURNED_SETS
            if not (supported or tuple(case.expect) == ("authenticity",)):
                continue
            src = records.get(str(case.item.provenance.source_item_id)) or {}
            source = f"{clean(src.get('title'))}. {clean(src.get('description'))} Price: ${src.get('price')}"
            for f in report.checks["authenticity"].findings:
                if f.start is None or f.end is None:
                    continue
                text = case.item.title if f.field == "title" else case.item.description
                out.append((source, _sentence(text, f.start, f.end), int(supported), f.code))
    return out


def judge(pairs: list[tuple[str, str, int, str]]) -> list[float]:
    """log P(yes) - log P(no) of SmolLM2's answer for each pair."""
    llm = TransformersBackend()
    tok, model = llm.tokenizer, llm.model
    yes = [tok.encode(w)[-1] for w in (" yes", "Yes")]
    no = [tok.encode(w)[-1] for w in (" no", "No")]
    scores = []
    for source, claim, _, _ in pairs:
        messages = [{"role": "user", "content": PROMPT.format(source=source, claim=claim)}]
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0, -1], -1)
        scores.append(float(torch.logsumexp(logp[yes], 0) - torch.logsumexp(logp[no], 0)))
    return scores


def main() -> None:
    """Run the probe and write benchmarks/results/handwritten/entailment_probe.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with Timer() as t:
        pairs = finding_pairs()
        scores = judge(pairs)
    labels = [p[2] for p in pairs]
    supported = sorted((s for s, y in zip(scores, labels) if y), reverse=True)
    faults = [s for s, y in zip(scores, labels) if not y]
    veto: list[dict[str, Any]] = [
        {
            "threshold": round(th, 4),
            "supported_passed": sum(s >= th for s in supported),
            "faults_passed": sum(s >= th for s in faults),
        }
        for th in supported
    ]
    payload = {
        "what": "SmolLM2-135M-Instruct as a judge of authenticity findings (burned hand-written edits, both catalogs)",
        "dataset": "synthetic + amazon-beauty (hand-written edits of benchmarks/data/fidelity)",
        "split": f"burned sets only (development): {', '.join(BURNED_SETS)} and the authenticity faults",
        "prompt": PROMPT,
        "findings": len(pairs),
        "supported": len(supported),
        "faults": len(faults),
        "auc": round(roc_auc_score(labels, scores), 4) if 0 < len(supported) < len(pairs) else None,
        "veto": veto,
        "pairs": [
            {"claim": c, "supported": y, "code": code, "score": round(s, 4)}
            for (_, c, y, code), s in zip(pairs, scores)
        ],
        "wall_seconds": round(t.seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "commit": commit(),
        "machine": machine(),
        "command": command_line(),
    }
    print(f"AUC {payload['auc']}; findings {len(pairs)} ({len(supported)} supported)")
    for row in veto:
        print(
            f"  veto at {row['threshold']:+.2f}: supported passed {row['supported_passed']}/{len(supported)}, "
            f"faults passed {row['faults_passed']}/{len(faults)}"
        )
    print(f"wrote {write_result('handwritten', 'entailment_probe', payload)}")


if __name__ == "__main__":
    main()
