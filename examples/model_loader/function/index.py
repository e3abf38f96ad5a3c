"""A FunctionGraph function that serves a (tiny) sentiment model.

The initializer loads the model once per instance. A real model takes long to download and
deserialize; ``time.sleep(LOAD_SECONDS)`` stands in for that, which is why the function needs
``initializer_timeout`` 60. The "weights" ship next to this file (user data MODEL_FILE, default
``weights.json``).

Entries: initializer ``index.init``, handler ``index.handler``.

Event: ``{"texts": ["...", ...]}``. Scoring one text costs ``SECONDS_PER_TEXT``; the handler
stops early, and says so, when the time left before its timeout gets short.
"""

import json
import os
import time

LOAD_SECONDS = 45
SECONDS_PER_TEXT = 0.5
SAFETY_MARGIN_MS = 100

MODEL = None  # set once per instance by init()


class Model:
    def __init__(self, spec, loaded_at):
        self.name = spec["name"]
        self.version = spec["version"]
        self.bias = float(spec["bias"])
        self.threshold = float(spec["threshold"])
        self.weights = {word: float(w) for word, w in spec["weights"].items()}
        self.loaded_at = loaded_at

    def score(self, text):
        words = text.lower().split()
        return self.bias + sum(self.weights.get(word.strip(".,!?"), 0.0) for word in words)

    def label(self, score):
        return "positive" if score > self.threshold else "negative"


def init(context):
    global MODEL
    log = context.getLogger()
    name = context.getUserData("MODEL_FILE", "weights.json")
    path = os.path.join(os.path.dirname(__file__), name)
    log.info("loading model from %s", os.path.basename(path))
    time.sleep(LOAD_SECONDS)  # downloading and deserializing a large model
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    MODEL = Model(spec, loaded_at=time.time())
    log.info("model %s %s loaded, %d weights", MODEL.name, MODEL.version, len(MODEL.weights))


def handler(event, context):
    if MODEL is None:
        raise RuntimeError("the initializer did not run on this instance")
    texts = event.get("texts", [])
    predictions = []
    for text in texts:
        needed_ms = SECONDS_PER_TEXT * 1000 + SAFETY_MARGIN_MS
        if context.getRemainingTimeInMilliSeconds() < needed_ms:
            break  # answer with what we have rather than be killed at the timeout
        time.sleep(SECONDS_PER_TEXT)  # inference
        score = MODEL.score(text)
        predictions.append({"label": MODEL.label(score), "score": round(score, 3)})
    return {
        "model": f"{MODEL.name}@{MODEL.version}",
        "predictions": predictions,
        "truncated": len(predictions) < len(texts),
        "model_age_s": time.time() - MODEL.loaded_at,
        "remaining_ms": context.getRemainingTimeInMilliSeconds(),
    }
