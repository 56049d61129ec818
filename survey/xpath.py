"""Our expressions written in XLSForm's XPath syntax, for an XLSForm export.

:func:`xpath_condition` gives a ``relevant`` and :func:`xpath_calculation` a ``calculation``
that pyxform accepts and that :func:`survey.xlsform.import_xlsform` reads back to an
expression giving the same results (not always the same spelling):

==================================  =================================================
ours                                XPath
==================================  =================================================
``x``                               ``${x}``
``answered(x)``                     ``${x} != ''``
``not c``, ``true``                 ``not(c)``, ``true()``
``a div b``, ``a mod b``            the same
``round(x)``                        ``round(x, 0)``
``coalesce(a, b, c)``               ``coalesce(a, coalesce(b, c))`` (XPath's takes two)
``sum(a, b)``                       ``if(a = '' and b = '', '', coalesce(a, 0) + coalesce(b, 0))``
``days_between(a, b)``, ``b - a``   ``decimal-date-time(b) - decimal-date-time(a)``
  (``a``, ``b`` dates)
==================================  =================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey.expressions import (
    ADDITIVE_OPERATORS,
    And,
    Answered,
    Arithmetic,
    BooleanConstant,
    Comparison,
    Function,
    If,
    Literal,
    Negate,
    Not,
    Or,
    Selected,
    Variable,
    parse,
    parse_calculation,
    quoted,
)
from survey.instrument import FieldType

__all__ = ["xpath_calculation", "xpath_condition"]


def xpath_condition(text: str, types: Mapping[str, FieldType] | None = None) -> str:
    """A ``show_if`` as an XLSForm ``relevant``. ``types`` (variable -> type) spots dates."""
    return _XPathWriter(types or {}).condition(parse(text).root)


def xpath_calculation(text: str, types: Mapping[str, FieldType] | None = None) -> str:
    """A ``calculation`` as an XLSForm ``calculation``. ``types`` (variable -> type) spots dates."""
    return _XPathWriter(types or {}).value(parse_calculation(text).root)


class _XPathWriter:
    def __init__(self, types: Mapping[str, FieldType]) -> None:
        self.types = types

    def condition(self, node: Any) -> str:
        if isinstance(node, Comparison):
            return f"{self.value(node.left)} {node.operator} {self.value(node.right)}"
        if isinstance(node, Selected):
            return f"selected(${{{node.variable}}}, {quoted(node.code)})"
        if isinstance(node, Answered):
            return f"${{{node.variable}}} != ''"
        if isinstance(node, BooleanConstant):
            return "true()" if node.value else "false()"
        if isinstance(node, Not):
            return f"not({self.condition(node.operand)})"
        joiner = " and " if isinstance(node, And) else " or "
        return joiner.join(f"({self.condition(operand)})" if isinstance(operand, (And, Or)) else self.condition(operand)
                           for operand in node.operands)

    def value(self, node: Any) -> str:
        if isinstance(node, Variable):
            return f"${{{node.name}}}"
        if isinstance(node, Literal):
            if isinstance(node.value, bool):
                return "true()" if node.value else "false()"
            return quoted(node.value) if isinstance(node.value, str) else node.text
        if isinstance(node, Negate):
            return f"-({self.value(node.operand)})"
        if isinstance(node, Arithmetic):
            return self.arithmetic(node)
        if isinstance(node, If):
            return f"if({self.condition(node.condition)}, {self.value(node.then)}, {self.value(node.otherwise)})"
        return self.function(node)

    def arithmetic(self, node: Arithmetic) -> str:
        additive = node.operators[0] in ADDITIVE_OPERATORS
        parts = []
        for position, operand in enumerate(node.operands):
            text = self.value(operand)
            if self.is_date(operand) and node.operators[max(position - 1, 0)] == "-":
                text = f"decimal-date-time({text})"
            elif isinstance(operand, Arithmetic) and not (additive and operand.operators[0] not in ADDITIVE_OPERATORS):
                text = f"({text})"
            parts.append(text if position == 0 else f"{node.operators[position - 1]} {text}")
        return " ".join(parts)

    def function(self, node: Function) -> str:
        arguments = [self.value(argument) for argument in node.arguments]
        if node.name == "round":
            return f"round({arguments[0]}, {arguments[1] if len(arguments) > 1 else 0})"
        if node.name == "coalesce":
            text = arguments[-1]
            for argument in reversed(arguments[:-1]):
                text = f"coalesce({argument}, {text})"
            return text
        if node.name == "sum":
            empty = " and ".join(f"{argument} = ''" for argument in arguments)
            total = " + ".join(f"coalesce({argument}, 0)" for argument in arguments)
            return f"if({empty}, '', {total})"
        if node.name == "days_between":
            return f"(decimal-date-time({arguments[1]}) - decimal-date-time({arguments[0]}))"
        return f"{node.name}({', '.join(arguments)})"  # int, abs

    def is_date(self, node: Any) -> bool:
        return isinstance(node, Variable) and self.types.get(node.name) is FieldType.DATE
