"""
TLS against the emulator served over HTTPS with a self-signed certificate: verification is on unless
the connection turns it off, and turning it off is logged as a warning. Sync and async alike.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support import API_KEY

from airflow_provider_apiframe.core.errors import ApiframeTransportError
from airflow_provider_apiframe.emulator import Emulator, EmulatorConfig
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook


def self_signed_certificate(folder: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that no authority signed; returns (certfile, keyfile)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(certfile), str(keyfile)


@pytest.fixture(scope="module")
def https_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    certfile, keyfile = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    config = EmulatorConfig(api_keys=(API_KEY,), job_seconds=0.1, jitter=0.0)
    with Emulator(config).running(ssl_certfile=certfile, ssl_keyfile=keyfile) as running:
        yield running


WARNING = "TLS certificate verification is OFF for connection 'apiframe_default'"


def logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """Warnings logged, whether through stdlib logging or Airflow's structlog (which prints)."""
    records = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return "\n".join([*records, capsys.readouterr().out])


def test_the_emulator_serves_https(https_emulator: Emulator) -> None:
    assert https_emulator.url.startswith("https://127.0.0.1:")


def test_an_unverifiable_certificate_fails_by_default_sync(
    https_emulator: Emulator, use_connection: Any
) -> None:
    use_connection(https_emulator.url)
    with pytest.raises(ApiframeTransportError, match="CERTIFICATE_VERIFY_FAILED") as raised:
        ApiframeHook().get_me()
    assert API_KEY not in str(raised.value)
    assert not https_emulator.state.requests, "no request got through"


async def test_an_unverifiable_certificate_fails_by_default_async(
    https_emulator: Emulator, use_connection: Any
) -> None:
    use_connection(https_emulator.url)
    hook = ApiframeHook()
    try:
        with pytest.raises(ApiframeTransportError, match="CERTIFICATE_VERIFY_FAILED") as raised:
            await hook.aget_me()
    finally:
        await hook.aclose()
    assert API_KEY not in str(raised.value)


@pytest.mark.parametrize("verify_ssl", [False, "false"])
def test_verification_turned_off_works_with_a_warning_sync(
    https_emulator: Emulator,
    use_connection: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    verify_ssl: Any,
) -> None:
    use_connection(https_emulator.url, verify_ssl=verify_ssl)
    with caplog.at_level(logging.WARNING):
        me = ApiframeHook().get_me()
    assert me.team.credits > 0
    assert WARNING in logged(caplog, capsys)


async def test_verification_turned_off_works_with_a_warning_async(
    https_emulator: Emulator,
    use_connection: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_connection(https_emulator.url, verify_ssl=False)
    hook = ApiframeHook()
    try:
        with caplog.at_level(logging.WARNING):
            me = await hook.aget_me()
    finally:
        await hook.aclose()
    assert me.team.credits > 0
    assert WARNING in logged(caplog, capsys)


def test_verification_stays_on_for_anything_but_an_explicit_false(use_connection: Any) -> None:
    use_connection("https://api.example.com", verify_ssl=True)
    assert ApiframeHook().config.verify_ssl is True
    use_connection("https://api.example.com")
    assert ApiframeHook().config.verify_ssl is True
