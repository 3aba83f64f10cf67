"""The figures of ``batch_vs_mapped.py``: medians with their spread, ratios, targets, a markdown table."""

from __future__ import annotations

import statistics
from typing import Any

#: The per-run figures summarized, with how the table names them.
METRICS = {
    "wall_seconds": "wall s",
    "airflow_cpu_seconds_per_image": "Airflow CPU s / image",
    "airflow_cpu_seconds_per_image_above_idle": "the same above idle",
    "rows_written_per_image": "rows written / image",
    "api_calls_per_image": "API calls / image",
    "task_process_peak_rss_mb": "task process peak RSS MB",
    "triggerer_peak_rss_mb": "triggerer peak RSS MB",
    "retried_tasks": "tasks retried",
}
#: Mapped over batch, per image, for these figures.
RATIOS = (
    "airflow_cpu_seconds_per_image",
    "airflow_cpu_seconds_per_image_above_idle",
    "rows_written_per_image",
    "api_calls_per_image",
    "wall_seconds",
)
#: The components whose CPU is broken down per image.
COMPONENTS = ("scheduler", "workers", "triggerer", "api-server", "dag-processor", "postgres")


def spread(values: list[float]) -> dict[str, float]:
    """
    The median of ``values`` and their min and max.

    :param values: One per run.
    """
    return {"median": round(statistics.median(values), 4), "min": min(values), "max": max(values)}


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """
    Medians and spreads per variant, mapped / batch ratios of the same run's pair, the targets.

    :param runs: ``{"batch": [...], "mapped": [...], "big_batch": [...]}``, one figure set per run.
    """
    summary = {
        variant: {
            "images": done[0]["images"],
            **{m: spread([r[m] for r in done]) for m in METRICS if all(r.get(m) is not None for r in done)},
            "cpu_seconds_per_image_by_component": {
                c: spread([round(r["cpu_seconds_by_component"][c] / r["images"], 4) for r in done])
                for c in COMPONENTS
            },
        }
        for variant, done in runs.items()
        if done
    }
    ratios = {}
    if runs["batch"] and runs["mapped"]:
        pairs = list(zip(runs["batch"], runs["mapped"], strict=False))  # the runs made side by side
        ratios = {m: spread([round(mapped[m] / batch[m], 2) for batch, mapped in pairs]) for m in RATIOS}
    return {"summary": summary, "mapped_over_batch": ratios, "targets": targets(summary, ratios)}


def targets(summary: dict[str, Any], ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """
    The targets, each with the measured median and whether it is met (``None``: not measured).

    :param summary: Medians per variant.
    :param ratios: Mapped over batch.
    """

    def median(variant: str, metric: str) -> float | None:
        figure = summary.get(variant, {}).get(metric)
        return None if figure is None else float(figure["median"])

    cpu_ratio = ratios.get("airflow_cpu_seconds_per_image", {}).get("median")
    batch_images = summary.get("batch", {}).get("images")
    big_images = summary.get("big_batch", {}).get("images")
    wanted: list[tuple[str, float | None, str, float]] = [
        ("Airflow CPU per image, mapped / batch", cpu_ratio, ">=", 10),
        (f"wall s, batch of {batch_images}", median("batch", "wall_seconds"), "<", 60),
        (f"wall s, batch of {big_images}", median("big_batch", "wall_seconds"), "<", 360),
        ("API calls / image, batch", median("batch", "api_calls_per_image"), "<=", 1.3),
        ("API calls / image, big batch", median("big_batch", "api_calls_per_image"), "<=", 1.3),
        ("task process peak RSS MB, big batch", median("big_batch", "task_process_peak_rss_mb"), "<", 300),
        ("triggerer peak RSS MB, big batch", median("big_batch", "triggerer_peak_rss_mb"), "<", 300),
    ]
    met = {">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
    return [
        {
            "target": f"{name} {op} {bound:g}",
            "measured": value,
            "met": None if value is None else met[op](value, bound),
        }
        for name, value, op, bound in wanted
    ]


def _cell(figure: dict[str, float] | None) -> str:
    if figure is None:
        return "-"
    low, high = figure["min"], figure["max"]
    return f"{figure['median']:g}" + ("" if low == high else f" ({low:g}-{high:g})")


def markdown(report: dict[str, Any]) -> str:
    """
    The report as markdown: the figures (median, min-max), the ratios, the targets.

    :param report: What ``batch_vs_mapped.py`` writes.
    """
    summary = report["summary"]
    lines = [
        f"{report['machine']}; {report['date']}; jobs of {report['job_seconds']:g} s; idle deployment: "
        f"{report['idle']['cpu_cores']:g} cores, {report['idle']['rows_per_second']:g} rows/s",
        "",
        "| variant | images | " + " | ".join(METRICS.values()) + " |",
        "| --- | --- | " + " | ".join("---" for _ in METRICS) + " |",
    ]
    for variant, figures in summary.items():
        cells = " | ".join(_cell(figures.get(metric)) for metric in METRICS)
        lines.append(f"| {variant} | {figures['images']:,} | {cells} |")
    if report["mapped_over_batch"]:
        lines += ["", "| mapped / batch | " + " | ".join(RATIOS) + " |", "| --- |" + " --- |" * len(RATIOS)]
        lines.append("| ratio | " + " | ".join(_cell(report["mapped_over_batch"][m]) for m in RATIOS) + " |")
    lines += ["", "| CPU s / image (median) | " + " | ".join(COMPONENTS) + " |"]
    lines.append("| --- |" + " --- |" * len(COMPONENTS))
    for variant, figures in summary.items():
        by = figures["cpu_seconds_per_image_by_component"]
        lines.append(f"| {variant} | " + " | ".join(f"{by[c]['median']:g}" for c in COMPONENTS) + " |")
    lines += ["", "| target | measured | met |", "| --- | --- | --- |"]
    for target in report["targets"]:
        met = {None: "not measured", True: "yes", False: "**no**"}[target["met"]]
        lines.append(f"| {target['target']} | {target['measured']} | {met} |")
    return "\n".join(lines)
