"""
Run the example DAGs end to end with ``airflow dags test`` (the deferrable path, trigger included).

Needs ``APIFRAME_API_KEY`` (the real API; generating the showcase costs credits). Optional:
``APIFRAME_BASE_URL`` for another endpoint. Airflow's state goes to ``out/airflow-home``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ["apiframe_showcase", "apiframe_catalogue"]


def main() -> int:
    key = os.environ.get("APIFRAME_API_KEY")
    if not key:
        print(
            "The demo runs against the real Apiframe API for now: set APIFRAME_API_KEY=afk_... and run "
            "`make demo` again.\n(The tests run offline: `make test`.)",
            file=sys.stderr,
        )
        return 2
    home = ROOT / "out" / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    conn: dict[str, str] = {"conn_type": "apiframe", "password": key}
    if base_url := os.environ.get("APIFRAME_BASE_URL"):
        conn["host"] = base_url
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_APIFRAME_DEFAULT": json.dumps(conn),
    }
    airflow = [sys.executable, "-m", "airflow"]
    print(f"==> Preparing Airflow's database in {home}", flush=True)
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    for dag_id in DAGS:
        print(f"==> airflow dags test {dag_id}", flush=True)
        if subprocess.run([*airflow, "dags", "test", dag_id], env=env).returncode != 0:
            print(f"{dag_id} failed; its task logs are above.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
