"""An OBS-triggered thumbnailer: for each uploaded image, write a smaller copy under
``thumbs/``.

OBS is reached through a folder (``OBS_ROOT``, user data) standing in for the bucket, the way
a local test double of the OBS SDK would. The handler is idempotent: the platform may deliver
one event more than once (a retry after a failure), and a thumbnail that exists is not made
again.
"""

import os
from urllib.parse import unquote_plus

STORE = {}


def init(context):
    root = context.getUserData("OBS_ROOT")
    if not root or not os.path.isdir(root):
        raise RuntimeError(f"OBS_ROOT {root!r} is not a folder")
    STORE["root"] = root
    STORE["made"] = 0


def handler(event, context):
    made, skipped = [], []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        source = os.path.join(STORE["root"], bucket, key)
        target = os.path.join(STORE["root"], bucket, "thumbs", key)
        if os.path.exists(target):  # delivered before: nothing to do
            skipped.append(key)
            continue
        with open(source, "rb") as image:
            data = image.read()
        if not data.startswith(b"\x89PNG"):
            raise ValueError(f"{key} is not a PNG image")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as thumb:
            thumb.write(data[:16])  # (a very small "thumbnail")
        STORE["made"] += 1
        made.append(key)
    context.getLogger().info(f"made {made}, skipped {skipped}")
    return {"made": made, "skipped": skipped}
