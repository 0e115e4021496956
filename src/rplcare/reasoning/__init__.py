"""Reasoning: classification, findings, knowledge-base rules and `assess()` (pure functions)."""
