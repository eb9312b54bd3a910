"""`python -m starter dev up|down|status`: the embedded PostgreSQL + Temporal dev stack."""

from __future__ import annotations

import typer
from rich.markup import escape

from devstack import DevStack, DevStackError
from semsync.config import get_settings
from starter.console import console, err_console

app = typer.Typer(no_args_is_help=True, help="Run the embedded development stack (PostgreSQL + Temporal).")


def _stack() -> DevStack:
    return DevStack.from_settings(get_settings())


@app.command()
def up() -> None:
    """Start PostgreSQL and Temporal (reusing what runs), apply migrations."""
    try:
        for line in _stack().up():
            console.print(f"[green]✓[/] {escape(line)}")
    except DevStackError as exc:
        err_console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    status()


@app.command()
def down() -> None:
    """Stop the processes that `up` started."""
    done = _stack().down()
    console.print("\n".join(done) if done else "nothing was running")


@app.command()
def status() -> None:
    """Print the database URL, the Temporal address and the Web UI URL, and whether each answers."""
    s = _stack().status()

    def mark(ok: bool) -> str:
        return "[green]up[/]" if ok else "[red]down[/]"

    console.print(f"PostgreSQL  {mark(s.postgres_reachable)}  {s.database_url}  (pid {s.postgres_pid or '-'})")
    console.print(f"Temporal    {mark(s.temporal_reachable)}  {s.temporal_address}  (pid {s.temporal_pid or '-'})")
    console.print(f"Web UI            {s.web_ui_url or '-'}")
    if s.worker_pid:
        console.print(f"worker      [green]up[/]  (pid {s.worker_pid})")
    else:  # how to start it, only when it is not running
        console.print("worker      [yellow]not running[/]  (`python worker.py`, or `make demo` starts it)")
    if not s.healthy:
        raise typer.Exit(1)
