"""Temporal activities: thin adapters that hand pydantic inputs to semsync's services."""
