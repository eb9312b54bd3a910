"""A real Cube server (Node.js, Cube 0.33) for semsync's tests: the Node project and its Python launcher."""

from devstack.cube_server.launcher import (
    PROJECT_DIR,
    CubeServer,
    CubeServerError,
    ensure_installed,
    is_installed,
    missing_tools,
)

__all__ = ["PROJECT_DIR", "CubeServer", "CubeServerError", "ensure_installed", "is_installed", "missing_tools"]
