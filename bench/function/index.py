"""A small, realistic FunctionGraph function used by ``bench/run.py``.

The initializer builds the configuration once per instance; the handler routes a request and
answers it. The handler only uses what both FunctionGraph's and python-lambda-local's context
objects offer (it reads the request id through whichever name the context has), and it does
not need the initializer to have run: python-lambda-local does not call initializers.
"""

import base64
import hashlib
import json
import os
import re

_ROUTE = re.compile(r"^/items/(?P<item>[0-9]+)$")
CONFIG = None


def _build_config():
    return {
        "region": os.environ.get("BENCH_REGION", "cn-north-4"),
        "page_size": 20,
        "items": {str(i): {"id": i, "name": f"item-{i}", "price": i * 3 % 17} for i in range(50)},
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
    }


def init(context):
    global CONFIG
    CONFIG = _build_config()


def _request_id(context):
    get = getattr(context, "getRequestID", None)  # FunctionGraph's name
    return get() if get is not None else getattr(context, "aws_request_id", "")


def handler(event, context):
    config = CONFIG if CONFIG is not None else _build_config()
    match = _ROUTE.match(event.get("path", ""))
    item = config["items"].get(match.group("item")) if match else None
    if item is None:
        return {"statusCode": 404, "headers": config["headers"],
                "body": json.dumps({"error": "not found"})}
    body = json.dumps({"item": item, "region": config["region"],
                       "request": str(_request_id(context))})
    etag = base64.b64encode(hashlib.sha1(body.encode()).digest()).decode()
    return {"statusCode": 200, "headers": {**config["headers"], "ETag": etag}, "body": body}
