"""Channels: one module per platform, each built on that platform's real client library.

Channels know nothing about the database; the orchestrator builds them from an account's
configuration and interprets their outcomes (see ``channels.base``).
"""
