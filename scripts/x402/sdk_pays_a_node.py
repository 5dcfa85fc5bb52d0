"""Interoperability check: the x402 Python SDK from PyPI, with `TributaryScheme`, pays a
Tributary node for a completion through `requests` and through `httpx`.

Usage: sdk_pays_a_node.py URL SEED_HEX NETWORK MODEL
Prints one JSON line per client: {"client", "status", "receipt", "text"}; exits 1 unless
both answered 200 with a successful receipt.
"""

import base64
import json
import sys

import httpx
from x402 import x402Client, x402ClientSync
from x402.http.clients.httpx import x402_httpx_transport  # noqa: F401  (the SDK's httpx entry point)
from x402.http.clients.requests import x402_requests

from tributary_scheme import TributaryScheme


def receipt(headers) -> dict:
    value = headers.get("PAYMENT-RESPONSE")
    return json.loads(base64.b64decode(value)) if value else {}


def main() -> int:
    url, seed, network, model = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4]
    body = {"model": model, "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0}
    ok = True
    # OPEN is not one of the SDK's default assets: allow it, capped per payment.
    controls = {"allowed_assets": [{"network": network, "asset": "OPEN", "max_amount_per_payment": "1000000"}]}

    client = x402ClientSync().set_spend_controls(controls)
    client.register(network, TributaryScheme(seed, "exact"))
    response = x402_requests(client).post(url, json=body, timeout=60)
    answer = {"client": "requests", "status": response.status_code, "receipt": receipt(response.headers)}
    answer["text"] = response.json()["choices"][0]["text"] if response.status_code == 200 else response.text
    print(json.dumps(answer))
    ok &= response.status_code == 200 and answer["receipt"].get("success") is True

    asynchronous = x402Client().set_spend_controls(controls)
    asynchronous.register(network, TributaryScheme(seed, "upto"))
    import asyncio

    async def paid_with_httpx():
        from x402.http.clients.httpx import x402HttpxClient
        async with x402HttpxClient(asynchronous, timeout=60) as http:
            return await http.post(url, json=body)

    response = asyncio.run(paid_with_httpx())
    answer = {"client": "httpx", "status": response.status_code, "receipt": receipt(response.headers)}
    answer["text"] = response.json()["choices"][0]["text"] if response.status_code == 200 else response.text
    print(json.dumps(answer))
    ok &= response.status_code == 200 and answer["receipt"].get("success") is True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
