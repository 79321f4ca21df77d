"""Scope filters of the preplan: a tiny, safe comparator language over scope attributes.

A filter is ``<layer>.<attr> <op> <value>`` terms joined by ``and`` / ``or``, negated by ``not``
and grouped with parentheses, e.g. ``village.max_depth_m > 0 and village.population >= 100`` or
``dike_segment.bank == "right"``. Operators: ``== != < <= > >=``; values: numbers, quoted strings,
``true``/``false``. Nothing is ever passed to ``eval``: the text is tokenised and parsed into a
small tree, and evaluating it only compares attribute values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

__all__ = ["FilterSyntaxError", "Compare", "BoolOp", "Not", "Expr", "parse_filter", "references", "evaluate_filter"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>\"[^\"]*\"|'[^']*')"
    r"|(?P<op>==|!=|<=|>=|<|>)|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?))"
)


class FilterSyntaxError(ValueError):
    """The filter text does not follow the grammar; the message says where."""


@dataclass(frozen=True)
class Compare:
    """``layer.attr op value``."""

    layer: str
    attr: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two or more sub-expressions."""

    op: str
    terms: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    """``not`` of a sub-expression."""

    term: "Expr"


Expr = Union[Compare, BoolOp, Not]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterSyntaxError(f"cannot read {text[pos:].strip()[:20]!r} at character {pos + 1}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterSyntaxError("unexpected end of the filter")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.peek() is not None:
            raise FilterSyntaxError(f"unexpected {self.peek()[1]!r}")
        return expr

    def _bool(self, word: str, sub) -> Expr:
        terms = [sub()]
        while self.peek() == ("name", word):
            self.take()
            terms.append(sub())
        return terms[0] if len(terms) == 1 else BoolOp(word, tuple(terms))

    def or_expr(self) -> Expr:
        return self._bool("or", self.and_expr)

    def and_expr(self) -> Expr:
        return self._bool("and", self.not_expr)

    def not_expr(self) -> Expr:
        if self.peek() == ("name", "not"):
            self.take()
            return Not(self.not_expr())
        return self.atom()

    def atom(self) -> Expr:
        kind, text = self.take()
        if kind == "lp":
            expr = self.or_expr()
            if self.take()[0] != "rp":
                raise FilterSyntaxError("missing ')'")
            return expr
        if kind != "name" or "." not in text:
            raise FilterSyntaxError(f"expected <layer>.<attribute>, got {text!r}")
        layer, attr = text.split(".", 1)
        kind, op = self.take()
        if kind != "op":
            raise FilterSyntaxError(f"expected a comparison operator after {layer}.{attr}, got {op!r}")
        return Compare(layer, attr, op, self.value())

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1]
        if kind == "name" and text in ("true", "false"):
            return text == "true"
        raise FilterSyntaxError(f"expected a number, a quoted string or true/false, got {text!r}")


def parse_filter(text: str) -> Expr:
    """Parse a filter; raise FilterSyntaxError with a short reason when it is not valid."""
    if not text or not text.strip():
        raise FilterSyntaxError("empty filter")
    return _Parser(text).parse()


def references(expr: Expr) -> list[tuple[str, str]]:
    """(layer, attribute) pairs the filter reads, in order of appearance."""
    if isinstance(expr, Compare):
        return [(expr.layer, expr.attr)]
    if isinstance(expr, Not):
        return references(expr.term)
    return [ref for term in expr.terms for ref in references(term)]


_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def evaluate_filter(expr: Expr, attrs: dict[str, Any]) -> bool:
    """Evaluate against one scope object's attributes (``attrs[attr]``).

    A missing value (None or NaN) fails every comparison except ``!=``; a number compared with a
    string raises TypeError so that a wrong filter never silently selects nothing.
    """
    if isinstance(expr, Not):
        return not evaluate_filter(expr.term, attrs)
    if isinstance(expr, BoolOp):
        if expr.op == "and":
            return all(evaluate_filter(t, attrs) for t in expr.terms)
        return any(evaluate_filter(t, attrs) for t in expr.terms)
    value = attrs[expr.attr]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return expr.op == "!="
    target = expr.value
    if isinstance(target, float) and not isinstance(value, bool):
        value = float(value)
    elif isinstance(target, bool):
        value = bool(value)
    elif isinstance(target, str):
        value = "" if value is None else str(value)
    return bool(_OPS[expr.op](value, target))
