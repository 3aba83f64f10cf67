"""Fixtures of the end-to-end tier: a throwaway Airflow home, and where the example DAGs save files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway AIRFLOW_HOME with a migrated SQLite database and the example DAGs."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    env.pop("AIRFLOW_CONN_APIFRAME_DEFAULT", None)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    return env


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """Where the example DAGs save their images in this test."""
    return tmp_path / "images"
