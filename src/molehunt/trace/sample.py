"""Synthetic report text in English or Chinese, for tests and benches (not real material).

Sentences are drawn from templates about a fictional programme; about a third of them use a word
that has an interchangeable variant, roughly as often as plain technical prose does.
"""

from __future__ import annotations

import random

_EN_SUBJECTS = [
    "the project team",
    "the review board",
    "each contractor",
    "the test laboratory",
    "the security office",
    "the design group",
    "the programme manager",
    "the field unit",
    "the analysis section",
    "the supplier",
    "the integration team",
    "the site engineer",
]
_EN_OBJECTS = [
    "the sensor array",
    "the guidance software",
    "the test schedule",
    "the thermal model",
    "the radar prototype",
    "the supply contract",
    "the assembly line",
    "the flight data",
    "the cost estimate",
    "the antenna design",
    "the power budget",
    "the trial results",
    "the maintenance plan",
    "the storage facility",
    "the calibration record",
    "the archive",
]
_EN_TEMPLATES = [
    "{S} reviewed {O} in {month} and recorded {n} findings.",
    "{S} does not expect {O} to change before {month}.",
    "However, {S} found that {O} needed {n} further checks.",
    "The behaviour of {O} was analysed by {S} over {n} weeks.",
    "{S} will begin work on {O} once the licence is approved.",
    "In order to reduce risk, {S} moved {O} to the main centre.",
    "{S} often shares {O} with the organisation by e-mail.",
    "Although {O} is not complete, {S} believes that it is sufficient.",
    "{S} must ensure that {O} is stored in the defence archive.",
    "Approximately {n} per cent of {O} was modified by {S}.",
    "{S} can not release {O} because the whole batch is pending.",
    "Each week {S} summarises the status of {O} for the board.",
    "{S} requires {O} to be checked, for example by a second reviewer.",
    "While {S} prepared {O}, the programme was cancelled for {n} days.",
    "{S} also noted that {O} had been labelled incorrectly.",
    "It is likely that {S} will obtain {O} by {month}.",
    "{S} measured {O} at {n} points along the eastern line.",
    "Therefore {S} asked the supplier to provide {O} again.",
    "{S} did not receive {O} until the {n}th of {month}.",
    "Staff from {S} travelled to inspect {O} on {n} occasions.",
]
_MONTHS = ["March", "April", "May", "June", "July", "August", "September", "October"]

_ZH_SUBJECTS = [
    "项目组",
    "评审委员会",
    "承包单位",
    "试验室",
    "保密办公室",
    "设计小组",
    "项目经理",
    "外场分队",
    "分析科",
    "供应商",
    "总装团队",
    "现场工程师",
]
_ZH_OBJECTS = [
    "传感器阵列",
    "制导软件",
    "试验计划",
    "热学模型",
    "雷达样机",
    "供货合同",
    "装配线",
    "飞行数据",
    "成本估算",
    "天线设计",
    "功率预算",
    "试验结果",
    "维护方案",
    "存储设施",
    "校准记录",
    "档案资料",
]
_ZH_TEMPLATES = [
    "{S}在{m}月对{O}进行了审查，并记录了{n}项发现。",
    "{S}认为{O}在{m}月之前不会发生变化。",
    "但是{S}发现{O}还需要{n}次检查。",
    "因为{O}尚未完成，{S}决定推迟验收。",
    "{S}必须确保{O}存放在指定地点。",
    "如果{O}出现异常，{S}应当立即报告。",
    "此外，{S}经常通过内部网络传送{O}。",
    "虽然{O}已经通过评审，{S}仍然要求复核。",
    "{S}目前正在使用{O}开展第{n}轮试验。",
    "为了减少风险，{S}把{O}转移到了第{n}号库房。",
    "{S}希望在{m}月获得{O}的最终版本。",
    "例如，{S}曾在{n}天内完成了{O}的检查。",
    "{S}特别注意{O}的保护措施。",
    "因此{S}要求供应商重新提供{O}。",
    "{S}能够在{n}小时内恢复{O}。",
    "同时，{S}对{O}进行了进一步的改进。",
    "{S}在第{n}次会议上说明了{O}的情况。",
    "{S}根据规定检查了{O}的所有文件。",
]


def sample_document(language: str, words: int, seed: int = 0) -> str:
    """Return a synthetic report of about `words` words (English) or 2 x `words` characters.

    Args:
        language: `en` or `zh`.
        words: Approximate length in words (a Chinese "word" counted as two characters).
        seed: Random seed.

    Returns:
        Paragraphs of five sentences separated by blank lines.
    """
    rng = random.Random(seed)
    sentences: list[str] = []
    size = 0
    while size < words:
        if language == "zh":
            sentence = rng.choice(_ZH_TEMPLATES).format(
                S=rng.choice(_ZH_SUBJECTS),
                O=rng.choice(_ZH_OBJECTS),
                n=rng.randint(2, 99),
                m=rng.randint(1, 12),
            )
            size += len(sentence) // 2
        else:
            sentence = rng.choice(_EN_TEMPLATES).format(
                S=rng.choice(_EN_SUBJECTS),
                O=rng.choice(_EN_OBJECTS),
                n=rng.randint(2, 99),
                month=rng.choice(_MONTHS),
            )
            sentence = sentence[0].upper() + sentence[1:]
            size += len(sentence.split())
        sentences.append(sentence)
    joiner = "" if language == "zh" else " "
    paragraphs = [joiner.join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
    return "\n\n".join(paragraphs) + "\n"
