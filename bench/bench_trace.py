"""Leak tracing at the issue's targets: 1,000 recipients, retyped 10% and 2% excerpts, merges.

    python bench/bench_trace.py [--recipients 1000] [--trials 1000] [--english FILE]
        [--documents english,english-synthetic,chinese,chinese-real] [--synthetic-english]

Documents: English, the text of FILE (default: GPL-3 followed by LGPL-2.1 from
/usr/share/common-licenses, cut to 10,000 words, about 20 pages: real prose that was not written
for molehunt's variant lists; a synthetic report where those files are absent); with
`--synthetic-english` also a synthetic English report of 10,000 words; Chinese, a synthetic report
of about 20,000 characters (`molehunt.trace.sample`); `chinese-real`, real Chinese not written for
molehunt: the machine's zh_CN gettext messages, first 20,000 characters.

Each document is marked for `--recipients` people. Each trial picks a recipient and a random
contiguous excerpt of the copy (10% or 2% of its words, or of its characters for Chinese) and
"retypes" it: Unicode NFKC, format and zero-width characters removed, whitespace collapsed (all
formatting lost); a noisy trial also garbles 1% of the characters (substituted, dropped or
doubled, as OCR does). A merge trial joins two 10% (or two 5%) excerpts of two recipients'
copies. Prints, per setting: right recipient ranked first, attributed (confidence >= 0.999) and
right, any wrong attribution, and for merges both named; beside it, on the same trials, Broder's
shingle containment (the copy holding most of the leak's 5-token shingles) as the published
baseline.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

from molehunt.store import Store
from molehunt.trace import mark_document, trace_text
from molehunt.trace.sample import sample_document

LICENSES = Path("/usr/share/common-licenses")


def retype(text: str) -> str:
    """All formatting lost: NFKC, no format characters, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """Garble a share of the characters as OCR does: substitute, drop or double a character."""
    out = []
    for ch in text:
        roll = rng.random()
        if roll >= rate or ch == " ":
            out.append(ch)
        elif roll < rate / 3:
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz"))
        elif roll < 2 * rate / 3:
            continue
        else:
            out.append(ch + ch)
    return "".join(out)


def excerpt(text: str, share: float, language: str, rng: random.Random) -> str:
    """A random contiguous share of the words (English) or characters (Chinese)."""
    units = text.split() if language == "en" else list(text)
    size = max(int(len(units) * share), 1)
    start = rng.randrange(len(units) - size + 1)
    return (" " if language == "en" else "").join(units[start : start + size])


def english_text(path: Path | None) -> tuple[str, str]:
    """The English document and where it came from."""
    if path is not None:
        return path.read_text(encoding="utf-8"), str(path)
    parts = [LICENSES / "GPL-3", LICENSES / "LGPL-2.1"]
    if all(p.exists() for p in parts):
        words = " ".join(p.read_text(encoding="utf-8") for p in parts).split(" ")
        return " ".join(words[:10000]), "GPL-3 + LGPL-2.1 (first 10,000 words)"
    return sample_document("en", 10000, seed=3), "synthetic report (10,000 words)"


class ContainmentBaseline:
    """Broder's containment of word shingles (Broder 1997, "On the resemblance and containment of
    documents"), the near-duplicate fingerprint DLP products use, turned into attribution: the
    copy that contains the most of the leak's 5-token shingles. Only shingles that differ between
    copies are indexed (the others add the same to every copy)."""

    def __init__(self, texts: dict[str, str], language: str) -> None:
        self.language = language
        self.recipients = list(texts)
        counts: dict[int, list[int]] = {}
        for row, recipient in enumerate(self.recipients):
            for shingle in self._shingles(texts[recipient]):
                counts.setdefault(shingle, []).append(row)
        self.varying = {
            shingle: np.isin(np.arange(len(self.recipients)), rows)
            for shingle, rows in counts.items()
            if len(rows) < len(self.recipients)
        }

    def _shingles(self, text: str) -> set[int]:
        units = retype(text).split() if self.language == "en" else list(retype(text))
        return {hash(tuple(units[i : i + 5])) for i in range(len(units) - 4)}

    def rank(self, leak: str) -> list[str]:
        """Recipients by containment, best first."""
        score = np.zeros(len(self.recipients))
        for shingle in self._shingles(leak):
            if shingle in self.varying:
                score += self.varying[shingle]
        return [self.recipients[i] for i in np.argsort(-score, kind="stable")]


def chinese_messages() -> tuple[str, str]:
    """Real Chinese text not written for molehunt: the longer zh_CN messages of the machine's
    gettext catalogues (help texts, licence notices, errors), first 20,000 characters."""
    import gettext

    texts = []
    for path in sorted(Path("/usr/share/locale/zh_CN/LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except (OSError, ValueError):
            continue
        for value in catalog.values():
            cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in str(value))
            if len(str(value)) > 40 and cjk > 0.4 * len(str(value)):
                texts.append(str(value).strip())
    text = "\n\n".join(texts)[:20000]
    if len(text) < 20000:
        return sample_document("zh", 10000, seed=5), "synthetic (no zh_CN catalogues here)"
    return text, "zh_CN gettext messages of /usr/share/locale (first 20,000 characters)"


def run(store: Store, name: str, text: str, language: str, args: argparse.Namespace) -> None:
    """Mark one document and run every trial setting on it."""
    folder = Path(tempfile.mkdtemp(prefix="molehunt-bench-trace-"))
    source = folder / f"{name}.txt"
    source.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    recipients = [f"user{i:04d}" for i in range(args.recipients)]
    copies = mark_document(store, source, recipients, folder / "out")
    texts = {c["recipient"]: Path(c["file_name"]).read_text(encoding="utf-8") for c in copies}
    print(
        f"{name}: {len(text.split()) if language == 'en' else len(text):,} "
        f"{'words' if language == 'en' else 'characters'}, {copies[0]['sites']} marked places, "
        f"{len(copies)} copies in {time.perf_counter() - started:.1f} s"
    )
    baseline = ContainmentBaseline(texts, language)
    rng = random.Random(args.seed)
    for share, noise in ((0.10, 0.0), (0.02, 0.0), (0.10, 0.01)):
        first = attributed = wrong = sites = broder = 0
        started = time.perf_counter()
        for _ in range(args.trials):
            recipient = rng.choice(recipients)
            leak = retype(excerpt(texts[recipient], share, language, rng))
            leak = ocr_noise(leak, noise, rng) if noise else leak
            report = trace_text(store, leak)
            broder += baseline.rank(leak)[0] == recipient
            sites += report.sites
            first += bool(report.candidates) and report.candidates[0].recipient == recipient
            named = {c.recipient for c in report.attributed}
            attributed += recipient in named
            wrong += bool(named - {recipient})
        seconds = (time.perf_counter() - started) / args.trials
        label = f" with {noise:.0%} OCR noise" if noise else ""
        print(
            f"  {share:.0%} excerpt{label}: ranked first {first / args.trials:.1%}, attributed "
            f"{attributed / args.trials:.1%}, wrong attributions {wrong / args.trials:.2%}, "
            f"{sites / args.trials:.1f} places seen, {seconds * 1000:.0f} ms per trace; "
            f"Broder containment ranked first {broder / args.trials:.1%}"
        )
    for share in (0.10, 0.05):
        both = wrong = broder = 0
        for _ in range(args.trials):
            pair = rng.sample(recipients, 2)
            leak = " ".join(retype(excerpt(texts[r], share, language, rng)) for r in pair)
            named = {c.recipient for c in trace_text(store, leak).attributed}
            both += named == set(pair)
            wrong += bool(named - set(pair))
            broder += set(baseline.rank(leak)[:2]) == set(pair)
        print(
            f"  merge of two {share:.0%} excerpts: both named {both / args.trials:.1%}, "
            f"wrong attributions {wrong / args.trials:.2%}; "
            f"Broder containment top two {broder / args.trials:.1%}"
        )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--english", type=Path, help="an English text file to mark")
    parser.add_argument("--synthetic-english", action="store_true", help="also a synthetic one")
    parser.add_argument(
        "--documents",
        default="english,chinese",
        help="comma list of english, english-synthetic, chinese (synthetic), chinese-real",
    )
    args = parser.parse_args()
    wanted = args.documents.split(",") + (["english-synthetic"] if args.synthetic_english else [])
    with Store.open(Path(tempfile.mkdtemp(prefix="molehunt-bench-trace-ws-"))) as store:
        if "english" in wanted:
            text, origin = english_text(args.english)
            print(f"English document: {origin}")
            run(store, "english", text, "en", args)
        if "english-synthetic" in wanted:
            run(store, "english-synthetic", sample_document("en", 10000, seed=3), "en", args)
        if "chinese" in wanted:
            run(store, "chinese", sample_document("zh", 10000, seed=4), "zh", args)
        if "chinese-real" in wanted:
            text, origin = chinese_messages()
            print(f"Chinese document: {origin}")
            run(store, "chinese-real", text, "zh", args)


if __name__ == "__main__":
    main()
