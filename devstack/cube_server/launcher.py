"""Install and run a real Cube 0.33 server (Node.js) over PostgreSQL, for tests and local trials.

The Node project lives next to this module (`package.json`, `package-lock.json`, `server.js`).
`ensure_installed()` runs ``npm ci --ignore-scripts`` into ``devstack/cube_server/node_modules`` the
first time (about 20 s from the registry; nothing native is built or downloaded, which is why Cube
1.x, whose REST API needs a Rust binary, is not an option) and is a no-op afterwards, so later runs
work offline. `CubeServer` writes a data model directory, starts ``node server.js`` on a free port of
127.0.0.1 in production mode (every request needs an HS256 JWT signed with the API secret) and stops
exactly the process it started.

    with CubeServer({"orders.yml": yaml_text}, database_url, api_secret="s3cret") as cube:
        httpx.post(f"{cube.url}/cubejs-api/v1/load", headers={"Authorization": cube.token()}, ...)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx
import jwt
from sqlalchemy.engine import make_url

from devstack.processes import free_port

#: the Node project: package.json, package-lock.json, server.js
PROJECT_DIR = Path(__file__).resolve().parent
NODE_MODULES = PROJECT_DIR / "node_modules"
_MARKER = NODE_MODULES / ".semsync-installed"


class CubeServerError(RuntimeError):
    """Cube could not be installed or started; the message carries npm's or Cube's output."""


def _lock_digest() -> str:
    return hashlib.sha256((PROJECT_DIR / "package-lock.json").read_bytes()).hexdigest()


def is_installed() -> bool:
    """node_modules holds exactly what package-lock.json pins."""
    try:
        return _MARKER.read_text().strip() == _lock_digest()
    except OSError:
        return False


def missing_tools() -> str | None:
    """Why Cube cannot run here (``node``, or ``npm`` while not yet installed, not on PATH), or None."""
    needed = ("node",) if is_installed() else ("node", "npm")
    missing = [tool for tool in needed if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found on PATH (Cube runs on Node.js)" if missing else None


def ensure_installed(timeout_s: float = 900.0) -> Path:
    """Install the pinned Cube packages unless already there; returns the node_modules directory.

    ``npm ci`` installs exactly package-lock.json, with ``--ignore-scripts`` so that no install script
    downloads a native binary. A lock file serialises concurrent callers (parallel test sessions).
    """
    if is_installed():
        return NODE_MODULES
    if reason := missing_tools():
        raise CubeServerError(f"cannot install Cube: {reason}")
    project_id = hashlib.sha1(bytes(PROJECT_DIR)).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"semsync-cube-npm-{project_id}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if is_installed():  # another process finished while we waited
                return NODE_MODULES
            cmd = ["npm", "ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]
            try:
                result = subprocess.run(
                    cmd, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout_s,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired as exc:
                raise CubeServerError(f"`{' '.join(cmd)}` timed out after {timeout_s:.0f}s") from exc
            if result.returncode != 0:
                raise CubeServerError(
                    f"`{' '.join(cmd)}` failed in {PROJECT_DIR}:\n{result.stderr.strip() or result.stdout.strip()}"
                )
            _MARKER.write_text(_lock_digest() + "\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return NODE_MODULES


def _db_env(database_url: str) -> dict[str, str]:
    """CUBEJS_DB_* from a PostgreSQL URL (any SQLAlchemy driver suffix, e.g. ``postgresql+asyncpg``)."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgres"):
        raise CubeServerError(f"Cube here reads PostgreSQL only, not {url.drivername!r}")
    return {
        "CUBEJS_DB_TYPE": "postgres",
        "CUBEJS_DB_HOST": url.host or "127.0.0.1",
        "CUBEJS_DB_PORT": str(url.port or 5432),
        "CUBEJS_DB_NAME": url.database or "postgres",
        "CUBEJS_DB_USER": url.username or "",
        "CUBEJS_DB_PASS": url.password or "",
    }


class CubeServer:
    """A Cube server process over one PostgreSQL database, serving the given YAML model files.

    `models` maps file names (``orders.yml``) to their YAML text. `work_dir` holds the model and the
    log (a temporary directory, removed on stop, when not given). `url` is the base URL the
    `CubeConnection.cube_api_url` takes; `token()` signs a JWT with `api_secret`. `continue_wait_s`
    (whole seconds, Cube's default 5) is how long Cube holds a request before answering
    ``{"error": "Continue wait"}``.
    """

    def __init__(
        self,
        models: Mapping[str, str],
        database_url: str,
        *,
        api_secret: str,
        work_dir: Path | None = None,
        port: int | None = None,
        startup_timeout_s: float = 60.0,
        continue_wait_s: int | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.models = dict(models)
        self.database_url = database_url
        self.api_secret = api_secret
        self.port = port or free_port()
        self.startup_timeout_s = startup_timeout_s
        self.continue_wait_s = continue_wait_s
        self.extra_env = dict(extra_env or {})
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="semsync-cube-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.work_dir / "cube.log"

    def token(self, ttl_s: int = 3600, **claims: object) -> str:
        """A JWT Cube accepts: HS256 with the API secret, `iat`/`exp` set."""
        now = int(time.time())
        return jwt.encode({"iat": now, "exp": now + ttl_s, **claims}, self.api_secret, algorithm="HS256")

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def _write_models(self) -> None:
        model_dir = self.work_dir / "model"
        if model_dir.exists():
            shutil.rmtree(model_dir)
        model_dir.mkdir(parents=True)
        for name, text in self.models.items():
            if Path(name).name != name or not name.endswith((".yml", ".yaml", ".js")):
                raise CubeServerError(f"model file name {name!r}: expected a plain *.yml, *.yaml or *.js name")
            (model_dir / name).write_text(text)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUBEJS_")}
        env.update(
            NODE_ENV="production",
            CUBEJS_DEV_MODE="false",
            CUBEJS_CACHE_AND_QUEUE_DRIVER="memory",
            CUBEJS_API_SECRET=self.api_secret,
            CUBEJS_TELEMETRY="false",
            CUBEJS_SCHEDULED_REFRESH_TIMER="false",
            SEMSYNC_CUBE_HOST="127.0.0.1",
            SEMSYNC_CUBE_PORT=str(self.port),
            SEMSYNC_CUBE_MODEL_DIR="model",
            **_db_env(self.database_url),
        )
        if self.continue_wait_s is not None:
            env["SEMSYNC_CUBE_CONTINUE_WAIT_S"] = str(int(self.continue_wait_s))
        env.update(self.extra_env)
        return env

    def start(self) -> CubeServer:
        """Install if needed, start node and wait until Cube answers with the model compiled."""
        ensure_installed()
        self._write_models()
        log = open(self.log_file, "wb")  # noqa: SIM115 - the child writes to it until stop()
        try:
            self.process = subprocess.Popen(
                ["node", str(PROJECT_DIR / "server.js")], cwd=self.work_dir, env=self._env(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last = "no answer"
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise CubeServerError(f"Cube exited with {self.process.returncode}:\n{self.log()[-4000:]}")
                try:
                    ready = client.get("/readyz")
                    if ready.status_code == 200:
                        # Compiles the model: a broken model fails here, not on the first query.
                        meta = client.get("/cubejs-api/v1/meta", headers={"Authorization": self.token()})
                        if meta.status_code == 200:
                            return
                        raise CubeServerError(f"Cube rejects the model: {meta.text}\n{self.log()[-4000:]}")
                    last = f"/readyz {ready.status_code}: {ready.text}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        raise CubeServerError(
            f"Cube did not become ready in {self.startup_timeout_s:.0f}s ({last}):\n{self.log()[-4000:]}"
        )

    def stop(self) -> None:
        """Stop the node process this object started (by pid), then remove a temporary work dir."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> CubeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
