"""
The charts of ``docs/performance.md``, drawn only from the JSON reports the benchmarks write.

``benchmarks/triggerer_scale.py`` and ``benchmarks/batch_vs_mapped.py`` call these after writing
their report; to redraw from reports already written (e.g. those kept in ``benchmarks/results/``):

    python benchmarks/charts.py out/triggerer_scale.json out/batch_vs_mapped.json --out docs/images/

matplotlib is imported only when a chart is drawn (Agg, no display), so the benchmarks run without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: One colour and marker per implementation, the provider's the strongest.
STYLES = {
    "provider": ("#1f5fbf", "o"),
    "to_thread": ("#d9822b", "s"),
    "aiohttp_per_poll": ("#3a9b4a", "^"),
    "httpx_per_poll": ("#b83b5e", "D"),
}
#: What each implementation stands for, in the legend.
LABELS = {
    "provider": "provider (ApiframeJobTrigger)",
    "to_thread": "to_thread (Anthropic provider's way)",
    "aiohttp_per_poll": "aiohttp_per_poll (dbt Cloud provider's way)",
    "httpx_per_poll": "httpx_per_poll (new httpx client per poll)",
}
#: How the batch report's variants are named on the chart.
VARIANTS = {"batch": "batch", "mapped": "mapped tasks", "big_batch": "big batch"}
VARIANT_COLOURS = {"batch": "#1f5fbf", "mapped": "#d9822b", "big_batch": "#6a8fd0"}
#: The files ``main`` writes, by the benchmark that wrote the report.
FILE_NAMES = {"triggerer_scale": "triggerer-scale.png", "batch_vs_mapped": "batch-vs-mapped.png"}


class ReportError(ValueError):
    """A report that lacks what its chart is drawn from."""


def _need(mapping: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    """
    Fail, naming the key, unless ``mapping`` has every one of ``keys``.

    :param mapping: Part of a report.
    :param keys: What the chart reads from it.
    :param where: Names that part in the error.
    """
    if not isinstance(mapping, Mapping):
        raise ReportError(f"{where} is a {type(mapping).__name__}, not an object")
    missing = [key for key in keys if key not in mapping]
    if missing:
        raise ReportError(f"{where} has no {', '.join(map(repr, missing))}: not a report this chart reads")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", metadata={"Software": None})
    return out


def _spread(figure: Mapping[str, float]) -> tuple[float, float, float]:
    """The median and how far below and above it the runs went (the median is rounded: never < 0)."""
    median = figure["median"]
    return median, max(median - figure["min"], 0.0), max(figure["max"] - median, 0.0)


def _bars(spreads: list[tuple[float, float, float]]) -> list[list[float]] | None:
    """The error bars of ``spreads``, or none when every run gave the same figure (one run)."""
    if not any(below or above for _, below, above in spreads):
        return None
    return [[below for _, below, _ in spreads], [above for _, _, above in spreads]]


def _number(value: float, _: object = None) -> str:
    return f"{value:,.4g}" if value >= 1 else f"{value:.3g}"


def chart_triggerer_scale(report: dict[str, Any], out: Path) -> Path:
    """
    CPU per job and detection latency against jobs at once, per implementation (log-log).

    :param report: What ``triggerer_scale.py`` writes (``summaries`` of each implementation and count).
    :param out: The PNG to write.
    :return: ``out``.
    """
    _need(report, ("summaries", "machine", "date", "job_seconds", "baseline_poll_period_s"), "the report")
    summaries = report["summaries"]
    if not isinstance(summaries, list) or not summaries:
        raise ReportError("the report's 'summaries' is empty")
    figures = ("cpu_ms_per_job", "detection_s_p50", "detection_s_p95")
    by_implementation: dict[str, list[dict[str, Any]]] = {}
    for n, summary in enumerate(summaries):
        _need(summary, ("implementation", "jobs", "runs", *figures), f"summaries[{n}]")
        for figure in figures:
            _need(summary[figure], ("median", "min", "max"), f"summaries[{n}].{figure}")
        by_implementation.setdefault(summary["implementation"], []).append(summary)

    chart = _figure(12, 5)
    cpu_axes, latency_axes = chart.subplots(1, 2)
    counts = sorted({s["jobs"] for s in summaries})
    for name, rows in by_implementation.items():
        rows.sort(key=lambda s: s["jobs"])
        colour, marker = STYLES.get(name, ("#555555", "x"))
        jobs = [s["jobs"] for s in rows]
        width = 2.5 if name == "provider" else 1.5
        cpu = [_spread(s["cpu_ms_per_job"]) for s in rows]
        cpu_axes.errorbar(
            jobs,
            [c[0] for c in cpu],
            yerr=_bars(cpu),
            color=colour,
            marker=marker,
            linewidth=width,
            capsize=3,
            label=LABELS.get(name, name),
        )
        latency_axes.plot(
            jobs, [s["detection_s_p95"]["median"] for s in rows], color=colour, marker=marker, lw=width
        )
        latency_axes.plot(
            jobs, [s["detection_s_p50"]["median"] for s in rows], color=colour, marker=marker, lw=1, ls=":"
        )
    runs = sorted({s["runs"] for s in summaries})
    cpu_axes.set_title("CPU per job (waiting process only)")
    cpu_axes.set_ylabel("CPU ms per job (log)")
    latency_axes.set_title("Completion-detection latency")
    latency_axes.set_ylabel("seconds after the job completed (log)")
    latency_axes.plot([], [], color="#333333", label="p95")
    latency_axes.plot([], [], color="#333333", lw=1, ls=":", label="p50")
    latency_axes.legend(title="percentile", loc="upper left")
    cpu_axes.legend(title="implementation", loc="best", fontsize=9)
    for axes in (cpu_axes, latency_axes):
        _log_counts(axes, counts, "jobs awaited at once in one event loop (log)")
    spread = "median, bars min-max" if runs != [1] else "1 run per point"
    chart.suptitle(
        f"One triggerer event loop: provider vs baselines polling every "
        f"{report['baseline_poll_period_s']:g} s ({report['job_seconds']:g} s jobs; {spread})\n"
        f"{report['machine']}, {report['date']}",
        fontsize=11,
    )
    return _save(chart, out)


def _log_y(axes: Axes) -> None:
    """A log y axis labelled in plain numbers, its 2s and 5s too (a decade or less still reads)."""
    from matplotlib.ticker import FuncFormatter

    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(FuncFormatter(_number))
    axes.yaxis.set_minor_formatter(
        FuncFormatter(lambda value, _: _number(value) if f"{value:.0e}"[0] in "25" else "")
    )


def _log_counts(axes: Axes, counts: list[int], label: str) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axes.set_xscale("log")
    axes.set_xticks(counts)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    _log_y(axes)
    axes.set_xlabel(label)
    axes.grid(True, which="both", alpha=0.3)


#: The panels of the batch chart: (metric, title, axis label, log scale).
BATCH_PANELS = (
    ("airflow_cpu_seconds_per_image", "Airflow CPU per image", "CPU s per image, all processes (log)", True),
    ("rows_written_per_image", "Metadata rows written per image", "rows per image (log)", True),
    ("api_calls_per_image", "API calls per image", "calls per image", False),
    ("wall_seconds", "Wall time of the run", "seconds, queued to end (log)", True),
)


def chart_batch_vs_mapped(report: dict[str, Any], out: Path) -> Path:
    """
    One batch task vs mapped tasks: Airflow CPU, metadata rows, API calls per image and wall time.

    :param report: What ``batch_vs_mapped.py`` writes (``summary`` per variant, ``mapped_over_batch``).
    :param out: The PNG to write.
    :return: ``out``.
    """
    _need(report, ("summary", "mapped_over_batch", "machine", "date", "job_seconds"), "the report")
    summary = report["summary"]
    variants = [v for v in VARIANTS if v in summary]
    if not variants:
        raise ReportError(f"the report's 'summary' has none of {', '.join(VARIANTS)}")
    metrics = [panel[0] for panel in BATCH_PANELS]
    for variant in variants:
        _need(summary[variant], ("images", *metrics), f"summary.{variant}")
        for metric in metrics:
            _need(summary[variant][metric], ("median", "min", "max"), f"summary.{variant}.{metric}")
    ratios = report["mapped_over_batch"]

    chart = _figure(12, 7.5)
    names = [f"{VARIANTS[v]}\n{summary[v]['images']:,} images" for v in variants]
    colours = [VARIANT_COLOURS[v] for v in variants]
    for axes, (metric, title, label, log) in zip(chart.subplots(2, 2).flat, BATCH_PANELS, strict=True):
        values = [_spread(summary[v][metric]) for v in variants]
        bars = axes.bar(
            names,
            [v[0] for v in values],
            yerr=_bars(values),
            color=colours,
            capsize=4,
        )
        axes.bar_label(bars, labels=[_number(v[0]) for v in values], padding=2, fontsize=9)
        if log:
            _log_y(axes)
            low, high = min(v[0] - v[1] for v in values), max(v[0] + v[2] for v in values)
            axes.set_ylim(low / 2, high * 3)  # room for the labels above the bars
        else:
            axes.set_ylim(0, max(v[0] + v[2] for v in values) * 1.2)
        ratio = ratios.get(metric, {}).get("median") if isinstance(ratios, Mapping) else None
        axes.set_title(title + (f" (mapped / batch: {ratio:g}x)" if ratio else ""), fontsize=10)
        axes.set_ylabel(label)
        axes.grid(True, axis="y", which="both", alpha=0.3)
    runs = sorted({len(report.get("runs", {}).get(v, [])) for v in variants} - {0})
    spread = "median, bars min-max" if runs and runs != [1] else "1 run each"
    chart.suptitle(
        f"N images in a real deployment: one ApiframeBatchOperator task vs N mapped tasks "
        f"({report['job_seconds']:g} s jobs; {spread})\n{report['machine']}, {report['date']}",
        fontsize=11,
    )
    return _save(chart, out)


CHARTS: dict[str, Callable[[dict[str, Any], Path], Path]] = {
    "triggerer_scale": chart_triggerer_scale,
    "batch_vs_mapped": chart_batch_vs_mapped,
}


def kind_of(report: dict[str, Any]) -> str:
    """
    Which benchmark wrote ``report``: ``triggerer_scale`` or ``batch_vs_mapped``.

    :param report: A report as read from its JSON.
    """
    if isinstance(report, dict) and "summaries" in report:
        return "triggerer_scale"
    if isinstance(report, dict) and "summary" in report:
        return "batch_vs_mapped"
    raise ReportError("neither a triggerer_scale report ('summaries') nor a batch_vs_mapped one ('summary')")


def draw_if_possible(kind: str, report: dict[str, Any], out: Path) -> Path | None:
    """
    Draw ``kind``'s chart, or say how to draw it later when matplotlib is not installed.

    :param kind: ``triggerer_scale`` or ``batch_vs_mapped``.
    :param report: The report just written.
    :param out: The PNG to write.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"No chart: matplotlib is not installed (then: python {__file__} REPORT.json)", file=sys.stderr)
        return None
    written = CHARTS[kind](report, out)
    print(f"Chart written to {written}")
    return written


def main(argv: list[str] | None = None) -> int:
    """
    Draw the chart of each report given.

    :param argv: The command line (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+", help="JSON reports of the benchmarks")
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="the folder of the PNGs")
    args = parser.parse_args(argv)
    for path in args.reports:
        report = json.loads(path.read_text())
        try:
            kind = kind_of(report)
            written = CHARTS[kind](report, args.out / FILE_NAMES[kind])
        except ReportError as error:
            parser.error(f"{path}: {error}")
        print(f"{path} -> {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
