"""The bench function behind API Gateway (row 11b): index's handler, its answer in the APIG
shape (``isBase64Encoded`` added)."""

import index

init = index.init


def handler(event, context):
    return {**index.handler(event, context), "isBase64Encoded": False}
