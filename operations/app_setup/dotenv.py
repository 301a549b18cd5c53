"""Settings written into a development `.env`: each named line replaced where it stands, the
others appended, everything else in the file kept; the file stays readable by its owner only."""

import os
import re
import tempfile
from pathlib import Path

_ASSIGNMENT = re.compile(r"\A\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def dotenv_update(*, path: Path, values: dict[str, str], comment: str) -> None:
    """Set `values` in the file at `path` (created if missing). A value is written on one line
    and unquoted, as django-environ reads it back: a PEM's newlines become literal `\\n`, which
    the settings turn back (github_app/credentials.py)."""
    lines = path.read_text().splitlines() if path.exists() else []
    pending = dict(values)
    for index, line in enumerate(lines):
        match = _ASSIGNMENT.match(line)
        if match and match.group(1) in pending:
            name = match.group(1)
            lines[index] = _line(name, pending.pop(name))
    if pending:
        lines += ["", f"# {comment}"] + [_line(name, value) for name, value in pending.items()]
    _write_private(path, "\n".join(lines) + "\n")


def _line(name: str, value: str) -> str:
    return f"{name}={value.strip().replace(chr(13), '').replace(chr(10), chr(92) + 'n')}"


def _write_private(path: Path, text: str) -> None:
    """Replace the file in one step with one made owner-only from its creation, so no other user
    can read the secrets on their way in, and a crash leaves the old file whole."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".env.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
