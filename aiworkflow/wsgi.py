"""The WSGI application gunicorn serves: Django, with GitHub's deliveries taking a short way
through it (github_app/webhooks/wsgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiworkflow.settings")

site = get_wsgi_application()

# Once Django is set up: the fast path reads the settings and the URLconf.
from github_app.webhooks.wsgi import with_webhook_fast_path  # noqa: E402

application = with_webhook_fast_path(site)
