"""BENCHMARKS.md's generated tables: row order and the two-protocol table, on hand-made result records."""

from benchmarks.make_tables import _ordered, protocols_table


def run(recall: float, ndcg: float, wall: float) -> dict[str, object]:
    """A minimal result record."""
    return {"metrics": {"Recall@10": recall, "NDCG@10": ndcg}, "wall_seconds": wall}


def test_each_model_is_followed_by_its_history_excluded_row() -> None:
    runs = {n: run(0.1, 0.05, 1) for n in ("tiger", "sasrec (history excluded)", "popularity", "sasrec", "fusion: x")}
    assert _ordered(runs) == ["popularity", "sasrec", "sasrec (history excluded)", "tiger", "fusion: x"]


def test_protocols_table_puts_kept_and_excluded_side_by_side() -> None:
    runs = {
        "sasrec": run(0.2099, 0.0993, 1687),
        "sasrec (history excluded)": run(0.25, 0.13, 1700),
        "tiger": run(0.1730, 0.0873, 1516),
    }
    published = [("HSTU-large (history excluded)", {"HR@10": 0.3294, "NDCG@10": 0.1893}, "cite")]
    lines = protocols_table(runs, published).splitlines()
    assert lines[2] == "| sasrec | **0.2099** | **0.0993** | **0.2500** | **0.1300** | 1687 / 1700 |"
    assert lines[3] == "| tiger | 0.1730 | 0.0873 | – | – | 1516 / – |"
    assert lines[4] == "| *HSTU-large* | – | – | 0.3294 | 0.1893 | |"
