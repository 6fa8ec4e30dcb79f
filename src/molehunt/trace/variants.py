"""Interchangeable wordings: the places where a marked copy may differ without changing meaning.

Each entry is a class of variants (lower case, single spaces). A place in a document where one
of them occurs is a site; a copy keeps the original variant or uses the next one in its class,
one bit per site. Only choices that survive retyping are listed: words and spellings, not
spacing, zero-width characters or full-/half-width punctuation (NFKC and whitespace collapsing
erase those). A class
marked `from_first` (`!` below) is only changed where the text has its first variant: dropping an
optional "that" is fine, inserting one after any "shows" is not; "obtain" may become "get", but
not every "get" may become "obtain".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class VariantClass:
    """A set of wordings that can replace each other.

    Args:
        variants: The wordings, lower case.
        from_first: Mark only occurrences of the first variant.
    """

    variants: tuple[str, ...]
    from_first: bool = False


def _classes(text: str, *, from_first: bool = False) -> list[VariantClass]:
    """One class per line `a|b`; a leading `!` marks only occurrences of `a`."""
    return [
        VariantClass(
            tuple(v.strip() for v in line.lstrip("!").split("|")),
            from_first or line.startswith("!"),
        )
        for line in text.strip().splitlines()
        if line.strip()
    ]


# British / American spellings (both are correct English).
_SPELLING = """
organisation|organization
organisations|organizations
organise|organize
organised|organized
authorise|authorize
authorised|authorized
authorisation|authorization
recognise|recognize
recognised|recognized
realise|realize
analyse|analyze
analysed|analyzed
minimise|minimize
maximise|maximize
prioritise|prioritize
emphasise|emphasize
summarise|summarize
characterise|characterize
licence|license
licences|licenses
defence|defense
centre|center
behaviour|behavior
favour|favor
colour|color
labour|labor
honour|honor
catalogue|catalog
judgement|judgment
acknowledgement|acknowledgment
travelled|traveled
cancelled|canceled
modelling|modeling
labelled|labeled
enrol|enroll
fulfil|fulfill
"""

# Words and phrases that mean the same in running text.
_WORDING = """
do not|don't
does not|doesn't
did not|didn't
is not|isn't
are not|aren't
was not|wasn't
were not|weren't
cannot|can not
will not|won't
would not|wouldn't
should not|shouldn't
has not|hasn't
have not|haven't
it is|it's
for example|e.g.
in order to|so as to
among|amongst
while|whilst
toward|towards
afterward|afterwards
although|though
therefore|thus
however|nevertheless
also|additionally
moreover|furthermore
often|frequently
usually|normally
whole|entire
entirely|completely
began|started
beginning|starting
buy|purchase
show|demonstrate
shows|demonstrates
needed|required
!upon|on
!whether or not|whether
!approximately|about
!because|since
!such as|like
!require|need
!requires|needs
!obtain|get
!obtains|gets
!assist|help
!assists|helps
!begin|start
!begins|starts
enough|sufficient
big|large
quickly|rapidly
maybe|perhaps
tried|attempted
ended|finished
main|principal
per cent|percent
e-mail|email
on-line|online
web site|website
data set|dataset
co-operate|cooperate
re-use|reuse
non-free|nonfree
each|every
so that|in order that
modify|alter
modified|altered
provide|supply
provided|supplied
provides|supplies
permit|allow
permitted|allowed
permits|allows
include|contain
includes|contains
included|contained
"""

# Verbs after which "that" may be dropped.
_THAT = """
says that|says
said that|said
ensure that|ensure
ensures that|ensures
means that|means
believe that|believe
found that|found
indicates that|indicates
suggests that|suggests
states that|states
assume that|assume
note that|note
"""

# Punctuation: the serial comma before the last "and"/"or" of a list may go (only dropped, never
# added: a comma cannot be inserted before every "and").
_PUNCTUATION = """
, and|and
, or|or
"""

# Chinese: interchangeable words of two or more characters (one-character variants would also
# match inside unrelated words).
_CHINESE = """
因此|所以
但是|可是
然而|不过
而且|并且
如果|假如
虽然|尽管
因为|由于
能够|可以
目前|当前
立即|立刻
马上|随即
非常|十分
特别|尤其
仍然|依然
经常|常常
之后|以后
之前|以前
例如|比如
此外|另外
同时|与此同时
使用|利用
确保|保证
帮助|协助
开始|着手
获得|取得
减少|降低
了解|知道
认为|觉得
希望|期望
注意|留意
检查|核查
文件|文档
资料|材料
每天|每日
进一步|更进一步
所有|全部
必须|务必
应当|应该
可能|也许
主要|首要
重要|关键
方法|办法
情况|状况
提供|给予
要求|规定
根据|依据
通过|经由
关于|有关
其他|其它
或者|或是
这个|该
我们|咱们
发现|察觉
考虑|顾及
完成|做完
建立|创建
改进|改善
增加|增添
保护|保障
控制|掌控
处理|处置
研究|探究
准备|筹备
安排|部署
说明|阐明
及时|适时
一定|肯定
大约|大概
"""

# -ise/-ize verbs with their inflections and nouns (British/Oxford spellings), -our/-or nouns,
# -re/-er nouns, doubled -l- before a suffix.
_ISE_STEMS = (
    "apologi authori capitali categori centrali civili critici customi digiti emphasi finali "
    "formali generali harmoni initiali itemi jeopardi legali locali maximi memori minimi "
    "mobili moderni normali optimi organi penali prioriti publici rationali reali recogni "
    "sanitis serialis speciali stabili standardi summari symboli synchroni utili visuali "
    "characteri hypothesi"
).split()
_OUR_STEMS = "behavio colo endeavo favo flavo harbo hono humo labo neighbo rumo vapo".split()
_RE_STEMS = "cent fib lit met theat calib sombr spect".split()
_LL_STEMS = "travel cancel label model level signal total fuel counsel channel".split()


def _spellings() -> str:
    lines = []
    for stem in _ISE_STEMS:
        stem = stem.rstrip("s")
        for suffix in ("e", "ed", "es", "ing", "ation", "ations"):
            lines.append(f"{stem}s{suffix}|{stem}z{suffix}")
    for stem in _OUR_STEMS:
        for suffix in ("ur", "urs", "ured", "uring", "urable", "urite"):
            lines.append(f"{stem}{suffix}|{stem}{suffix[1:]}")
    for stem in _RE_STEMS:
        lines += [f"{stem}re|{stem}er", f"{stem}res|{stem}ers"]
    for stem in _LL_STEMS:
        for suffix in ("led", "ling", "ler", "lers"):
            lines.append(f"{stem}l{suffix}|{stem}{suffix}")
    return "\n".join(lines)


def _unique(classes: list[VariantClass]) -> list[VariantClass]:
    """Drop a class whose variants another class already uses (the first listing wins)."""
    seen: set[str] = set()
    kept = []
    for group in classes:
        if len(set(group.variants)) == len(group.variants) and not seen & set(group.variants):
            kept.append(group)
            seen.update(group.variants)
    return kept


ENGLISH = tuple(
    _unique(
        _classes(_SPELLING)
        + _classes(_WORDING)
        + _classes(_THAT, from_first=True)
        + _classes(_PUNCTUATION, from_first=True)
        + _classes(_spellings())
    )
)
CHINESE = tuple(_classes(_CHINESE))
VARIANT_CLASSES: dict[str, tuple[VariantClass, ...]] = {"en": ENGLISH, "zh": CHINESE}

# Copies are read back with the lists they were marked with: any change to the lists is a new
# scheme (site numbering moves), recorded beside each marked original.
SCHEME = hashlib.sha256(
    repr(
        sorted((k, [(c.variants, c.from_first) for c in v]) for k, v in VARIANT_CLASSES.items())
    ).encode()
).hexdigest()[:12]
