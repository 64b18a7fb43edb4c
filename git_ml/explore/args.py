"""A hand-written argv parser for the fast path of the explore commands.

typer costs ~60 ms of start-up, a third of `show`'s budget, so ``main()`` parses the documented options here and
hands anything else (``--help``, an unknown option, a malformed value) to the typer app, which prints the help or
the usage error exactly as the man page documents it.
"""

from __future__ import annotations


class Fallback(Exception):
    """Let the CLI framework handle this command line."""


def fast_parse(argv: list[str], spec: dict[str, tuple[str, str]]) -> tuple[dict, list[str], list[str] | None]:
    """``spec``: option -> (dest, kind) with kind ``flag`` / ``value`` / ``int`` / ``neg`` (a flag setting False) /
    ``values`` (repeatable, and greedy: the value and every following argument up to the next option or ``--``
    are appended to a list).

    Returns (options, positionals before ``--``, arguments after ``--`` or None)."""
    opts: dict = {}
    pos: list[str] = []
    rest: list[str] | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            rest = argv[i:]
            break
        if a in ("-h", "--help") or (a.startswith("-") and a != "-" and not _is_number(a)):
            name, eq, value = a.partition("=") if a.startswith("--") else (a, "", "")
            if name not in spec and not a.startswith("--") and len(a) > 2 and a[:2] in spec:
                name, value, eq = a[:2], a[2:], "="  # -n5, -L1,9
            if name not in spec:
                raise Fallback
            dest, kind = spec[name]
            if kind in ("flag", "neg"):
                if eq:
                    raise Fallback
                opts[dest] = kind == "flag"
                continue
            if not eq:
                if i >= len(argv):
                    raise Fallback
                value = argv[i]
                i += 1
            if kind == "int":
                if not value.lstrip("-").isdigit():
                    raise Fallback
                opts[dest] = int(value)
            elif kind == "values":
                values = opts.setdefault(dest, [])
                values.append(value)
                while i < len(argv) and (not argv[i].startswith("-") or argv[i] == "-" or _is_number(argv[i])):
                    values.append(argv[i])
                    i += 1
            else:
                opts[dest] = value
            continue
        pos.append(a)
    return opts, pos, rest


def _is_number(a: str) -> bool:
    return a[1:].isdigit()
