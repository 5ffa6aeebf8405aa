"""The ``extern`` of a JSON query request: option statements as Flux's JSON AST.

Clients (and Grafana's older Flux mode) send ``v.timeRangeStart`` and friends this way:
``{"type": "File", "body": [{"type": "OptionStatement", "assignment": {...}}]}``. The
statement kinds and literals options use are read into this package's AST; anything
else is a 400 naming the node type.
"""

from __future__ import annotations

from flight_iox.errors import BadRequestError
from flight_iox.flux import ast
from flight_iox.flux.lexer import duration_parts

_POS = ast.Pos(0, 0)


def extern_statements(extern: object) -> list[ast.Statement]:
    """The option and variable assignments of an ``extern`` JSON value."""
    if extern is None:
        return []
    if not isinstance(extern, dict):
        raise BadRequestError("'extern' must be a Flux AST object (type File or Package)")
    if extern.get("type") == "Package":
        files = extern.get("files") or []
        return [s for f in files for s in extern_statements(f)]
    body = extern.get("body") or []
    if not isinstance(body, list):
        raise BadRequestError("'extern' body must be a list of statements")
    return [_statement(s) for s in body]


def _statement(node: object) -> ast.Statement:
    node = _object(node)
    kind = node.get("type")
    if kind == "OptionStatement":
        assignment = _object(node.get("assignment"))
        if assignment.get("type") == "MemberAssignment":
            member = _object(assignment.get("member"))
            obj = _name(member.get("object"))
            prop = _name(member.get("property"))
            return ast.Assign(_POS, obj, _expr(assignment.get("init")), True, prop)
        return ast.Assign(_POS, _name(assignment.get("id")), _expr(assignment.get("init")), True)
    if kind == "VariableAssignment":
        return ast.Assign(_POS, _name(node.get("id")), _expr(node.get("init")))
    raise BadRequestError(f"extern: statement type {kind!r} is not supported")


def _object(node: object) -> dict:
    if not isinstance(node, dict):
        raise BadRequestError("extern: expected an AST node object")
    return node


def _name(node: object) -> str:
    node = _object(node)
    name = node.get("name", node.get("value"))
    if not isinstance(name, str):
        raise BadRequestError("extern: expected an identifier")
    return name


def _expr(node: object) -> ast.Expr:
    node = _object(node)
    kind = node.get("type")
    value = node.get("value")
    if kind == "ObjectExpression":
        props = tuple(
            (_name(p.get("key")), _expr(p.get("value")))
            for p in map(_object, node.get("properties") or [])
        )
        return ast.RecordExpr(_POS, props)
    if kind == "DateTimeLiteral" and isinstance(value, str):
        return ast.TimeLit(_POS, value)
    if kind == "DurationLiteral":
        parts = tuple(
            (int(d.get("magnitude", 0)), str(d.get("unit")))
            for d in map(_object, node.get("values") or [])
        )
        return ast.DurationLit(_POS, parts)
    if kind == "StringLiteral" and isinstance(value, str):
        return ast.Literal(_POS, "string", value)
    if kind == "IntegerLiteral":
        return ast.Literal(_POS, "int", int(str(value)))
    if kind == "FloatLiteral":
        return ast.Literal(_POS, "float", float(str(value)))
    if kind == "BooleanLiteral":
        return ast.Ident(_POS, "true" if value else "false")
    if kind == "Identifier":
        return ast.Ident(_POS, _name(node))
    if kind == "UnaryExpression":
        return ast.Unary(_POS, str(node.get("operator")), _expr(node.get("argument")))
    if kind == "CallExpression":
        callee = _expr(node.get("callee"))
        return ast.Call(_POS, callee, ())
    if kind == "StringExpression" and isinstance(value, str):
        return ast.Literal(_POS, "string", value)
    if kind == "DurationLiteral" and isinstance(value, str):
        return ast.DurationLit(_POS, tuple(duration_parts(value)))
    raise BadRequestError(f"extern: expression type {kind!r} is not supported")
