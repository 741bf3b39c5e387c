"""Hypothesis strategies derived from Streamable field types (the same types the codec compiles)."""

from __future__ import annotations

import typing
from functools import cache
from typing import Any

import blspy
from hypothesis import strategies as st

from trionode.wire import (
    G1Element,
    G2Element,
    Program,
    SizedBytes,
    Streamable,
    StructInt,
)

# A few real points: generating fresh keys per example would dominate run time.
_SKS = [blspy.AugSchemeMPL.key_gen(bytes([i]) * 32) for i in range(1, 6)]
G1_POINTS = [G1Element(sk.get_g1()) for sk in _SKS] + [G1Element()]
G2_POINTS = [G2Element(blspy.AugSchemeMPL.sign(sk, b"msg")) for sk in _SKS] + [G2Element()]


def _atom_program(atom: bytes) -> Program:
    return Program.from_atom(atom)


programs: st.SearchStrategy[Program] = st.recursive(
    st.binary(max_size=70).map(_atom_program),
    lambda children: st.tuples(children, children).map(lambda p: Program.cons(*p)),
    max_leaves=8,
)


@cache
def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    if isinstance(tp, type):
        if issubclass(tp, bool):
            return st.booleans()
        if issubclass(tp, StructInt):
            return st.integers(tp.MIN, tp.MAX).map(tp)
        if issubclass(tp, SizedBytes):
            return st.binary(min_size=tp.SIZE, max_size=tp.SIZE).map(tp)
        if tp is bytes:
            return st.binary(max_size=64)
        if tp is str:
            return st.text(max_size=20)
        if tp is G1Element:
            return st.sampled_from(G1_POINTS)
        if tp is G2Element:
            return st.sampled_from(G2_POINTS)
        if tp is Program:
            return programs
        if issubclass(tp, Streamable):
            fields = {name: strategy_for(ftp) for name, ftp in tp.__streamable_fields__}
            return st.builds(tp, **fields)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = args[0] if args[1] is type(None) else args[1]
        return st.none() | strategy_for(inner)
    if origin is list:
        return st.lists(strategy_for(args[0]), max_size=3)
    if origin is tuple:
        return st.tuples(*(strategy_for(a) for a in args))
    raise TypeError(f"no strategy for {tp!r}")
