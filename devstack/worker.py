"""The semsync worker as a background process of the embedded stack (`python -m starter demo run`).

`python worker.py` of this checkout, started in its own session, logging to ``worker.log`` under
the state directory with its pid in ``worker.pid``; stopped with SIGTERM (it finishes running
activities) by `dev down`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack.processes import DevStackError, _alive, _wait_for


@dataclass
class WorkerProcess:
    state_dir: Path
    script: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "worker.pid"

    @property
    def log(self) -> Path:
        return self.state_dir / "worker.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid, "worker.py") else None

    def start(self, env: dict[str, str] | None = None) -> bool:
        """Start the worker unless it runs; waits until it polls. False if it was already running."""
        if self.pid():
            return False
        if not self.script.is_file():
            raise DevStackError(f"{self.script} not found: the demo worker runs from a checkout of semsync")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            proc = subprocess.Popen([sys.executable, str(self.script)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.script.parent,
                                    env={**os.environ, **(env or {})})
        self.pid_file.write_text(str(proc.pid))

        def polling() -> bool:
            if proc.poll() is not None:
                return True
            with self.log.open("rb") as log:
                log.seek(start)
                return b"polling" in log.read()

        _wait_for(polling, 120, "the worker to start polling")
        if proc.poll() is not None:
            self.pid_file.unlink(missing_ok=True)
            raise DevStackError(f"the worker exited with {proc.returncode}; see {self.log}")
        return True

    def stop(self) -> bool:
        pid = self.pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        try:
            _wait_for(lambda: not _alive(pid, "worker.py"), 60, "the worker to stop")
        except DevStackError:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True
