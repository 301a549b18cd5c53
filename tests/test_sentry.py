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


def test_an_error_reported_to_sentry_carries_no_local_variables():
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

    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    frames = report["event"]["exception"]["values"][0]["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)
    assert "ghs_" not in json.dumps(report["event"])
    assert report["environment"] == "staging"
