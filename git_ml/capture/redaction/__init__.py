"""Replace secrets in text with typed placeholders before the text is stored.

    >>> redact("DB_PASSWORD=hunter22 AWS_ACCESS_KEY_ID=AKIAJ6KQ2DL5ZFMW3B4T")[0]
    'DB_PASSWORD=[REDACTED:password] AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]'
    >>> redact('token: "ghp_R8sK2mPq7xV4nB9cD1fG3hJ5kL6zW0yT2uE4"')[1]
    {'github-token': 1}

Used on commit messages and AI-assistant transcripts, often from git hooks, so it must
start fast (imports only ``re``) and run fast on multi-MB text:

* ``engine.RULES`` is the one list of rules (``rules/``: one module per family). Each rule has literals, one of which every match
  contains. A rule's pattern runs only when one of them occurs in the text (``str in`` is
  a C memory scan), so text without candidates costs about one scan per rule. (On large
  text a rule with several literals runs its pattern at once: one scan instead of several.)
* Every pattern starts with a literal, never with a look-behind or a character class:
  then ``re`` jumps from one occurrence of the literal to the next instead of trying each
  position (about 100x faster on large text; one alternation of all literals is slower
  than the separate scans). Boundary checks that would need a look-behind are done in
  Python by each rule's check, on the few hits.
* A check also rejects placeholders and look-alikes (``xxxx``, ``0000``, ``EXAMPLE``,
  ``${VAR}``, ``get_password()``, ...) and decides the kind and the span to replace.
* Rules run in table order, each on the output of the previous one, so specific rules come
  first: a GitHub token in ``token = "..."`` is counted once, as github-token. Placeholders
  never match a rule, and after a replacement the earlier rules run once more (not the provider-token scan,
  which a placeholder cannot feed), which makes ``redact`` idempotent. On large text with few replacements that
  second run reads only the lines holding a placeholder: no rule but the private key's matches across a line break.
* The provider-token scan reads every run of token characters first and checks the random parts of all its
  candidates at once (``looks.machine_made_all``): on secret-dense text one Python call per check was most of the
  time.
"""

from git_ml.capture.redaction.engine import KINDS, redact

__all__ = ["KINDS", "redact"]
