"""The wire format of a graded test cell: what the build, the kernel and the grader exchange.

Three parties, each trusted differently, speak through this one module:

- the **build** (``backprop-grade build``) writes each test cell's hidden cases
  into the cell as a *payload*: their inputs, encoded (:func:`encode`) and
  packed onto one line (:func:`pack`). The build is trusted, so a payload's
  values may also describe functions (``{"callable": ...}``) and numpy types
  (``{"dtype": ...}``), and refer to the nodes of a case's graph
  (:func:`decode_argument`);
- the **grading kernel** runs the student's function on those inputs and sends
  a *results bundle* (:func:`results_bundle`) out of the kernel, in one output
  of the MIME type :data:`RESULTS_MIME`: one entry per case, the value returned
  (:func:`value_entry`) or why there is none (:func:`failure_entry`). The
  kernel runs student code, so nothing it sends is trusted;
- the **grader** finds the bundle among the cell's outputs (:func:`find_bundle`),
  checks that it answers this build's cases (:func:`bundle_problem`) and reads
  each entry (:func:`read_entry`) strictly.

Values travel as JSON: arrays as base64 of their bytes with their dtype and
shape; tuples, named tuples and dicts tagged; lists, numbers, strings, booleans
and None as themselves. One decoder reads both directions: ``decode(value)``
builds plain data only (arrays of numbers whose data fits their shape, numbers,
strings, lists, tuples, named tuples with harmless field names, dicts; nested
no deeper than :data:`MAX_NESTING`), and refuses anything else with
:class:`UnreadableValue`; ``decode(value, trusted=True)`` also builds the
functions and numpy types a payload describes.

Only numpy and the standard library are imported here: the kernel imports this
module inside the sandbox, and the grader in its own process.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import keyword
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RESULTS_MIME = "application/vnd.backprop-course.results+json"
# Booleans, integers, unsigned, floats and complex numbers: arrays of anything else
# (objects, strings, records) are never encoded, nor read back.
NUMERIC_KINDS = "biufc"
# The most array data one result may send out of the kernel; the right answers are
# all far smaller.
MAX_RESULT_BYTES = 400_000
MAX_NESTING = 32  # lists in lists, and dimensions of an array: far more than any answer
MAX_FIELDS = 64  # of a named tuple
MAX_TEXT = 500  # characters of a failure's message
# The mistake (a key of backprop_course.checking.MISTAKES) of a result that is not plain data.
NOT_PLAIN_DATA = "uncheckable_result"


class UnreadableValue(ValueError):
    """An encoded value that is not data of the kinds the decoder was told to accept."""


class NotPlainData(TypeError):
    """A value that cannot leave the kernel: it holds something other than plain data."""


# -- values ------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A JSON-ready form of arrays, numbers, strings, tuples, lists and dicts.

    The build also encodes numpy scalar types (``{"dtype": ...}``) and functions
    made from a spec (anything callable with a ``spec``, see
    :mod:`backprop_course.callables`); only a trusted decoder reads those back.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"an array of {value.dtype} (only numbers can be checked)")
        data = np.ascontiguousarray(value)
        return {
            "ndarray": base64.b64encode(data.tobytes()).decode("ascii"),
            "dtype": data.dtype.str,
            "shape": list(data.shape),
        }
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"tuple": [encode(v) for v in value], "fields": list(value._fields)}
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"dtype": np.dtype(value).str}
    if callable(value) and hasattr(value, "spec"):
        return dict(value.spec)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot encode {type(value).__name__} {value!r}")


def decode(value: Any, *, trusted: bool = False) -> Any:
    """The inverse of :func:`encode`, checking everything it builds.

    ``trusted=False`` (results from the kernel): plain data only, else
    :class:`UnreadableValue`. ``trusted=True`` (the build's payloads and answers):
    also ``{"dtype": ...}`` as a numpy type and ``{"callable": ...}`` as a function.
    """
    return _decode(value, trusted, 0)


def _decode(value: Any, trusted: bool, depth: int) -> Any:
    if depth > MAX_NESTING:
        raise UnreadableValue("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, trusted, depth + 1) for v in value]
    if not isinstance(value, dict):
        raise UnreadableValue(f"a {type(value).__name__}")
    if "ndarray" in value:
        return _array(value)
    if "tuple" in value:
        return _tuple(value, trusted, depth)
    if "dict" in value and isinstance(value["dict"], dict):
        return {str(k): _decode(v, trusted, depth + 1) for k, v in value["dict"].items()}
    if trusted and "dtype" in value:
        return np.dtype(value["dtype"]).type
    if trusted and "callable" in value:
        from backprop_course.callables import make_callable  # only payloads hold functions

        return make_callable(value)
    raise UnreadableValue("an unknown kind of value")


def _array(value: dict) -> np.ndarray:
    try:
        dtype = np.dtype(str(value["dtype"]))
        shape = tuple(int(n) for n in value["shape"])
        raw = base64.b64decode(str(value["ndarray"]), validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableValue(f"a malformed array ({error})") from None
    if dtype.kind not in NUMERIC_KINDS or any(n < 0 for n in shape) or len(shape) > MAX_NESTING:
        raise UnreadableValue(f"an array of {dtype}")
    if math.prod(shape) * dtype.itemsize != len(raw):  # Python ints: no overflow to fool it
        raise UnreadableValue("an array whose data does not fit its shape")
    try:
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()  # writable, like any array
    except (ValueError, OverflowError) as error:
        raise UnreadableValue(f"a malformed array ({error})") from None


def _tuple(value: dict, trusted: bool, depth: int) -> tuple:
    if not isinstance(value["tuple"], list):
        raise UnreadableValue("a malformed tuple")
    items = [_decode(v, trusted, depth + 1) for v in value["tuple"]]
    fields = value.get("fields")
    if fields is None:
        return tuple(items)
    if not _harmless_fields(fields, len(items)):
        raise UnreadableValue("a malformed named tuple")
    return collections.namedtuple("Record", fields)(*items)


def _harmless_fields(fields: Any, count: int) -> bool:
    """Distinct identifiers, one per item, none a keyword or private (``__class__``)."""
    return (
        isinstance(fields, list)
        and len(fields) == count <= MAX_FIELDS
        and all(
            isinstance(f, str) and f.isidentifier() and not keyword.iskeyword(f)
            and not f.startswith("_")
            for f in fields
        )
        and len(set(fields)) == len(fields)
    )  # fmt: skip


def decode_argument(encoded: Any, graph: Sequence[Any]) -> Any:
    """An argument of a payload's case (trusted): ``{"node": i}`` is node i of the case's
    graph, ``{"nodes": [i, ...]}`` a list of its nodes; anything else is decoded."""
    if isinstance(encoded, dict) and "node" in encoded:
        return graph[encoded["node"]]
    if isinstance(encoded, dict) and "nodes" in encoded:
        return [graph[i] for i in encoded["nodes"]]
    return decode(encoded, trusted=True)


def plain_data_bytes(value: Any, depth: int = 0) -> int:
    """The bytes of array data in a result of plain data; :class:`NotPlainData` if it holds
    anything else (an object, a function, an array of objects, a loop)."""
    if depth > MAX_NESTING:
        raise NotPlainData("nested too deeply")
    if isinstance(value, np.ndarray):
        return np.asarray(value).nbytes  # the base class's count: a subclass may lie
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return 0
    if isinstance(value, (list, tuple)):
        return sum(plain_data_bytes(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return sum(plain_data_bytes(item, depth + 1) for item in value.values())
    raise NotPlainData(f"{kind_of(value)} is not plain data")


def kind_of(value: Any) -> str:
    """What a value is, told without calling any of its (perhaps hostile) methods."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {np.asarray(value).shape}"
    return f"a {type(value).__name__}"


# -- payloads (build -> kernel) -------------------------------------------------------------------


def pack(cases: list[dict[str, Any]]) -> str:
    """Cases -> one line of text for a test cell (JSON, zlib, base64)."""
    text = json.dumps(cases, separators=(",", ":"), allow_nan=True)
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode("ascii")


def unpack(payload: str) -> list[dict[str, Any]]:
    """The cases a payload holds (trusted: the build wrote it)."""
    return json.loads(zlib.decompress(base64.b64decode(payload)))


def payload_digest(payload: str) -> str:
    """Which build of the hidden cases a results bundle answers."""
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# -- results bundles (kernel -> grader) -----------------------------------------------------------


def value_entry(encoded: Any) -> dict[str, Any]:
    """A case whose call returned: its result, encoded."""
    return {"value": encoded}


def failure_entry(what: str, mistake: str | None = None) -> dict[str, Any]:
    """A case the student's code failed before any comparison (it raised, or is not written)."""
    return {"failed": str(what)[:MAX_TEXT], "mistake": mistake}


def results_bundle(exercise: str, payload: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """What a test cell sends out of the kernel: one entry per case of ``payload``."""
    return {"exercise": exercise, "digest": payload_digest(payload), "results": results}


def carries_bundle(output: Mapping[str, Any]) -> bool:
    """Whether a cell output is (or claims to be) a results bundle."""
    return output.get("output_type") in ("display_data", "execute_result") and RESULTS_MIME in (
        output.get("data") or {}
    )


def find_bundle(outputs: Iterable[Mapping[str, Any]]) -> Any | None:
    """The last results bundle among a cell's outputs (None if it sent none), unread."""
    found = None
    for out in outputs:
        if carries_bundle(out):
            found = out["data"][RESULTS_MIME]
    return found


def bundle_problem(bundle: Any, digest: str, count: int) -> str | None:
    """Why a bundle cannot be judged against the build with ``digest`` and ``count``
    cases, or None if it can."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("results"), list):
        return "its results could not be read"
    if bundle.get("digest") != digest:
        return "its results answer other cases than this assignment's (rebuilt since?)"
    if len(bundle["results"]) != count:
        return f"it sent {len(bundle['results'])} results for {count} cases"
    return None


@dataclass(frozen=True)
class CaseResult:
    """One entry of a bundle, read strictly: the value returned, or why there is none.

    ``failed`` is None when the case returned ``value``; else it says what went
    wrong, and ``mistake`` is the kernel's (unchecked) name for the likely mistake.
    """

    value: Any = None
    failed: str | None = None
    mistake: str | None = None


def read_entry(entry: Any) -> CaseResult:
    """A bundle's entry as plain data; whatever it holds, never more than that."""
    if isinstance(entry, dict) and "value" in entry:
        try:
            return CaseResult(value=decode(entry["value"]))
        except UnreadableValue as error:
            return CaseResult(failed=f"the result could not be read: {error}",
                              mistake=NOT_PLAIN_DATA)  # fmt: skip
    if isinstance(entry, dict) and isinstance(entry.get("failed"), str):
        mistake = entry.get("mistake")
        return CaseResult(
            failed=entry["failed"][:MAX_TEXT], mistake=mistake if isinstance(mistake, str) else None
        )
    return CaseResult(failed="a malformed result")
