"""Hand-computed byte vectors for every primitive kind of the Streamable format."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import random
import subprocess
import sys
from typing import Any

import blspy
import pytest

from trionode.wire import (
    DecodeError,
    FrozenList,
    G1Element,
    G2Element,
    Message,
    Program,
    Streamable,
    bytes4,
    bytes8,
    bytes32,
    bytes48,
    bytes96,
    bytes100,
    int8,
    int16,
    int32,
    int64,
    streamable,
    uint8,
    uint16,
    uint32,
    uint64,
    uint128,
)
from trionode.wire.bls import encoding_error


@streamable
class Ints(Streamable):
    a: uint8
    b: uint16
    c: uint32
    d: uint64
    e: uint128
    f: int8
    g: int16
    h: int32
    i: int64


@streamable
class Blobs(Streamable):
    a: bytes4
    b: bytes8
    c: bytes
    d: str
    e: bool


@streamable
class Containers(Streamable):
    items: list[uint16]
    maybe: uint32 | None
    pair: tuple[uint8, str]
    nested: list[list[uint8]]


@streamable
class Points(Streamable):
    pk: G1Element
    sig: G2Element


@streamable
class Empty(Streamable):
    pass


@streamable
class WithProgram(Streamable):
    program: Program
    after: uint8


def test_ints_vector() -> None:
    obj = Ints(
        uint8(1),
        uint16(0x0203),
        uint32(0x04050607),
        uint64(0x08090A0B0C0D0E0F),
        uint128(1 << 127),
        int8(-1),
        int16(-2),
        int32(-3),
        int64(-4),
    )
    expected = bytes.fromhex(
        "01"
        "0203"
        "04050607"
        "08090a0b0c0d0e0f"
        "80000000000000000000000000000000"
        "ff"
        "fffe"
        "fffffffd"
        "fffffffffffffffc"
    )
    assert bytes(obj) == expected
    assert Ints.from_bytes(expected) == obj


@pytest.mark.parametrize(
    "tp, bad",
    [
        (uint8, 256),
        (uint8, -1),
        (uint16, 1 << 16),
        (uint32, 1 << 32),
        (uint64, 1 << 64),
        (uint128, 1 << 128),
        (int8, 128),
        (int8, -129),
        (int16, -(1 << 15) - 1),
        (int32, 1 << 31),
        (int64, -(1 << 63) - 1),
    ],
)
def test_int_range_checked(tp: type, bad: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        tp(bad)


@pytest.mark.parametrize("bad", [1.0, "1", True, None, b"\x01"])
def test_int_type_checked(bad: object) -> None:
    with pytest.raises(TypeError):
        uint32(bad)  # type: ignore[arg-type]


def test_int_bounds_accepted() -> None:
    assert uint64((1 << 64) - 1) == (1 << 64) - 1
    assert int64(-(1 << 63)) == -(1 << 63)


def test_field_construction_checks_with_field_name() -> None:
    with pytest.raises(ValueError, match=r"Ints\.a: 300 is out of range"):
        Ints(300, 0, 0, 0, 0, 0, 0, 0, 0)
    with pytest.raises(TypeError, match=r"Blobs\.d: str needed"):
        Blobs(bytes4(b"abcd"), bytes8(bytes(8)), b"", b"not a str", True)
    with pytest.raises(TypeError, match=r"Blobs\.e: bool needed"):
        Blobs(bytes4(b"abcd"), bytes8(bytes(8)), b"", "", 1)
    with pytest.raises(ValueError, match="exactly 4 bytes"):
        Blobs(b"abc", bytes8(bytes(8)), b"", "", True)


def test_plain_ints_are_converted_on_construction() -> None:
    obj = Ints(1, 2, 3, 4, 5, -6, 7, 8, 9)
    assert type(obj.a) is uint8 and type(obj.i) is int64


def test_blobs_vector() -> None:
    obj = Blobs(bytes4(b"\x00\x01\x02\x03"), bytes8(b"ABCDEFGH"), b"\xaa\xbb", "hé", True)
    expected = (
        b"\x00\x01\x02\x03"
        + b"ABCDEFGH"
        + b"\x00\x00\x00\x02\xaa\xbb"
        + b"\x00\x00\x00\x03h\xc3\xa9"
        + b"\x01"
    )
    assert bytes(obj) == expected
    assert Blobs.from_bytes(expected) == obj


def test_sized_bytes_lengths() -> None:
    for tp, n in [
        (bytes4, 4),
        (bytes8, 8),
        (bytes32, 32),
        (bytes48, 48),
        (bytes96, 96),
        (bytes100, 100),
    ]:
        assert len(tp(bytes(n))) == n
        with pytest.raises(ValueError):
            tp(bytes(n + 1))
    assert str(bytes4(b"\x01\x02\x03\x04")) == "01020304"


def test_containers_vector() -> None:
    obj = Containers([uint16(1), uint16(2)], None, (uint8(7), "x"), [[uint8(9)], []])
    expected = bytes.fromhex(
        "00000002"
        "0001"
        "0002"  # list of two uint16
        "00"  # Optional None
        "07"
        "00000001"
        "78"  # tuple (uint8, str)
        "00000002"
        "00000001"
        "09"
        "00000000"  # list of lists
    )
    assert bytes(obj) == expected
    back = Containers.from_bytes(expected)
    assert back == obj
    # lists are stored as FrozenList: a tuple (records stay immutable) that also equals a list
    assert back.items == (1, 2) and back.items == [1, 2]

    some = Containers([], uint32(5), (uint8(0), ""), [])
    assert bytes(some) == bytes.fromhex("000000000100000005000000000000000000")


def test_bls_points_vector() -> None:
    sk = blspy.AugSchemeMPL.key_gen(bytes(range(32)))
    pk = sk.get_g1()
    sig = blspy.AugSchemeMPL.sign(sk, b"hello")
    obj = Points(pk, sig)  # blspy elements are accepted and wrapped
    assert bytes(obj) == bytes(pk) + bytes(sig)
    back = Points.from_bytes(bytes(obj))
    assert back == obj
    assert blspy.AugSchemeMPL.verify(back.pk.point, b"hello", back.sig.point)
    # the identity points are valid
    ident = Points(G1Element(), G2Element())
    assert bytes(ident)[0] == 0xC0 and Points.from_bytes(bytes(ident)) == ident


def test_invalid_bls_point_is_decode_error() -> None:
    bad_g1 = b"\x00" * 48  # neither infinity nor a compressed point
    with pytest.raises(DecodeError, match=r"Points\.pk: invalid G1Element"):
        Points.from_bytes(bad_g1 + bytes(G2Element()))
    bad_g2 = b"\xa0" + b"\x11" * 95  # compressed flag but not on the curve
    with pytest.raises(DecodeError, match=r"Points\.sig: invalid G2Element"):
        Points.from_bytes(bytes(G1Element()) + bad_g2)


# -- lazy points -------------------------------------------------------------------------

OFF_CURVE_G1 = b"\x80" + bytes(46) + b"\x01"  # a valid encoding of no point
NOT_IN_SUBGROUP_G1 = b"\x80" + bytes(46) + b"\x04"  # on the curve, outside the subgroup
OFF_CURVE_G2 = b"\x80" + bytes(94) + b"\x01"


@streamable
class CheckedLater(Streamable):
    """Like FullBlock: its points are left to validation."""

    POINTS_CHECKED_BY_VALIDATION = True
    pk: G1Element
    sigs: list[G2Element]


@streamable
class Holder(Streamable):
    inner: CheckedLater
    keys: list[G1Element | None]


def test_points_decode_lazily_and_are_checked_once() -> None:
    sk = blspy.AugSchemeMPL.key_gen(bytes(range(32)))
    obj = Points(sk.get_g1(), blspy.AugSchemeMPL.sign(sk, b"m"))
    back = Points.from_bytes(bytes(obj))
    assert back.pk.checked and back.sig.checked  # a plain message: checked at decode
    later = CheckedLater.from_bytes(bytes(CheckedLater(sk.get_g1(), [obj.sig])))
    assert not later.pk.checked and not later.sigs[0].checked
    assert bytes(later) == bytes(CheckedLater(sk.get_g1(), [obj.sig]))  # encoding: the bytes
    point = later.pk.point
    assert later.pk.checked and later.pk.point is point  # kept, not decompressed again
    later.check_points()
    assert later.sigs[0].checked


@pytest.mark.parametrize("raw", [OFF_CURVE_G1, NOT_IN_SUBGROUP_G1])
def test_lazy_invalid_point_fails_on_first_use(raw: bytes) -> None:
    data = raw + bytes(4)  # and no signatures
    later = CheckedLater.from_bytes(data)  # the encoding is fine: decodes
    with pytest.raises(DecodeError, match=r"^invalid G1Element: "):
        _ = later.pk.point
    with pytest.raises(DecodeError, match=r"^CheckedLater\.pk: invalid G1Element: "):
        later.check_points()
    # a record holding it checks nothing inside it at decode either, but check_points does
    holder = Holder.from_bytes(data + bytes(4))
    with pytest.raises(DecodeError, match=r"^Holder\.inner\.pk: invalid G1Element"):
        holder.check_points()


def test_points_outside_a_deferred_record_fail_at_decode() -> None:
    ok = bytes(G1Element()) + bytes(4)
    data = ok + b"\x00\x00\x00\x02" + b"\x00" + b"\x01" + OFF_CURVE_G1
    with pytest.raises(DecodeError, match=r"^Holder\.keys\[1\]: invalid G1Element: "):
        Holder.from_bytes(data)
    later = ok[:48] + b"\x00\x00\x00\x01" + OFF_CURVE_G2
    with pytest.raises(DecodeError, match=r"^CheckedLater\.sigs\[0\]: invalid G2Element"):
        CheckedLater.from_bytes(later).check_points()
    with pytest.raises(DecodeError, match=r"^Points\.sig: invalid G2Element: "):
        Points.from_bytes(bytes(G1Element()) + OFF_CURVE_G2)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes(48), "compression flag not set"),
        (b"\xc0" + b"\x01" * 47, "non-canonical infinity"),
        (b"\xe0" + bytes(47), "non-canonical infinity"),
        (b"\x9f" + b"\xff" * 47, "x coordinate not below the field modulus"),
    ],
)
def test_bad_point_encoding_fails_at_decode_even_when_lazy(raw: bytes, reason: str) -> None:
    with pytest.raises(
        DecodeError, match=rf"^CheckedLater\.pk: invalid G1Element at offset 0: {reason}"
    ):
        CheckedLater.from_bytes(raw + bytes(4))


def test_encoding_check_never_refuses_a_point() -> None:
    """The decoder's encoding check must only refuse what blspy refuses (else a valid block
    would fail to decode): random encodings with every flag combination, and real points."""
    rng = random.Random(13)
    for tp, size in ((blspy.G1Element, 48), (blspy.G2Element, 96)):
        accepted = 0
        for i in range(600):
            raw = bytearray(rng.randbytes(size))
            if i % 3 == 0:
                raw[0] = (raw[0] & 0x3F) | 0x80  # compressed, not infinity: often on the curve
            elif i % 3 == 1:
                raw = bytearray([rng.choice([0x80, 0xA0, 0xC0, 0xE0, 0x40, 0x00])]) + bytes(
                    size - 1
                )
            try:
                tp.from_bytes(bytes(raw))
            except (ValueError, RuntimeError):
                continue
            assert encoding_error(bytes(raw), size) is None, raw.hex()
            accepted += 1
        assert accepted > 20  # the sample holds points, not only refusals
        sk = blspy.AugSchemeMPL.key_gen(rng.randbytes(32))
        point = sk.get_g1() if size == 48 else blspy.AugSchemeMPL.sign(sk, b"x")
        assert encoding_error(bytes(point), size) is None


def test_lazy_points_pickle_lazily() -> None:
    later = CheckedLater.from_bytes(OFF_CURVE_G1 + bytes(4))
    copied = pickle.loads(pickle.dumps(later))
    assert copied == later and not copied.pk.checked


def test_program_vectors() -> None:
    # (1 . ()) : ff 01 80
    prog = Program.cons(Program.from_atom(b"\x01"), Program.nil())
    assert bytes(prog) == b"\xff\x01\x80"
    assert WithProgram.from_bytes(b"\xff\x01\x80\x07") == WithProgram(prog, uint8(7))
    # a 3-byte atom takes a one-byte size prefix 0x83
    assert bytes(Program.from_atom(b"abc")) == b"\x83abc"
    # a 64-byte atom needs the two-byte prefix 0xc0 0x40
    assert bytes(Program.from_atom(bytes(64)))[:2] == b"\xc0\x40"
    assert WithProgram.from_bytes(bytes(Program.from_atom(bytes(64))) + b"\x00").after == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # nothing
        b"\xff\x01",  # pair missing its second half
        b"\x85ab",  # atom shorter than its prefix says
        b"\xfc\x00",  # invalid prefix
        b"\xff" * 5000,  # deep nesting, no end: must not recurse
    ],
)
def test_bad_program_is_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError, match=r"WithProgram\.program"):
        WithProgram.from_bytes(raw)


def test_non_canonical_bool_and_optional() -> None:
    good = bytes(Blobs(bytes4(bytes(4)), bytes8(bytes(8)), b"", "", False))
    with pytest.raises(DecodeError, match=r"Blobs\.e: bool byte must be 0x00 or 0x01, got 0x02"):
        Blobs.from_bytes(good[:-1] + b"\x02")
    with pytest.raises(DecodeError, match=r"Containers\.maybe: Optional flag"):
        Containers.from_bytes(bytes.fromhex("000000000200000005000000000000000000"))


def test_invalid_utf8_is_decode_error() -> None:
    raw = bytes(4) + bytes(8) + bytes(4) + b"\x00\x00\x00\x01\xff" + b"\x00"
    with pytest.raises(DecodeError, match=r"Blobs\.d: str is not valid UTF-8"):
        Blobs.from_bytes(raw)


def test_trailing_bytes_rejected() -> None:
    raw = bytes(Message(uint8(1), None, b"")) + b"\x00"
    with pytest.raises(DecodeError, match="1 trailing bytes"):
        Message.from_bytes(raw)


def test_huge_list_claim_fails_before_allocating() -> None:
    raw = b"\xff\xff\xff\xff" + bytes(16)  # 2**32-1 uint16 items claimed in a 20-byte input
    with pytest.raises(DecodeError, match=r"Containers\.items: list claims 4294967295 items"):
        Containers.from_bytes(raw)


def test_huge_bytes_claim_fails() -> None:
    raw = b"\x01\x00\xff\xff\xff\xff" + bytes(14)
    with pytest.raises(DecodeError, match=r"Message\.data: bytes of length 4294967295"):
        Message.from_bytes(raw)


def test_error_path_names_nested_field() -> None:
    raw = bytes.fromhex("000000000000000000000000000200000001090000000301")
    with pytest.raises(DecodeError) as info:
        Containers.from_bytes(raw)
    assert info.value.path == "Containers.nested[1]"
    assert isinstance(info.value, ValueError)


def test_get_hash_is_sha256_of_bytes() -> None:
    msg = Message(uint8(3), uint16(9), b"xyz")
    assert msg.get_hash() == hashlib.sha256(bytes(msg)).digest()
    assert isinstance(msg.get_hash(), bytes32)


def test_json_round_trip_and_shape() -> None:
    sk = blspy.AugSchemeMPL.key_gen(bytes(32))
    obj = Points(sk.get_g1(), G2Element())
    d = obj.to_json_dict()
    assert d["pk"] == "0x" + bytes(sk.get_g1()).hex()
    assert Points.from_json_dict(d) == obj
    c = Containers([1], None, (2, "s"), [[3]])
    assert c.to_json_dict() == {"items": [1], "maybe": None, "pair": [2, "s"], "nested": [[3]]}
    assert Containers.from_json_dict(c.to_json_dict()) == c
    with pytest.raises(DecodeError, match=r"Containers\.items\[0\]"):
        Containers.from_json_dict({**c.to_json_dict(), "items": ["x"]})
    with pytest.raises(DecodeError, match="missing field"):
        Containers.from_json_dict({"items": []})


def test_zero_size_list_items_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="zero encoded size"):

        @streamable
        class Bad(Streamable):
            items: list[Empty]


def test_same_behaviour_under_python_O() -> None:
    code = (
        "from trionode.wire import Message, DecodeError\n"
        "try:\n"
        "    Message.from_bytes(b'\\x01\\x02')\n"
        "except DecodeError as e:\n"
        "    print('DecodeError', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("DecodeError Message.id: Optional flag")


# ---------------------------------------------------------------- from_bytes on primitive types

INT_TYPES = [uint8, uint16, uint32, uint64, uint128, int8, int16, int32, int64]
SIZED_TYPES = [bytes4, bytes8, bytes32, bytes48, bytes96, bytes100]


@pytest.mark.parametrize(
    "tp, raw, value",
    [
        (int16, b"\xff\xff", -1),
        (int8, b"\x80", -128),
        (int8, b"\x7f", 127),
        (int32, b"\xff\xff\xff\xfd", -3),
        (int64, b"\x80" + bytes(7), -(1 << 63)),
        (uint8, b"\xff", 255),
        (uint16, b"\x01\x02", 0x0102),
        (uint32, b"\x00\x00\x00\x05", 5),
        (uint64, b"\xff" * 8, (1 << 64) - 1),
        (uint128, b"\x80" + bytes(15), 1 << 127),
    ],
)
def test_int_from_bytes_is_the_wire_encoding(tp: Any, raw: bytes, value: int) -> None:
    got = tp.from_bytes(raw)
    assert got == value and type(got) is tp
    assert bytes(got) == raw  # bytes(intN) is the big-endian fixed-width encoding, unchanged
    assert tp.from_bytes(bytearray(raw)) == value
    assert tp.from_bytes(memoryview(raw)) == value


@pytest.mark.parametrize("tp", INT_TYPES, ids=lambda t: t.__name__)
def test_int_from_bytes_round_trips_bounds(tp: Any) -> None:
    for v in (tp.MIN, tp.MAX, 0, 1):
        assert tp.from_bytes(bytes(tp(v))) == v
        assert len(bytes(tp(v))) == tp.SIZE


@pytest.mark.parametrize("tp", INT_TYPES, ids=lambda t: t.__name__)
def test_int_from_bytes_wrong_length_is_decode_error(tp: Any) -> None:
    for n in (0, tp.SIZE - 1, tp.SIZE + 1):
        with pytest.raises(DecodeError, match=rf"^{tp.__name__}: needs exactly {tp.SIZE} bytes"):
            tp.from_bytes(bytes(n))
    for bad in ("ab", None, 5, [1, 2]):
        with pytest.raises(DecodeError, match=rf"^{tp.__name__}: needs bytes"):
            tp.from_bytes(bad)


def test_uint32_from_three_bytes_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="uint32: needs exactly 4 bytes, got 3"):
        uint32.from_bytes(b"\x00\x00\x05")


def test_int_from_bytes_with_byteorder_keeps_int_meaning_but_range_checks() -> None:
    # int.from_bytes-style calls: any length, the given byte order and signedness
    assert (
        uint32.from_bytes(b"\x05", "big") == 5 and type(uint32.from_bytes(b"\x05", "big")) is uint32
    )
    assert uint16.from_bytes(b"\x01\x02", "little") == 0x0201
    assert int8.from_bytes(b"\xff", "big", signed=True) == -1
    assert int8.from_bytes(b"\xff", signed=True) == -1
    assert uint64.from_bytes([1, 0], "big") == 256  # int.from_bytes takes any iterable of ints
    with pytest.raises(DecodeError, match=r"uint8: 256 is out of range"):
        uint8.from_bytes(b"\x01\x00", "big")
    with pytest.raises(DecodeError, match=r"int8: 255 is out of range"):
        int8.from_bytes(b"\xff", "big")  # unsigned reading of 0xff does not fit int8
    with pytest.raises(DecodeError, match=r"uint8: -1 is out of range"):
        uint8.from_bytes(b"\xff", "big", signed=True)
    with pytest.raises(DecodeError, match="uint16"):
        uint16.from_bytes(b"\x01", "middle")  # type: ignore[arg-type]


@pytest.mark.parametrize("tp", SIZED_TYPES, ids=lambda t: t.__name__)
def test_sized_bytes_from_bytes(tp: Any) -> None:
    raw = bytes(range(tp.SIZE))
    got = tp.from_bytes(raw)
    assert got == raw and type(got) is tp
    assert tp.from_bytes(bytearray(raw)) == raw and tp.from_bytes(memoryview(raw)) == raw
    for n in (0, tp.SIZE - 1, tp.SIZE + 1):
        with pytest.raises(DecodeError, match=rf"^{tp.__name__}: needs exactly {tp.SIZE} bytes"):
            tp.from_bytes(bytes(n))
    with pytest.raises(DecodeError, match=rf"^{tp.__name__}: needs bytes, got str"):
        tp.from_bytes("00" * tp.SIZE)


def test_bytes32_from_31_bytes_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="bytes32: needs exactly 32 bytes, got 31"):
        bytes32.from_bytes(bytes(31))


def test_program_from_bytes() -> None:
    prog = Program.from_bytes(b"\xff\x01\x80")
    assert prog == Program.cons(Program.from_atom(b"\x01"), Program.nil())
    assert Program.from_bytes(bytearray(b"\x83abc")) == Program.from_atom(b"abc")
    assert bytes(Program.from_bytes(b"\x80")) == b"\x80"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "runs past the end"),
        (b"\xff\x01", "runs past the end"),  # pair truncated after its first half
        (b"\x85ab", "atom of 5 bytes"),  # atom truncated
        (b"\xc0", "size prefix"),  # two-byte size prefix truncated
        (b"\xfc\x00", "invalid CLVM atom prefix"),
        (b"\x80\x80", "1 trailing bytes"),
        (b"\xff" * 5000, "runs past the end"),
    ],
)
def test_program_from_bad_bytes_is_decode_error(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=rf"^Program: .*{reason}"):
        Program.from_bytes(raw)


def test_bls_from_bytes() -> None:
    sk = blspy.AugSchemeMPL.key_gen(bytes(range(32)))
    pk = sk.get_g1()
    sig = blspy.AugSchemeMPL.sign(sk, b"m")
    g1 = G1Element.from_bytes(bytes(pk))
    g2 = G2Element.from_bytes(bytearray(bytes(sig)))
    assert type(g1) is G1Element and g1 == G1Element(pk) and bytes(g1) == bytes(pk)
    assert type(g2) is G2Element and g2 == G2Element(sig)
    assert blspy.AugSchemeMPL.verify(g1.point, b"m", g2.point)


@pytest.mark.parametrize(
    "tp, raw, reason",
    [
        (G1Element, bytes(48), "invalid point"),
        (G1Element, b"\xa5" + bytes(range(47)), "invalid point"),  # compressed flag, not on curve
        (G1Element, b"\xc0" + b"\x01" * 47, "invalid point"),  # non-canonical infinity
        (G1Element, bytes(47), "needs exactly 48 bytes, got 47"),
        (G1Element, bytes(G1Element()) + b"\x00", "needs exactly 48 bytes, got 49"),
        (G2Element, bytes(96), "invalid point"),
        (G2Element, b"\xa0" + b"\x11" * 95, "invalid point"),
        (G2Element, bytes(G1Element()), "needs exactly 96 bytes, got 48"),
    ],
)
def test_bls_from_bad_bytes_is_decode_error(tp: Any, raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=rf"^{tp.__name__}: {reason}"):
        tp.from_bytes(raw)


def test_bls_from_non_bytes_is_decode_error() -> None:
    with pytest.raises(DecodeError, match="G1Element: needs bytes, got str"):
        G1Element.from_bytes("c0" * 48)


PRIMITIVES: list[Any] = [*INT_TYPES, *SIZED_TYPES, Program, G1Element, G2Element]


@pytest.mark.parametrize("tp", PRIMITIVES, ids=lambda t: t.__name__)
def test_primitive_from_bytes_raises_only_decode_error(tp: Any) -> None:
    """Random input of many lengths: either it decodes to something that re-encodes to exactly
    the input, or it raises DecodeError naming the type. Nothing else escapes."""
    rng = __import__("random").Random(tp.__name__)
    inputs: list[Any] = [None, 0, "x", b"", [1]]
    for n in (*range(0, 18), 31, 32, 33, 47, 48, 49, 95, 96, 97, 99, 100, 101):
        inputs.append(bytes(rng.getrandbits(8) for _ in range(n)))
    inputs.append(rng.randbytes(48))
    for data in inputs:
        try:
            got = tp.from_bytes(data)
        except DecodeError as exc:
            assert str(exc).startswith(tp.__name__ + ":")
            continue
        assert bytes(got) == data


# ---------------------------------------------------------------- list fields are FrozenList


def test_list_fields_equal_lists_after_construction_and_decode() -> None:
    obj = Containers([uint16(1), uint16(2)], None, (uint8(7), "x"), [[uint8(9)], []])
    back = Containers.from_bytes(bytes(obj))
    from_json = Containers.from_json_dict(obj.to_json_dict())
    for c in (obj, back, from_json):
        assert type(c.items) is FrozenList and type(c.nested[0]) is FrozenList
        assert c.items == [1, 2] and [1, 2] == c.items and not (c.items != [1, 2])
        assert c.items == (1, 2) and not (c.items != (1, 2))
        assert c.nested == [[9], []]
        assert c.items != [1] and c.items != [2, 1] and c.items != [1, 2, 3]
        assert c.items != "12" and c.items != None  # noqa: E711
        assert type(c.pair) is tuple  # Tuple[...] fields stay plain tuples
    assert obj == back == from_json
    assert Containers([], None, (0, ""), []).items == []


def test_frozen_list_keeps_tuple_hash_and_immutability() -> None:
    obj = Containers([1, 2], None, (0, ""), [])
    assert hash(obj.items) == hash((1, 2))
    assert hash(obj) == hash(Containers.from_bytes(bytes(obj)))
    assert len({obj, Containers.from_bytes(bytes(obj))}) == 1
    with pytest.raises(AttributeError):
        obj.items.append(3)  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        obj.items[0] = 5  # type: ignore[index]


def test_frozen_list_survives_replace_pickle_copy_and_json() -> None:
    obj = Containers([1, 2], None, (0, ""), [[3]])
    changed = obj.replace(items=[5])
    assert type(changed.items) is FrozenList and changed.items == [5]
    assert changed.nested == obj.nested and changed != obj
    for clone in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj), copy.copy(obj)):
        assert clone == obj and type(clone.items) is FrozenList
    d = obj.to_json_dict()
    assert type(d["items"]) is list and type(d["nested"][0]) is list
    assert json.loads(json.dumps(d)) == d
