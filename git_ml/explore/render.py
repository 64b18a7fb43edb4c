"""Terminal output as `git log` does it: lines that fit the width (cut with an ellipsis), colour only on a terminal
(or when asked), and git's pager when stdout is a terminal.

* Width: ``$COLUMNS`` when set, else the terminal's, else 80.
* Colour: ``--color`` / ``--no-color`` win; else git's ``color.ui`` (``always`` / ``never``); else on when stdout is a
  terminal whose ``TERM`` is not ``dumb``.
* Pager: ``$GIT_PAGER``, then ``core.pager``, then ``$PAGER``, then ``less``; none when stdout is not a terminal, with
  ``--no-pager``, or when the pager is ``cat`` or empty. ``LESS`` defaults to ``FRX`` and ``LV`` to ``-c``, as git
  sets them, so short output prints directly and colours pass through.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata

RESET = "\033[m"
STYLES = {
    "commit": "\033[33m",  # yellow, as git's hashes
    "ai": "\033[32m",  # green
    "session": "\033[36m",  # cyan
    "dim": "\033[2m",
    "bold": "\033[1m",
    "match": "\033[1;31m",  # bold red, as git grep
    "head": "\033[1m",
    "warn": "\033[33m",
}
ELLIPSIS = "…"


def char_width(ch: str) -> int:
    if ch < "\u0300":
        return 0 if ch < " " else 1
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending in an ellipsis when cut."""
    if width <= 0:
        return ""
    if text.isascii() and len(text) <= width:
        return text
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def short_chat(chat_id: str) -> str:
    """A chat id as text output shows it: ``<session id>:<prompt uuid>`` cut to 8 + 8 characters, which `show`
    resolves back (each part is matched as a prefix)."""
    sid, sep, uuid = chat_id.rpartition(":")
    if not sep:
        return chat_id[:17]
    return f"{sid[:8]}:{uuid[:8]}"


def one_line(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces."""
    return " ".join(text.split())


def term_width() -> int:
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if sys.stdout.isatty():
        return max(20, shutil.get_terminal_size((80, 24)).columns)
    return 80


def _config(repo, key: str) -> str | None:
    if repo is None:
        return None
    if hasattr(repo, "config_values"):
        return repo.config_values().get(key.lower())
    try:
        return repo.config[key]
    except Exception:  # KeyError, pygit2.GitError
        return None


def want_color(flag: bool | None, repo=None) -> bool:
    if flag is not None:
        return flag
    ui = (_config(repo, "color.ui") or "auto").lower()
    if ui in ("always",):
        return True
    if ui in ("never", "false", "0", "off", "no"):
        return False
    return sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"


def pager_command(repo=None) -> str | None:
    for value in (os.environ.get("GIT_PAGER"), _config(repo, "core.pager"), os.environ.get("PAGER")):
        if value is not None:
            cmd = value.strip()
            return None if cmd in ("", "cat") else cmd
    return "less"


class Output:
    """Collects the lines of a command and prints them, through the pager when that applies."""

    def __init__(self, *, color: bool | None = None, pager: bool = True, repo=None, width: int | None = None):
        self.color = want_color(color, repo)
        self.width = width or term_width()
        self.pager = pager_command(repo) if (pager and sys.stdout.isatty()) else None
        self.lines: list[str] = []

    def style(self, text: str, name: str | None) -> str:
        if not name or not self.color or not text:
            return text
        return f"{STYLES[name]}{text}{RESET}"

    def fit(self, *parts, width: int | None = None) -> str:
        """One line from (text, style) parts (or plain strings), cut to the width with an ellipsis."""
        room = self.width if width is None else width
        out = []
        for part in parts:
            text, name = (part, None) if isinstance(part, str) else part
            if room <= 0:
                break
            w = display_width(text)
            if w > room:
                text = truncate(text, room)
                out.append(self.style(text, name))
                room = 0
                break
            out.append(self.style(text, name))
            room -= w
        return "".join(out)

    def highlight(self, text: str, spans: list[tuple[int, int]], width: int | None = None) -> str:
        """``text`` cut to the width, the spans shown in the match colour (or as **word** without colour)."""
        room = self.width if width is None else width
        if not self.color:
            from git_ml.explore.search import marked

            return truncate(marked(text, spans), room)
        cut = truncate(text, room)
        limit = len(cut) - (1 if cut.endswith(ELLIPSIS) and cut != text else 0)
        out, pos = [], 0
        for a, b in spans:
            if a >= limit:
                break
            b = min(b, limit)
            out += [cut[pos:a], self.style(cut[a:b], "match")]
            pos = b
        out.append(cut[pos:])
        return "".join(out)

    def write(self, line: str = "") -> None:
        self.lines.append(line)

    def close(self) -> None:
        text = "\n".join(self.lines) + ("\n" if self.lines else "")
        self.lines = []
        if not text:
            return
        if self.pager and text.count("\n") > 1:
            if _page(self.pager, text):
                return
        sys.stdout.write(text)
        sys.stdout.flush()


def _page(cmd: str, text: str) -> bool:
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    env["GIT_PAGER_IN_USE"] = "true"
    try:
        proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        return False
    try:
        proc.stdin.write(text.encode("utf-8", "replace"))
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.wait()
    return True
