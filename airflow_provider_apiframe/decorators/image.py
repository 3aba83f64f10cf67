"""``@task.apiframe_image``: a function returns the prompt (or some arguments); one image job runs."""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from airflow.sdk import ObjectStoragePath
from airflow.sdk.bases.decorator import DecoratedOperator, FParams, Task, task_decorator_factory
from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION, SetDuringExecution
from airflow.sdk.definitions.context import context_merge

from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.errors import fail_fast_on_bad_input
from airflow_provider_apiframe.operators.image import ApiframeImageGenerateOperator

try:  # Airflow >= 3.2
    from airflow.sdk.bases.decorator import determine_kwargs  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # Airflow 3.1
    from airflow.utils.operator_helpers import (  # type: ignore[attr-defined,no-redef,unused-ignore]
        determine_kwargs,
    )

if TYPE_CHECKING:
    from airflow.sdk import Context

#: What an ``@task.apiframe_image`` function may return: the prompt, or some of the operator's arguments.
ImageReturn = TypeVar("ImageReturn", bound="str | Mapping[str, Any]")


class ReturnedArguments(DecoratedOperator):
    """
    A decorated Apiframe operator: its function's return value sets the operator's arguments, then it runs.

    A returned value that is not a ``dict`` sets :attr:`returned_field`; a ``dict`` sets the
    arguments it names, each one of :attr:`returnable`. Returned values are rendered as templates
    (as ``@task.bash`` renders its command), then checked and sent exactly as the operator's own
    arguments are: in its ``execute``, before any request. A bad return value fails the task at
    once, without retries, naming the field. On resuming after the deferral the function is not
    called again: the task ends from the trigger's event, as the operator does.
    """

    #: The argument a returned value that is not a ``dict`` sets.
    returned_field: ClassVar[str]
    #: The arguments a returned ``dict`` may set: templated ones that only the submission reads
    #: (``output_path`` is not among them: the task reads it again when it resumes, without the function).
    returnable: ClassVar[tuple[str, ...]]
    #: The decorator, as messages name it.
    custom_operator_name: str = "@task.apiframe"
    #: The types some returned arguments must have (the others are checked by the operator), and
    #: how the message says so: the returned field's first.
    returned_types: ClassVar[dict[str, tuple[tuple[type, ...], str]]]
    # Show the values the function returned in the UI's rendered fields.
    overwrite_rtif_after_execution: bool = True

    def execute(self, context: Context) -> Any:
        """Call the function, set the arguments it returned, then run the operator."""
        with fail_fast_on_bad_input():
            self.apply_returned(self.call_function(context), context)
        return super().execute(context)

    def call_function(self, context: Context) -> Any:
        """
        Call the decorated function with its arguments and the context values it asks for.

        :param context: The task's context.
        """
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        return self.python_callable(*self.op_args, **kwargs)

    def apply_returned(self, returned: Any, context: Context) -> None:
        """
        Check what the function returned and set the arguments it names, rendered.

        :param returned: The function's return value.
        :param context: The task's context (for rendering).
        :raises ApiframeInvalidParamsError: A value of the wrong type, or a ``dict`` key that is not
            one of :attr:`returnable`.
        """
        values = self.returned_values(returned)
        for name, value in values.items():
            setattr(self, name, self.render_template(value, context))
        missing = [
            name for name in self.returnable if isinstance(getattr(self, name, None), SetDuringExecution)
        ]
        if missing:
            raise ApiframeInvalidParamsError(
                [
                    (
                        name,
                        f"required: return it from the function, or give it to {self.custom_operator_name}()",
                    )
                    for name in missing
                ]
            )
        self.log.info(
            "%s: the function set %s",
            self.custom_operator_name,
            ", ".join(sorted(values)),
        )

    def returned_values(self, returned: Any) -> dict[str, Any]:
        """
        The arguments a return value sets, by name.

        :param returned: The function's return value.
        """
        if isinstance(returned, Mapping):
            keys = ", ".join(self.returnable)
            problems = [
                (
                    str(name),
                    f"returned by the function, but not an argument it may set; allowed keys: {keys}. "
                    f"Give the others to {self.custom_operator_name}(...)",
                )
                for name in returned
                if name not in self.returnable
            ]
            if problems:
                raise ApiframeInvalidParamsError(problems)
            values = dict(returned)
        else:
            values = {self.returned_field: returned}
        wrong = [
            (
                name,
                f"the function returned {reprlib.repr(values[name])} ({type(values[name]).__name__}); "
                f"allowed: {allowed}"
                + (", or a dict of the operator's arguments" if name == self.returned_field else ""),
            )
            for name, (types, allowed) in self.returned_types.items()
            if name in values and not isinstance(values[name], types)
        ]
        if wrong:
            raise ApiframeInvalidParamsError(wrong)
        return values


class ApiframeImageDecoratedOperator(ReturnedArguments, ApiframeImageGenerateOperator):
    """
    ``@task.apiframe_image``: the function returns the prompt, or a dict of the operator's arguments.

    :param python_callable: The decorated function.
    :param op_args: Its positional arguments (templated; XCom inputs are resolved).
    :param op_kwargs: Its keyword arguments (templated; XCom inputs are resolved).
    :param kwargs: See :class:`~airflow_provider_apiframe.operators.image.ApiframeImageGenerateOperator`.
        ``model`` and ``prompt`` may come from the function instead.
    """

    returned_field = "prompt"
    returnable = ("model", "prompt", "model_params", "webhook_url", "webhook_events", "idempotency_key")
    returned_types: ClassVar[dict[str, tuple[tuple[type, ...], str]]] = {
        "prompt": ((str,), "a str (the prompt)"),
        "model": ((str,), "a str (the model, e.g. 'flux-2-pro')"),
    }
    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *ApiframeImageGenerateOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        "model_params": "json",
    }
    custom_operator_name: str = "@task.apiframe_image"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for name in ("model", "prompt"):  # may come from the function
            if kwargs.get(name) is None:
                kwargs[name] = SET_DURING_EXECUTION
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, **kwargs)


@overload
def apiframe_image_task(python_callable: Callable[FParams, ImageReturn]) -> Task[FParams, ImageReturn]: ...


@overload
def apiframe_image_task(
    *,
    model: str | None = None,
    prompt: str | None = None,
    model_params: Mapping[str, Any] | None = None,
    webhook_url: str | None = None,
    webhook_events: str | list[str] | None = None,
    apiframe_conn_id: str = ApiframeHook.default_conn_name,
    idempotency_key: str | None = None,
    output_path: str | ObjectStoragePath | None = None,
    output_conn_id: str | None = None,
    deferrable: bool = True,
    wait_for_completion: bool = True,
    poll_interval: float | timedelta = 5.0,
    timeout: float | timedelta = 1800.0,
    max_credits: float | None = None,
    renew_expired: bool = False,
    lineage_prompt: bool = False,
    multiple_outputs: bool = False,
    **kwargs: Any,
) -> Callable[[Callable[FParams, ImageReturn]], Task[FParams, ImageReturn]]: ...


def apiframe_image_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """
    Wrap a function into an image job (``@task.apiframe_image``, or this function imported, typed).

    The function returns the prompt, or a dict of some of the operator's arguments (``model``,
    ``prompt``, ``model_params``, ``webhook_url``, ``webhook_events``, ``idempotency_key``); the
    others are the decorator's. The task submits, defers and returns
    the same result as :class:`~airflow_provider_apiframe.operators.image.ApiframeImageGenerateOperator`.

    .. code-block:: python

        @task.apiframe_image(model="flux-2-pro", output_path="/data/posters")
        def poster(city: str) -> str:
            return f"A travel poster of {city}"


        poster.expand(city=["Lisbon", "Porto"])

    :param python_callable: The function (when used without arguments).
    :param multiple_outputs: Push each key of the result (``job_id``, ``images``...) as its own XCom.
        Off by default, whatever the function's return annotation says (it is not the task's result).
    :param kwargs: The operator's arguments (see
        :class:`~airflow_provider_apiframe.operators.image.ApiframeImageGenerateOperator`) and every
        ``BaseOperator`` argument.
    """
    return build_decorator(python_callable, ApiframeImageDecoratedOperator, kwargs)


def build_decorator(
    python_callable: Callable[..., Any] | None, operator: type, kwargs: dict[str, Any]
) -> Any:
    """
    Build the decorator of ``operator``; ``multiple_outputs`` is never inferred from the annotation.

    :param python_callable: The function, when the decorator is used without arguments.
    :param operator: The decorated operator class.
    :param kwargs: The decorator's arguments.
    """
    kwargs.setdefault("multiple_outputs", False)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=operator, **kwargs
    )
