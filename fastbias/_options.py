"""Options declared once: a dataclass field carries its default, allowed values and help.

Optimizers, losses and models are frozen dataclasses whose fields are their options. A field
made with :func:`option` carries an :class:`OptionSpec` in its metadata: what values are
allowed (an interval, an integer range, a flag, a set of choices, and whether None is
allowed and what it means) and one line of help. Everything that needs to know about an
option reads that one declaration: the check when the object is made
(:func:`check_options`), the error message, the command-line flag and its help, and the
Parameters section of the class docstring (:func:`parameters_section`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import textwrap
from dataclasses import dataclass

from ._validation import check_int, check_interval, check_option, shown

__all__ = [
    "OptionSpec",
    "option",
    "spec_of",
    "check_options",
    "parameters_section",
    "document_options",
    "shown_default",
]

_KINDS = ("real", "int", "flag", "choice", "custom")
_KEY = "fastbias"


@dataclass(frozen=True)
class OptionSpec:
    """What an option may be, and what it means.

    Attributes
    ----------
    help : str
        One line, without the allowed values (they are added from the fields below).
    kind : {"real", "int", "flag", "choice", "custom"}
        ``"custom"``: ``checker(name, value)`` checks and normalizes the value (a norm that
        is a number or a name, say), and ``text`` says what is allowed.
    low, high : float or int, optional
        Bounds of a real or integer option (None: unbounded on that side).
    closed : {"both", "left", "right", "neither"}
        Which bounds of a real option belong to the interval.
    choices : tuple of str
        The allowed values of a choice.
    none : str
        What None means for this option (``"n: the full batch"``); empty if None is not
        allowed.
    """

    help: str
    kind: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    choices: tuple = ()
    none: str = ""
    checker: object = None
    text: str = ""
    type_name: str = ""

    def __post_init__(self):
        check_option("kind", self.kind, _KINDS)
        if self.kind == "choice" and not self.choices:
            raise ValueError("an option of kind 'choice' needs choices.")
        if self.kind == "custom" and not (callable(self.checker) and self.text):
            raise ValueError("an option of kind 'custom' needs a checker and a text.")

    def check(self, name: str, value):
        """``value`` checked and normalized (float, int, bool or str); the error names it."""
        if value is None:
            if self.none:
                return None
            if self.kind == "choice":
                return check_option(name, value, self.choices)  # its TypeError
            raise TypeError(f"{name} must be {self.allowed()}; got None.")
        if self.kind == "flag":
            import numpy as np

            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {shown(value)}.")
            return bool(value)
        if self.kind == "choice":
            return check_option(name, value, self.choices)
        if self.kind == "custom":
            return self.checker(name, value)
        if self.kind == "int":
            return check_int(name, value, self.low, self.high)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return check_interval(name, value, low, high, self._closed())

    def _closed(self) -> str:
        """``closed``, with an infinite bound never included."""
        left = self.closed in ("both", "left") and self.low is not None
        right = self.closed in ("both", "right") and self.high is not None
        return {
            (True, True): "both",
            (True, False): "left",
            (False, True): "right",
            (False, False): "neither",
        }[(left, right)]

    def allowed(self) -> str:
        """The allowed values in words: ``"in [0, 1)"``, ``"an integer >= 1"``, ..."""
        if self.kind == "flag":
            text = "True or False"
        elif self.kind == "custom":
            text = self.text
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "int":
            if self.high is None:
                text = "an integer" if self.low is None else f"an integer >= {self.low}"
            else:
                text = f"an integer in [{self.low}, {self.high}]"
        else:
            left, right = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}[
                self._closed()
            ]
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            text = f"in {left}{low}, {high}{right}"
        return f"{text}, or None ({self.none})" if self.none else text

    def type_text(self) -> str:
        """The numpydoc type of the option (``"float"``, ``"int or None"``, ...)."""
        base = self.type_name or {"real": "float", "int": "int", "flag": "bool"}.get(self.kind)
        if base is None:
            base = "{" + ", ".join(repr(c) for c in self.choices) + "}"
        return f"{base} or None" if self.none else base


def option(
    default,
    help: str,
    *,
    kind: str | None = None,
    low=None,
    high=None,
    closed: str = "both",
    choices=(),
    none: str = "",
    checker=None,
    text: str = "",
    type_name: str = "",
    kw_only: bool = False,
):
    """A dataclass field with its allowed values and help declared once.

    Parameters
    ----------
    default
        The default value.
    help : str
        One line saying what the option is (the allowed values are added to it).
    kind : {"real", "int", "flag", "choice"}, optional
        Inferred from the default when omitted: a bool is a flag, an int an integer, a
        float a real number, a string with ``choices`` a choice.
    low, high, closed
        Bounds of a real (``closed`` as in :func:`fastbias.extend.check_interval`) or an
        integer option.
    choices : sequence of str
        The allowed values of a choice.
    none : str
        If given, None is allowed, and this says what it means.
    checker, text, type_name
        A custom option: ``checker(name, value)`` returns the normalized value or raises,
        ``text`` says what is allowed, ``type_name`` is its numpydoc type.
    kw_only : bool, default False
        Keyword-only in the constructor (shared options of a base class).

    Returns
    -------
    dataclasses.Field

    Examples
    --------
    >>> from dataclasses import dataclass, fields
    >>> @dataclass(frozen=True)
    ... class Example:
    ...     beta: float = option(0.9, "momentum", low=0.0, high=1.0, closed="left")
    >>> spec_of(fields(Example)[0]).allowed()
    'in [0, 1)'
    """
    if kind is None and checker is not None:
        kind = "custom"
    if kind is None:
        if isinstance(default, bool):
            kind = "flag"
        elif choices:
            kind = "choice"
        elif isinstance(default, int):
            kind = "int"
        elif isinstance(default, float):
            kind = "real"
        else:
            raise TypeError(f"give the kind of an option whose default is {default!r}.")
    spec = OptionSpec(help, kind, low, high, closed, tuple(choices), none, checker, text, type_name)
    return dataclasses.field(default=default, metadata={_KEY: spec}, kw_only=kw_only)


def spec_of(field: dataclasses.Field) -> OptionSpec | None:
    """The :class:`OptionSpec` of a dataclass field (None if not made by :func:`option`)."""
    return field.metadata.get(_KEY)


def check_options(obj) -> None:
    """Check and normalize every declared option of a frozen dataclass instance, in place."""
    for field in dataclasses.fields(obj):
        spec = spec_of(field)
        if spec is not None:
            object.__setattr__(obj, field.name, spec.check(field.name, getattr(obj, field.name)))


def shown_default(value) -> str:
    """A default as the documentation and the command line show it."""
    return repr(value) if isinstance(value, str) else str(value)


def parameters_section(cls) -> str:
    """A numpydoc ``Parameters`` section built from the declared options of ``cls``.

    Options without a declaration (plain dataclass fields) are listed with their default.
    """
    lines = ["Parameters", "----------"]
    fields = [f for f in dataclasses.fields(cls) if f.init]
    ordered = [f for f in fields if not f.kw_only] + [f for f in fields if f.kw_only]
    for field in ordered:
        spec = spec_of(field)
        default = shown_default(field.default)
        if spec is None:
            lines.append(f"{field.name} : default {default}")
            continue
        lines.append(f"{field.name} : {spec.type_text()}, default {default}")
        text = spec.help[0].upper() + spec.help[1:]
        if spec.kind != "choice":
            text += f"; {spec.allowed()}"
        lines += textwrap.wrap(text + ".", 88, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


def document_options(cls) -> None:
    """Give ``cls`` a Parameters section written from its options, if its docstring has none.

    The section goes before the first other numpydoc section (Notes, Examples, ...), so that
    the defaults and allowed values are stated once, on the fields.
    """
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines = doc.splitlines()
    headers = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and set(lines[i + 1].strip()) == {"-"}
        and len(lines[i + 1].strip()) == len(lines[i].strip())
    ]
    if any(lines[i].strip() == "Parameters" for i in headers):
        return
    if not [f for f in dataclasses.fields(cls) if f.init]:
        return
    section = parameters_section(cls).splitlines()
    at = headers[0] if headers else len(lines)
    new = lines[:at] + ([""] if at and lines[at - 1].strip() else []) + section + [""]
    cls.__doc__ = "\n".join(new + lines[at:]).rstrip() + "\n"
