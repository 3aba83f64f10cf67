"""Connection config: base URLs, timeouts, retries, TLS."""

from __future__ import annotations

from typing import Any

import pytest
from support import (
    API_KEY,
)

from airflow_provider_apiframe.core.config import (
    DEFAULT_BASE_URL,
    ClientConfig,
    base_url,
    client_config,
)
from airflow_provider_apiframe.core.errors import (
    ApiframeConfigError,
)
from airflow_provider_apiframe.core.retry import RetryPolicy


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, DEFAULT_BASE_URL),
        ("", None, DEFAULT_BASE_URL),
        ("   ", 8080, DEFAULT_BASE_URL),
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", None, "http://127.0.0.1:8080"),
        ("https://api.apiframe.ai/", None, "https://api.apiframe.ai"),
        ("https://api.apiframe.ai", 9999, "https://api.apiframe.ai"),  # port is only for bare hosts
        ("  https://api.example.com//  ", None, "https://api.example.com"),
        ("api.example.com", None, "https://api.example.com"),
        ("api.example.com", 8443, "https://api.example.com:8443"),
        ("localhost:8080", None, "https://localhost:8080"),
        ("localhost:8080", 9090, "https://localhost:8080"),  # the host's own port wins
        ("api.example.com/base/", 8443, "https://api.example.com:8443/base"),
    ],
)
def test_base_url(host: str | None, port: int | None, expected: str) -> None:
    assert base_url(host, port) == expected


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("ftp://files.example.com", None),
        ("http://", None),
        ("https://:8080", None),
        ("http://example.com:0", None),
        ("http://example.com:99999", None),
        ("http://[::1", None),
        ("file:///etc/passwd", None),
        ("bad host", None),
        ("https://api.example.com?x=1", None),
    ],
)
def test_base_url_invalid_names_the_host(host: str, port: int | None) -> None:
    with pytest.raises(ApiframeConfigError) as exc_info:
        base_url(host, port)
    assert repr(host) in str(exc_info.value)
    assert "leave it empty for the public API" in str(exc_info.value)


def test_client_config_defaults() -> None:
    config = client_config(api_key=API_KEY, host=None)
    assert config == ClientConfig(
        api_key=API_KEY,
        base_url=DEFAULT_BASE_URL,
        timeout=30.0,
        retry=RetryPolicy(max_attempts=5),
        verify_ssl=True,
    )


@pytest.mark.parametrize("api_key", [None, ""])
def test_client_config_without_key(api_key: str | None) -> None:
    with pytest.raises(ApiframeConfigError, match="password"):
        client_config(api_key=api_key, host="api.example.com")


@pytest.mark.parametrize(
    ("extras", "timeout", "max_attempts", "verify_ssl"),
    [
        (None, 30.0, 5, True),
        ({}, 30.0, 5, True),
        ({"timeout": 5}, 5.0, 5, True),
        ({"timeout": "5"}, 5.0, 5, True),
        ({"timeout": "12.5"}, 12.5, 5, True),
        ({"extra__apiframe__timeout": "7"}, 7.0, 5, True),
        ({"timeout": 600}, 600.0, 5, True),
        ({"max_retries": 0}, 30.0, 1, True),
        ({"max_retries": "3"}, 30.0, 4, True),
        ({"extra__apiframe__max_retries": 20}, 30.0, 21, True),
        ({"verify_ssl": False}, 30.0, 5, False),
        ({"verify_ssl": "false"}, 30.0, 5, False),
        ({"extra__apiframe__verify_ssl": "False"}, 30.0, 5, False),
        ({"verify_ssl": "true"}, 30.0, 5, True),
        ({"timeout": "", "max_retries": None, "extra__apiframe__verify_ssl": ""}, 30.0, 5, True),
        ({"unrelated": "ignored", "extra__other__timeout": "x"}, 30.0, 5, True),
    ],
)
def test_client_config_extras(extras: Any, timeout: float, max_attempts: int, verify_ssl: bool) -> None:
    config = client_config(api_key=API_KEY, host="http://127.0.0.1:8080", extras=extras)
    assert config.base_url == "http://127.0.0.1:8080"
    assert config.timeout == timeout
    assert config.retry.max_attempts == max_attempts
    assert config.retry.deadline is None
    assert config.verify_ssl is verify_ssl


@pytest.mark.parametrize(
    ("extras", "field"),
    [
        ({"timeout": "abc"}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 601}, "timeout"),
        ({"extra__apiframe__timeout": "soon"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 21}, "max_retries"),
        ({"max_retries": "many"}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"extra__apiframe__max_retries": "x"}, "max_retries"),
        ({"verify_ssl": "maybe"}, "verify_ssl"),
        ({"verify_ssl": 2}, "verify_ssl"),
    ],
)
def test_client_config_invalid_extras_name_the_field(extras: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiframeConfigError) as exc_info:
        client_config(api_key=API_KEY, host=None, extras=extras)
    message = str(exc_info.value)
    assert message.startswith("Invalid extra field in the Apiframe connection: ")
    assert f"{field}: " in message
    assert API_KEY not in message


def test_client_config_invalid_host() -> None:
    with pytest.raises(ApiframeConfigError, match="'ftp://x'"):
        client_config(api_key=API_KEY, host="ftp://x")


def test_api_key_never_in_repr() -> None:
    config = client_config(api_key=API_KEY, host="api.example.com", port=8443, extras={"timeout": "5"})
    assert config.api_key == API_KEY
    for text in (repr(config), str(config), f"{config}", f"{config!r}"):
        assert API_KEY not in text
        assert "afk_" not in text
        assert "api.example.com:8443" in text  # the rest is still shown
