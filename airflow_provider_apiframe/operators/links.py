"""An extra link on Apiframe tasks: open the first result image."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator


class ApiframeImageLink(BaseOperatorLink):
    """
    "Apiframe image": the task's first result image.

    Airflow asks for the link on the worker when the task finishes and keeps it with the task
    instance; the task remembers the URL when it builds its result.
    """

    name = "Apiframe image"

    # ``ti_key`` is a TaskInstanceKey, declared in a different module by each supported Airflow.
    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        """Return the first result image's URL, or an empty string while there is none."""
        url = getattr(operator, "first_image_url", None)
        return url if isinstance(url, str) else ""
