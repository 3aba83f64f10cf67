"""
GPT Image parameters are declared once, by the request models; the operators' typed signatures
(spelled out for DAG authors and their editors) must take exactly those fields, typed to admit
every value the model does, each documented.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

from airflow_provider_apiframe.core.models import TYPED_REQUESTS, GptImage2Params, GptImageParams, JobOptions
from airflow_provider_apiframe.operators.gpt_image import GptImage2GenerateOperator, GptImageGenerateOperator

OPERATORS = {
    "gpt-image-1.5": (GptImageGenerateOperator, GptImageParams),
    "gpt-image-2": (GptImage2GenerateOperator, GptImage2Params),
}
#: What the flat request holds besides the operator's arguments: the key is a base operator argument.
NOT_AN_ARGUMENT = {"idempotency_key"}


def kinds(annotation: Any) -> set[Any]:
    """The Python types of the values an annotation admits (``Any`` for anything)."""
    if annotation is Any:
        return {Any}
    origin = get_origin(annotation)
    if origin is Annotated:
        return kinds(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(kinds(arg) for arg in get_args(annotation)))
    if origin is Literal:
        return {type(value) for value in get_args(annotation)}
    return {origin or annotation}


def arguments(operator: type) -> dict[str, inspect.Parameter]:
    parameters = inspect.signature(operator.__init__).parameters
    return {name: p for name, p in parameters.items() if name not in ("self", "kwargs")}


@pytest.mark.parametrize("model", sorted(OPERATORS))
def test_the_operator_takes_exactly_the_request_models_fields(model: str) -> None:
    operator, params = OPERATORS[model]
    assert operator.typed_model == model
    assert operator.typed_params == tuple(params.model_fields)
    assert set(arguments(operator)) == set(TYPED_REQUESTS[model].model_fields) - NOT_AN_ARGUMENT


@pytest.mark.parametrize("model", sorted(OPERATORS))
def test_every_argument_is_keyword_only_and_optional_but_the_prompt(model: str) -> None:
    operator, _ = OPERATORS[model]
    for name, parameter in arguments(operator).items():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        if name == "prompt":
            assert parameter.default is inspect.Parameter.empty
        else:
            assert parameter.default is None, name


@pytest.mark.parametrize("model", sorted(OPERATORS))
def test_every_argument_admits_every_kind_of_value_its_field_takes(model: str) -> None:
    operator, _ = OPERATORS[model]
    hints = get_type_hints(operator.__init__)
    fields = TYPED_REQUESTS[model].model_fields
    for name in arguments(operator):
        taken = kinds(hints[name])
        if Any in taken:
            continue
        wanted = kinds(fields[name].annotation)
        if list in wanted:  # a single item is accepted for a list
            wanted |= {str}
        assert wanted <= taken, f"{name}: the model takes {wanted}, the operator admits {taken}"


@pytest.mark.parametrize("model", sorted(OPERATORS))
def test_every_model_parameter_is_documented(model: str) -> None:
    operator, params = OPERATORS[model]
    doc = inspect.getdoc(operator) or ""
    for name in ("prompt", *params.model_fields):
        assert f":param {name}:" in doc, name


def test_the_shared_options_are_the_job_options() -> None:
    shared = set(JobOptions.model_fields) - NOT_AN_ARGUMENT
    for operator, _ in OPERATORS.values():
        assert shared <= set(arguments(operator))
        assert shared <= set(operator.template_fields)
    assert typing.get_type_hints(GptImageGenerateOperator.__init__)["prompt"] is str
