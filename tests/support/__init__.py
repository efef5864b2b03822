"""Shared helpers for the ops and e2e tests: tool lookup, real backends, dashboards, metric contract."""
