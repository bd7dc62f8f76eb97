"""The catalogue: single, syntactically valid changes of the kinds students make.

Each operator looks at one node of a function's body and proposes the nodes
that could stand in its place. :func:`mutants` applies every proposal, one at
a time, to the reference function as a notebook defines it (no decorator, no
docstring, no annotations) and keeps each distinct result.

The operators and the mistakes they stand for:

=============  ================================================================
``sign``       ``+`` ↔ ``−`` (also ``+=`` ↔ ``-=``), and a dropped unary minus
``matmul``     ``*`` ↔ ``@``
``transpose``  a ``.T`` dropped, or added to an operand of ``@``/``*`` or to the
               returned value
``axis``       ``axis=0`` ↔ ``axis=1`` (``axis=-1`` → ``0``)
``keepdims``   ``keepdims=...`` dropped
``index``      an index or slice bound shifted by ±1 (``l-1`` ↔ ``l-2``, the
               layer number in ``f"W{l}"`` too)
``drop``       one operand of a binary operation dropped (a factor or a term)
``sum_mean``   ``.sum`` ↔ ``.mean`` (``np.sum`` ↔ ``np.mean``)
``assign``     ``=`` ↔ ``+=``
``swap``       two neighbouring arguments of a call, or the operands of
               ``−``, ``/``, ``@``, ``**``, swapped
``sibling``    a sibling function or table: σ for σ′, ``ACTIVATIONS`` for
               ``DERIVATIVES`` (the caller says which names are siblings)
``input``      one input of the function used where another belongs (σ′(a)
               for σ′(z))
``constant``   a number changed (k → k ± 1 for integers; c → 0, 2c for others)
``compare``    ``>`` ↔ ``>=``, ``<`` ↔ ``<=``, ``in`` ↔ ``not in``, ``==`` ↔ ``!=``
``statement``  one assignment or call statement dropped (a step forgotten)
=============  ================================================================
"""

from __future__ import annotations

import ast
import copy
import difflib
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[tuple[str, int | None], ...]
Proposal = tuple[str, Callable[[ast.AST], ast.AST]]  # (operator, node -> replacement)


@dataclass(frozen=True)
class Mutant:
    """One changed answer: the whole function as a student would hand it in."""

    exercise: str
    operator: str
    change: str  # "`W @ a_prev` → `W * a_prev`"
    source: str

    @property
    def id(self) -> str:
        return f"{self.exercise}:{self.operator}:{self.change}"


def notebook_source(function: Callable[..., Any]) -> str:
    """The function as an exercise cell defines it: no decorators, docstring or annotations."""
    tree = _function_tree(function)
    return ast.unparse(tree)


def _function_tree(function: Callable[..., Any]) -> ast.FunctionDef:
    source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    node.decorator_list = []
    node.returns = None
    for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
        arg.annotation = None
    for extra in (node.args.vararg, node.args.kwarg):
        if extra is not None:
            extra.annotation = None
    if ast.get_docstring(node) is not None:
        node.body = node.body[1:] or [ast.Pass()]
    return node


def mutants(
    function: Callable[..., Any], siblings: Mapping[str, Sequence[str]] = {}
) -> list[Mutant]:
    """Every distinct single-change mutant of ``function``'s body."""
    tree = _function_tree(function)
    original = ast.unparse(tree)
    inputs = [a.arg for a in [*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs]]
    found: dict[str, Mutant] = {}
    for path, node in _walk_body(tree):
        for operator, make in proposals(node, inputs, siblings):
            mutated = copy.deepcopy(tree)
            old = _get(mutated, path)
            new = make(copy.deepcopy(old))
            _put(mutated, path, ast.fix_missing_locations(new))
            try:
                source = ast.unparse(mutated)
                compile(source, "<mutant>", "exec")
            except (SyntaxError, ValueError, TypeError):
                continue  # not valid Python: no student hands that in
            if source != original and source not in found:
                change = f"`{_short(old)}` → `{_short(new)}`"
                found[source] = Mutant(tree.name, operator, change, source)
    return list(found.values())


def diff(reference: str, mutant: str) -> str:
    """The changed lines, as a unified diff without its header."""
    lines = difflib.unified_diff(reference.splitlines(), mutant.splitlines(), lineterm="", n=0)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++", "@@")))


def _short(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


# -- walking and replacing ---------------------------------------------------------


def _walk_body(tree: ast.FunctionDef) -> Iterator[tuple[Path, ast.AST]]:
    for i, statement in enumerate(tree.body):
        yield from _walk(statement, (("body", i),))


def _walk(node: ast.AST, path: Path) -> Iterator[tuple[Path, ast.AST]]:
    yield path, node
    for field, value in ast.iter_fields(node):
        if field in ("annotation", "returns", "type_comment"):
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, (*path, (field, i)))
        elif isinstance(value, ast.AST):
            yield from _walk(value, (*path, (field, None)))


def _get(root: ast.AST, path: Path) -> Any:
    node: Any = root
    for field, index in path:
        node = getattr(node, field)
        if index is not None:
            node = node[index]
    return node


def _put(root: ast.AST, path: Path, new: ast.AST) -> None:
    parent = _get(root, path[:-1])
    field, index = path[-1]
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new


# -- the operators -----------------------------------------------------------------


def proposals(
    node: ast.AST, inputs: Sequence[str], siblings: Mapping[str, Sequence[str]]
) -> Iterator[Proposal]:
    """Every change the catalogue proposes for ``node``."""
    yield from _sign(node)
    yield from _matmul(node)
    yield from _transpose(node)
    yield from _axis(node)
    yield from _keepdims(node)
    yield from _index(node)
    yield from _drop(node)
    yield from _sum_mean(node)
    yield from _assign(node)
    yield from _swap(node)
    yield from _named(node, "sibling", siblings)
    yield from _named(node, "input", {name: [o for o in inputs if o != name] for name in inputs})
    yield from _constant(node)
    yield from _compare(node)
    yield from _statement(node)


def _with_op(op: ast.operator) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        node.op = op  # type: ignore[attr-defined]
        return node

    return make


def _sign(node: ast.AST) -> Iterator[Proposal]:
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        if isinstance(node.op, ast.Add):
            yield "sign", _with_op(ast.Sub())
        elif isinstance(node.op, ast.Sub):
            yield "sign", _with_op(ast.Add())
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", lambda n: n.operand


def _matmul(node: ast.AST) -> Iterator[Proposal]:
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        if isinstance(node.op, ast.Mult):
            yield "matmul", _with_op(ast.MatMult())
        elif isinstance(node.op, ast.MatMult):
            yield "matmul", _with_op(ast.Mult())


def _transposed(value: ast.expr) -> ast.expr:
    return ast.Attribute(value=value, attr="T", ctx=ast.Load())


def _transpose(node: ast.AST) -> Iterator[Proposal]:
    if isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
        yield "transpose", lambda n: n.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.MatMult, ast.Mult)):
        for side in ("left", "right"):
            operand = getattr(node, side)
            if not (isinstance(operand, ast.Attribute) and operand.attr == "T") and not (
                isinstance(operand, ast.Constant)
            ):
                yield "transpose", _transpose_side(side)
    if isinstance(node, ast.Return) and node.value is not None:
        if not isinstance(node.value, (ast.Tuple, ast.Constant, ast.Dict, ast.List)):
            yield "transpose", _transpose_returned


def _transpose_side(side: str) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        setattr(node, side, _transposed(getattr(node, side)))
        return node

    return make


def _transpose_returned(node: ast.AST) -> ast.AST:
    node.value = _transposed(node.value)  # type: ignore[attr-defined]
    return node


def _keyword_proposals(node: ast.AST, name: str) -> Iterator[tuple[int, ast.keyword]]:
    if isinstance(node, ast.Call):
        for i, keyword in enumerate(node.keywords):
            if keyword.arg == name:
                yield i, keyword


def _axis(node: ast.AST) -> Iterator[Proposal]:
    swaps = {0: 1, 1: 0, -1: 0}
    for i, keyword in _keyword_proposals(node, "axis"):
        value = keyword.value
        number = _int_value(value)
        if number in swaps:
            yield "axis", _set_keyword(i, ast.Constant(swaps[number]))


def _int_value(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _set_keyword(index: int, value: ast.expr) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        node.keywords[index].value = value  # type: ignore[attr-defined]
        return node

    return make


def _keepdims(node: ast.AST) -> Iterator[Proposal]:
    for i, _ in _keyword_proposals(node, "keepdims"):
        yield "keepdims", _drop_keyword(i)


def _drop_keyword(index: int) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        del node.keywords[index]  # type: ignore[attr-defined]
        return node

    return make


def _shifted(expr: ast.expr, by: int) -> ast.expr:
    """``expr`` ± 1, folded into a trailing constant (l - 1 → l - 2, not l - 1 - 1)."""
    number = _int_value(expr)
    if number is not None:
        return ast.Constant(number + by)
    if (
        isinstance(expr, ast.BinOp)
        and isinstance(expr.op, (ast.Add, ast.Sub))
        and isinstance(expr.right, ast.Constant)
        and type(expr.right.value) is int
    ):
        sign = 1 if isinstance(expr.op, ast.Add) else -1
        offset = sign * expr.right.value + by
        if offset == 0:
            return expr.left
        op = ast.Add() if offset > 0 else ast.Sub()
        return ast.BinOp(left=expr.left, op=op, right=ast.Constant(abs(offset)))
    op = ast.Add() if by > 0 else ast.Sub()
    return ast.BinOp(left=expr, op=op, right=ast.Constant(abs(by)))


def _index_positions(node: ast.AST) -> Iterator[tuple[tuple[str, ...], ast.expr]]:
    """The index expressions of a subscript (inside tuples and slices too)."""
    if isinstance(node, ast.Subscript):
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        for i, part in enumerate(parts):
            where = ("slice", str(i)) if isinstance(node.slice, ast.Tuple) else ("slice",)
            if isinstance(part, ast.Slice):
                for bound in ("lower", "upper"):
                    if getattr(part, bound) is not None:
                        yield (*where, bound), getattr(part, bound)
            elif _is_index(part):
                yield where, part
    if isinstance(node, ast.FormattedValue) and _is_index(node.value):
        yield ("value",), node.value


def _is_index(expr: ast.expr) -> bool:
    return isinstance(expr, (ast.Name, ast.BinOp)) or _int_value(expr) is not None


def _index(node: ast.AST) -> Iterator[Proposal]:
    for where, expr in _index_positions(node):
        for by in (1, -1):
            yield "index", _replace_at(where, _shifted(copy.deepcopy(expr), by))


def _replace_at(where: tuple[str, ...], new: ast.expr) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        holder: Any = node
        for step in where[:-1]:
            holder = holder.elts[int(step)] if step.isdigit() else getattr(holder, step)
        last = where[-1]
        if last.isdigit():
            holder.elts[int(last)] = new
        else:
            setattr(holder, last, new)
        return node

    return make


def _drop(node: ast.AST) -> Iterator[Proposal]:
    if isinstance(node, ast.BinOp):
        yield "drop", lambda n: n.left
        yield "drop", lambda n: n.right


def _sum_mean(node: ast.AST) -> Iterator[Proposal]:
    swaps = {"sum": "mean", "mean": "sum"}
    if isinstance(node, ast.Attribute) and node.attr in swaps:
        yield "sum_mean", lambda n: ast.Attribute(value=n.value, attr=swaps[n.attr], ctx=n.ctx)


def _assign(node: ast.AST) -> Iterator[Proposal]:
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], (ast.Name, ast.Subscript, ast.Attribute))
    ):
        yield "assign", lambda n: ast.AugAssign(target=n.targets[0], op=ast.Add(), value=n.value)
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
        yield "assign", lambda n: ast.Assign(targets=[n.target], value=n.value)


def _swap(node: ast.AST) -> Iterator[Proposal]:
    if isinstance(node, ast.Call):
        positional = node.args
        for i in range(len(positional) - 1):
            if not any(isinstance(a, ast.Starred) for a in positional[i : i + 2]):
                yield "swap", _swap_args(i)
    if isinstance(node, ast.BinOp) and isinstance(
        node.op, (ast.Sub, ast.Div, ast.MatMult, ast.Pow)
    ):
        yield "swap", _swap_operands


def _swap_args(i: int) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        args = node.args  # type: ignore[attr-defined]
        args[i], args[i + 1] = args[i + 1], args[i]
        return node

    return make


def _swap_operands(node: ast.AST) -> ast.AST:
    node.left, node.right = node.right, node.left  # type: ignore[attr-defined]
    return node


def _named(node: ast.AST, operator: str, table: Mapping[str, Sequence[str]]) -> Iterator[Proposal]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        for other in table.get(node.id, ()):
            yield operator, lambda n, other=other: ast.Name(id=other, ctx=ast.Load())


def _constant(node: ast.AST) -> Iterator[Proposal]:
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return
    value = node.value
    if isinstance(value, int):
        for new in (value + 1, value - 1):
            yield "constant", lambda n, new=new: ast.Constant(new)
    elif isinstance(value, float):
        for new in ({0.0, 2.0 * value} if value else {1.0}):
            yield "constant", lambda n, new=new: ast.Constant(new)


def _compare(node: ast.AST) -> Iterator[Proposal]:
    swaps: dict[type, type] = {ast.Gt: ast.GtE, ast.Lt: ast.LtE, ast.In: ast.NotIn}
    swaps[ast.Eq] = ast.NotEq
    swaps.update({new: old for old, new in swaps.items()})
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in swaps:
                yield "compare", _swap_comparison(i, swaps[type(op)]())


def _swap_comparison(i: int, op: ast.cmpop) -> Callable[[ast.AST], ast.AST]:
    def make(node: ast.AST) -> ast.AST:
        node.ops[i] = op  # type: ignore[attr-defined]
        return node

    return make


def _statement(node: ast.AST) -> Iterator[Proposal]:
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr)) and not (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    ):
        yield "statement", lambda n: ast.Pass()
