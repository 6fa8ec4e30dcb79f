"""Marked copies and leak tracing: a retyped excerpt names its recipient; merges name both."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import TraceError
from molehunt.ledger import verify_ledger
from molehunt.store import Store
from molehunt.trace import mark_document, trace_text
from molehunt.trace.mark import find_sites, render_copy
from molehunt.trace.sample import sample_document
from molehunt.trace.text import normalize

RECIPIENTS = [f"user{i:02d}" for i in range(40)]


def retype(text: str) -> str:
    """What retyping leaves: NFKC, no format characters, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    return " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())


def excerpt(text: str, share: float, language: str, seed: int) -> str:
    units = text.split() if language == "en" else list(text)
    size = int(len(units) * share)
    start = random.Random(seed).randrange(len(units) - size)
    return (" " if language == "en" else "").join(units[start : start + size])


@pytest.fixture(scope="module", params=["en", "zh"])
def marked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A 2,000-word document in one language, marked for 40 recipients."""
    language = request.param
    folder = tmp_path_factory.mktemp(f"marked-{language}")
    source = folder / f"report-{language}.txt"
    source.write_text(sample_document(language, 2000, seed=1), encoding="utf-8")
    store = Store.open(folder / "ws")
    copies = mark_document(store, source, RECIPIENTS, folder / "out")
    yield store, language, source, {c["recipient"]: c for c in copies}
    store.close()


def _copy_text(copy: dict) -> str:
    return Path(copy["file_name"]).read_text(encoding="utf-8")


def test_every_copy_is_unique_and_differs_only_in_wording(marked: tuple) -> None:
    _, language, source, copies = marked
    original = source.read_text(encoding="utf-8")
    texts = [_copy_text(c) for c in copies.values()]
    assert len(set(texts)) == len(RECIPIENTS)
    # same length in tokens outside the sites: only interchangeable wordings changed
    for text in texts[:5]:
        assert len(find_sites(text, language, False)) == len(find_sites(original, language, False))
        assert abs(len(text) - len(original)) < len(original) * 0.05


@pytest.mark.parametrize("seed", range(3))
def test_retyped_excerpt_of_a_copy_names_its_recipient(marked: tuple, seed: int) -> None:
    store, language, _, copies = marked
    recipient = random.Random(seed).choice(RECIPIENTS)
    leak = retype(excerpt(_copy_text(copies[recipient]), 0.15, language, seed))
    report = trace_text(store, leak)
    assert [c.recipient for c in report.attributed] == [recipient]
    assert report.documents[0]["containment"] > 0.9


@pytest.mark.parametrize("share", [0.15, 0.06])
def test_merge_of_two_copies_names_both(marked: tuple, share: float) -> None:
    store, language, _, copies = marked
    first, second = "user03", "user17"
    leak = " ".join(
        retype(excerpt(_copy_text(copies[r]), share, language, seed))
        for seed, r in enumerate((first, second))
    )
    report = trace_text(store, leak)
    assert {c.recipient for c in report.attributed} == {first, second} and report.is_merge


def test_the_unmarked_original_names_nobody(marked: tuple) -> None:
    store, language, source, _ = marked
    leak = retype(excerpt(source.read_text(encoding="utf-8"), 0.3, language, 5))
    report = trace_text(store, leak)
    assert report.documents and not report.attributed


def test_unrelated_text_matches_no_document(marked: tuple) -> None:
    store, *_ = marked
    report = trace_text(store, "A completely different memo about the canteen menu for next week.")
    assert not report.documents and not report.attributed


def test_copies_are_in_the_ledger_and_an_edited_copy_record_is_named(marked: tuple) -> None:
    store, *_ = marked
    assert verify_ledger(store).is_valid
    with store.transaction() as connection:
        connection.execute(
            "UPDATE marked_copies SET recipient = 'someone' WHERE recipient = 'user05'"
        )
    try:
        report = verify_ledger(store)
        assert not report.is_valid and "marked_copy" in report.problems[0].message
    finally:
        with store.transaction() as connection:
            connection.execute(
                "UPDATE marked_copies SET recipient = 'user05' WHERE recipient = 'someone'"
            )


def test_markdown_code_and_links_are_left_alone(tmp_path: Path) -> None:
    body = sample_document("en", 800, seed=2)
    protected = "`do not change` and [a link](https://example.org/organisation/however)"
    source = tmp_path / "memo.md"
    source.write_text(f"# Memo\n\n{protected}\n\n{body}", encoding="utf-8")
    with Store.open(tmp_path / "ws") as store:
        copies = mark_document(store, source, ["a", "b", "c"], tmp_path / "out")
    for copy in copies:
        assert protected in Path(copy["file_name"]).read_text(encoding="utf-8")


def test_registry_classification_is_printed_on_the_copy(tmp_path: Path) -> None:
    source = tmp_path / "plan.txt"
    source.write_text(sample_document("en", 800, seed=3), encoding="utf-8")
    with Store.open(tmp_path / "ws") as store:
        with store.transaction() as connection:
            connection.execute(
                "INSERT INTO documents (doc_key, match_kind, level, level_rank, compartments, "
                "source_id, source_line) VALUES ('plan.txt', 'name', 'SECRET', 2, [], 1, 2)"
            )
        (copy,) = mark_document(store, source, ["a"], tmp_path / "out")
    text = Path(copy["file_name"]).read_text(encoding="utf-8")
    assert copy["level"] == "SECRET"
    assert text.startswith("SECRET\n") and text.rstrip().endswith("SECRET")


def run(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--workspace", str(workspace), *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_mark_then_trace_json(tmp_path: Path) -> None:
    source = tmp_path / "报告.txt"
    source.write_text(sample_document("zh", 1500, seed=9), encoding="utf-8")
    args = ["mark", str(source), "--out", str(tmp_path / "out")]
    for name in ("张三", "李四", "王五"):
        args += ["--to", name]
    code, out, err = run(tmp_path / "ws", *args)
    assert code == 0, err and "3 marked copies" in out
    leaked = tmp_path / "leak.txt"
    leaked.write_text(
        retype(
            excerpt((tmp_path / "out" / "报告-李四.txt").read_text(encoding="utf-8"), 0.3, "zh", 1)
        ),
        encoding="utf-8",
    )
    code, out, err = run(tmp_path / "ws", "trace", str(leaked), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [c["recipient"] for c in report["attributed"]] == ["李四"]
    code, out, _ = run(tmp_path / "ws", "trace", str(leaked))
    assert code == 0 and "the copy of 李四" in out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("plan.docx", b"PK", "not a readable DOCX"),
        ("plan.odt", b"PK", "expected .txt, .md, .docx or .pdf"),
        ("short.txt", b"Do not copy.", "places can be marked"),
        ("latin1.txt", "caf\xe9".encode("latin-1") * 50, "not UTF-8"),
    ],
)
def test_mark_refuses_what_it_cannot_mark_in_one_line(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    code, _, err = run(
        tmp_path / "ws", "mark", str(tmp_path / name), "--to", "a", "--out", str(tmp_path / "o")
    )
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_trace_without_marked_documents_says_so(tmp_path: Path) -> None:
    Store.open(tmp_path / "ws").close()
    (tmp_path / "leak.txt").write_text("text", encoding="utf-8")
    code, _, err = run(tmp_path / "ws", "trace", str(tmp_path / "leak.txt"))
    assert code == 1 and "no marked documents" in err


def test_normalize_undoes_what_retyping_changes() -> None:
    assert normalize("Ｄｏｎ’ｔ\u200b  ＳＴＯＰ\n") == "don't stop"


def test_copies_marked_under_other_variant_lists_are_refused_not_misread(tmp_path: Path) -> None:
    source = tmp_path / "plan.txt"
    source.write_text(sample_document("en", 800, seed=4), encoding="utf-8")
    with Store.open(tmp_path / "ws") as store:
        mark_document(store, source, ["a", "b"], tmp_path / "out")
        (sidecar,) = (tmp_path / "ws" / "marks").glob("*.json")
        sidecar.write_text(json.dumps({"scheme": "older"}), encoding="utf-8")
        with pytest.raises(TraceError, match="marked with variant scheme older"):
            trace_text(store, source.read_text(encoding="utf-8"))


def test_sites_past_a_normalisation_difference_are_not_marked() -> None:
    """NFKC turns the full-width "ｃａｎｎｏｔ" into a variant only the tracer sees: the numbering
    would shift, so nothing after it is marked (a misnumbered site would misattribute)."""
    text = "We do not stop. ｃａｎｎｏｔ wait. The colour is fine. We do not know."
    sites = find_sites(text, "en", False)
    assert [s.markable for s in sites] == [True, False, False]


def test_trace_names_the_leaver_whose_sealed_record_holds_the_document(tmp_path: Path) -> None:
    """Which leaver took this? A sealed record listing one of the issued copies by name."""
    source = tmp_path / "plan.txt"
    source.write_text(sample_document("en", 1200, seed=8), encoding="utf-8")
    with Store.open(tmp_path / "ws") as store:
        copies = mark_document(store, source, ["ann", "bob"], tmp_path / "out")
        summary = {
            "documents": [
                {
                    "name": "plan-bob.txt",
                    "level": "SECRET",
                    "days": ["2010-03-02"],
                    "channels": ["removable"],
                },
                {"name": "other.txt", "level": "SECRET", "days": [], "channels": []},
            ]
        }
        with store.transaction() as connection:
            connection.execute(
                "INSERT INTO leaver_records VALUES ('BOB0001', '2010-03-05', '2010-03-06', ?, '')",
                [json.dumps(summary)],
            )
        leak = retype(excerpt(_copy_text(copies[1]), 0.3, "en", 2))
        report = trace_text(store, leak)
    assert [c.recipient for c in report.attributed] == ["bob"]
    assert [(r["user"], r["document"]) for r in report.leavers] == [("BOB0001", "plan-bob.txt")]


def test_names_and_defined_terms_are_never_respelled() -> None:
    """ "Defence Research Centre" is a name; "centre" in a sentence is a word."""
    text = (
        "Staff of the Defence Research Centre met. Defence work is done in the centre, "
        "and the colour, size, and shape were noted."
    )
    changed = {text[s.start : s.end]: s.markable for s in find_sites(text, "en", False)}
    assert changed["Defence"] is True  # first word of a sentence
    assert changed["centre"] is True and changed[", and"] is True
    sites = {(s.start, s.markable) for s in find_sites(text, "en", False)}
    name_start = text.index("Defence Research")
    assert (name_start, False) in sites and (text.index("Centre"), False) in sites


def test_dropping_a_serial_comma_keeps_the_words_apart() -> None:
    text = "We checked the sensors, the antennas, and the cables. " * 3
    sites = find_sites(text, "en", False)
    bits = np.ones(len(sites), dtype=np.int8)
    copy = render_copy(text, sites, bits, "en")
    assert "the antennas and the cables" in copy and "antennasand" not in copy


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("seed", range(3))
def test_a_copy_reads_back_exactly_the_bits_it_was_given(language: str, seed: int) -> None:
    """Every changed place is found again, as the variant it was given, and nothing else moved."""
    from molehunt.trace.mark import copy_bits
    from molehunt.trace.text import normalize, scanner

    text = sample_document(language, 600, seed=seed) + "Note: a, b, and c; x, or y."
    sites = find_sites(text, language, False)
    bits = copy_bits("doc", f"mark{seed}", len(sites))
    copy = render_copy(text, sites, bits, language)
    original_tokens, _ = scanner(language).scan(normalize(text))
    copy_tokens, found = scanner(language).scan(normalize(copy))
    assert copy_tokens == original_tokens
    for site, bit, seen in zip(sites, bits, found, strict=True):
        expected = site.alternative if site.markable and bit else site.original
        assert seen.variant == expected
