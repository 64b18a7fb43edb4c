"""Record types: untracked by the garbage collector, which is safe only while no field can hold a reference back."""

from __future__ import annotations

import gc

import msgspec
import msgspec.inspect as mi
import pytest

from git_ml.schema import ALL_STREAMS, Chat, Envelope

_SCALARS = (mi.StrType, mi.IntType, mi.FloatType, mi.BoolType, mi.NoneType)


def _scalar_only(t: mi.Type) -> bool:
    """Whether values of ``t`` are scalars or containers of scalars (no struct, no object of any type)."""
    if isinstance(t, _SCALARS):
        return True
    if isinstance(t, mi.UnionType):
        return all(_scalar_only(x) for x in t.types)
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return _scalar_only(t.item_type)
    if isinstance(t, mi.TupleType):
        return all(_scalar_only(x) for x in t.item_types)
    if isinstance(t, mi.DictType):
        return _scalar_only(t.key_type) and _scalar_only(t.value_type)
    return False


@pytest.mark.parametrize("kind", [*ALL_STREAMS.values(), Envelope], ids=lambda k: k.__name__)
def test_records_are_untracked_and_cannot_form_cycles(kind):
    assert kind.__struct_config__.gc is False
    info = mi.type_info(kind)
    assert all(_scalar_only(f.type) for f in info.fields), [f.name for f in info.fields if not _scalar_only(f.type)]
    assert not gc.is_tracked(kind(id="x"))


def test_untracked_records_encode_as_before():
    chat = Chat(id="s:0", session_id="s", assistant="aider", query="q", files_modified=["a.py"], query_tokens=3)
    chat.commits.append("c1")
    assert msgspec.json.encode(chat) == (b'{"id":"s:0","session_id":"s","assistant":"aider","query":"q",'
                                         b'"files_modified":["a.py"],"query_tokens":3,"commits":["c1"]}')
    assert msgspec.json.decode(msgspec.json.encode(chat), type=Chat) == chat
