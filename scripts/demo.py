"""
The showcase, end to end: ``make demo``.

Starts the local Apiframe emulator (or, with ``APIFRAME_API_KEY`` set, uses the real API), points
the ``apiframe_default`` connection at it, runs the showcase DAG with ``airflow dags test`` (the
deferrable path: every task defers and its trigger polls, then saves its images under
``out/demo/``), prints a table, writes a gallery of the images (``out/demo/index.html`` and
``out/demo/contact-sheet.png``, by ``scripts/gallery.py``) and stops the emulator.

Environment: ``APIFRAME_API_KEY`` (use the real API; costs credits), ``APIFRAME_BASE_URL`` (another
endpoint), ``APIFRAME_DEMO_JOB_SECONDS`` (emulated job time, default 4),
``APIFRAME_DEMO_EMULATOR_KEY`` (the key the emulator accepts; random by default),
``APIFRAME_DEMO_OUT`` (the output folder, default ``out/`` in the repository).

Before the summary it checks that the key appears in no log, no output file and nowhere in Airflow's
database.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gallery import Entry, write_contact_sheet, write_gallery
from PIL import Image

from airflow_provider_apiframe.emulator import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("APIFRAME_DEMO_OUT") or ROOT / "out").resolve()
DEMO = OUT / "demo"
DAG_ID = "apiframe_showcase"
_TASK = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
_JOB = re.compile(r"Apiframe job (\S+) is (QUEUED|PROCESSING|COMPLETED|FAILED|CANCELLED)(?: \((\d+)%\))?")
_FAILED = re.compile(r"\[DAG TEST\] Error running task|Task failed|ended (FAILED|CANCELLED)")


def step(number: int, text: str) -> None:
    print(f"\n==> [{number}/5] {text}", flush=True)


@contextmanager
def api() -> Any:
    """Yield (base URL, key, label): the emulator, started here, or the real API."""
    key = os.environ.get("APIFRAME_API_KEY")
    if key:
        base_url = os.environ.get("APIFRAME_BASE_URL", "https://api.apiframe.ai")
        step(1, f"Using the Apiframe API at {base_url} (APIFRAME_API_KEY is set; this costs credits)")
        yield base_url, key, "the Apiframe API"
        return
    # A fresh key the emulator accepts (CI passes its own, to look for it in this script's output).
    key = os.environ.get("APIFRAME_DEMO_EMULATOR_KEY") or f"afk_demo_{secrets.token_hex(12)}"
    job_seconds = os.environ.get("APIFRAME_DEMO_JOB_SECONDS", "4")
    emulator = EmulatorProcess(api_key=key, settings={"job_seconds": job_seconds}, log=OUT / "emulator.log")
    step(1, f"Starting the Apiframe emulator on {emulator.url} (each job takes ~{job_seconds} s)")
    emulator.start()
    try:
        yield emulator.url, key, "the local emulator"
    finally:
        emulator.stop(timeout=10)
        print(f"\nEmulator stopped (its log: {OUT / 'emulator.log'}).")


def run_dag(env: dict[str, str]) -> str:
    """Run the DAG, echoing each task's progress; return the run id."""
    log_path = DEMO / "airflow-dags-test.log"
    task = "?"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", DAG_ID],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            if match := _TASK.search(line):
                task = match[1]
                print(f"    {task:<28} started", flush=True)
            elif match := _JOB.search(line):
                progress = f" {match[3]}%" if match[3] and match[2] == "PROCESSING" else ""
                print(f"    {task:<28} job {match[1][:8]} {match[2]}{progress}", flush=True)
            elif _FAILED.search(line):
                print(f"    {task:<28} FAILED (see {log_path})", flush=True)
        code = process.wait()
    if code != 0:
        raise SystemExit(f"airflow dags test {DAG_ID} failed; the full log is in {log_path}")
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
    return str(run_id)


def results(env: dict[str, str], run_id: str) -> dict[str, dict[str, Any]]:
    """The XCom result of each task of the run."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
            (DAG_ID, run_id),
        ).fetchall()
    return {task_id: json.loads(value) for task_id, value in rows}


def check_images(found: dict[str, dict[str, Any]]) -> dict[str, list[Path]]:
    """The files each task saved (its result's ``files``), each image checked to open as one."""
    files: dict[str, list[Path]] = {}
    for task_id, result in sorted(found.items()):
        for saved in result["files"]:
            path = Path(saved["path"].removeprefix("file://"))
            if saved.get("kind", "image") == "image":
                with Image.open(path) as image:
                    image.verify()
            elif not path.is_file():
                raise SystemExit(f"Task {task_id} reported {path}, which is not a file")
            files.setdefault(task_id, []).append(path)
    return files


def prompts(env: dict[str, str], run_id: str) -> dict[str, str]:
    """The rendered ``prompt`` of each task of the run that has one (the result does not hold it)."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields"
            " WHERE dag_id = ? AND run_id = ?",
            (DAG_ID, run_id),
        ).fetchall()
    found = {task_id: json.loads(fields).get("prompt") for task_id, fields in rows if fields}
    return {task_id: prompt for task_id, prompt in found.items() if isinstance(prompt, str)}


def gallery(
    found: dict[str, dict[str, Any]], files: dict[str, list[Path]], prompt: dict[str, str]
) -> tuple[Path, Path]:
    """Write the gallery page and the contact sheet of every saved file; return their paths."""
    entries = [
        Entry(
            task_id=task_id,
            path=path,
            job_id=found[task_id]["job_id"],
            model=found[task_id]["model"],
            credits=found[task_id]["credit_cost"],
            prompt=found[task_id].get("prompt") or prompt.get(task_id),
        )
        for task_id, paths in sorted(files.items())
        for path in paths
    ]
    sheet = write_contact_sheet(entries, DEMO / "contact-sheet.png")
    return write_gallery(entries, DEMO, contact_sheet=sheet), sheet


def shown(path: Path) -> str:
    """A path as the summary prints it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def check_key_absent(key: str, home: Path) -> str:
    """Fail if the key is in any log or output file of the run, or anywhere in Airflow's database."""
    texts = {
        p: p.read_bytes()
        for p in [*OUT.rglob("*.log"), *OUT.rglob("*.html"), *home.rglob("*")]
        if p.is_file() and p.suffix != ".db"
    }
    with sqlite3.connect(home / "airflow.db") as db:
        texts[home / "airflow.db"] = "\n".join(db.iterdump()).encode()
    leaks = [str(path) for path, text in texts.items() if key.encode() in text]
    if leaks:
        raise SystemExit(f"The API key appears in: {', '.join(leaks)}")
    return f"The API key appears in none of {len(texts)} logs and files, Airflow's database included."


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    with api() as (base_url, key, label):
        home = OUT / "airflow-home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_APIFRAME_DEFAULT": json.dumps(
                {"conn_type": "apiframe", "password": key, "host": base_url}
            ),
            "APIFRAME_EXAMPLE_OUTPUT": str(DEMO),  # the tasks save their images here themselves
        }
        env.pop("APIFRAME_API_KEY", None)
        step(2, f"Preparing Airflow's database in {shown(home)}")
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        step(3, f"airflow dags test {DAG_ID} against {label} (each task defers; its trigger polls)")
        started = time.monotonic()
        run_id = run_dag(env)
        print(f"    done in {time.monotonic() - started:.0f} s")
        step(4, f"Checking the images the tasks saved in {shown(DEMO)}/")
        found = results(env, run_id)
        files = check_images(found)
        index, sheet = gallery(found, files, prompts(env, run_id))
        key_check = check_key_absent(key, home)
    step(5, "Summary")
    rows = [
        (
            task_id,
            r["job_id"],
            r["status"],
            str(r["credit_cost"]),
            " ".join(p.name for p in files.get(task_id, [])),
        )
        for task_id, r in sorted(found.items())
    ]
    header = ("task", "job id", "status", "credits", "files")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    folders = sorted({shown(p.parent) for paths in files.values() for p in paths})
    print(f"\n{sum(len(f) for f in files.values())} images in {', '.join(folders)}/")
    print(key_check)
    print(f"\nGallery:       {index}")
    print(f"Contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
