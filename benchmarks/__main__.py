"""``python -m benchmarks <suite> [options]``: one entry point for every benchmark suite."""

from __future__ import annotations

import importlib
import sys

# suite name -> module of this package whose main() runs it
SUITES: dict[str, str] = {
    "baselines": "run_baselines",
    "tiger": "run_tiger",
    "generation": "run_generation",
    "fidelity": "run_fidelity",
    "fidelity-speed": "fidelity_speed",
    "fidelity-report": "fidelity_report",
    "decode": "decode_throughput",
    "transition": "run_transition",
    "fusion-components": "fusion_components",
    "fusion": "run_fusion",
    "perf-tables": "perf_tables",
    "instructions": "instruction_set",
    "select-rewrite": "select_rewrite",
    "select-selection": "select_selection",
    "tune-learned": "tune_learned",
    "watermark": "fidelity_watermark",
    "watermark-fluency": "watermark_fluency",
    "audit-examples": "audit_example_bank",
    "reliability": "reliability",
    "loader-limits": "loader_limits",
    "serve-load": "serve_load",
    "serve-kill9": "serve_kill9",
    "tables": "make_tables",
}


def main(argv: list[str] | None = None) -> None:
    """Dispatch to the named suite's ``main`` with the remaining arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in SUITES:
        width = max(len(s) for s in SUITES)
        lines = [f"  {name:<{width}}  benchmarks/{module}.py" for name, module in SUITES.items()]
        print("usage: python -m benchmarks <suite> [options]\n\nsuites:\n" + "\n".join(lines))
        if args and args[0] not in ("-h", "--help"):
            print(f"\nerror: unknown suite {args[0]!r}", file=sys.stderr)
            raise SystemExit(2)
        return
    module = importlib.import_module(f"benchmarks.{SUITES[args[0]]}")
    sys.argv = [f"python -m benchmarks {args[0]}", *args[1:]]
    module.main()


if __name__ == "__main__":
    main()
