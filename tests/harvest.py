"""A student who copies instead of computing: every way to dig out what a stand-in recorded.

While a check runs an exercise, the earlier exercises it calls are stand-ins
that answer the reference's calls with the reference's results. A copier
never calls them. It digs, in :class:`Harvest`, for (arguments, result)
pairs and for any value kept inside a recording, in:

(a) the stand-ins: their attributes, ``__dict__``, slots, ``dir()``, and a pickled copy;
(b) their closures, ``__wrapped__``, partials, defaults and bound ``__self__``;
(c) every dict, list and tuple the garbage collector tracks, and every partial
    and object of the course's package it tracks;
(d) payload strings (base64 of zlib of JSON): on the calling frames and in
    IPython's input history (the test cell's source).

:func:`copied` runs a right answer with each stand-in replaced by a fake that
answers from the harvest: the recorded result of a call with the same
arguments if it finds one, else anything found that has the right form (the
form of what the student's own function returns), else zeros. If the copy
earns full marks, the stand-ins gave their recordings away.

Self-contained (numpy and the standard library only, no ``__future__``
import), so that tests/adversarial.py can paste it into a notebook cell.
"""

import base64
import collections
import functools
import gc
import json
import pickle
import re
import sys
import types
import warnings
import zlib

import numpy as np

SOURCES = ("standins", "gc", "frames")
# Where the machinery that runs the checks keeps its objects (stand-ins among them).
MACHINERY = (
    "backprop_course.replay",
    "backprop_course.stand_ins",
    "backprop_course.isolation",
    "backprop_course.protocol",
    "backprop_course.sealed",
    "backprop_course.checking",
)
RECORDING_KEYS = {"isolate", "table", "sealed", "calls", "order", "entries", "box", "recording"}
BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
MISSING = object()


def decoded(value):
    """The course's JSON encoding of arrays, tuples and dicts, undone."""
    if isinstance(value, list):
        return [decoded(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "ndarray" in value and "dtype" in value and "shape" in value:
        raw = base64.b64decode(value["ndarray"])
        return np.frombuffer(raw, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
    if "tuple" in value:
        items = [decoded(v) for v in value["tuple"]]
        if "fields" in value:
            return collections.namedtuple("Record", value["fields"])(*items)
        return tuple(items)
    if "dict" in value and len(value) == 1:
        return {k: decoded(v) for k, v in value["dict"].items()}
    return {k: decoded(v) for k, v in value.items()}


class Harvest:
    """Recorded calls and recorded values, from every source in ``sources``."""

    def __init__(self, stand_ins, sources=SOURCES):
        self.pairs = []  # (arguments, result)
        self.found = []  # values met inside stand-ins and recordings
        self._kept = []  # so that no id is reused while digging
        self._seen = {id(self.pairs), id(self.found), id(self._kept), id(self.__dict__)}
        self._pickling = True  # pickled copies of the stand-ins themselves only
        if "standins" in sources:
            for stand_in in stand_ins:
                self.dig(stand_in, inside=True, deep=True)
        self._pickling = False
        if "gc" in sources:
            gc.collect()  # earlier harvests, and anything else left in cycles, go first
            with warnings.catch_warnings():  # whatever some object says when touched
                warnings.simplefilter("ignore")
                for obj in gc.get_objects():
                    if id(obj) not in self._seen:
                        self.scan(obj)
        if "frames" in sources:
            frame = sys._getframe(1)
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    self.scan(value)
                frame = frame.f_back
            shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
            for source in getattr(shell, "user_ns", {}).get("In", []):
                self.dig_text(source)

    def scan(self, obj):
        """A container met in passing: dig into it if it looks like a recording."""
        if isinstance(obj, str):
            self.dig_text(obj)
        elif type(obj) in (list, tuple):
            if _pair(obj):
                self.dig(obj, inside=True)
            for item in obj[:64]:
                if isinstance(item, str):
                    self.dig_text(item)
        elif isinstance(obj, dict):
            if RECORDING_KEYS & {str(k) for k in obj}:
                self.dig(obj, inside=True)
            for item in list(obj.values())[:64]:
                if isinstance(item, str):
                    self.dig_text(item)
        elif isinstance(obj, functools.partial) or _module(obj) in MACHINERY:
            self.dig(obj, inside=True, deep=True)

    def dig(self, obj, inside, depth=0, deep=False):
        """Everything ``obj`` holds; inside a recording, every value counts as recorded.

        ``deep``: also the attributes, closures and pickled state of any object met
        (from a stand-in down); else containers only.
        """
        if depth > 10 or id(obj) in self._seen or isinstance(obj, (type, types.ModuleType)):
            return
        self._seen.add(id(obj))
        self._kept.append(obj)
        if isinstance(obj, str):
            self.dig_text(obj)
        elif isinstance(obj, (bytes, bytearray)):
            self.dig_bytes(bytes(obj))
        elif isinstance(obj, (np.ndarray, int, float, complex)) or obj is None:
            if inside:
                self.found.append(obj)
        elif isinstance(obj, dict):
            if "ndarray" in obj:
                try:
                    self.dig(decoded(obj), inside, depth + 1, deep)
                except Exception:  # not the course's encoding after all
                    pass
                return
            inside = inside or bool(RECORDING_KEYS & {str(k) for k in obj})
            if inside:
                self.found.append(obj)
            for value in list(obj.values()):
                self.dig(value, inside, depth + 1, deep)
        elif isinstance(obj, (list, tuple)):
            if _pair(obj):
                try:
                    self.pairs.append((list(decoded(obj[0])), decoded(obj[1])))
                except Exception:
                    pass
                inside = True
            if inside:
                self.found.append(obj)
            for item in obj:
                self.dig(item, inside, depth + 1, deep)
        elif deep and depth < 5:  # past that, a stand-in's attributes lead anywhere
            for value in _held(obj, pickled=self._pickling and depth < 3):
                self.dig(value, True, depth + 1, deep)

    def dig_text(self, text):
        for match in BASE64.findall(text) if len(text) >= 40 else ():
            try:
                self.dig_bytes(base64.b64decode(match + "=" * (-len(match) % 4)))
            except ValueError:  # not base64 after all
                continue

    def dig_bytes(self, data):
        for unpack in (zlib.decompress, lambda raw: raw):
            try:
                self.dig(json.loads(unpack(data)), inside=False)
                return
            except Exception:
                continue

    def answer(self, args, template, exact):
        """The recorded result of a call with ``args`` (``exact``), else a found value of
        the right form."""
        for recorded_args, result in self.pairs:
            if _close(args, recorded_args) and _fits(result, template):
                return result
        if exact:
            return MISSING
        for value in self.found + [result for _, result in self.pairs]:
            if value is not template and _fits(value, template):
                return value
        return MISSING


def _module(obj):
    """Where an object's class was defined."""
    module = getattr(type(obj), "__module__", "")
    return module if isinstance(module, str) else ""


def _pair(obj):
    """(arguments, result): what a plain recording of a call looks like."""
    return len(obj) == 2 and isinstance(obj[0], (list, tuple)) and not isinstance(obj[0], str)


def _held(obj, pickled):
    """What an object holds: attributes, slots, closures, wrapped and partial functions,
    and (if ``pickled``) the state a pickled copy of it carries."""
    held = []
    for name in ("__closure__", "__wrapped__", "__self__", "__func__", "__defaults__",
                 "__kwdefaults__", "func", "args", "keywords"):  # fmt: skip
        try:
            held.append(getattr(obj, name))
        except Exception:
            continue
    held = list(_flat(held))
    held.append(getattr(obj, "__dict__", None))
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            try:
                held.append(getattr(obj, slot))
            except Exception:
                continue
    if not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        for name in dir(obj):
            if not name.startswith("__"):
                try:
                    held.append(getattr(obj, name))
                except Exception:
                    continue
        try:
            held.append(vars(pickle.loads(pickle.dumps(obj))) if pickled else None)
        except Exception:
            pass
    return held


def _flat(values):
    for value in values:
        if isinstance(value, tuple) and value and isinstance(value[0], types.CellType):
            for cell in value:
                try:
                    yield cell.cell_contents
                except ValueError:  # an empty cell
                    continue
        else:
            yield value


def _close(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=1e-7, atol=1e-12))
        except Exception:
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False


def _is_node(value):
    return hasattr(value, "parents") and hasattr(value, "local_grads")


def _fits(value, template):
    """Whether ``value`` has the form of ``template``: shapes, lengths, keys, kinds."""
    if isinstance(template, np.ndarray):
        return isinstance(value, np.ndarray) and value.shape == template.shape
    if isinstance(template, list) and template and all(map(_is_node, template)):
        return isinstance(value, list) and {id(v) for v in value} == {id(t) for t in template}
    if isinstance(template, (list, tuple)):
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(template)
            and all(_fits(v, t) for v, t in zip(value, template, strict=True))
        )
    if isinstance(template, dict):
        return (
            isinstance(value, dict)
            and value.keys() == template.keys()
            and all(_fits(value[k], template[k]) for k in template)
        )
    if isinstance(template, (int, float)) and not isinstance(template, bool):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(template, str) or template is None or _is_node(template):
        return value is template or value == template
    return False


def _fresh(value):
    """A copy of the arrays and containers, the same graph nodes (they are the graph)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*map(_fresh, value))
    if isinstance(value, (list, tuple)):
        return type(value)(map(_fresh, value))
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    return value


def wrong_like(template):
    """An answer of the right form and the wrong content: what a copier hands in when
    it finds nothing."""
    if isinstance(template, np.ndarray):
        return np.zeros(template.shape)
    if isinstance(template, list) and template and all(map(_is_node, template)):
        return template[::-1]
    if isinstance(template, tuple):
        items = [wrong_like(t) for t in template]
        return type(template)(*items) if hasattr(template, "_fields") else tuple(items)
    if isinstance(template, list):
        return [wrong_like(t) for t in template]
    if isinstance(template, dict):
        return {k: wrong_like(v) for k, v in template.items()}
    if isinstance(template, (int, float)) and not isinstance(template, bool):
        return 0.0
    return template


def copied(right, snapshot, live, args, kwargs, sources=SOURCES):
    """Run ``right`` (a right answer) on ``args`` without calling any stand-in.

    ``snapshot``: the notebook's namespace before the check ran; ``live``: the
    namespace now, where every name whose value changed is a stand-in.
    """
    stand_ins = {
        name: value
        for name, value in live.items()
        if name in snapshot
        and value is not snapshot[name]
        and not name.startswith("_")
        and _functions(value)
        and _functions(snapshot[name])
    }
    # One harvest per set of stand-ins (a check's calls share them; each case has its own).
    held = list(stand_ins.values())
    same = _last[0] and len(_last[0][0]) == len(held) and _last[0][1] == sources
    if not (same and all(a is b for a, b in zip(_last[0][0], held, strict=True))):
        _last[0] = None  # the last harvest goes before the next one looks around
        _last[0] = (held, sources, Harvest(held, sources))
    harvest = _last[0][2]
    shadow = dict(snapshot)

    def fake(own, stand_in):
        # What this very stand-in holds first (a table's entries may record the same
        # arguments), then anything found anywhere.
        harvests = [Harvest([stand_in], ("standins",))] if "standins" in sources else []
        harvests.append(harvest)

        def answer(*given, **named):
            template = own(*given, **named)  # used for its form only, never handed in
            for exact, one in [(True, one) for one in harvests] + [(False, h) for h in harvests]:
                found = one.answer(list(given), template, exact)
                if found is not MISSING:
                    return _fresh(found)
            return wrong_like(template)

        return answer

    for name, stand_in in stand_ins.items():
        own = snapshot[name]
        if isinstance(stand_in, dict):
            shadow[name] = {key: fake(own[key], stand_in[key]) for key in stand_in}
        else:
            shadow[name] = fake(own, stand_in)
    function = types.FunctionType(
        right.__code__, shadow, right.__name__, right.__defaults__, right.__closure__
    )
    function.__kwdefaults__ = right.__kwdefaults__
    try:
        return function(*args, **kwargs)
    finally:
        shadow.clear()  # no cycle keeps this call's fakes (and their harvests) alive


_last = [None]  # (stand-ins, sources, their harvest)


def _functions(value):
    """A function, or a table of functions (the stand-ins' forms)."""
    if isinstance(value, dict):
        return bool(value) and all(callable(v) for v in value.values())
    return callable(value)
