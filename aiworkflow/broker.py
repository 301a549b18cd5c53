import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

from aiworkflow.celery import app as celery_app


def broker_connection_error() -> str | None:
    """The name of the error connecting to the broker, or None when it answers."""
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any failure is a result to report, not an error to raise
        return type(exc).__name__
    return None


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message aside, then rename it into the folder, so that it appears whole.

        kombu writes a message in place: a consumer polling meanwhile can take the file while it
        is still empty, which loses the message and stops the worker on the decoding error
        (https://github.com/celery/kombu/issues/1551). The name is kombu's own (time first, so
        that consumers take messages in order); the staged file does not end in `<queue>.msg`,
        so no consumer takes it.
        """
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staged = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(staged, "wb") as file:
                file.write(dumps(payload).encode())
            os.replace(staged, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc


class FilesystemTransport(filesystem.Transport):
    """kombu's filesystem transport, with messages that appear whole (FilesystemChannel)."""

    Channel = FilesystemChannel
