"""The charts of docs/performance.md (benchmarks/charts.py), drawn from reports in the benchmarks' format."""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (with its siblings importable, as when run as a script)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


charts = load("charts")


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR, failing unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def triggerer_report() -> dict[str, Any]:
    """Two counts, two implementations, two runs each, summarised by the benchmark's own code."""
    scale = load("triggerer_scale")
    summaries = []
    for count in (1000, 10000):
        for implementation, cpu in (("provider", 1.2), ("to_thread", 5.0 + count / 1000)):
            runs = [
                {
                    "implementation": implementation,
                    "jobs": count,
                    "poll_period_s": 1.0,
                    **{figure: cpu * (1 + n / 10) for figure in scale.FIGURES},
                    "detection_s_p50": 0.5 * (n + 1),
                    "detection_s_p95": 0.9 * (n + 1),
                    "run": n + 1,
                }
                for n in range(2)
            ]
            summaries.append(scale.summarize(runs))
    return {
        "machine": "x86_64, 2 cores, Python 3.11.7",
        "date": "2026-12-03",
        "command": "python benchmarks/triggerer_scale.py --jobs 1000 10000 --repeat 2",
        "job_seconds": 15.0,
        "baseline_poll_period_s": 1.0,
        "summaries": summaries,
        "cpu_ratios": scale.ratios(summaries),
        "runs": [],
    }


def batch_report() -> dict[str, Any]:
    """One run per variant, summarised by ``_batch_report`` as ``batch_vs_mapped.py`` does."""
    batch = load("_batch_report")

    def run(images: int, scale: float) -> dict[str, Any]:
        return {
            "images": images,
            "wall_seconds": 30.0 * scale,
            "airflow_cpu_seconds_per_image": 0.015 * scale,
            "airflow_cpu_seconds_per_image_above_idle": 0.009 * scale,
            "rows_written_per_image": 0.22 * scale,
            "api_calls_per_image": 1.05 + scale / 100,
            "task_process_peak_rss_mb": 190.0,
            "triggerer_peak_rss_mb": 268.0,
            "retried_tasks": 0,
            "cpu_seconds_by_component": {c: 0.001 * images * scale for c in batch.COMPONENTS},
        }

    runs = {"batch": [run(200, 1)], "mapped": [run(200, 70)], "big_batch": [run(2000, 0.8)]}
    return {
        "machine": "x86_64, Python 3.11.7, 2 cores",
        "date": "2026-12-03",
        "command": "python benchmarks/batch_vs_mapped.py --items 200 --big-items 2000 --runs 1",
        "job_seconds": 5.0,
        "idle": {"cpu_cores": 0.1, "rows_per_second": 2.0},
        "warmup": {},
        "benchmark_seconds": 400,
        **batch.summarize(runs),
        "runs": runs,
    }


def test_triggerer_scale_chart_is_a_png_of_the_figure_size(tmp_path: Path) -> None:
    out = charts.chart_triggerer_scale(triggerer_report(), tmp_path / "deep" / "scale.png")

    assert out == tmp_path / "deep" / "scale.png"
    assert png_size(out) == (12 * 110, 5 * 110)
    assert 20_000 < out.stat().st_size < 1_000_000


def test_batch_vs_mapped_chart_is_a_png_of_the_figure_size(tmp_path: Path) -> None:
    out = charts.chart_batch_vs_mapped(batch_report(), tmp_path / "batch.png")

    assert png_size(out) == (12 * 110, int(7.5 * 110))
    assert 20_000 < out.stat().st_size < 1_000_000


def test_different_figures_draw_different_charts(tmp_path: Path) -> None:
    report = triggerer_report()
    first = charts.chart_triggerer_scale(report, tmp_path / "a.png").read_bytes()
    report["summaries"][0]["cpu_ms_per_job"] = {"median": 40.0, "min": 30.0, "max": 50.0}

    assert charts.chart_triggerer_scale(report, tmp_path / "b.png").read_bytes() != first


def test_a_report_missing_a_figure_fails_naming_it(tmp_path: Path) -> None:
    report = triggerer_report()
    del report["summaries"][1]["detection_s_p95"]

    with pytest.raises(charts.ReportError, match=r"summaries\[1\] has no 'detection_s_p95'"):
        charts.chart_triggerer_scale(report, tmp_path / "scale.png")
    assert not (tmp_path / "scale.png").exists()


def test_a_batch_report_missing_a_figure_fails_naming_it(tmp_path: Path) -> None:
    report = batch_report()
    del report["summary"]["mapped"]["rows_written_per_image"]["median"]

    with pytest.raises(charts.ReportError, match=r"summary.mapped.rows_written_per_image has no 'median'"):
        charts.chart_batch_vs_mapped(report, tmp_path / "batch.png")
    del report["summary"]

    with pytest.raises(charts.ReportError, match=r"the report has no 'summary'"):
        charts.chart_batch_vs_mapped(report, tmp_path / "batch.png")


def test_the_command_line_draws_each_report_under_its_name(tmp_path: Path) -> None:
    (tmp_path / "scale.json").write_text(json.dumps(triggerer_report()))
    (tmp_path / "batch.json").write_text(json.dumps(batch_report()))
    reports = [str(tmp_path / "scale.json"), str(tmp_path / "batch.json")]

    assert charts.main([*reports, "--out", str(tmp_path)]) == 0
    assert png_size(tmp_path / "triggerer-scale.png")[0] == 12 * 110
    assert png_size(tmp_path / "batch-vs-mapped.png")[0] == 12 * 110


def test_the_command_line_rejects_a_json_of_no_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"runs": []}))

    with pytest.raises(SystemExit):
        charts.main([str(tmp_path / "other.json"), "--out", str(tmp_path)])
    assert "neither a triggerer_scale report" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []


def test_without_matplotlib_the_benchmark_skips_the_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError

    assert charts.draw_if_possible("triggerer_scale", triggerer_report(), tmp_path / "s.png") is None
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()
