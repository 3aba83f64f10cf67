"""
Requests generated from the contract for every model and action of every job route
(``tests/contract_cases.py``: a valid body, several invalid values of each parameter, unknown keys,
broken shared fields): the provider's verdict and the emulator's equal the contract's.

- the provider: ``create_job(model, route=..., prompt=..., model_params=body[<family>Params] (an
  action's own fields), webhook_url=..., webhook_events=...)`` raises ``ApiframeInvalidParamsError``
  exactly when the contract refuses the body, and sends a body it accepts exactly as written;
- the cases the builder's arguments cannot express (an unknown top-level key; ``null`` for a field,
  which the builder's ``None`` means "not set") are counted; the contract refuses every one, and no
  body the builder makes has such a key or value;
- the emulator: its validator on every case, and a sample of the cases through its HTTP API.

With the snapshot of API 2.0.0 (106 model alternatives: 56 image, 43 video, 7 music; and the 9
actions of the Midjourney and Suno action routes): 7,016 cases, 2,169 valid and 4,847 invalid
(images generate 3,468; videos generate 2,472; music generate 344; Suno actions 176; Midjourney
actions 134; the edit, upscale and background-remove routes 422); 1,384 inexpressible (106 unknown
top-level keys, 1,277 nulls, 1 required-but-empty block left out, which the builder sends itself),
all invalid; 5,632 judged by the provider; zero disagreements. The core's contract check also
agrees with ``jsonschema`` on the whole ``oneOf`` for every request body of the contract.
"""

from __future__ import annotations

import collections
import json
import re
from typing import Any

import httpx
from contract_cases import URL, Case, branch_name, cases, request_schemas, resolve, valid
from support import API_KEY, Contract

from airflow_provider_apiframe.core.calls import create_job
from airflow_provider_apiframe.core.catalog import (
    ACTIONS,
    JOB_ROUTES,
    MODELS,
    ROUTE_SCHEMAS,
    ModelSpec,
)
from airflow_provider_apiframe.core.errors import ApiframeInvalidParamsError
from airflow_provider_apiframe.core.inputs import placeholder_url
from airflow_provider_apiframe.core.schema_check import ContractCheck
from airflow_provider_apiframe.emulator.validation import RequestValidator

#: Top-level body keys, and the builder's argument each comes from (plus the model's params key).
ARGUMENTS = {
    "model": "model",
    "prompt": "prompt",
    "webhookUrl": "webhook_url",
    "webhookEvents": "webhook_events",
}


def job_cases(spec: dict[str, Any]) -> list[Case]:
    """The generated cases of the routes the provider builds jobs for, and valid values of each parameter."""
    return [case for case in [*cases(spec), *valid_values(spec)] if case.path in JOB_ROUTES]


def valid_values(spec: dict[str, Any]) -> list[Case]:
    """
    For every alternative, its valid body with one field (at the top or in its parameters block) set
    to each value the contract allows at its edges: every enum value, the bounds, the longest string.
    """
    found = []
    for path, name in sorted(request_schemas(spec).items()):
        top = resolve(spec, {"$ref": f"#/components/schemas/{name}"})
        for branch in (resolve(spec, b) for b in top.get("oneOf", [top])):
            base, label = valid(branch), branch_name(branch)
            for key, prop in branch.get("properties", {}).items():
                prop = resolve(spec, prop)
                inner = prop.get("properties", {}) if prop.get("type") == "object" else {}
                for param, schema in [(None, prop)] if not inner else inner.items():
                    for value in edges(schema):
                        body = {**base, key: value if param is None else {**valid(prop), param: value}}
                        where = key if param is None else f"{key}.{param}"
                        found.append(Case(path, name, body, f"{label}: {where} = {str(value)[:30]}"))
    return found


def edges(schema: dict[str, Any]) -> list[Any]:
    """Values a field's schema accepts: each enum value, its bounds, its longest string."""
    values: list[Any] = []
    for option in schema.get("anyOf") or [schema]:
        values += [v for v in option.get("enum", []) if v is not None]
        values += [option[bound] for bound in ("minimum", "maximum") if bound in option]
        if "maxLength" in option and option["maxLength"] <= 20_000:
            values.append("x" * option["maxLength"])
        if "maxItems" in option and option["maxItems"] <= 20:
            values.append([valid(option.get("items", {}))] * option["maxItems"])
    return values or [valid(schema)]


def model_of(case: Case) -> str:
    """The model (or action) whose alternative a case was made from (its body may have lost ``model``)."""
    return case.label.split(":", 1)[0].removeprefix("model=")


def entry_of(case: Case) -> ModelSpec:
    """The catalogue's entry for a case: its model's, or its action route's."""
    return ACTIONS[case.path] if case.path in ACTIONS else MODELS[model_of(case)]


def arguments(case: Case) -> dict[str, Any] | str:
    """The builder's arguments that express a case's body, or why they cannot."""
    entry = entry_of(case)
    if entry.is_action:  # an action's own fields go in model_params, laid at the top of the body
        if None in case.body.values():
            return "inexpressible: null (None means not set)"
        shared = {key: value for key, value in case.body.items() if key in ARGUMENTS and key != "model"}
        own = {key: value for key, value in case.body.items() if key not in shared}
        return {"model": entry.model, **{ARGUMENTS[k]: v for k, v in shared.items()}, "model_params": own}
    names = {**ARGUMENTS, str(entry.params_key): "model_params"}
    if entry.params_required and not entry.params_needed and entry.params_key not in case.body:
        # The block must be sent but may be empty: the builder sends ``{}`` when no parameter is set.
        return "inexpressible: a required block left out (the builder sends it empty)"
    if not set(case.body) <= set(names):
        return "inexpressible: an unknown top-level key"
    params = case.body.get(str(entry.params_key))
    if None in case.body.values() or (isinstance(params, dict) and None in params.values()):
        return "inexpressible: null (None means not set)"
    return {names[key]: value for key, value in case.body.items()}


def producible(entry: ModelSpec, body: dict[str, Any]) -> bool:
    """Whether a body has only keys the builder sends, and no ``null`` where ``None`` means unset."""
    if entry.is_action:
        return "model" not in body and None not in body.values()
    params_key = str(entry.params_key)
    params = body.get(params_key, {})
    return (
        set(body) <= {*ARGUMENTS, params_key}
        and None not in body.values()
        and (not isinstance(params, dict) or None not in params.values())
    )


def provider_accepts(case: Case, given: dict[str, Any]) -> bool:
    """The provider's verdict, checking how it words a refusal and what it sends."""
    given = dict(given)
    try:
        call = create_job(given.pop("model", None), route=case.path, **given)
    except ApiframeInvalidParamsError as refusal:
        problems = refusal.problems
    else:
        problems = []
    if problems:
        named = {field.split(".")[0] for field, _ in problems}
        if case.path in ACTIONS:  # an action's fields are named as its operator's arguments, snake case
            assert all(re.fullmatch(r"[a-z][a-z_]*", name) for name in named), problems
        else:
            assert named <= {"model", "prompt", "model_params", "webhook_url", "webhook_events"}, problems
        assert all(why for _, why in problems), problems
        return False
    assert call.json == case.body, "sent exactly as written"
    assert call.path == case.path
    assert producible(entry_of(case), call.json)
    return True


def test_the_provider_and_the_emulator_judge_every_generated_request_as_the_contract(
    spec: dict[str, Any], contract: Contract
) -> None:
    emulator = RequestValidator(spec)
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    disagreements: list[tuple[str, str, str]] = []
    for case in job_cases(spec):
        by_contract = contract.validator(case.schema).is_valid(case.body)
        tally = counts[case.path]
        tally["cases"] += 1
        tally["valid" if by_contract else "invalid"] += 1
        if (emulator.validate(case.path, case.body) == {}) != by_contract:
            disagreements.append(("emulator", case.path, case.label))
        given = arguments(case)
        if isinstance(given, str):
            tally[given] += 1
            if by_contract:
                disagreements.append(("inexpressible yet valid", case.path, case.label))
            continue
        if provider_accepts(case, given) != by_contract:
            disagreements.append(("provider", case.path, case.label))
    total = sum(counts.values(), collections.Counter())
    report = f"{dict(total)}; per route: " + "; ".join(f"{r}: {dict(c)}" for r, c in sorted(counts.items()))
    assert disagreements == [], f"{len(disagreements)} disagreements over {report}: {disagreements[:20]}"
    assert set(counts) == set(JOB_ROUTES), report
    assert total["cases"] >= 2000, report
    assert total["invalid"] > total["valid"], report
    inexpressible = sum(n for kind, n in total.items() if kind.startswith("inexpressible"))
    assert total["cases"] - inexpressible > 2500, report
    models = {model_of(case) for case in job_cases(spec) if case.path not in ACTIONS}
    assert models == set(MODELS), "every model of every job route"
    actions = {model_of(case) for case in job_cases(spec) if case.path in ACTIONS}
    assert len(actions) == 9, "every action of both action routes"


def test_the_emulator_answers_a_sample_of_them_over_http_as_the_contract(
    spec: dict[str, Any], contract: Contract, emulator: Any
) -> None:
    """
    Every model's valid body and every fifth other case; inputs and webhooks point at the emulator.

    The action routes are left to ``tests/emulator``: a valid action needs a real parent job.
    """
    local = f"{emulator.url}/files/input.png"
    sample = [
        c
        for i, c in enumerate(job_cases(spec))
        if c.path not in ACTIONS and (c.label.endswith(": valid") or i % 5 == 0)
    ]
    answers: collections.Counter[tuple[bool, int]] = collections.Counter()
    disagreements = []
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": API_KEY}) as client:
        for case in sample:
            body = json.loads(json.dumps(case.body).replace(URL, local))
            by_contract = contract.validator(case.schema).is_valid(body)
            status = client.post(case.path, json=body).status_code
            answers[by_contract, status] += 1
            if status != (202 if by_contract else 400):
                disagreements.append((case.path, case.label, status))
    assert disagreements == [], (len(disagreements), disagreements[:20])
    assert answers[True, 202] >= len(MODELS), answers
    assert answers[False, 400] > 200, answers


def test_the_core_check_agrees_with_the_whole_contract_on_every_request_body(
    spec: dict[str, Any], contract: Contract
) -> None:
    """Route-generic: judged against the alternative it names, a body gets the verdict of the ``oneOf``."""
    check = ContractCheck(spec)
    per_route: collections.Counter[str] = collections.Counter()
    disagreements = []
    for case in cases(spec):
        per_route[case.path] += 1
        if (check.errors(case.path, case.body) == []) != contract.validator(case.schema).is_valid(case.body):
            disagreements.append((case.path, case.label))
    assert disagreements == [], disagreements[:20]
    assert set(per_route) == set(check.request_schemas()), per_route
    assert len(per_route) > len(ROUTE_SCHEMAS), "routes the provider does not build yet are judged too"


def test_local_inputs_placeholders_validate_as_the_urls_they_become(spec: dict[str, Any]) -> None:
    """A local file stands in a request as a placeholder: each media field takes it as it takes a URL."""
    placeholder = placeholder_url("ab" * 32, "png")
    base = {model_of(case): case.body for case in job_cases(spec) if case.label.endswith(": valid")}
    checked = 0
    for model, entry in MODELS.items():
        for field, _ in entry.media_fields:
            params = dict(base[model].get(entry.params_key, {}))
            for url in (placeholder, "http://127.0.0.1:8080/uploads/3f2b.png"):
                params[field] = [url] if _is_list(spec, entry.route, model, field) else url
                given = {k: v for k, v in base[model].items() if k not in ("model", entry.params_key)}
                call = create_job(model, route=entry.route, model_params=params, **given)
                assert call.json is not None
                assert call.json[entry.params_key][field] == params[field]
                checked += 1
    assert checked > 2 * len(MODELS), checked


def _is_list(spec: dict[str, Any], route: str, model: str, field: str) -> bool:
    """Whether the contract wants a list of images for a model's image field."""
    schema = spec["components"]["schemas"][ROUTE_SCHEMAS[route]]
    branch = next(b for b in schema["oneOf"] if b["properties"]["model"]["enum"] == [model])
    params = next(p for k, p in branch["properties"].items() if k.endswith("Params"))
    prop = params["properties"][field]
    options = prop.get("anyOf", [prop])
    return any(
        "array" in (o.get("type") if isinstance(o.get("type"), list) else [o.get("type")]) for o in options
    )
