"""Temporal workflows (orchestration only: the standard library and temporalio at the top)."""
