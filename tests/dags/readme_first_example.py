"""
README's first example, exactly as written there, in a DAG of its own.

The deployment tier triggers it by hand, as the UI's *Trigger* button does: a manual run has no
logical date, so the example's templates must render without one. Its ``s3://my-bucket/`` output
becomes a local folder; nothing else changes.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG

README = Path(os.environ.get("APIFRAME_REPO", Path(__file__).parents[2])) / "README.md"
FIRST_EXAMPLE = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
assert FIRST_EXAMPLE is not None, "README.md has no Python example"
OUTPUT = os.environ.get("APIFRAME_EXAMPLE_OUTPUT", "/tmp/apiframe-example-images")

with DAG(
    dag_id="readme_first_example",
    schedule=None,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=2)},
) as dag:
    exec(FIRST_EXAMPLE[1].replace("s3://my-bucket/images/", f"{OUTPUT}/readme/"))
