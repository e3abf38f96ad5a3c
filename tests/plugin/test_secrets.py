"""Secrets (``encrypted_user_data`` values, keys, tokens) never shown: not by ``pytest -l``
(the locals of the plugin's frames) nor in ``--junitxml``, not through any channel the
function writes by (logging, warnings, its threads, the descriptors themselves), and not in
the escaped forms that ``repr()`` and ``json.dumps`` give them. Both isolation modes."""

from __future__ import annotations

import json
import pickle
import textwrap

import pytest

from pytest_fginit._redaction import MASK, Secrets, escaped_forms, redactor

pytest_plugins = ["pytester"]

SECRET = "hunter2-secret"
KEY = "AK-secret-key-1"
TOKEN = "tok-secret-9"
NEW_SECRET = "brand-new-secret"

HEADER = f"""
import pytest

SECRETS = dict(encrypted_user_data={{"PASSWORD": {SECRET!r}}}, access_key={KEY!r},
               security_token={TOKEN!r})
NEW = {{"PW": {NEW_SECRET!r}}}
"""


def _shown(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    """Run the project with ``args``; what it printed and wrote to its junit XML."""
    xml = pytester.path / "report.xml"
    result = pytester.runpytest_subprocess(*args, f"--junitxml={xml}")
    return result, result.stdout.str() + result.stderr.str() + xml.read_text()


def _assert_no_secret(text: str) -> None:
    for secret in (SECRET, KEY, TOKEN, NEW_SECRET):
        for form in escaped_forms(secret):
            assert form not in text, f"{form!r} shown"


# --- 1. pytest -l shows no secret from the plugin's frames ------------------------------------

def test_showlocals_and_junitxml_show_no_secret_of_failures_in_the_plugins_frames(
        project: pytest.Pytester) -> None:
    project.makeconftest("""
        def pytest_fginit_adjust_config(fields, item):
            if "hook" in item.name:
                raise RuntimeError("this conftest's hook failed")
    """)
    project.makepyfile(test_fn=HEADER + textwrap.dedent("""
        @pytest.mark.fginit(code_root="fn", initializer_handler="index.init", timeout=1,
                            **SECRETS)
        def test_config_error(fg_function):
            pass

        @pytest.mark.fginit(code_root="fn", initializer_handler="index.init", **SECRETS)
        def test_hook_error_at_setup(fg_function):
            pass

        @pytest.mark.fginit(code_root="fn", initializer_handler="index.init", **SECRETS)
        def test_update_error(fg_function):
            fg_function.update(encrypted_user_data=NEW, timeout=-1)

        @pytest.mark.fginit(code_root="fn", initializer_handler="index.missing",
                            reserved_instances=1, **SECRETS)
        def test_reserved_instance_fails(fg_function):
            fg_function.invoke({}).raise_for_error()

        @pytest.mark.fginit(code_root="fn", initializer_handler="index.missing",
                            isolation="process", **SECRETS)
        def test_process_start_fails_in_the_instance(fg_function):
            fg_function.invoke({}).raise_for_error()
    """), test_direct=HEADER + textwrap.dedent("""
        from pytest_fginit import FunctionConfig, FunctionEmulator
        from pytest_fginit._hosts.process import client

        @pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                            isolation="process", **SECRETS)
        def test_process_start_fails(fg_function, monkeypatch):
            def spawn(self, request, fds):  # (its frame holds the request to the server)
                raise OSError("the fork server is gone")
            monkeypatch.setattr(client.ForkServer, "spawn", spawn)
            fg_function.invoke({})
    """))
    result, shown = _shown(project, "-l", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=4, errors=2)
    assert "this conftest's hook failed" in shown and "fields" in shown  # (its locals shown)
    assert "timeout: -1 is out of range" in shown
    assert "the fork server is gone" in shown
    _assert_no_secret(shown)


def test_showlocals_shows_no_secret_of_a_function_config_built_by_hand(project):
    """No fg_function, so no report masking: the configuration's own frames (the dataclass's
    __init__ lists every field) are cut from the traceback."""
    project.makepyfile(test_by_hand=HEADER + textwrap.dedent("""
        from pytest_fginit import FunctionConfig

        def test_bad_timeout():
            FunctionConfig(code_root="fn", timeout=-1, **SECRETS)

        def test_bad_secret_value():
            FunctionConfig(code_root="fn", encrypted_user_data={"PW": SECRETS["access_key"],
                                                                 "X": 5})
    """))
    result, shown = _shown(project, "-l", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    assert "timeout: -1 is out of range" in shown
    assert "values must be str" in shown
    _assert_no_secret(shown)


# --- 2. every channel the function writes by, masked -------------------------------------------

CHANNELS = """
import json, logging, os, sys, threading, warnings

def init(context):
    pass

def handler(event, context):
    pw = context.getUserData("PASSWORD")
    logging.getLogger("user").warning("logged %s", pw)
    try:
        raise ValueError("failed with " + pw)
    except ValueError:
        logging.getLogger("user").exception("caught")
    warnings.warn("warned " + pw)
    thread = threading.Thread(target=print, args=("thread " + pw,))
    thread.start()
    thread.join()
    os.write(1, ("fd1 " + pw + "\\n").encode())
    sys.__stdout__.write("dunder " + pw + "\\n")
    sys.__stdout__.flush()
    print("escaped", repr(pw), json.dumps(pw), ascii(pw))
    return 1
"""

CHANNEL_TESTS = HEADER + """
@pytest.mark.fginit(code_root="fn", initializer_handler="index.init", **SECRETS)
def test_inprocess(fg_function):
    assert fg_function.invoke({}).ok
    assert False, "to show the captured output"

@pytest.mark.fginit(code_root="fn", initializer_handler="index.init", isolation="process",
                    **SECRETS)
def test_process(fg_function):
    assert fg_function.invoke({}).ok
    assert False, "to show the captured output"
"""


@pytest.mark.parametrize("capture", ["fd", "no"])
def test_what_the_function_writes_by_any_channel_is_masked(
        project: pytest.Pytester, function_source, capture: str) -> None:
    function_source(CHANNELS)
    project.makepyfile(test_fn=CHANNEL_TESTS)
    result, shown = _shown(project, "-l", "-p", "no:cacheprovider", f"--capture={capture}",
                           "-o", "log_cli=true", "--log-cli-level=WARNING")
    result.assert_outcomes(failed=2)
    if capture == "no":
        # (in-process, what is written to the descriptors themselves is not masked while
        # nothing captures it: documented, process isolation is the answer)
        shown = "\n".join(line for line in shown.splitlines()
                          if not line.startswith(("fd1 ", "dunder ")))
    for line in ("logged ******", "ValueError: failed with ******", "warned ******",
                 "thread ******", "escaped '******' \"******\" '******'"):
        assert line in shown
    if capture == "fd":
        assert "fd1 ******" in shown and "dunder ******" in shown
    _assert_no_secret(shown)
    assert SECRET not in shown


@pytest.mark.inprocess_only("caplog and recwarn see what the test process logs and warns")
def test_log_records_and_warnings_are_masked_as_they_are_made(
        emulate, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder) -> None:
    fn = emulate(index=CHANNELS, encrypted_user_data={"PASSWORD": SECRET})
    assert fn.invoke({}).ok
    assert "logged ******" in caplog.text and SECRET not in caplog.text
    assert [str(w.message) for w in recwarn] == ["warned ******"]
    fn.close()  # (masking ends with the emulator: the test's own records are its own)
    import logging
    logging.getLogger("after").warning("free %s", SECRET)
    assert f"free {SECRET}" in caplog.text


# --- 3. escaped forms ---------------------------------------------------------------------------

PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\\kqhkiG9w0BAQ'E\"FAASC\n"
       "-----END PRIVATE KEY-----")


@pytest.mark.parametrize("secret", [PEM, "pässwörd-ünicode", "back\\slash-secret",
                                    "it's-a-secret", 'say-"quoted"-secret'])
def test_a_secret_is_masked_in_its_escaped_forms(secret: str) -> None:
    redact = redactor([secret])
    for text in (secret, repr(secret), ascii(secret), json.dumps(secret),
                 json.dumps(secret, ensure_ascii=False), repr({"key": secret}),
                 repr(secret + "'\""), json.dumps({"k": [secret]}), str(secret.encode()),
                 repr([secret.encode(), (secret + "'\"").encode()])):
        masked = redact(text)
        assert MASK in masked
        for form in escaped_forms(secret):
            assert form not in masked, (text, masked)


def test_escaped_forms_are_masked_in_what_the_function_writes(emulate) -> None:
    fn = emulate(index="""
        import json
        def init(context):
            pass
        def handler(event, context):
            key = context.getUserData("KEY")
            print(repr(key), json.dumps({"key": key}), ascii(key))
            raise ValueError(repr({"key": key}))
    """, encrypted_user_data={"KEY": PEM + "é"})
    inv = fn.invoke({})
    texts = (inv.log, inv.error.message, "\n".join(inv.error.stack_trace), repr(inv))
    for text in texts:
        for form in escaped_forms(PEM + "é"):
            assert form not in text
    assert inv.log.count(MASK) == 3


def test_the_secrets_sent_to_an_instance_process_have_a_masked_repr() -> None:
    secrets = Secrets((SECRET, TOKEN))
    assert SECRET not in repr(secrets) and SECRET not in repr({"secrets": secrets})
    assert pickle.loads(pickle.dumps(secrets)) == (SECRET, TOKEN)
    assert redactor(secrets)(SECRET) == MASK
