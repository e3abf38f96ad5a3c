"""A small users API behind API Gateway: GET, POST and DELETE on ``/users/{id}``.

The initializer loads the seed users once per instance; the handler answers in the APIG
response shape (statusCode, headers, body, isBase64Encoded). One route has a bug on purpose:
``/users/{id}/name`` returns a bare string, which API Gateway cannot use.
"""

import base64
import json

USERS = {}


def init(context):
    USERS.update({"7": {"id": "7", "name": "Ada"}})


def _answer(status, payload=None, headers=None):
    return {"statusCode": status,
            "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": "" if payload is None else json.dumps(payload),
            "isBase64Encoded": False}


def handler(event, context):
    method = event["httpMethod"]
    user_id = (event.get("pathParameters") or {}).get("id")
    if method == "POST":
        raw = event.get("body") or ""
        text = base64.b64decode(raw).decode() if event.get("isBase64Encoded") else raw
        try:
            user = json.loads(text)
            name = user["name"]
        except (ValueError, KeyError, TypeError):
            return _answer(400, {"error": "the body must be a JSON object with a name"})
        new_id = str(max(int(k) for k in USERS) + 1 if USERS else 1)
        USERS[new_id] = {"id": new_id, "name": name}
        return _answer(201, USERS[new_id], {"Location": f"/users/{new_id}"})
    if user_id not in USERS:
        return _answer(404, {"error": f"no user {user_id}"})
    if method == "DELETE":
        del USERS[user_id]
        return _answer(204)
    if event["path"].endswith("/name"):
        return USERS[user_id]["name"]  # the bug: not an APIG response
    return _answer(200, USERS[user_id])
