"""A job's step timeline as the aligned text table `etl jobs show` prints."""

from __future__ import annotations

from etl_ops.timeline import Step, Timeline, clock, format_duration

_COLUMNS = ("step", "type", "status", "started (UTC)", "duration", "attempts", "note")


def render(timeline: Timeline) -> str:
    """The timeline as an aligned text table, headed by the execution's outcome."""
    total = f", {format_duration(timeline.duration)}" if timeline.duration is not None else ""
    error = f" ({timeline.error})" if timeline.error else ""
    title = f"{_ORCHESTRATOR_NAMES.get(timeline.orchestrator, timeline.orchestrator)} execution"
    lines = [f"steps ({title} {timeline.status}{error}{total})"]
    if not timeline.steps:
        return "\n".join([*lines, "  (no steps yet)"])
    table = [_COLUMNS, *(_cells(step) for step in timeline.steps)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(("  " + "  ".join([*cells, row[-1]])).rstrip())
    return "\n".join(lines)


_ORCHESTRATOR_NAMES = {"sfn": "Step Functions", "durable": "durable"}


def _cells(step: Step) -> tuple[str, ...]:
    duration = format_duration(step.duration) if step.duration is not None else "-"
    attempts = str(step.attempts) if step.attempts is not None else "-"
    return (step.name, step.kind, step.status, clock(step.started), duration, attempts, step.note)
