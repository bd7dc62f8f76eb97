"""One mistake, one exercise: earlier exercises swapped for stand-ins while a check runs.

An exercise may call earlier ones (``forward`` calls ``layer_forward``). So that
a mistake in ``layer_forward`` costs its own points only, the checks of
``forward`` replace it, in the student's namespace and only while they run, by
a stand-in: recorded answers (:mod:`backprop_course.stand_ins`), worked values,
or centred differences. This module does the swapping, and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any


@contextlib.contextmanager
def isolated(
    namespace: MutableMapping[str, Any], stand_ins: Mapping[str, Callable[[Any], Any]]
) -> Iterator[None]:
    """Swap dependencies for stand-ins while the block runs, and put everything back.

    ``stand_ins`` maps a name to a function that receives the student's own
    object of that name (or None) and returns what replaces it.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in stand_ins}
    try:
        for name, make in stand_ins.items():
            namespace[name] = make(None if saved[name] is missing else saved[name])
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
