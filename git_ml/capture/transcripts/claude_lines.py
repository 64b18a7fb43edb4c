"""Claude Code transcript lines as typed msgspec structs, decoded once per line: msgspec skips the fields it is not
asked for, which is most of each line (the parser is ``claude.py``)."""

from __future__ import annotations

from typing import Any

import msgspec


class Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class Block(msgspec.Struct):
    type: str = ""
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()
    tool_use_id: str | None = None
    content: msgspec.Raw = msgspec.Raw()


class Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    content: str | list[Block] | None = None
    usage: Usage | None = None


class Line(msgspec.Struct):
    type: Any = ""
    uuid: str | None = None
    sessionId: str | None = None
    timestamp: str | None = None
    cwd: str | None = None
    gitBranch: str | None = None
    isSidechain: bool | None = None
    isMeta: bool | None = None
    isCompactSummary: bool | None = None
    isVisibleInTranscriptOnly: bool | None = None
    agentId: str | None = None
    message: msgspec.Raw = msgspec.Raw()  # decoded only for user/assistant lines
    toolUseResult: msgspec.Raw = msgspec.Raw()


class ToolInput(msgspec.Struct):
    file_path: Any = None
    notebook_path: Any = None
    path: Any = None
    command: Any = None
    prompt: Any = None


class TaskResult(msgspec.Struct):
    agentId: Any = None


LINE = msgspec.json.Decoder(Line)
MESSAGE = msgspec.json.Decoder(Message)
INPUT = msgspec.json.Decoder(ToolInput)
TASK_RESULT = msgspec.json.Decoder(TaskResult)
