import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bin" / "write_dotenv.py"


@pytest.fixture
def write_dotenv():
    spec = importlib.util.spec_from_file_location("write_dotenv", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture
def permissive_umask():
    """Files are created readable by everyone unless the script says otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes_seen_while_running(main, target: Path) -> set[int]:
    """The file's permission bits after every line the script runs: what another user could
    have found, had they looked at that moment."""
    seen = set()

    def trace(frame, event, arg):
        if frame.f_code.co_filename == str(SCRIPT):
            if target.exists():
                seen.add(stat.S_IMODE(target.stat().st_mode))
            return trace
        return None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        main(str(target))
    finally:
        sys.settrace(previous)
    if target.exists():
        seen.add(stat.S_IMODE(target.stat().st_mode))
    return seen


def test_the_env_file_is_never_readable_by_others_not_even_while_it_is_written(
    write_dotenv, permissive_umask, tmp_path
):
    target = tmp_path / ".env"

    modes = modes_seen_while_running(write_dotenv, target)

    assert modes == {0o600}
    assert "DJANGO_SECRET_KEY=" in target.read_text()


def test_an_existing_env_file_is_not_overwritten(write_dotenv, tmp_path):
    target = tmp_path / ".env"
    target.write_text("DJANGO_SECRET_KEY=keep-me\n")

    with pytest.raises(SystemExit, match="exists"):
        write_dotenv(str(target))

    assert target.read_text() == "DJANGO_SECRET_KEY=keep-me\n"


def test_a_link_planted_in_place_of_the_env_file_is_not_followed(write_dotenv, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / ".env").symlink_to(elsewhere)

    with pytest.raises(SystemExit, match="exists"):
        write_dotenv(str(tmp_path / ".env"))

    assert not elsewhere.exists()
