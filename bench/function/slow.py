"""An initializer that sleeps past its 300 s timeout (bench/run.py runs it on virtual time)."""

import time


def init(context):
    time.sleep(400)


def handler(event, context):
    return {"statusCode": 200}
