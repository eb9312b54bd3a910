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


_settings_or_exit()

from starter.cli import app_for  # noqa: E402

app_for(sys.argv[1:])(prog_name="python -m starter")
