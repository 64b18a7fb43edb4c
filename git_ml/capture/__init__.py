"""Parsers that turn AI-assistant transcripts (Claude Code, Codex CLI, aider) into Chat and Session records."""
