"""The provider is registered with Airflow, and its connection type exists with a focused form."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest
from support import API_KEY

from airflow_provider_apiframe.core.config import DEFAULT_BASE_URL
from airflow_provider_apiframe.get_provider_info import get_provider_info
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook


def test_entry_point_points_at_get_provider_info() -> None:
    (point,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.dist.name == "airflow-provider-apiframe"
    ]
    assert point.load() is get_provider_info


def test_provider_info_matches_airflows_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_providers_manager_knows_the_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    assert "airflow-provider-apiframe" in ProvidersManager().providers
    try:  # Airflow >= 3.2 resolves hooks in the task SDK
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as HookRegistry
    except ImportError:  # Airflow 3.1
        HookRegistry = ProvidersManager
    hook = HookRegistry().hooks["apiframe"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_apiframe.hooks.apiframe.ApiframeHook"
    assert hook.connection_id_attribute_name == "apiframe_conn_id"


def test_connection_form_shows_only_what_matters() -> None:
    behaviour = ApiframeHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"]["password"] == "API Key"
    assert behaviour["placeholders"]["host"] == DEFAULT_BASE_URL
    (conn_type,) = get_provider_info()["connection-types"]
    assert set(conn_type["conn-fields"]) == {"timeout", "max_retries", "verify_ssl"}
    assert conn_type["conn-fields"]["timeout"]["schema"]["default"] == 30.0
    assert conn_type["conn-fields"]["verify_ssl"]["schema"] == {"type": ["boolean", "null"], "default": True}


def test_every_documented_extra_is_on_the_form() -> None:
    """The README documents the connection's extras; the form must offer each of them."""
    from airflow_provider_apiframe.core.config import ConnectionExtras

    (conn_type,) = get_provider_info()["connection-types"]
    assert set(conn_type["conn-fields"]) == set(ConnectionExtras.model_fields)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name, field in conn_type["conn-fields"].items():
        assert f"`{name}`" in readme, name
        assert field["label"] in readme, name
        assert field["description"]


def test_the_providers_manager_offers_the_form_fields() -> None:
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    if "extra__apiframe__verify_ssl" not in widgets:  # Airflow 3.1 builds extra fields with FAB only
        pytest.importorskip("flask_appbuilder", reason="Airflow 3.1 shows extra fields only with FAB")
    verify = widgets["extra__apiframe__verify_ssl"]
    assert verify.field_name == "verify_ssl"
    field = verify.field if isinstance(verify.field, dict) else None
    if field is not None:  # Airflow >= 3.2: JSON-schema fields from the provider info
        assert field["schema"]["type"] == ["boolean", "null"]
        assert field["value"] is True
    assert {"extra__apiframe__timeout", "extra__apiframe__max_retries"} <= set(widgets)


@pytest.mark.parametrize("key", ["verify_ssl", "extra__apiframe__verify_ssl"])
def test_tls_verification_can_be_turned_off_from_the_form(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    conn = {"conn_type": "apiframe", "password": API_KEY, "extra": {key: False}}
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps(conn))
    assert ApiframeHook().config.verify_ssl is False


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, DEFAULT_BASE_URL),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("api.example.com", "https://api.example.com"),
    ],
)
def test_env_var_connection(monkeypatch: pytest.MonkeyPatch, host: str | None, expected: str) -> None:
    conn = {"conn_type": "apiframe", "password": API_KEY} | ({"host": host} if host else {})
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps(conn))
    config = ApiframeHook().config
    assert config.base_url == expected
    assert config.api_key == API_KEY
    assert API_KEY not in repr(config)


def test_the_task_decorators_are_registered_and_importable() -> None:
    from airflow.sdk import task

    from airflow_provider_apiframe.decorators import apiframe_batch_task, apiframe_image_task

    decorators = {entry["name"]: entry["class-name"] for entry in get_provider_info()["task-decorators"]}
    assert decorators == {
        "apiframe_image": "airflow_provider_apiframe.decorators.image.apiframe_image_task",
        "apiframe_batch": "airflow_provider_apiframe.decorators.batch.apiframe_batch_task",
    }
    # ``@task.<name>`` goes through Airflow's providers manager to the registered function.
    assert task.apiframe_image is apiframe_image_task
    assert task.apiframe_batch is apiframe_batch_task
