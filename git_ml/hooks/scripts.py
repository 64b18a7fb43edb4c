"""The POSIX sh text of git-ml's git hooks: a whole hook script, or a marked block spliced into someone else's.

Two ways to sit in a hook, both keeping the name the existing hook is invoked by (hook managers such as husky,
overcommit or lefthook dispatch on ``basename "$0"``, and some source files next to ``$0``):

* **spliced** — the existing hook is a shell script: a block between :data:`BEGIN` and :data:`END` lines goes right
  after its ``#!`` line. The block reads stdin once (post-rewrite, pre-push), does git-ml's part, then gives the
  very same bytes back as the script's stdin (git ends every input line with a newline; a last line without one
  would get one), so the rest of the script runs exactly as before; it never exits except to refuse a push of
  ``refs/ml/local``. Removing the block restores the file byte for byte.
* **standalone** — no hook there, or one that is not a shell script (Ruby, Python, a binary): our script takes the
  hook's place and the original, moved to ``git-ml-chained/<hook>`` (the same file name), runs first with the same
  arguments and stdin; its exit status is the hook's status.

git-ml's part never fails or blocks: post-commit, post-rewrite and post-merge start ``git-ml-capture`` detached
(``GIT_ML_HOOK_SYNC=1`` or ``ml.hookSync`` keeps it in the foreground) with its output discarded. pre-push checks in
plain sh that ``refs/ml/local`` is not being sent (it holds without a working git-ml), then runs the capture
program, whose failure (its Python removed, an ImportError) is logged to ``.git/ml/capture.log`` and ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from git_ml.errors import ExitCode

MARKER = "git-ml-managed-hook"
BEGIN = f"# >>> {MARKER}"
END = f"# <<< {MARKER}"
CHAINED_DIR = "git-ml-chained"
LOCAL_REF = "refs/ml/local"

# What each hook passes to the capture program, and whether it has stdin to share.
HOOK_ARGS = {
    "post-commit": ("", False),
    "post-rewrite": (' "$1"', True),
    "post-merge": (' "$1"', False),
    "pre-push": (' "$1" "$2"', True),
}
_CAPTURE_LINE_RE = re.compile(r"^git_ml_capture=(.*)$", re.MULTILINE)
_SH_NAMES = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"}


class ScriptError(ValueError):
    pass


def sh_quote(text: str) -> str:
    """Double-quote ``text`` for sh (and bash): ``"..."`` with ``\\ " $ ` `` escaped."""
    if "\n" in text or "\r" in text or "\0" in text:
        raise ScriptError(f"cannot use a path containing a line break in a hook command: {text!r}")
    return '"' + re.sub(r'([\\"$`])', r"\\\1", text) + '"'


def sh_unquote(text: str) -> str | None:
    """Invert :func:`sh_quote` (one double-quoted word); None for anything else."""
    match = re.fullmatch(r'"((?:[^"\\$`]|\\[\\"$`])*)"\s*', text)
    if not match:
        return None
    return re.sub(r"\\([\\\"$`])", r"\1", match.group(1))


def is_shell_script(data: bytes) -> bool:
    """A ``#!`` script run by a POSIX-family shell (``/bin/sh``, ``/usr/bin/env bash``, ...)."""
    if not data.startswith(b"#!") or b"\0" in data[:4096]:
        return False
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    words = first[2:].split()
    if not words:
        return False
    prog = words[0].rsplit("/", 1)[-1]
    if prog == "env":
        rest = [w for w in words[1:] if not w.startswith("-")]
        prog = rest[0].rsplit("/", 1)[-1] if rest else ""
    return prog in _SH_NAMES


def _detachable(command: str) -> list[str]:
    """Capture runs detached, so the commit never waits for the interpreter's start (the spool makes that safe)."""
    return [
        'if [ "${GIT_ML_HOOK_SYNC:-}" = 1 ] || [ "$(git config --bool ml.hookSync 2>/dev/null)" = true ]; then',
        f"    {command}",
        "else",
        f"    ( {command} & ) >/dev/null 2>&1",
        "fi",
    ]


def _read_stdin() -> list[str]:
    return ["# stdin, read once (the x keeps trailing newlines), for every part of this hook",
            "git_ml_input=$(cat; echo x)",
            "git_ml_input=${git_ml_input%x}"]


def _our_part(name: str, capture: Path) -> list[str]:
    """git-ml's work in hook ``name``; stdin, if the hook has one, is in ``$git_ml_input``."""
    args, has_stdin = HOOK_ARGS[name]
    feed = 'printf %s "$git_ml_input" 2>/dev/null | ' if has_stdin else ""
    lines = [f"git_ml_capture={sh_quote(str(capture))}"]
    if name == "pre-push":
        lines += [
            f"# {LOCAL_REF} never leaves this machine: checked in sh, so it holds without a working git-ml.",
            'if printf %s "$git_ml_input" 2>/dev/null | (',
            "    while read -r git_ml_lref git_ml_lsha git_ml_rref git_ml_rsha; do",
            '        case $git_ml_lsha in *[!0]*) ;; *) continue ;; esac',
            "        case $git_ml_lref:$git_ml_rref in",
            f"            {LOCAL_REF}*:* | *:{LOCAL_REF}*) exit 1 ;;",
            "        esac",
            "    done",
            "    exit 0",
            "); then :; else",
            f"    echo 'git-ml: refusing to push {LOCAL_REF}: it holds private data that never leaves this machine'"
            " >&2",
            "    exit 1",
            "fi",
            "# The rest fails open: a broken git-ml install is logged, never blocks the push.",
            'if [ -x "$git_ml_capture" ]; then',
            f'    {feed}"$git_ml_capture" --hook {name}{args} >&2',
            "    git_ml_own=$?",
            '    if [ "$git_ml_own" -ne 0 ]; then',
            '        git_ml_log="$(git rev-parse --git-common-dir 2>/dev/null)/ml"',
            '        [ -d "$git_ml_log" ] && echo "$(date +%Y-%m-%dT%H:%M:%S) [$$] pre-push: $git_ml_capture'
            ' exited $git_ml_own (push not blocked)" >>"$git_ml_log/capture.log" 2>/dev/null',
            "    fi",
            "fi",
        ]
    else:
        redirect = ">/dev/null 2>&1" if has_stdin else "</dev/null >/dev/null 2>&1"
        lines += ['if [ -x "$git_ml_capture" ]; then',
                  *("    " + line for line in _detachable(f'{feed}"$git_ml_capture" --hook {name}{args} {redirect}')),
                  "fi"]
    return lines


def render_hook(name: str, capture: Path) -> str:
    """Our whole ``name`` hook (standalone), running ``git-ml-chained/<name>`` first when it is there."""
    if name not in HOOK_ARGS:
        raise ValueError(f"unknown hook {name}")
    _, has_stdin = HOOK_ARGS[name]
    lines = [
        "#!/bin/sh",
        f"# {MARKER}: {name}. Installed by `git ml install-hooks`; do not edit (re-install to update).",
        "# `git ml install-hooks --uninstall` removes it and puts back any hook it replaced.",
        f"# A hook that was here before and is not a shell script is kept as {CHAINED_DIR}/{name} (same name):",
        "# it runs first, with the same arguments and stdin, and its exit status is this hook's status.",
        'case $0 in */*) git_ml_dir=${0%/*} ;; *) git_ml_dir=. ;; esac',
        f'git_ml_orig="$git_ml_dir/{CHAINED_DIR}/{name}"',
        "git_ml_status=0",
    ]
    if has_stdin:
        lines += [*_read_stdin(),
                  'if [ -x "$git_ml_orig" ]; then',
                  '    printf %s "$git_ml_input" 2>/dev/null | "$git_ml_orig" "$@"',
                  "    git_ml_status=$?",
                  "fi"]
    else:
        lines += ['if [ -x "$git_ml_orig" ]; then', '    "$git_ml_orig" "$@"', "    git_ml_status=$?", "fi"]
    lines += _our_part(name, capture)
    lines.append('exit "$git_ml_status"')
    return "\n".join(lines) + "\n"


def render_block(name: str, capture: Path) -> str:
    """The block spliced into an existing shell hook ``name``, from its BEGIN line to its END line."""
    if name not in HOOK_ARGS:
        raise ValueError(f"unknown hook {name}")
    _, has_stdin = HOOK_ARGS[name]
    lines = [f"{BEGIN}: {name}. Added by `git ml install-hooks`; `git ml install-hooks --uninstall` removes it.",
             "# The rest of this script runs as before, with the same arguments and stdin."]
    if has_stdin:
        lines += _read_stdin()
    lines += _our_part(name, capture)
    if has_stdin:
        lines += [
            "# Give the rest of the script the same stdin, byte for byte.",
            "git_ml_nl='",
            "'",
            'if [ -n "$git_ml_input" ]; then',
            '    git_ml_input=${git_ml_input%"$git_ml_nl"}',
            "    exec 0<<GIT_ML_INPUT",
            "$git_ml_input",
            "GIT_ML_INPUT",
            "else",
            "    exec 0</dev/null",
            "fi",
            "unset git_ml_input git_ml_nl",
        ]
    lines.append(f"{END}: {name}")
    return "\n".join(lines) + "\n"


def find_block(data: bytes) -> tuple[int, int] | None:
    """Byte offsets [start, end) of our spliced block (END line and its newline included), or None."""
    start = data.find(BEGIN.encode())
    if start < 0 or (start > 0 and data[start - 1:start] != b"\n"):
        return None
    end = data.find(END.encode(), start)
    if end < 0:
        return None
    nl = data.find(b"\n", end)
    return start, (len(data) if nl < 0 else nl + 1)


def splice(data: bytes, block: str) -> bytes:
    """``data`` (a shell script) with ``block`` after its ``#!`` line, or with its block replaced."""
    found = find_block(data)
    raw = block.encode("utf-8", "surrogateescape")
    if found:
        return data[:found[0]] + raw + data[found[1]:]
    nl = data.find(b"\n")
    if nl < 0:
        return data + b"\n" + raw
    return data[:nl + 1] + raw + data[nl + 1:]


def unsplice(data: bytes) -> bytes:
    """``data`` without our block (exactly the bytes :func:`splice` added)."""
    found = find_block(data)
    if not found:
        return data
    out = data[:found[0]] + data[found[1]:]
    return out


def capture_path_in(data: bytes) -> Path | None:
    """The executable a hook text (standalone or spliced) calls, or None."""
    if MARKER.encode() not in data:
        return None
    match = _CAPTURE_LINE_RE.search(data.decode("utf-8", "surrogateescape"))
    if not match:
        return None
    value = sh_unquote(match.group(1))
    return Path(value) if value else None


def team_line(name: str) -> str:
    """A line to add to a hook the team keeps in a tracked directory: no absolute path, quiet when git-ml is not
    installed on a teammate's machine. pre-push blocks only on git-ml's refusal (a push of refs/ml/local), not
    on a git-ml that fails to run."""
    args, has_stdin = HOOK_ARGS[name]
    if name == "pre-push":
        return ('if command -v git-ml-capture >/dev/null 2>&1; then git-ml-capture --hook pre-push "$@"; '
                f'[ $? -ne {int(ExitCode.REFUSED)} ] || exit 1; fi')
    redirect = ">/dev/null 2>&1" if has_stdin else "</dev/null >/dev/null 2>&1"
    return (f"if command -v git-ml-capture >/dev/null 2>&1; then git-ml-capture --hook {name}{args} {redirect}; "
            "fi")
