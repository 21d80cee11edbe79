"""The mutants of one Python module: small AST edits, each named by a stable id.

Operators: comparison flips, arithmetic/bitwise swaps, int +1/-1, bytes first byte +1, True/False,
and/or swap, `not` / unary minus removal, a simple statement replaced by `pass`, a return value
replaced by None, a non-constant slice bound +1. Strings, docstrings and annotations are never
mutated (messages and, under `from __future__ import annotations`, types are not behaviour), nor a
line carrying `# pragma: no mutate`.

Each mutant's source is the original text with only the mutated node's span rewritten, so line
numbers and the rest of the file stay as they were; if re-parsing that text does not give exactly
the mutated tree (odd spans, f-strings) the whole module is unparsed from the tree instead.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

Path_ = tuple[tuple[str, int | None], ...]  # how to reach a node from the module: (field, index in list)

CMP_FLIPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.GtE],
    ast.LtE: [ast.Lt, ast.Gt],
    ast.Gt: [ast.GtE, ast.LtE],
    ast.GtE: [ast.Gt, ast.Lt],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
    ast.Is: [ast.IsNot],
    ast.IsNot: [ast.Is],
    ast.In: [ast.NotIn],
    ast.NotIn: [ast.In],
}
BIN_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.BitXor: ast.BitOr,
    ast.MatMult: ast.Mult,
}
SYMBOLS: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Div: "/",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.MatMult: "@",
    ast.And: "and",
    ast.Or: "or",
}
DELETABLE = (
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Expr,
    ast.Raise,
    ast.Assert,
    ast.Continue,
    ast.Break,
    ast.Delete,
)
ANNOTATION_FIELDS = {"annotation", "returns"}
NO_MUTATE = "pragma: no mutate"


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository root
    line: int  # 1-based, of the mutated node
    col: int  # 0-based byte offset, as the ast reports it
    operator: str
    description: str
    function: str  # the enclosing function's qualified name, or "<module>"
    original_line: str
    mutated_line: str
    source: str  # the whole mutated module

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}:{self.col}:{self.operator}:{self.description}"


def _replace(tree: ast.Module, path: Path_, new: ast.AST) -> ast.Module:
    """A copy of `tree` with the node at `path` replaced by `new`."""
    out = copy.deepcopy(tree)
    parent: ast.AST = out
    for field, index in path[:-1]:
        value = getattr(parent, field)
        parent = value[index] if index is not None else value
    field, index = path[-1]
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new
    return out


def _edits(node: ast.AST, parent_body: bool) -> Iterator[tuple[str, str, ast.AST]]:
    """(operator, description, replacement node) for every mutation of `node` itself."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for flip in CMP_FLIPS[type(op)]:
                new = copy.deepcopy(node)
                new.ops[i] = flip()
                yield "cmp", f"{SYMBOLS[type(op)]} -> {SYMBOLS[flip]}", new
    elif isinstance(node, ast.BinOp) and type(node.op) in BIN_SWAPS:
        swap = BIN_SWAPS[type(node.op)]
        yield "binop", f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[swap]}", ast.BinOp(node.left, swap(), node.right)
    elif isinstance(node, ast.AugAssign) and type(node.op) in BIN_SWAPS:
        swap = BIN_SWAPS[type(node.op)]
        yield (
            "augassign",
            f"{SYMBOLS[type(node.op)]}= -> {SYMBOLS[swap]}=",
            ast.AugAssign(node.target, swap(), node.value),
        )
    elif isinstance(node, ast.BoolOp):
        swap = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield "boolop", f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[swap]}", ast.BoolOp(swap(), node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", "not x -> x", node.operand
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "neg", "-x -> x", node.operand
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            yield "const", f"{v} -> {not v}", ast.Constant(not v)
        elif isinstance(v, int):
            for new_v in (v + 1, v - 1):  # a negative literal parses as unary minus: build it that way
                new_node = ast.Constant(new_v) if new_v >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-new_v))
                yield "const", f"{v} -> {new_v}", new_node
        elif isinstance(v, bytes):
            new_bytes = bytes([(v[0] + 1) % 256]) + v[1:] if v else b"\0"
            yield "const", "bytes first byte +1", ast.Constant(new_bytes)
    if (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return", "return -> return None", ast.Return(ast.Constant(None))
    elif parent_body and isinstance(node, DELETABLE):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a docstring or `...`
        if isinstance(node, ast.AnnAssign) and node.value is None:
            return
        yield "delete", f"{type(node).__name__} -> pass", ast.Pass()


def _candidates(tree: ast.Module) -> Iterator[tuple[ast.AST, Path_, str, bool]]:
    """(node, path, enclosing function, whether it sits in a function's statement list)."""

    def walk(
        node: ast.AST, path: Path_, function: str, in_function: bool, in_body: bool
    ) -> Iterator[tuple[ast.AST, Path_, str, bool]]:
        yield node, path, function, in_function and in_body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        inner_fn, inner_in = function, in_function
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            inner_fn = node.name if function == "<module>" else f"{function}.{node.name}"
            inner_in = not isinstance(node, ast.ClassDef)
        for field, value in ast.iter_fields(node):
            if field in ANNOTATION_FIELDS:
                continue
            if isinstance(value, list):
                body = field in ("body", "orelse", "finalbody")
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        yield from walk(child, (*path, (field, i)), inner_fn, inner_in, body)
            elif isinstance(value, ast.AST):
                if isinstance(node, ast.Slice) and field in ("lower", "upper") and not isinstance(value, ast.Constant):
                    yield from _slice_edit(node, path, field, inner_fn)
                yield from walk(value, (*path, (field, None)), inner_fn, inner_in, False)

    yield from walk(tree, (), "<module>", False, False)


_SLICE_MARK = "slice"


def _slice_edit(node: ast.Slice, path: Path_, field: str, function: str) -> Iterator[tuple[ast.AST, Path_, str, bool]]:
    """A pseudo-candidate: the slice bound `field` + 1 (handled in `mutants`)."""
    bound = getattr(node, field)
    marker = ast.BinOp(bound, ast.Add(), ast.Constant(1))
    ast.copy_location(marker, bound)
    marker.end_lineno, marker.end_col_offset = bound.end_lineno, bound.end_col_offset
    marker._mutation_slice = field  # type: ignore[attr-defined]
    yield marker, (*path, (field, None)), function, False


def mutants(path: str, source: str) -> list[Mutant]:
    """Every mutant of the module `path` whose text is `source`."""
    tree = ast.parse(source)
    raw = source.encode()
    lines = source.splitlines()
    starts = [0]
    for line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out: list[Mutant] = []
    seen: dict[str, int] = {}
    for node, node_path, function, in_body in _candidates(tree):
        if not hasattr(node, "lineno") or node.end_lineno is None or node.end_col_offset is None:
            continue
        if NO_MUTATE in lines[node.lineno - 1]:
            continue
        if hasattr(node, "_mutation_slice"):
            field = node._mutation_slice
            edits: list[tuple[str, str, ast.AST]] = [("slice", f"{field} bound +1", node)]
        else:
            edits = list(_edits(node, in_body))
        for operator, description, new in edits:
            mutated_tree = _replace(tree, node_path, new)
            expected = ast.dump(mutated_tree)
            if isinstance(new, ast.stmt):
                text = ast.unparse(new)
            else:
                text = "(" + ast.unparse(new) + ")"
            a = starts[node.lineno - 1] + node.col_offset
            b = starts[node.end_lineno - 1] + node.end_col_offset
            candidate = (raw[:a] + text.encode() + raw[b:]).decode()
            try:
                spliced_ok = ast.dump(ast.parse(candidate)) == expected
            except SyntaxError:
                spliced_ok = False
            mutated = candidate if spliced_ok else ast.unparse(mutated_tree)
            if spliced_ok:
                mutated_line = candidate.splitlines()[node.lineno - 1]
            else:
                mutated_line = f"{lines[node.lineno - 1][: node.col_offset]}{text}  (module unparsed)"
            m = Mutant(
                path,
                node.lineno,
                node.col_offset,
                operator,
                description,
                function,
                lines[node.lineno - 1],
                mutated_line,
                mutated,
            )
            n = seen[m.id] = seen.get(m.id, 0) + 1
            if n > 1:  # the same edit twice at one spot (a chained comparison): number the repeats
                m = Mutant(
                    path,
                    m.line,
                    m.col,
                    operator,
                    f"{description} #{n}",
                    function,
                    m.original_line,
                    mutated_line,
                    mutated,
                )
            out.append(m)
    return out


def listed_mutant(path: str, source: str, name: str, old: str, new: str) -> Mutant:
    """A hand-written mutant (one a review or an issue described): `old`, which must occur exactly once
    in `source`, replaced by `new`. Raises ValueError when `old` is not found once (the file changed)."""
    if source.count(old) != 1:
        raise ValueError(
            f"the listed mutant {name!r} of {path} no longer applies: its `old` text occurs "
            f"{source.count(old)} times; update it in tools/mutation.toml"
        )
    at = source.index(old)
    line = source.count("\n", 0, at) + 1
    col = at - (source.rfind("\n", 0, at) + 1)
    mutated = source.replace(old, new)
    lines, mutated_lines = source.splitlines(), mutated.splitlines()
    return Mutant(path, line, col, "listed", name, "<listed>", lines[line - 1], mutated_lines[line - 1], mutated)
