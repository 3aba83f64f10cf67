"""Stand-ins for the parts of Airflow that the operators touch in unit tests."""

from __future__ import annotations

from typing import Any


class FakeTI:
    """The task instance attributes the operators read, a recording ``xcom_push`` and an ``xcom_pull``."""

    def __init__(
        self,
        *,
        dag_id: str = "images",
        task_id: str = "draw",
        run_id: str = "manual__2026-11-24T00:00:00+00:00",
        map_index: int | None = -1,
        try_number: int = 1,
    ):
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = try_number
        self.pushed: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed.append((key, value))

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        """The last value this task instance pushed under ``key``."""
        values = [value for pushed_key, value in self.pushed if pushed_key == key]
        return values[-1] if values else None

    def retry(self) -> FakeTI:
        """The same task instance, one try later."""
        return FakeTI(
            dag_id=self.dag_id,
            task_id=self.task_id,
            run_id=self.run_id,
            map_index=self.map_index,
            try_number=self.try_number + 1,
        )
