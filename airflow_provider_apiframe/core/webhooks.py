"""
Apiframe webhook signatures: ``X-Webhook-Signature: sha256=<hex>``.

The signature is HMAC-SHA256 over the raw request body, keyed with the raw 32-byte SHA-256 digest
of the API key (not its hex form).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Webhook-Signature"
EVENT_HEADER = "X-Webhook-Event"


def sign_webhook_body(api_key: str, body: bytes) -> str:
    """
    Compute the ``X-Webhook-Signature`` value Apiframe sends with ``body``.

    :param api_key: The API key the job was created with.
    :param body: The raw request body.
    """
    secret = hashlib.sha256(api_key.encode()).digest()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_webhook_signature(api_key: str, body: bytes, signature: str | None) -> bool:
    """
    Check a webhook's signature in constant time.

    Accepts ``sha256=<hex>`` and the bare hex digest; anything malformed is simply not valid.

    :param api_key: The API key the job was created with.
    :param body: The raw request body, exactly as received (before any JSON parsing).
    :param signature: The ``X-Webhook-Signature`` header value.
    """
    if not isinstance(signature, str) or not isinstance(body, bytes | bytearray):
        return False
    given = signature.strip()
    given = given[len("sha256=") :] if given[:7].lower() == "sha256=" else given
    expected = sign_webhook_body(api_key, bytes(body))[len("sha256=") :]
    # compare_digest wants ASCII; a non-ASCII header is malformed, not an exception.
    return given.isascii() and hmac.compare_digest(given.lower(), expected)
