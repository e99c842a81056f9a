"""Smoke tests: the runner (scripted conversations through a backend), the expectations it
checks, and the reports it writes."""
