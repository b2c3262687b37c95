"""Webhooks: subscriptions and the signed delivery outbox."""
