"""Roo Code tasks: the Cline task-folder format (see ``cline.py``, which reads both), with Roo's differences.

Where: ``User/globalStorage/rooveterinaryinc.roo-cline/tasks/<uuid>/`` of the VS Code family of editors (the
``roo-cline.customStoragePath`` setting may move the whole folder: not followed, name it as PATH). Each task has its own ``history_item.json``
(also gathered in ``tasks/_index.json``): ``workspace`` is the project, ``parentTaskId``/``childIds`` link a
``new_task`` sub-task to the task that started it. Prompts are wrapped in ``<user_message>`` (the first one and
every later one, including answers and feedback); the environment details name ``# Current Workspace Directory``
and the mode's ``<model>``, which is the only model Roo records. Condensing is non-destructive: the replaced
messages stay (``condenseParent``) and a ``user`` message with ``isSummary`` holds the summary, never a prompt.
Tools are native ``tool_use`` blocks: ``apply_diff``, ``write_to_file``, ``insert_content``, ``search_and_replace``,
``edit``/``search_replace`` modify, ``read_file`` reads, ``execute_command`` runs a command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from git_ml.capture.transcripts.base import ParseResult
from git_ml.capture.transcripts.cline import ROO_EXTENSION, flavour, parse_task, task_candidates, task_project
from git_ml.capture.transcripts.tooluse import editor_storage, paused_gc

ASSISTANT = "roo-code"
NAME = "roo"


def parse(path: str | os.PathLike[str], repo_root: str | None = None, **kw: Any) -> ParseResult:
    with paused_gc():
        return parse_task(path, repo_root, ASSISTANT, **kw)


def sniff(path: str | os.PathLike[str]) -> bool:
    """A Roo Code task folder (or a file in one)."""
    return flavour(path) == "roo"


def locations(home: Path, env: Mapping[str, str]) -> list[Path]:
    return [d / ROO_EXTENSION / "tasks" for d in editor_storage(home, env)]


def candidates(location: Path) -> list[Path]:
    return task_candidates(location)


def project_of(path: str | os.PathLike[str]) -> str | None:
    return task_project(path)
