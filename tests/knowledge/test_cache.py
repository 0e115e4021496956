"""Rule (issue 12 §2): the knowledge base, terminology and vocabulary kept between runs are the
ones the files give (same assessments, byte for byte); an edit to a data file or to the code
that reads it gives a new key; an unwritable, corrupt or switched-off cache is skipped."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import pytest

from rplcare.case import vocabulary as voc_mod
from rplcare.case.loader import load_case
from rplcare.knowledge import loader
from rplcare.knowledge import terminology as term_mod
from rplcare.reasoning.assess import assess
from rplcare.util import cache

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 23)


def _fresh_kb_from(tmp: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RPLCARE_CACHE_DIR", str(tmp))
    return loader.get_kb.__wrapped__()  # type: ignore[attr-defined]


def test_a_cached_knowledge_base_gives_the_same_assessments(tmp_path, monkeypatch):
    built = _fresh_kb_from(tmp_path, monkeypatch)  # writes the cache
    assert len(list(tmp_path.glob("kb-*.pickle"))) == 1
    again = _fresh_kb_from(tmp_path, monkeypatch)  # read from it
    assert again is not built and again.content_hash == built.content_hash
    plain = loader.load_kb(loader.DATA_DIR)
    for p in sorted((ROOT / "examples").glob("*.yaml")):
        case = load_case(p, today=TODAY)
        for definition in ("eshre2022", "asrm2012", "rcog2023"):
            outs = {
                assess(case, today=TODAY, definition=definition, kb=kb).to_json()
                for kb in (plain, again)
            }
            assert len(outs) == 1, (p.name, definition)


def test_terminology_and_vocabulary_come_back_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("RPLCARE_CACHE_DIR", str(tmp_path))
    term_mod.terminology.__wrapped__()  # type: ignore[attr-defined]
    t = term_mod.terminology.__wrapped__()  # type: ignore[attr-defined]
    plain = term_mod.load_terminology(term_mod.PATH)
    assert t.concepts == plain.concepts and t.observations == plain.observations
    # the text matcher still works on a cached one (its patterns are compiled on first use)
    assert t.match([], "Progesterone 200 mg vaginal", "drug") == plain.match(
        [], "Progesterone 200 mg vaginal", "drug"
    )
    voc_mod.vocabulary.__wrapped__()  # type: ignore[attr-defined]
    assert voc_mod.vocabulary.__wrapped__() == voc_mod._load_vocabulary()  # type: ignore[attr-defined]
    assert {p.name.split("-")[0] for p in tmp_path.glob("*.pickle")} >= {
        "terminology",
        "vocabulary",
    }


def test_the_key_covers_data_and_code(tmp_path):
    data, code = tmp_path / "a.yaml", tmp_path / "b.py"
    data.write_text("x: 1\n")
    code.write_text("y = 1\n")
    first = cache.fingerprint([code, data])
    data.write_text("x: 2\n")
    second = cache.fingerprint([code, data])
    code.write_text("y = 2\n")
    assert len({first, second, cache.fingerprint([code, data])}) == 3


def test_a_corrupt_or_foreign_file_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("RPLCARE_CACHE_DIR", str(tmp_path))
    calls = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"n": 1}

    assert cache.cached("t", b"k", build, dict) == {"n": 1}
    [path] = tmp_path.glob("t-*.pickle")
    path.write_bytes(b"not a pickle")
    assert cache.cached("t", b"k", build, dict) == {"n": 1}
    path.write_bytes(pickle.dumps(["a list, not the type asked for"]))
    assert cache.cached("t", b"k", build, dict) == {"n": 1}
    assert len(calls) == 3
    assert cache.cached("t", b"k", build, dict) == {"n": 1} and len(calls) == 3  # read back


def test_an_unwritable_or_switched_off_cache_is_skipped(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"  # a directory under a file cannot be made, even by root
    blocked.write_text("")
    monkeypatch.setenv("RPLCARE_CACHE_DIR", str(blocked / "sub"))
    assert cache.cached("t", b"k", lambda: {"n": 2}, dict) == {"n": 2}
    monkeypatch.setenv("RPLCARE_CACHE_DIR", str(tmp_path / "off"))
    monkeypatch.setenv("RPLCARE_CACHE", "0")
    assert cache.cached("t", b"k", lambda: {"n": 3}, dict) == {"n": 3}
    assert not (tmp_path / "off").exists()


def test_a_fingerprint_read_back_by_file_status_is_the_content_digest(tmp_path, monkeypatch):
    """Rule: the digest kept for a set of files (keyed by name, size, mtime, ctime, inode) is
    the one their contents give; any write to one of them gives the new contents' digest, even
    with its size and modification time put back."""
    import os

    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("RPLCARE_CACHE_DIR", str(cache_dir))
    files = [tmp_path / "a.yaml", tmp_path / "b.py"]
    files[0].write_text("x: 1\n")
    files[1].write_text("print(1)\n")

    def fresh() -> bytes:
        cache._FINGERPRINTS.clear()  # as a new process
        return cache.fingerprint(files)

    monkeypatch.setenv("RPLCARE_CACHE", "0")
    by_content = fresh()  # no cache: hashed
    monkeypatch.delenv("RPLCARE_CACHE")
    assert fresh() == by_content  # hashed, and kept
    assert (cache_dir / "fingerprints.marshal").exists()
    assert fresh() == by_content  # read back
    st = files[0].stat()
    files[0].write_text("x: 2\n")  # same size
    os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    monkeypatch.setenv("RPLCARE_CACHE", "0")
    changed = fresh()
    monkeypatch.delenv("RPLCARE_CACHE")
    assert changed != by_content
    assert fresh() == changed
    (cache_dir / "fingerprints.marshal").write_bytes(b"\x00corrupt")
    assert fresh() == changed
