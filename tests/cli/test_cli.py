"""``fginit`` as a user runs it: a subprocess, its arguments, standard input, exit statuses
and output (stdout: the answers only; stderr: log, timeline, messages)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = """
import json, os

def init(context):
    print("init ran")

def handler(event, context):
    print("handling", json.dumps(event))
    if event.get("raise"):
        raise ValueError("boom")
    return {"echo": event, "pid": os.getpid()}
"""
TERRAFORM = """
resource "huaweicloud_fgs_function" "hello" {
  name                = "hello"
  app                 = "default"
  handler             = "index.handler"
  initializer_handler = "index.init"
  runtime             = "Python3.10"
  memory_size         = 256
  timeout             = 30
}
"""


def fginit(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "pytest_fginit.cli", *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "index.py").write_text(textwrap.dedent(FUNCTION))
    (tmp_path / "main.tf").write_text(TERRAFORM)
    (tmp_path / "event.json").write_text('{"user": 7}')
    return tmp_path


def answers(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("command", [[], ["invoke"], ["serve"]])
def test_every_command_has_help(project, command):
    done = fginit(*command, "--help", cwd=project)
    assert done.returncode == 0
    assert "usage: fginit" in done.stdout
    if command:
        assert "--code-root" in done.stdout and "--initializer-handler" in done.stdout
        assert "--timeout" in done.stdout and "--isolation" in done.stdout


def test_invoke_prints_the_result_on_stdout_and_the_log_on_stderr(project):
    done = fginit("invoke", "--initializer-handler", "index.init", "-e", "event.json",
                  cwd=project)
    assert done.returncode == 0, done.stderr
    [answer] = answers(done.stdout)
    assert answer["echo"] == {"user": 7}
    assert "init ran\nhandling {\"user\": 7}\n" in done.stderr  # (never on stdout)
    assert "Start invoke request '" in done.stderr and "Finish invoke request" in done.stderr
    assert "ok on instance-1 (cold start, 1 init attempt" in done.stderr


SLEEPER = """
import datetime, time

STARTED = time.time()  # (read as the code loads: the clock is the emulator's already)

def handler(event, context):
    now, today, ticks = time.time(), datetime.datetime.now(), time.monotonic()
    time.sleep(600)
    return {"time": time.time() - now, "monotonic": time.monotonic() - ticks,
            "datetime": (datetime.datetime.now() - today).total_seconds(),
            "since_load": time.time() - STARTED}
"""


def test_user_code_sees_the_emulators_virtual_clock(project):
    # (freezegun is imported as the clock starts, not with the command: the freeze still runs
    # before the function's code loads, and a ten-minute sleep is a jump, not a wait)
    (project / "sleeper.py").write_text(SLEEPER)
    done = fginit("invoke", "--handler", "sleeper.handler", "--timeout", "900", cwd=project)
    assert done.returncode == 0, done.stderr
    [seen] = answers(done.stdout)
    assert all(600 <= seen[key] < 660 for key in seen), seen


def test_the_event_from_standard_input_and_the_deployment_file(project):
    done = fginit("invoke", "main.tf#hello", "-e", "-", cwd=project, stdin='{"n": 1}')
    assert done.returncode == 0, done.stderr
    assert answers(done.stdout)[0]["echo"] == {"n": 1}
    assert "init ran" in done.stderr  # (the initializer from main.tf)


def test_warm_reuse_and_scale_out_are_visible(project):
    done = fginit("invoke", "--count", "3", "-v", cwd=project)
    assert len(answers(done.stdout)) == 3
    assert done.stderr.count("(warm,") == 2 and "instance-2" not in done.stderr
    done = fginit("invoke", "--count", "3", "--concurrently", "-v", cwd=project)
    assert len(answers(done.stdout)) == 3
    assert "instance-3 created" in done.stderr and "pre-stop" not in done.stderr


def test_output_json_is_the_v1_body(project):
    done = fginit("invoke", "--output", "json", cwd=project)
    [body] = answers(done.stdout)
    assert body["status"] == 200 and json.loads(str(body["result"]))["echo"] == {}
    assert str(body["log"]).startswith("Start invoke request")


def test_a_function_error_exits_1(project):
    done = fginit("invoke", "-e", "-", cwd=project, stdin='{"raise": true}')
    assert done.returncode == 1
    error = answers(done.stdout)[0]
    assert error["errorType"] == "ValueError"
    assert "handler_error ValueError: boom" in done.stderr


def test_faults_from_the_command_line(project):
    done = fginit("invoke", "--initializer-handler", "index.init", "--fault",
                  "initializer:raises=ConnectionError:2", "-v", cwd=project)
    assert done.returncode == 0, done.stderr  # (the third attempt serves)
    assert done.stderr.count("init failed, abandoned: init_failed ConnectionError") == 2
    done = fginit("invoke", "--fault", "handler:hangs", cwd=project)
    assert done.returncode == 1 and "handler_timeout" in done.stderr


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["invoke", "-e", "missing.json"], "", "--event missing.json: No such file"),
    (["invoke", "-e", "-"], "{oops", "--event -: standard input is not JSON"),
    (["invoke", "nowhere.tf"], "", "nowhere.tf: no such deployment file"),
    (["invoke", "main.tf#nobody"], "", "invalid function configuration"),
    (["invoke", "--timeout", "1"], "", "invalid function configuration: timeout"),
    (["invoke", "--handler", "nothere.handler"], "", "nothere"),
    (["invoke", "--fault", "handler:melts"], "", "--fault handler:melts: expected PHASE:KIND"),
    (["invoke", "--fault", "initializer:raises"], "", "no initializer_handler configured"),
    (["invoke", "--fault", "handler:raises=NotAnError"], "", "not a builtin exception"),
    (["invoke", "--count", "0"], "", "'0' is not a whole number >= 1"),
    (["invoke", "--no-such-flag"], "", "unrecognized arguments: --no-such-flag"),
    (["serve", "--ak", "AK"], "", "give both --ak and --sk"),
    ([], "", "the following arguments are required: COMMAND"),
])
def test_bad_usage_exits_2_and_says_what_is_wrong(project, args, stdin, message):
    done = fginit(*args, cwd=project, stdin=stdin)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_a_bad_deployment_file_exits_2(project):
    (project / "broken.tf").write_text('resource "huaweicloud_fgs_function" "x" {')
    done = fginit("invoke", "broken.tf", cwd=project)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_serve_answers_the_sdk_and_stops_cleanly_on_ctrl_c(project):
    v2 = pytest.importorskip("huaweicloudsdkfunctiongraph.v2")
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "pytest_fginit.cli", "serve", "main.tf#hello", "--port", "0",
         "--ak", "LOCALAK", "--sk", "local-secret-key", "--isolation", "process"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()  # type: ignore[union-attr]
        assert banner.startswith("fginit serve: listening on http://127.0.0.1:"), banner
        url = banner.split()[4]
        urn = server.stdout.readline().strip()  # type: ignore[union-attr]
        assert urn == "urn:fss:cn-north-4:fginit-project:function:default:hello:latest"
        client = (v2.FunctionGraphClient.new_builder()
                  .with_credentials(BasicCredentials("LOCALAK", "local-secret-key",
                                                     "fginit-project"))
                  .with_endpoint(url).build())
        answer = client.invoke_function(v2.InvokeFunctionRequest(
            function_urn=urn, x_cff_request_version="v1", body={"k": "v"}))
        result = json.loads(answer.result)
        assert result["echo"] == {"k": "v"}
        instance_pid = result["pid"]
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert "fginit serve: stopped (1 requests served)" in err
    assert "local-secret-key" not in err
    assert not Path(f"/proc/{instance_pid}").exists()  # (the instance process ended)


def test_generate_event_prints_a_triggers_event_to_pipe_into_invoke(project):
    done = fginit("generate-event", "obs", "--bucket", "pics", "--key", "cat.png", "--size",
                  "42", cwd=project)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["Records"][0]["s3"]
    assert (record["bucket"]["name"], record["object"]["key"], record["object"]["size"]) == (
        "pics", "cat.png", 42)
    piped = fginit("invoke", "-e", "-", cwd=project, stdin=done.stdout)
    assert piped.returncode == 0, piped.stderr
    assert answers(piped.stdout)[0]["echo"]["Records"][0]["s3"]["bucket"]["name"] == "pics"


def test_invoke_with_a_triggers_template_by_name(project):
    done = fginit("invoke", "-n", "timer", cwd=project)
    assert done.returncode == 0, done.stderr
    assert answers(done.stdout)[0]["echo"]["user_event"] == "User Event"


@pytest.mark.parametrize(("args", "says"), [
    (["obs", "--colour", "red"], "obs: unknown field '--colour'; its fields: --bucket, --key"),
    (["obs", "--key"], "obs: --key needs a value"),
    (["obs", "--event-name", "Bogus"], "event_name: 'Bogus' is not allowed; allowed: "),
    (["sqs"], "invalid choice: 'sqs'"),
])
def test_generate_event_bad_usage_is_status_2_with_a_message(project, args, says):
    done = fginit("generate-event", *args, cwd=project)
    assert done.returncode == 2 and done.stdout == ""
    assert says in done.stderr and "Traceback" not in done.stderr


def test_generate_event_help_lists_every_trigger_and_its_fields(project):
    done = fginit("generate-event", "--help", cwd=project)
    assert done.returncode == 0
    for line in ("  apig        --method, --path, --body", "  obs         --bucket, --key"):
        assert line in done.stdout


def test_a_warning_is_the_commands_message(project):
    # (Python3.6: never the Python that runs the test, so the runtime check warns)
    done = fginit("invoke", "main.tf#hello", "--runtime", "Python3.6", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "fginit: warning: runtime: 'Python3.6', but " in done.stderr
    assert "sys.exit(main())" not in done.stderr and "UserWarning" not in done.stderr


def test_a_reader_that_goes_away_gets_no_traceback(project):
    # (`fginit generate-event obs | head -2`: the pipe closes before the event is written)
    child = subprocess.Popen([sys.executable, "-m", "pytest_fginit.cli", "generate-event", "obs"],
                             cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    error = child.stderr.read().decode()
    child.stderr.close()
    assert (child.wait(timeout=60), error) == (1, "")


def test_a_triggers_help_lists_its_fields_and_their_defaults(project):
    result = fginit("generate-event", "obs", "--help", cwd=project)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: fginit generate-event obs")
    assert '--event-name         "ObjectCreated:Post"' in result.stdout
    assert "--bucket" in result.stdout
