"""
TaskFlow decorators: ``@task.apiframe_image`` and ``@task.apiframe_batch``.

Airflow finds them through ``get_provider_info`` (``task-decorators``). Airflow's typing stub
types ``task.<name>`` of a provider's decorator only loosely (``TaskDecorator``, its arguments
``Any``); import :func:`apiframe_image_task` and :func:`apiframe_batch_task` from here for
their typed signatures.
"""

from __future__ import annotations

from airflow_provider_apiframe.decorators.batch import ApiframeBatchDecoratedOperator, apiframe_batch_task
from airflow_provider_apiframe.decorators.image import ApiframeImageDecoratedOperator, apiframe_image_task

__all__ = [
    "ApiframeBatchDecoratedOperator",
    "ApiframeImageDecoratedOperator",
    "apiframe_batch_task",
    "apiframe_image_task",
]
