"""Plain-text rendering of explanations."""

from __future__ import annotations

from molehunt.explain.finding import Explanation

SHOWN_EVIDENCE = 10


def render_explanation(explanation: Explanation) -> str:
    """Render an explanation as plain text an investigator can read.

    Args:
        explanation: From `explain_user`.

    Returns:
        Text (no trailing newline).
    """
    e = explanation
    lines = [
        f"{e.user} on {e.day.isoformat()}: risk {e.score:.1f}/100, rank {e.rank} "
        f"(peer group {e.peer_group})",
        f"  rules {e.rule_score:.0f} points, model percentile {e.model_score:.3f}, "
        f"context booster x{e.booster:.2f}",
    ]
    if e.alerted_on is not None:
        lines.append(
            f"  open case: alerted on {e.alerted_on.isoformat()}; evidence carried from earlier "
            f"days counts only in part until something new happens (risk on all evidence "
            f"{e.evidence_score:.1f})"
        )
    if e.classified_text:
        lines.append("classified material moved out:")
        lines += [f"  - {text}" for text in e.classified_text]
    if e.deviations:
        lines.append("above the person's own usual, or exposure in a departure window:")
        lines += [f"  - {d.text}" for d in e.deviations]
    if e.contributions:
        lines.append("what was unusual:")
        lines += [f"  - {c.text}" for c in e.contributions]
    for finding in e.findings:
        lines.append(
            f"rule {finding.rule_id} ({finding.severity}, {finding.weight:g}): {finding.title}"
        )
        lines.append(f"  because {' and '.join(finding.conditions)}")
        for event in finding.evidence[:SHOWN_EVIDENCE]:
            lines.append(
                f"  {event.time:%Y-%m-%d %H:%M:%S} {event.channel}/{event.action} "
                f"{event.host or '-'} {event.object or ''} [id {event.event_id}, "
                f"source {event.source_id} line {event.source_line}]"
            )
        if len(finding.evidence) > SHOWN_EVIDENCE:
            lines.append(f"  ... {len(finding.evidence) - SHOWN_EVIDENCE} more events")
    if not e.findings:
        lines.append("no rule hit this day; the score carries earlier evidence or the model's view")
    for name, score in e.without_booster.items():
        lines.append(f"without booster {name}: risk {score:.1f}")
    if e.leaver is not None:
        summary = e.leaver["summary"]
        state = "verified" if e.leaver["verified"] else "HASH MISMATCH"
        lines.append(
            f"leaver record (last working day {summary['last_working_day']}, sha256 "
            f"{e.leaver['sha256'][:16]}..., {state}): {summary['classified_documents']} "
            f"classified documents touched from {summary['window']['from']}"
        )
    return "\n".join(lines)
