"""What a SQL metric's `value` expression may contain: aggregates and arithmetic over the table's columns.

The expression is parsed with sqlglot (PostgreSQL dialect; the same spelling serves SQLite) and every
node of its tree must be on an allow-list: column references (unqualified: the query reads one table),
numeric and string literals, ``+ - * /``, comparisons and boolean logic inside ``CASE WHEN``, casts to
numeric types, and the functions of `ALLOWED_FUNCTIONS`. Anything else is refused with a message
naming it: another function (``set_config``, ``pg_sleep``, ``current_setting``, ``dblink``,
``pg_read_file``…), a subquery, a second statement. The catalog model checks it (so `catalog validate`
reports ``file:line``) and the SQL source checks it again before each query, since a catalog may also
come from the HTTP provider or the database.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

#: the functions a value expression may call, as written in SQL
ALLOWED_FUNCTIONS = frozenset({
    "sum", "count", "avg", "min", "max", "coalesce", "nullif", "abs", "round", "greatest", "least",
})
_FUNCTION_NODES: tuple[type[exp.Expression], ...] = (
    exp.Sum, exp.Count, exp.Avg, exp.Min, exp.Max, exp.Coalesce, exp.Nullif, exp.Abs, exp.Round,
    exp.Greatest, exp.Least,
)
#: nodes that are not function calls: references, literals, arithmetic, CASE and its conditions, casts
_PLAIN_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Star, exp.Null, exp.Boolean, exp.Paren, exp.Neg,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Distinct, exp.Case, exp.If,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Is,
    exp.Cast, exp.DataType, exp.DataTypeParam,
)
_NUMERIC_TYPES = exp.DataType.NUMERIC_TYPES


def expression_problem(expression: str) -> str | None:
    """Why `expression` may not be a SQL metric's value, or None when it may."""
    try:
        tokens = sqlglot.tokenize(expression, read="postgres")
    except SqlglotError as exc:
        return f"value {expression!r} is not a SQL expression: {exc}"
    if any(token.token_type is TokenType.SEMICOLON for token in tokens):
        return f"value {expression!r} holds a ';': one expression, not statements"
    try:
        tree = sqlglot.parse_one(expression, read="postgres")
    except SqlglotError as exc:
        return f"value {expression!r} is not a SQL expression: {exc}"
    refused = [node for node in tree.walk() if isinstance(node, exp.Func) and not isinstance(node, _FUNCTION_NODES)
               and not isinstance(node, _PLAIN_NODES)]
    if refused:
        names = dict.fromkeys(f"{_function_name(node)}()" for node in refused)
        return (f"value {expression!r} calls {', '.join(names)}: not allowed "
                f"(allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))}, CASE WHEN, CAST to a numeric type)")
    for node in tree.walk():
        problem = _node_problem(node)
        if problem:
            return f"value {expression!r}: {problem}"
    return None


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _node_problem(node: exp.Expression) -> str | None:
    if isinstance(node, _FUNCTION_NODES):
        return None
    if isinstance(node, exp.Column) and node.table:
        return f"column {node.sql(dialect='postgres')} is qualified: name a column of the metric's table alone"
    if isinstance(node, exp.Cast) and not node.to.is_type(*_NUMERIC_TYPES):
        return f"a cast to {node.to.sql(dialect='postgres')} (casts are to numeric types only)"
    if isinstance(node, _PLAIN_NODES):
        return None
    if isinstance(node, (exp.Select, exp.Subquery, exp.Query)):
        return "a subquery is not allowed"
    return f"{node.key} ({node.sql(dialect='postgres')!r}) is not allowed in a value expression"
