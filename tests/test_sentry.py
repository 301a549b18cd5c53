"""What Sentry would be sent, with the settings as production loads them: no stack frame carries
its local variables, where a token or a payload may sit."""

import json
import os
import subprocess
import sys

from tests.worker import PROJECT_DIR

PROBE = """
import json, sys
import django
django.setup()
import sentry_sdk
from sentry_sdk.utils import event_from_exception

def mint():
    installation_token = "ghs_" + "s" * 36
    raise RuntimeError("GitHub refused the request")

try:
    mint()
except RuntimeError:
    client = sentry_sdk.get_client()
    event, _ = event_from_exception(sys.exc_info(), client_options=client.options)
    print(json.dumps({"event": event, "environment": client.options["environment"]}, default=str))
"""


# Everything the SDK would send, caught at its transport: errors, messages, their breadcrumbs.
SENT_PROBE = """
import json, logging
import django
django.setup()
import sentry_sdk
from sentry_sdk.transport import Transport

class Caught(Transport):
    events = []

    def capture_envelope(self, envelope):
        self.events += [item.payload.json for item in envelope.items if item.type == "event"]

client = sentry_sdk.get_client()
client.transport = Caught(client.options)
token = "ghs_" + "s" * 36

logging.getLogger("github_app").info("minted " + token, extra={"config": {"client_secret": "probe-secret-value"}})
try:
    raise RuntimeError("GitHub refused " + token)
except RuntimeError:
    sentry_sdk.capture_exception()
with sentry_sdk.new_scope() as scope:
    scope.set_extra("grant", {"refresh_token": "probe-refresh-value", "url": "/auth?code=probe-code-value"})
    scope.set_context("installation", {"authorization": "token " + token})
    sentry_sdk.capture_message("token refused: Bearer " + token)
sentry_sdk.flush()
print(json.dumps({
    "events": Caught.events,
    "integrations": sorted(client.integrations),
    "monitor_beat_tasks": client.integrations["celery"].monitor_beat_tasks,
}, default=str))
"""


def run_probe(probe: str) -> dict:
    """Run `probe` with the settings as production loads them; its last output line, as JSON."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aiworkflow.settings",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DJANGO_SECRET_KEY": "sentry-probe-" + "k" * 40,
        "JWT_SIGNING_KEY": "sentry-probe-" + "j" * 40,
        "ENCRYPTION_KEY": "w-yW31NkLzB_tE_4TnzwLwpLnZtbitpJZIrm6A83Ayo=",
        "SENTRY_DSN": "https://public@sentry.invalid/1",
        "SENTRY_ENVIRONMENT": "staging",
    }

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_error_reported_to_sentry_carries_no_local_variables():
    report = run_probe(PROBE)

    frames = report["event"]["exception"]["values"][0]["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)
    assert "ghs_" not in json.dumps(report["event"])
    assert report["environment"] == "staging"


def test_what_sentry_is_sent_is_redacted_as_the_logs_are():
    report = run_probe(SENT_PROBE)

    error, message = report["events"]
    assert error["exception"]["values"][0]["value"] == "GitHub refused [redacted]"
    assert message["message"] == "token refused: [redacted]"
    assert message["extra"]["grant"] == {"refresh_token": "[redacted]", "url": "/auth?code=[redacted]"}
    assert message["contexts"]["installation"] == {"authorization": "[redacted]"}
    (crumb,) = [crumb for crumb in error["breadcrumbs"]["values"] if crumb["category"] == "github_app"]
    assert crumb["message"] == "minted [redacted]"
    sent = json.dumps(report["events"])
    assert [
        leak for leak in ("ghs_", "probe-secret-value", "probe-refresh-value", "probe-code-value") if leak in sent
    ] == []


def test_django_and_celery_are_integrated_and_beat_tasks_are_cron_monitors():
    report = run_probe(SENT_PROBE)

    assert {"django", "celery"} <= set(report["integrations"])
    assert report["monitor_beat_tasks"] is True
