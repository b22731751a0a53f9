"""Atomic directory replacement: a failed write leaves the previous directory untouched."""

import pytest

from genrec.atomic import atomic_directory


def test_success_replaces_and_failure_keeps_old(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("v1")
    assert (target / "a.txt").read_text() == "v1"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("v2")
        raise RuntimeError("disk full")
    assert (target / "a.txt").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
