"""Sealed recordings: a recorded call's result opens only to that call's arguments.

A stand-in (:mod:`backprop_course.stand_ins`) answers the calls the reference
made with the results it got. Those results are what the exercises must
compute, and the arguments of later calls hold the results of earlier ones,
so nothing may hand either out except the call itself: not the stand-in's
attributes or closures, not the garbage collector, not the encoded test cell.
Each recorded call is therefore sealed when it is recorded, and only the
sealed entry is kept:

* its arguments become canonical bytes, every number rounded to 24
  significant bits, so that an argument computed in another valid order
  (differences near 1e-15) gives the same bytes; strings, shapes, lengths
  and dict keys count exactly;
* a random salt and those bytes give, by sha256 in two domains, a lookup id
  and a key; the key unlocks the content key, whose shake_256 keystream
  encrypts the result. The arguments themselves are not stored at all;
* two nearly equal numbers may round apart at a boundary, so the bytes are
  made on three grids offset by a third of a step, and the content key is
  locked under each grid's key: a small difference crosses at most one grid's
  boundary per number, so for arrays of up to two numbers some grid always
  matches, and for larger ones a miss needs three numbers each just at a
  boundary of a different grid.

So the arguments open an entry when they equal the recorded ones to about
1e-7 (relative), and nothing else does: finding the key without them means
inverting sha256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from backprop_course.engine import Value

GRIDS = 3
DROPPED_BITS = 28  # of float64's 52 mantissa bits: 24 remain, float32's precision
# Smaller magnitudes round to 0 (about 1e-12: the absolute tolerance of comparisons of
# inputs), so that a zero computed as 1e-17 or as -0.0 is still 0.
ZERO = 2.0**-40
NAN = -(2**62)  # the step every NaN rounds to (no float lands there)
# Bytes of the salt, of each lookup id and of the content key: with 96-bit ids no two
# argument lists meet by chance, and a 128-bit key cannot be guessed.
SALT, ID, KEY = 12, 12, 16
HEADER = SALT + GRIDS * (ID + KEY)


def seal(args: Sequence[Any], plaintext: bytes) -> str:
    """``plaintext`` locked under ``args``: what a stand-in may hold, as one line of text.

    The line is base64 of: a salt, one lookup id per grid, the content key
    locked under each grid's key, then the encrypted, compressed plaintext.
    """
    salt, content_key = secrets.token_bytes(SALT), secrets.token_bytes(KEY)
    ids, locks = b"", b""
    for grid in range(GRIDS):
        data = fingerprint(args, grid)
        ids += _digest(b"id", salt, grid, data)[:ID]
        locks += _xor(content_key, _digest(b"key", salt, grid, data))
    box = _crypt(zlib.compress(plaintext, 9), content_key)
    return base64.b64encode(salt + ids + locks + box).decode("ascii")


def opened(entries: Sequence[str], args: Sequence[Any]) -> Iterator[bytes]:
    """The plaintexts of the entries sealed under arguments that round like ``args``."""
    try:
        prints = [fingerprint(args, grid) for grid in range(GRIDS)]
    except Exception:  # a student's odd object that cannot be read as numbers matches nothing
        return
    for entry in entries:
        raw = base64.b64decode(entry)
        salt, box = raw[:SALT], raw[HEADER:]
        ids = [raw[SALT + g * ID : SALT + (g + 1) * ID] for g in range(GRIDS)]
        locks = [raw[SALT + GRIDS * ID + g * KEY :][:KEY] for g in range(GRIDS)]
        for grid, data in enumerate(prints):
            if hmac.compare_digest(_digest(b"id", salt, grid, data)[:ID], ids[grid]):
                content_key = _xor(locks[grid], _digest(b"key", salt, grid, data))
                yield zlib.decompress(_crypt(box, content_key))
                break


def fingerprint(value: Any, grid: int) -> bytes:
    """Canonical bytes of an argument list, numbers rounded on ``grid``."""
    parts: list[bytes] = []
    _canonical(value, grid, parts)
    return b"".join(parts)


def _canonical(value: Any, grid: int, out: list[bytes]) -> None:
    # Every part is tagged and sized, so different values never join into the same bytes.
    if isinstance(value, Value):  # a graph's node (an input of its case): its data and label
        out += [b"V", _rounded(np.array([value.data]), grid), _sized(str(value.label).encode())]
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        parts = [value.real, value.imag] if value.dtype.kind == "c" else [value]
        out += [b"A", struct.pack("<q", value.ndim), struct.pack(f"<{value.ndim}q", *value.shape)]
        out += [_rounded(part, grid) for part in parts]
    elif isinstance(value, (int, float, complex, np.number, np.bool_)):  # True counts as 1
        out += [b"N", _rounded(_parts(value), grid)]
    elif isinstance(value, str):
        out += [b"S", _sized(value.encode())]
    elif value is None:
        out.append(b"0")
    elif isinstance(value, (list, tuple)):  # named tuples, lists and tuples alike
        out += [b"L", struct.pack("<q", len(value))]
        for item in value:
            _canonical(item, grid, out)
    elif isinstance(value, Mapping):  # keys in sorted order: dicts compare as sets of keys
        out += [b"D", struct.pack("<q", len(value))]
        for key, item in sorted(value.items(), key=lambda pair: str(pair[0])):
            out.append(_sized(str(key).encode()))
            _canonical(item, grid, out)
    else:  # no recorded argument is anything else: such a value opens nothing recorded
        out += [b"?", _sized(type(value).__name__.encode())]


def _rounded(values: Any, grid: int) -> bytes:
    """Each number as its step on ``grid``: float64 bits with the low ones rounded off."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = np.where(np.abs(x) < ZERO, 0.0, x)
    # The bits of |x| grow with |x|: neighbouring floats differ by 1.
    bits = np.abs(x).view(np.int64)
    steps = (bits + grid * (1 << DROPPED_BITS) // GRIDS) >> DROPPED_BITS
    steps = np.where(np.signbit(x), -steps, steps)
    return np.where(np.isnan(x), NAN, steps).astype("<i8").tobytes()


def _parts(number: Any) -> list[float]:
    """A number as floats: real and imaginary parts; an int too large for a float is infinite."""
    try:
        return [float(np.real(number)), float(np.imag(number))]
    except OverflowError:
        return [float("inf") if number > 0 else float("-inf"), 0.0]


def _crypt(data: bytes, content_key: bytes) -> bytes:
    """Encrypt or decrypt: XOR with the content key's shake_256 keystream."""
    return _xor(data, hashlib.shake_256(b"stream\0" + content_key).digest(len(data)))


def _digest(domain: bytes, salt: bytes, grid: int, data: bytes) -> bytes:
    return hashlib.sha256(domain + b"\0" + salt + bytes([grid]) + data).digest()


def _sized(data: bytes) -> bytes:
    return struct.pack("<q", len(data)) + data


def _xor(data: bytes, key: bytes) -> bytes:
    a, b = np.frombuffer(data, np.uint8), np.frombuffer(key, np.uint8)[: len(data)]
    return (a ^ b).tobytes()
