"""Explore: from a commit, a line or a phrase to the conversation behind it (`show`, `log`, `blame`, `search`).

Everything reads a derived index (``index.py``): a SQLite file under ``.git/ml/`` that mirrors the winning version
of every record, keyed by the tip of ``refs/ml/data`` and updated incrementally from the chunks appended since.
"""
