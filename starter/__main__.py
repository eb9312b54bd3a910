"""`python -m starter …`: the settings checked first, then only the command asked for.

A command that talked to Temporal ends with `os._exit` once its output is flushed: the SDK's
Rust threads can outlive the interpreter's shutdown and abort it (`Fatal Python error:
PyGILState_Release …`, temporalio/sdk-python#300), which turned a documented exit code into −6 about
once in 40 runs. Skipping the teardown keeps the code the command chose.
"""

import logging
import os
import sys

from pydantic import ValidationError

from semsync.config import get_settings


def _settings_or_exit() -> None:
    """Invalid settings: one line naming the variable and what it expects, exit 2 (no traceback)."""
    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            variable = "SEMSYNC_" + "__".join(str(part).upper() for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            secret = any(word in variable for word in ("URL", "SECRET", "KEY", "PASSWORD", "TOKEN"))
            shown = "" if error["type"] == "value_error" or secret else f" (got {error.get('input')!r})"
            where = f"setting {variable}" if error["loc"] else "settings"
            print(f"error: invalid {where}: {message}{shown}", file=sys.stderr)
        sys.exit(2)
    except ValueError as exc:  # a settings source that cannot be read, e.g. a missing *_FILE secret
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        sys.exit(2)


def _exit_code(exit: SystemExit) -> int:
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return exit.code
    print(exit.code, file=sys.stderr)
    return 1


def main() -> None:
    _settings_or_exit()
    from starter.cli import app_for

    try:
        app_for(sys.argv[1:])(prog_name="python -m starter")
        code = 0
    except SystemExit as exit:
        code = _exit_code(exit)
    if "temporalio.bridge.client" in sys.modules:  # a Temporal client may have run: no teardown
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


main()
