"""Data for the course, all available offline.

* The 8x8 handwritten digits (1,797 images, 10 classes) ship with the course
  in ``data/digits.csv.gz``; see ``data/DIGITS-LICENSE.md`` for their origin
  and licence (UCI, CC BY 4.0).
* Four 2-D toy problems for the widgets are made by code: moons, circles,
  spirals and XOR.
* Sequences for lesson 06 are made by code too: binary addition, bit by bit.

Columns are examples, as everywhere in the course: inputs come back as
(n_0, m) arrays, labels as (m,) integers; :func:`one_hot` turns labels into
(k, m) target columns.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import numpy as np

Array = np.ndarray

DIGITS_SHA256 = "14398af9a99587e2b18094a22fcfbf0daf41c0bd6b226fbe0adb426d6d17f8b3"


def load_digits() -> tuple[Array, Array]:
    """The 8x8 digits as columns.

    Returns ``(X, labels)``: X (64, 1797) float64 pixel intensities scaled
    from 0..16 to [0, 1], row-major (``X[:, i].reshape(8, 8)`` is image i);
    labels (1797,) int64 in 0..9.
    """
    raw = resources.files("backprop_course").joinpath("data/digits.csv.gz").read_bytes()
    if hashlib.sha256(raw).hexdigest() != DIGITS_SHA256:
        raise OSError(
            "data/digits.csv.gz is damaged (checksum mismatch); reinstall the course "
            "or restore the file with git checkout"
        )
    table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.int64)
    return table[:, :64].T / 16.0, table[:, 64]


def one_hot(labels: Array, num_classes: int | None = None) -> Array:
    """Target columns for integer labels. Shapes: (m,) -> (k, m), float64.

    k is ``num_classes``, or ``labels.max() + 1`` when not given.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D integer array of shape (m,), got dtype {labels.dtype} "
            f"and shape {labels.shape}"
        )
    k = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}, got {labels.min()}..{labels.max()}")
    Y = np.zeros((k, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y


def train_test_split(
    X: Array, labels: Array, test_fraction: float = 0.2, seed: int = 0
) -> tuple[Array, Array, Array, Array]:
    """Split columns into train and test sets, keeping each class's proportion.

    Shapes: X (n, m), labels (m,) -> X_train (n, m_train), labels_train (m_train,),
    X_test (n, m_test), labels_test (m_test,). Same seed, same split.
    """
    if X.ndim != 2 or labels.shape != (X.shape[1],):
        raise ValueError(
            f"X must be (n, m) and labels (m,), got X {X.shape} and labels {labels.shape}"
        )
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test.extend(members[: round(test_fraction * members.size)])
    is_test = np.zeros(labels.size, dtype=bool)
    is_test[test] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(np.flatnonzero(is_test))
    return X[:, train_idx], labels[train_idx], X[:, test_idx], labels[test_idx]


# -- 2-D toy problems: X (2, m) in roughly [-1.5, 1.5]^2, labels (m,) in {0, 1}


def _two_classes(m: int) -> tuple[int, int]:
    if m < 2:
        raise ValueError(f"need at least 2 points, got m={m}")
    return m // 2, m - m // 2


def _finish(points: list[Array], noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    X = np.concatenate(points, axis=1)
    X = X + noise * rng.standard_normal(X.shape)
    labels = np.concatenate([np.full(p.shape[1], c) for c, p in enumerate(points)])
    order = rng.permutation(labels.size)
    return X[:, order], labels[order].astype(np.int64)


def make_moons(m: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[Array, Array]:
    """Two interleaved half circles, centred on the origin.

    Shapes: -> X (2, m), labels (m,) in {0, 1}, half of each.
    """
    rng = np.random.default_rng(seed)
    m0, m1 = _two_classes(m)
    t0, t1 = np.linspace(0, np.pi, m0), np.linspace(0, np.pi, m1)
    upper = np.stack([np.cos(t0) - 0.5, np.sin(t0) - 0.25])
    lower = np.stack([0.5 - np.cos(t1), 0.25 - np.sin(t1)])
    return _finish([upper, lower], noise, rng)


def make_circles(m: int = 200, noise: float = 0.05, seed: int = 0) -> tuple[Array, Array]:
    """A ring of radius 1 (class 0) around a disc of radius 0.5 (class 1).

    Shapes: -> X (2, m), labels (m,) in {0, 1}, half of each.
    """
    rng = np.random.default_rng(seed)
    m0, m1 = _two_classes(m)
    angle = rng.uniform(0, 2 * np.pi, m0)
    ring = np.stack([np.cos(angle), np.sin(angle)])
    radius = 0.5 * np.sqrt(rng.uniform(0, 1, m1))
    angle = rng.uniform(0, 2 * np.pi, m1)
    disc = radius * np.stack([np.cos(angle), np.sin(angle)])
    return _finish([ring, disc], noise, rng)


def make_spirals(
    m: int = 200, noise: float = 0.05, seed: int = 0, turns: float = 1.5
) -> tuple[Array, Array]:
    """Two interleaved spiral arms, half a turn apart, of ``turns`` turns each.

    Shapes: -> X (2, m), labels (m,) in {0, 1}, half of each.
    """
    rng = np.random.default_rng(seed)
    arms = []
    for c, size in enumerate(_two_classes(m)):
        t = np.linspace(0.05, 1.0, size)
        angle = 2 * np.pi * turns * t + np.pi * c
        arms.append(1.2 * t * np.stack([np.cos(angle), np.sin(angle)]))
    return _finish(arms, noise, rng)


def make_xor(m: int = 200, noise: float = 0.05, seed: int = 0) -> tuple[Array, Array]:
    """Points in four quadrants; class 1 where x_1 and x_2 have the same sign.

    A margin of 0.1 around the axes keeps the classes apart before noise.
    Shapes: -> X (2, m), labels (m,) in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    _two_classes(m)
    X = rng.uniform(0.1, 1.0, (2, m)) * rng.choice([-1.0, 1.0], (2, m))
    labels = (X[0] * X[1] > 0).astype(np.int64)
    X = X + noise * rng.standard_normal(X.shape)
    return X, labels


TOY_DATASETS = {
    "moons": make_moons,
    "circles": make_circles,
    "spirals": make_spirals,
    "xor": make_xor,
}


# -- sequences (lesson 06) ------------------------------------------------------


def binary_addition(m: int, bits: int = 8, seed: int | None = 0) -> tuple[Array, Array]:
    """m sums a + b of two random ``bits``-bit numbers, as sequences of bits, lowest first.

    A sequence has T = bits + 1 steps (the sum may need one bit more). At step t
    the input is the pair of bits (a_t, b_t), and the target is bit t of the sum
    as a one-hot column: row 0 for a 0 bit, row 1 for a 1 bit. Bit t of the sum
    depends on the carry from the bits below, so a network must remember it.

    Shapes: -> X (T, 2, m) in {0, 1}, Y (T, 2, m) one-hot. Time first, examples
    as columns: X[t] is the batch of step t. Same seed, same sums.
    """
    if int(m) != m or m < 1 or int(bits) != bits or not 1 <= bits <= 60:
        raise ValueError(f"need an integer m >= 1 and 1 <= bits <= 60; got m={m!r}, bits={bits!r}")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2**bits, size=(2, m), dtype=np.int64)
    steps = np.arange(bits + 1)[:, None]  # (T, 1): bit t of every number
    a_bits, b_bits, sum_bits = ((n[None, :] >> steps) & 1 for n in (a, b, a + b))
    X = np.stack([a_bits, b_bits], axis=1).astype(np.float64)
    Y = np.stack([1 - sum_bits, sum_bits], axis=1).astype(np.float64)
    return X, Y


def bits_to_numbers(bits: Array) -> Array:
    """The numbers that sequences of bits (lowest first) spell.

    Shapes: bits (T, m) in {0, 1}, bit t of number i at [t, i] -> (m,) integers.
    """
    bits = np.asarray(bits, dtype=np.int64)
    return (bits << np.arange(bits.shape[0])[:, None]).sum(axis=0)
