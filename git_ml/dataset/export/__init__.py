"""Export the store as training data: JSON Lines, CSV, Parquet, a Hugging Face dataset directory, a shared
hive-partitioned Parquet dataset of many repositories, or Agent Trace records.

Modules: ``options`` (what is asked), ``records`` (the rows), ``versions`` (the store's rules of versions and
rewrites as export applies them), ``spill`` (rows on disk), ``collect`` and ``worker`` (the reading pass, in one or
two processes), ``select`` (filters, dedup, splits), ``write`` and ``writers`` (files), ``card`` (the Hugging Face
dataset card), ``hive`` (``--format dataset``), ``trace`` (``--format agent-trace``), and ``run``, whose ``export``
is the entry point.
"""
