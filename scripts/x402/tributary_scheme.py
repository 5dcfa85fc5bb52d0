"""A `tributary:*` scheme plugin for the x402 Python SDK, written from the x402-tributary
scheme page alone (docs/x402.md): it is the outside client the contract is for.

One class serves both schemes (`exact`, `upto`): the payload is the same, the
authorization's `amount` being the offer's amount (the cap for `upto`).
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def signing_bytes(authorization: dict[str, str]) -> bytes:
    """The eleven lines after the domain line, each ending in a newline."""
    names = ["scheme", "network", "from", "to", "asset", "amount", "validAfter", "validBefore", "nonce", "resource"]
    lines = ["x402-tributary-v1"] + [f"{name}:{authorization[name]}" for name in names]
    return "".join(line + "\n" for line in lines).encode("utf-8")


class TributaryScheme:
    """`SchemeNetworkClient` for one scheme on `tributary:*` networks."""

    def __init__(self, seed: bytes, scheme: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.scheme = scheme
        self.address = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

    def create_payment_payload(self, requirements: Any) -> dict[str, Any]:
        now = int(time.time())
        authorization = {
            "scheme": requirements.scheme,
            "network": requirements.network,
            "from": self.address,
            "to": requirements.pay_to,
            "asset": requirements.asset,
            "amount": requirements.amount,
            "validAfter": str(now),
            "validBefore": str(now + int(requirements.max_timeout_seconds)),
            "nonce": secrets.token_bytes(32).hex(),
            "resource": requirements.extra["resource"],
        }
        signature = base64.b64encode(self._key.sign(signing_bytes(authorization))).decode("ascii")
        return {"authorization": authorization, "signature": signature}
