"""``@task.apiframe_batch``: a function returns the items; one task submits, awaits and saves them all."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar, TypeVar, overload

from airflow.sdk import ObjectStoragePath
from airflow.sdk.bases.decorator import DecoratedOperator, FParams, Task
from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION

from airflow_provider_apiframe.decorators.image import ReturnedArguments, build_decorator
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

#: What an ``@task.apiframe_batch`` function may return: the items, a ``.jsonl``/``.csv`` path, or arguments.
BatchReturn = TypeVar(
    "BatchReturn", bound="Sequence[Mapping[str, Any]] | str | ObjectStoragePath | Mapping[str, Any]"
)


class ApiframeBatchDecoratedOperator(ReturnedArguments, ApiframeBatchOperator):
    """
    ``@task.apiframe_batch``: the function returns the items, or the path of a file of them.

    :param python_callable: The decorated function.
    :param op_args: Its positional arguments (templated; XCom inputs are resolved).
    :param op_kwargs: Its keyword arguments (templated; XCom inputs are resolved).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.batch.ApiframeBatchOperator`
        (``output_path`` is required).
    """

    returned_field = "requests"
    returnable = ("requests",)
    returned_types: ClassVar[dict[str, tuple[tuple[type, ...], str]]] = {
        "requests": (
            (list, tuple, str, ObjectStoragePath),
            "a list of items (dicts of key, model, route, prompt, model_params), or the path of a "
            ".jsonl or .csv file of them",
        ),
    }
    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *ApiframeBatchOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        "requests": "json",
    }
    custom_operator_name: str = "@task.apiframe_batch"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("requests") is None:  # from the function
            kwargs["requests"] = SET_DURING_EXECUTION
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, **kwargs)

    def returned_values(self, returned: Any) -> dict[str, Any]:
        """
        The arguments a return value sets; a tuple of items becomes a list.

        :param returned: The function's return value.
        """
        values = super().returned_values(returned)
        if isinstance(values.get("requests"), tuple):
            values["requests"] = list(values["requests"])
        return values


@overload
def apiframe_batch_task(python_callable: Callable[FParams, BatchReturn]) -> Task[FParams, BatchReturn]: ...


@overload
def apiframe_batch_task(
    *,
    output_path: str | ObjectStoragePath | None = None,
    output_conn_id: str | None = None,
    max_credits: float | None = None,
    max_failed_items: int = 0,
    concurrency: int = 32,
    apiframe_conn_id: str = ApiframeHook.default_conn_name,
    deferrable: bool = True,
    poll_interval: float | timedelta = 5.0,
    timeout: float | timedelta = 7200.0,
    lineage_prompt: bool = False,
    multiple_outputs: bool = False,
    **kwargs: Any,
) -> Callable[[Callable[FParams, BatchReturn]], Task[FParams, BatchReturn]]: ...


def apiframe_batch_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """
    Wrap a function into a batch of jobs (``@task.apiframe_batch``, or this function imported, typed).

    The function returns the items (``[{"key", "model", "route", "prompt", "model_params"}, ...]``)
    or the path of a ``.jsonl`` or ``.csv`` file of them (or ``{"requests": ...}``). The task
    checks every item, submits, defers once and returns the same counts as
    :class:`~airflow_provider_apiframe.operators.batch.ApiframeBatchOperator`.

    .. code-block:: python

        @task.apiframe_batch(output_path="/data/catalogue", max_credits=200)
        def catalogue(products: list[str]) -> list[dict[str, Any]]:
            return [{"key": p, "model": "gpt-image-1.5", "prompt": f"A photo of {p}"} for p in products]

    :param python_callable: The function (when used without arguments: ``output_path`` then comes
        from ``default_args``).
    :param output_path: The folder of the results and the manifest (templated; required).
    :param multiple_outputs: Push each count of the result as its own XCom (off by default).
    :param kwargs: The operator's arguments (see
        :class:`~airflow_provider_apiframe.operators.batch.ApiframeBatchOperator`) and every
        ``BaseOperator`` argument.
    """
    return build_decorator(python_callable, ApiframeBatchDecoratedOperator, kwargs)
