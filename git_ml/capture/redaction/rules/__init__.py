"""The redaction rules, by family; the engine runs them in the order of engine.RULES."""
