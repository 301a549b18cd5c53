"""Replay GitHub webhook deliveries locally: payload files (fixtures, or payloads copied from the
App's "Recent Deliveries" page) or a stored delivery, posted signed to a running server or
processed in this process with the triggers' decisions and the runs' conclusions printed."""

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from aiworkflow.celery import app as celery_app
from github_app.credentials import app_credential
from github_app.models import WebhookDelivery
from github_app.webhooks.deliveries import DeliveryNotReplayable, delivery_process, delivery_receive, delivery_replay
from github_app.webhooks.payloads import PayloadInvalid, PayloadSummary, payload_summarize
from github_app.webhooks.signatures import signature_for
from triggers.selectors import delivery_trigger_decisions
from workflows.models import WorkflowRun

DEFAULT_URL = "http://127.0.0.1:8000/webhooks/github"
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024  # GitHub's cap, which the endpoint enforces too
MAX_DIRECTORY_FILES = 1000
REQUEST_TIMEOUT_SECONDS = 30
REPOSITORY_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")
Status = WebhookDelivery.Status


@dataclass(frozen=True)
class Payload:
    source: Path
    event: str
    body: bytes
    summary: PayloadSummary


def event_from_file_name(*, path: Path) -> str | None:
    """`<event>__<action>[_N].json` names its event before `__`; without `__` the name says nothing sure."""
    if "__" not in path.stem:
        return None
    return re.sub(r"_\d+$", "", path.stem.split("__")[0])


def payload_files(*, path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CommandError(f"{path} is neither a file nor a directory.")
    files = sorted(path.glob("*.json"))
    if len(files) > MAX_DIRECTORY_FILES:
        raise CommandError(f"{path} holds {len(files)} JSON files; at most {MAX_DIRECTORY_FILES} are replayed at once.")
    if not files:
        raise CommandError(f"{path} holds no *.json file.")
    return files


def payload_aimed(*, payload: dict, installation_id: int | None, repository: str | None) -> dict:
    """The payload pointed at another installation or repository, its repository fields kept consistent."""
    if installation_id is not None:
        payload["installation"] = {**(payload.get("installation") or {}), "id": installation_id}
    if repository is not None:
        owner, name = repository.split("/")
        fields = payload.get("repository") or {}
        # The fixture's repository id names someone else's repository: without it, the
        # repository is found by its name.
        fields = {key: value for key, value in fields.items() if key != "id"}
        payload["repository"] = {
            **fields,
            "full_name": repository,
            "name": name,
            "owner": {**(fields.get("owner") or {}), "login": owner},
        }
    return payload


def payload_read(*, path: Path, event: str | None, installation_id: int | None, repository: str | None) -> Payload:
    """Read and check one payload file; refuses what the webhook endpoint would refuse."""
    event = event or event_from_file_name(path=path)
    if not event:
        raise CommandError(f"{path.name}: the event cannot be told from the name (no `<event>__`); pass --event.")
    if path.stat().st_size > MAX_PAYLOAD_BYTES:
        raise CommandError(f"{path.name}: over GitHub's 25 MiB payload cap.")
    try:
        payload = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path.name}: not valid JSON ({exc}).") from exc
    if not isinstance(payload, dict):
        raise CommandError(f"{path.name}: the payload must be a JSON object.")
    if installation_id is not None or repository is not None:
        payload = payload_aimed(payload=payload, installation_id=installation_id, repository=repository)
    body = json.dumps(payload).encode()
    try:
        summary = payload_summarize(body)
    except PayloadInvalid as exc:
        raise CommandError(f"{path.name}: {exc}") from exc
    return Payload(source=path, event=event, body=body, summary=summary)


@contextmanager
def tasks_run_inline() -> Iterator[None]:
    """Runs are executed by the worker; here, in this process, so that their conclusions can be printed."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


def delivery_processed_here(*, store) -> WebhookDelivery:
    """Store (or reset) a delivery and process it in this process.

    One transaction: the hand-off to the broker that storing schedules happens at its commit,
    when the delivery is already processed, so no worker takes it; the runs it started are
    handed over at the same commit and, tasks being inline, executed there."""
    with tasks_run_inline():
        with transaction.atomic():
            delivery_pk = store()
            delivery_process(delivery_pk=delivery_pk)
        return WebhookDelivery.objects.get(pk=delivery_pk)


def delivery_block(*, delivery: WebhookDelivery) -> list[str]:
    """What happened to a delivery processed here: its outcome, each candidate trigger's decision, its runs."""
    action = f".{delivery.action}" if delivery.action else ""
    lines = [f"delivery {delivery.delivery_id} ({delivery.event}{action}, {delivery.repository_full_name or '-'})"]
    error = f": {delivery.last_error}" if delivery.last_error else ""
    lines.append(f"  status: {delivery.status}{error}")
    candidates, _ = delivery_trigger_decisions(delivery=delivery)
    if not candidates:
        lines.append("  triggers: no candidate (no active trigger on this repository and event reachable here)")
    for decision in candidates:
        trigger = decision.trigger
        lines.append(f'  trigger {trigger.pk} of workflow "{trigger.workflow.name}": matched {decision.matched}')
        lines.extend(f"    - {reason}" for reason in decision.reasons)
    runs = WorkflowRun.objects.filter(delivery=delivery).select_related("workflow").prefetch_related("steps")
    for run in runs.order_by("created_at"):
        lines.append(f'  run {run.pk} of workflow "{run.workflow.name}": {run.status}/{run.conclusion or "-"}')
        if run.error:
            lines.append(f"    error: {run.error}")
        lines.extend(f"    step {step.node_id}: {step.error}" for step in run.steps.all() if step.error)
    return lines


class Command(BaseCommand):
    help = (
        "Replay webhook payload files (or a stored delivery) to a running server, signed as GitHub "
        "signs them, or process them here with --local and print each trigger's decision and run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="a payload JSON file, or a directory of them")
        parser.add_argument("--delivery", help="replay a stored delivery (its X-GitHub-Delivery id or pk)")
        parser.add_argument("--event", help="the X-GitHub-Event; by default from an <event>__<action>.json name")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--url", default=DEFAULT_URL, help=f"the webhook endpoint (default {DEFAULT_URL})")
        target.add_argument("--local", action="store_true", help="process in this process instead of posting")
        parser.add_argument("--installation", type=int, help="the installation id the payload is aimed at")
        parser.add_argument("--repository", help="the owner/name the payload is aimed at")

    def handle(self, *args, **options) -> None:
        if (options["path"] is None) == (options["delivery"] is None):
            raise CommandError("Give a payload file or directory, or --delivery, not both.")
        repository = options["repository"]
        if repository is not None and not REPOSITORY_NAME.match(repository):
            raise CommandError("--repository must be owner/name.")
        if options["delivery"] is not None:
            failed = int(not self._stored_replayed(key=options["delivery"], local=options["local"]))
        else:
            payloads = [
                payload_read(
                    path=path, event=options["event"], installation_id=options["installation"], repository=repository
                )
                for path in payload_files(path=options["path"])
            ]  # all read and checked before any is sent: a bad file stops the batch with nothing stored
            send = self._processed_here if options["local"] else self._posted
            failed = sum(not send(payload=payload, url=options["url"]) for payload in payloads)
        if failed:
            raise CommandError(f"{failed} delivery(ies) refused or failed.")

    def _print(self, lines: list[str]) -> None:
        self.stdout.write("\n".join(lines) + "\n")

    def _posted(self, *, payload: Payload, url: str) -> bool:
        delivery_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": payload.event,
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": signature_for(body=payload.body, secret=app_credential("webhook_secret")),
        }
        header = f"delivery {delivery_id} ({payload.event}) from {payload.source.name}"
        try:
            response = requests.post(url, data=payload.body, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            self._print([header, f"  not delivered: {exc}"])
            return False
        self._print([header, f"  HTTP {response.status_code}: {response.text[:2000]}"])
        return response.ok

    def _processed_here(self, *, payload: Payload, url: str) -> bool:
        delivery_id = str(uuid.uuid4())

        def store() -> int:
            pk = delivery_receive(
                delivery_id=delivery_id,
                event=payload.event,
                hook_id=None,
                summary=payload.summary,
                payload=payload.body,
            )
            if pk is None:
                raise CommandError(f"Delivery {delivery_id} is already stored.")
            return pk

        delivery = delivery_processed_here(store=store)
        self._print([f"from {payload.source.name}:", *delivery_block(delivery=delivery)])
        return delivery.status != Status.FAILED

    def _stored_replayed(self, *, key: str, local: bool) -> bool:
        lookup = {"pk": int(key)} if key.isdigit() else {"delivery_id": key}
        delivery = WebhookDelivery.objects.defer("payload").filter(**lookup).first()
        if delivery is None:
            raise CommandError(f"No stored delivery {key}.")
        try:
            if local:
                delivery = delivery_processed_here(store=lambda: delivery_replay(delivery=delivery).pk)
            else:
                delivery = delivery_replay(delivery=delivery)
        except DeliveryNotReplayable as exc:
            raise CommandError(str(exc)) from exc
        if local:
            self._print(delivery_block(delivery=delivery))
            return delivery.status != Status.FAILED
        self._print([f"delivery {delivery.delivery_id} ({delivery.event}) handed to the worker: {delivery.status}"])
        return True
