# Sourced by bin/run, bin/test, bin/lint and bin/bench: makes .venv with Python 3.11+ and keeps it on the dev lock.
# The dev lock is the runtime lock plus the test and dev tools, which these commands need
# (honcho for bin/run, pytest for bin/test, ruff and mypy for bin/lint).

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)." >&2
  exit 1
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
  fi
  local wanted
  wanted=$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("requirements-dev.txt", "rb").read()).hexdigest())')
  if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$wanted" ]; then
    # The lock pins pip and setuptools too, with hashes, so pip is not upgraded on its own first:
    # an unpinned upgrade would fetch an unverified pip that the lock then replaces anyway.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
    echo "$wanted" > .venv/.requirements.sha256
  fi
  export PATH="$PWD/.venv/bin:$PATH"
}
