"""Man pages generated from the CLI definitions, so that they cannot drift from the commands.

`python -m git_ml.cli.manpages [DIR]` writes ``git-ml.1`` and one ``git-ml-<verb>.1`` per executable into DIR
(default ``man/man1``); ``--check`` exits 1 when the committed pages differ. The output depends only on the code and
the pinned CLI framework (constraints.txt), never on the date or the terminal.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from git_ml import __version__
from git_ml.cli.verbs import VERBS
from git_ml.errors import ExitCode

SECTION = "1"
MANUAL = "git-ml Manual"


def roff_escape(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.splitlines():
        if line[:1] in (".", "'"):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def paragraphs(text: str) -> list[str]:
    """Help text as paragraphs: blank lines separate them, single newlines are rewrapped by man."""
    out, current = [], []
    for line in (text or "").strip().splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


# The command tree is read through the framework's own help methods (the text --help shows): typer vendors its
# own copy of click, so isinstance checks against click's classes would not match.
def _is_group(command) -> bool:
    return hasattr(command, "list_commands")


def _context(prog: str, command):
    return command.make_context(prog, [], resilient_parsing=True)


def synopsis(prog: str, command) -> str:
    ctx = _context(prog, command)
    return " ".join([prog, *command.collect_usage_pieces(ctx)])


def render_command(prog: str, command) -> list[str]:
    ctx = _context(prog, command)
    out = [".PP", f".B {roff_escape(synopsis(prog, command))}"]
    for para in paragraphs(command.help or command.short_help or ""):
        out += [".PP", roff_escape(para)]
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        label, text = record
        # the framework names a repeatable argument's Python type ("<list[str]>"): not for readers
        label = label.replace(" <list[str]>", "" if not label.startswith("-") else " TEXT")
        out += [".TP", f".B {roff_escape(label)}", roff_escape(" ".join(text.split()) or " ")]
    if _is_group(command):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                out += render_command(f"{prog} {name}", sub)
    return out


def page(name: str, summary: str, sections: list[tuple[str, list[str]]]) -> str:
    head = [f'.TH "{name.upper()}" "{SECTION}" "" "git-ml {__version__}" "{MANUAL}"', ".SH NAME",
            f"{roff_escape(name)} \\- {roff_escape(summary)}"]
    body = []
    for title, lines in sections:
        body.append(f".SH {title}")
        body.extend(lines)
    return "\n".join(head + body) + "\n"


def verb_commands(verb: str) -> list[tuple[str, object]]:
    module = importlib.import_module(f"git_ml.cli.{verb.replace('-', '_')}")
    if hasattr(module, "click_commands"):
        return module.click_commands()
    import typer

    return [(f"git ml {verb}", typer.main.get_command(module.app))]


def verb_page(verb: str) -> str:
    commands = verb_commands(verb)
    synopsis_lines: list[str] = []
    description: list[str] = []
    for title, command in commands:
        prog = title.replace("git-ml-", "git ml ", 1) if title.startswith("git-ml-") else title
        synopsis_lines += [".PP" if synopsis_lines else ".nf", f"{roff_escape(synopsis(prog, command))}"]
        description += render_command(prog, command)
    synopsis_lines.append(".fi")
    return page(f"git-ml-{verb}", VERBS[verb], [
        ("SYNOPSIS", synopsis_lines),
        ("DESCRIPTION", description),
        ("ENVIRONMENT", [".TP", ".B ML_COLLECTION_ENABLED",
                         roff_escape("Set to 0 to turn capturing off (as `git config ml.enabled false`).")]),
        ("SEE ALSO", ["git\\-ml(1)"]),
    ])


MAIN_DESCRIPTION = """\
git-ml records the everyday work in a repository (commits, and the AI-assistant sessions that produced them) into \
a compressed store inside the repository, and learns models from it.

`git ml VERB ARGS` runs the executable git-ml-VERB with ARGS, the way git runs its own commands. `git ml` alone \
lists the verbs that are installed.

Data lives in git objects under refs/ml/data (records that may be shared) and refs/ml/local (full diff hunks; \
never pushed), never in the working tree or on a branch. Each ref points at a commit whose tree holds \
zstd-compressed JSON Lines chunks per stream (commits, chats, sessions, feedback, links, rewrites, tombstones). \
Caches, models, logs and the spool live in .git/ml/."""

CONFIG_KEYS = [
    ("ml.enabled", "false turns capturing off (default true)."),
    ("ml.diffLimit", "bytes of diff hunks kept per commit in refs/ml/local; 0 keeps none (default 262144)."),
    ("ml.catchUpLimit", "uncaptured commits behind HEAD a hook capture takes along (default 50)."),
    ("ml.lockTimeoutMs", "how long a writer waits for the store's ref before giving up (default 5000)."),
    ("ml.hookSync", "true runs hook captures in the foreground instead of detached (default false)."),
    ("ml.captureResponses", "false keeps only the metadata of chats, no prompt or response text (default true)."),
    ("ml.maxTextChars", "characters of a prompt or response kept (default 65536)."),
    ("ml.linkWindowMinutes", "how long after a chat its commits are still linked to it (default 30)."),
    ("ml.chunkSize", "target size of compacted chunks, uncompressed (default 32m)."),
    ("ml.autoCompact", "small chunks that trigger an automatic compaction; 0 turns it off (default 64)."),
    ("ml.remote", "the remote `git ml sync` exchanges refs/ml/data with (no default: sync refuses)."),
    ("ml.syncCompactMin", "duplicate records after a sync merge that trigger a compaction (default 1000)."),
    ("ml.retentionDays", "age in days after which `git ml cleanup` deletes conversation data (default 730)."),
    ("ml.weight.good, ml.weight.neutral, ml.weight.unrated, ml.weight.bad",
     "export row weights by rating (default 1.0, 0.5, 0.5, 0.0)."),
    ("ml.contribute", "true once the repository opted in to `git ml contribute export` (default false)."),
]


def main_page() -> str:
    verbs = []
    for verb in built_verbs():
        summary = VERBS[verb]
        verbs += [".TP", f".B git ml {roff_escape(verb)}", roff_escape(summary) + f". See git\\-ml\\-{verb}(1)."]
    description = []
    for para in paragraphs(MAIN_DESCRIPTION.replace("\\\n", "")):
        description += [".PP", roff_escape(para)]
    config = []
    for key, text in CONFIG_KEYS:
        config += [".TP", f".B {roff_escape(key)}", roff_escape(text)]
    return page("git-ml", "turn the work in a git repository into a machine-learning dataset", [
        ("SYNOPSIS", [".nf", "git ml [\\-\\-version] VERB [ARGS]", "git ml", ".fi"]),
        ("DESCRIPTION", description),
        ("VERBS", verbs),
        ("CONFIGURATION", config),
        ("ENVIRONMENT", [".TP", ".B ML_COLLECTION_ENABLED",
                         roff_escape("Set to 0 to turn capturing off for this process and its children.")]),
        ("FILES", [".TP", ".B refs/ml/data, refs/ml/local", roff_escape("the store"), ".TP", ".B .git/ml/",
                   roff_escape("caches, models, the spool and capture.log (errors of hook runs)")]),
        ("SEE ALSO", [", ".join(f"git\\-ml\\-{v}(1)" for v in built_verbs())]),
    ])


def built_verbs() -> list[str]:
    """Verbs whose CLI module exists (each issue adds its verbs; a page is written only for what is built)."""
    import importlib.util

    return [v for v in VERBS if importlib.util.find_spec(f"git_ml.cli.{v.replace('-', '_')}") is not None]


def all_pages() -> dict[str, str]:
    pages = {"git-ml.1": main_page()}
    for verb in built_verbs():
        pages[f"git-ml-{verb}.1"] = verb_page(verb)
    return pages


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    target = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "man" / "man1"
    pages = all_pages()
    stale = []
    for name, text in pages.items():
        path = target / name
        current = path.read_text() if path.exists() else None
        if current != text:
            stale.append(name)
            if not check:
                target.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    extra = [p.name for p in target.glob("git-ml*.1") if p.name not in pages] if target.is_dir() else []
    if check:
        if stale or extra:
            print(f"stale man pages: {', '.join(stale + extra)}; run `python -m git_ml.cli.manpages`", file=sys.stderr)
            return ExitCode.ERROR
        return ExitCode.OK
    for name in extra:
        (target / name).unlink()
    print(f"wrote {len(stale)} of {len(pages)} pages to {target}" + (f", removed {extra}" if extra else ""))
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
