"""Tests of the model_loader function (function/index.py) through pytest-fginit.

The initializer "loads a large model" for 45 seconds (``time.sleep(45)``). Under the plugin's
virtual clock that sleep moves the function's clock forward instead of waiting, so these tests
see 45-second initializations, 60-second timeouts and hour-old models while running in a
fraction of a second of real time. No test here looks at wall-clock time.
"""

import pytest

# The configuration is the deployment's (s.yaml, Serverless Devs), code root included.
pytestmark = pytest.mark.fginit(config="s.yaml")

LOAD_MS = 45_000


def predict(fg_function, *texts):
    return fg_function.invoke({"texts": list(texts)})


def test_the_model_load_is_timed_and_billed(fg_function):
    inv = predict(fg_function, "I love it")

    assert inv.ok, inv.error
    assert inv.cold_start
    (attempt,) = inv.init_attempts
    assert attempt.ok
    assert LOAD_MS <= attempt.duration_ms < LOAD_MS + 2000  # the load, plus reading the file
    assert inv.init_duration_ms == attempt.duration_ms
    assert inv.duration_ms >= 500  # one text scored
    assert inv.billed_duration_ms >= LOAD_MS + 500
    assert fg_function.elapsed >= 45.5
    assert "model tiny-sentiment 1.3.0 loaded, 8 weights" in attempt.log
    assert inv.result["model"] == "tiny-sentiment@1.3.0"
    assert inv.result["predictions"] == [{"label": "positive", "score": 2.6}]


def test_a_slow_start_past_the_timeout_is_retried(fg_function):
    # 20 s of extra start-up (a slow disk, a cold cache) + the 45 s load > 60 s.
    fg_function.faults.initializer.delays(20)

    inv = predict(fg_function, "great and fast")

    assert inv.ok, inv.error
    first, second = inv.init_attempts
    assert first.error.kind == "init_timeout"
    assert first.error.code == 4211
    assert first.error.message == "runtime initialization timed out after 60 s"
    assert first.duration_ms == pytest.approx(60_000, abs=1)
    assert "loading model" in first.log  # it got as far as the load...
    assert "loaded" not in first.log  # ...and was stopped in the middle of it
    assert fg_function.instances[0].state == "failed"
    assert fg_function.instances[0].module.MODEL is None
    assert second.ok
    assert inv.instance is fg_function.instances[1]
    assert inv.init_duration_ms >= 60_000 + LOAD_MS
    assert inv.result["predictions"] == [{"label": "positive", "score": 2.9}]


def test_an_initializer_that_always_hangs(fg_function):
    fg_function.faults.initializer.hangs(times=4)

    inv = predict(fg_function, "anything")

    assert not inv.ok
    assert inv.instance is None
    assert inv.error.kind == "init_timeout"
    assert inv.error.code == 4211
    assert inv.error.type is None
    assert [a.error.kind for a in inv.init_attempts] == ["init_timeout"] * 4
    assert inv.init_duration_ms == pytest.approx(4 * 60_000, abs=4)
    assert inv.billed_duration_ms >= 240_000
    assert [i.state for i in fg_function.instances] == ["failed"] * 4


def test_a_warm_instance_keeps_its_model(fg_function):
    first = predict(fg_function, "good")
    model = first.instance.module.MODEL
    assert model is not None

    later = [
        predict(fg_function, "great and fast"),
        predict(fg_function, "slow and broken"),
        predict(fg_function, "I hate bad software"),
        predict(fg_function, "meh"),
    ]

    assert all(inv.ok for inv in later)
    assert [inv.cold_start for inv in (first, *later)] == [True, False, False, False, False]
    assert all(inv.init_duration_ms == 0 for inv in later)
    assert all(inv.billed_duration_ms < 3000 for inv in later)
    assert len(fg_function.instances) == 1
    assert fg_function.instances[0].initializer_calls == 1
    assert later[-1].instance.module.MODEL is model
    labels = [inv.result["predictions"][0]["label"] for inv in later]
    assert labels == ["positive", "negative", "negative", "positive"]  # "meh" scores the bias


def test_the_handler_sees_the_model_age(fg_function):
    fresh = predict(fg_function, "good")
    assert fresh.result["model_age_s"] < 5

    for _ in range(120):  # an hour of traffic, a request every 30 s: the instance stays warm
        fg_function.advance(30)
        old = predict(fg_function, "good")

    # The same instance, with its hour-old model.
    assert not old.cold_start
    assert old.instance is fresh.instance
    assert 3600 <= old.result["model_age_s"] < 3600 + 65  # (each request adds its time)
    model = old.instance.module.MODEL
    assert fg_function.now - model.loaded_at == pytest.approx(old.result["model_age_s"], abs=2)


@pytest.mark.fginit(initializer_timeout=30)
def test_an_initializer_timeout_below_the_load_time_never_succeeds(fg_function):
    inv = predict(fg_function, "good")

    assert not inv.ok
    assert inv.instance is None
    assert len(inv.init_attempts) == 4
    for attempt in inv.init_attempts:
        assert attempt.error.kind == "init_timeout"
        assert attempt.error.message == "runtime initialization timed out after 30 s"
        assert attempt.duration_ms == pytest.approx(30_000, abs=1)
        assert "loading model" in attempt.log
    assert all(i.module.MODEL is None for i in fg_function.instances)
    assert str(inv.error) == "init_timeout (4211): runtime initialization timed out after 30 s"


# --- the handler watches its remaining time -------------------------------------------------

TEXTS = ["good", "bad", "great", "slow", "love", "hate", "fast", "broken"]


def test_a_long_batch_is_cut_before_the_timeout(fg_function):
    # 3 s timeout, 0.5 s per text, 0.1 s margin: five texts fit.
    inv = predict(fg_function, *TEXTS)

    assert inv.ok, inv.error
    assert len(inv.result["predictions"]) == 5
    assert inv.result["truncated"] is True
    assert 0 < inv.result["remaining_ms"] < 600
    assert inv.instance.state == "ready"


def test_time_lost_before_the_handler_shrinks_the_batch(fg_function):
    predict(fg_function, "warm up").raise_for_error()
    fg_function.faults.handler.delays(1.5)

    inv = predict(fg_function, *TEXTS)

    assert inv.ok, inv.error
    assert len(inv.result["predictions"]) == 2
    assert inv.duration_ms >= 2500


@pytest.mark.fginit(timeout=10)
def test_a_longer_timeout_fits_the_whole_batch(fg_function):
    inv = predict(fg_function, *TEXTS)

    assert inv.ok, inv.error
    assert inv.result["truncated"] is False
    labels = [p["label"] for p in inv.result["predictions"]]
    assert labels == ["positive", "negative"] * 4
    assert 5000 < inv.result["remaining_ms"] <= 6000
