"""The optimizer, learning-rate and loss options of the command line.

Built from the registries and the declarations of the options, never from docstrings.
"""

from __future__ import annotations

import argparse
import types
import typing

from ._args import any_int, finite_float, flag, positive_float


def _registry_options() -> dict[str, dict]:
    """Every option of every registered optimizer: its spec or type, help and defaults.

    Read from the declarations of the fields (:func:`fastbias.extend.option`); an option of
    a user's class declared as a plain dataclass field gets a parser from its annotation.
    """
    from ..optimizers import get_optimizer, optimizer_names, options_of

    fields: dict[str, dict] = {}
    for name in optimizer_names():
        for option in options_of(get_optimizer(name)):
            entry = fields.setdefault(
                option.name, {"type": option.type, "spec": None, "defaults": {}, "docs": {}}
            )
            entry["defaults"][name] = option.default
            if option.spec is not None:
                entry["spec"] = entry["spec"] or option.spec
                text = f"{option.spec.help}; {option.spec.allowed()}"
                entry["docs"].setdefault(text, []).append(name)
    return fields


def _field_parser(entry: dict):
    """``(is_bool, type function, choices, metavar)`` for an option."""
    spec = entry["spec"]
    if spec is not None:
        if spec.kind == "flag":
            return True, None, None, None
        if spec.kind == "choice":
            return False, str, list(spec.choices), None
        if spec.kind == "custom":
            return False, str, None, "VALUE"
        parse, metavar = (any_int, "INT") if spec.kind == "int" else (finite_float, "X")
        optional = bool(spec.none)
    else:
        tp = entry["type"]
        args = typing.get_args(tp)
        optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args
        rest = [a for a in args if a is not type(None)] if optional else [tp]
        base = rest[0] if len(rest) == 1 else str
        if base is bool:
            return True, None, None, None
        if typing.get_origin(base) is typing.Literal:
            return False, str, [str(a) for a in typing.get_args(base)], None
        parse, metavar = {int: (any_int, "INT"), float: (finite_float, "X")}.get(
            base, (str, "TEXT")
        )
    if optional:
        inner = parse

        def parse(text, inner=inner):
            return None if text.strip().lower() == "none" else inner(text)

        parse.__name__ = getattr(inner, "__name__", "value")
        metavar = f"{metavar}|none"
    return False, parse, None, metavar


def _field_help(entry: dict) -> str:
    """The help of a shared flag: each optimizer's own description, then the defaults."""
    by_default: dict[str, list[str]] = {}
    for name, default in entry["defaults"].items():
        shown = (
            "none"
            if default is None
            else "on"
            if default is True
            else "off"
            if default is False
            else str(default)
        )
        by_default.setdefault(shown, []).append(name)
    defaults = "; ".join(f"{shown} for {', '.join(names)}" for shown, names in by_default.items())
    docs = entry["docs"]
    if len(docs) == 1:
        text = f"{next(iter(docs))}. "
    else:
        text = "".join(f"{', '.join(names)}: {doc}. " for doc, names in docs.items())
    return f"{text}Default: {defaults}.".replace("%", "%%")


def add_optimizer_options(group) -> dict[str, str]:
    """One flag per option of the registered optimizers; returns ``field -> flag shown``."""
    shown = {}
    for field, entry in _registry_options().items():
        is_bool, parse, choices, metavar = _field_parser(entry)
        help_text = _field_help(entry)
        for name in (flag(field), flag(f"optimizer_{field}")):  # the second if taken
            try:
                if is_bool:
                    group.add_argument(
                        name,
                        dest=f"opt_{field}",
                        default=argparse.SUPPRESS,
                        action=argparse.BooleanOptionalAction,
                        help=help_text,
                    )
                    shown[field] = f"--[no-]{name[2:]}"
                else:
                    group.add_argument(
                        name,
                        dest=f"opt_{field}",
                        default=argparse.SUPPRESS,
                        type=parse,
                        choices=choices,
                        metavar=metavar,
                        help=help_text,
                    )
                    shown[field] = name
                break
            except argparse.ArgumentError:
                continue
    return shown


def _name_of(names):
    """An argparse type: the name if it is one of ``names``, else an error with close matches."""

    def check(value: str) -> str:
        if value in names:
            return value
        import difflib

        close = [name for name in names if value in name]
        close += [m for m in difflib.get_close_matches(value, names, n=3) if m not in close]
        hint = f"; did you mean {' or '.join(repr(m) for m in close)}?" if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown optimizer {value!r}{hint} (choose from {', '.join(names)})"
        )

    return check


def add_optimizer_arguments(parser: argparse.ArgumentParser, group=None) -> None:
    from ..optimizers import optimizer_names

    group = group or parser.add_argument_group("optimizer and learning rate")
    names = optimizer_names()
    group.add_argument(
        "--optimizer",
        type=_name_of(names),
        choices=names,
        default="inc-adam",
        help="default: inc-adam (mini-batch Adam, batch size 1, cyclic)",
    )
    group.add_argument(
        "--eta0",
        type=positive_float,
        default=None,
        help="eta_t = eta0 (t + 2)^-power, or the constant rate (default: the "
        f"optimizer's: {_default_rates()})",
    )
    group.add_argument(
        "--power",
        type=finite_float,
        default=None,
        help="decay power in (0, 1] (default: 0.5, ours)",
    )
    group.add_argument(
        "--constant-lr",
        action="store_true",
        help=f"constant rate eta0 (the default for {', '.join(_constant_by_default()) or 'none'})",
    )
    return group


def _default_rates() -> str:
    """The default learning rates of the registered optimizers, grouped."""
    from ..optimizers import OPTIMIZERS

    groups: dict[str, list[str]] = {}
    for name, cls in OPTIMIZERS.items():
        groups.setdefault(repr(cls.default_lr), []).append(name)
    return "; ".join(
        f"{rate} for {', '.join(names) if len(groups) > 1 else 'all'}"
        for rate, names in sorted(groups.items(), key=lambda g: -len(g[1]))
    )


def _constant_by_default() -> list[str]:
    from ..optimizers import OPTIMIZERS
    from ..schedules import Constant

    return [name for name, cls in OPTIMIZERS.items() if isinstance(cls.default_lr, Constant)]


def optimizer_of(args):
    """The optimizer of ``--optimizer`` with the option flags given."""
    from ..optimizers import get_optimizer, options_of

    name = args.optimizer
    cls = get_optimizer(name)
    shown = args.optimizer_flags
    given = {
        field: getattr(args, f"opt_{field}") for field in shown if hasattr(args, f"opt_{field}")
    }
    takes = [option.name for option in options_of(cls)]
    refused = [field for field in given if field not in takes]
    if refused:
        allowed = ", ".join(shown[field] for field in takes) or "no optimizer options"
        verb = "does" if len(refused) == 1 else "do"
        raise ValueError(
            f"{', '.join(shown[field] for field in refused)} {verb} not apply to "
            f"--optimizer {name} (it takes {allowed})."
        )
    return cls(**given)


def schedule_of(args, optimizer):
    """The learning rate: the optimizer's default schedule, changed by the flags given."""
    from ..schedules import Constant, PolynomialDecay

    default = type(optimizer).default_lr
    constant = isinstance(default, Constant) or args.constant_lr
    if args.power is not None and constant:
        why = "--constant-lr asks for" if args.constant_lr else f"--optimizer {args.optimizer} runs"
        raise ValueError(f"--power does not apply: {why} a constant rate eta0.")
    if args.eta0 is None and args.power is None and not args.constant_lr:
        return default
    if not isinstance(default, (Constant, PolynomialDecay)):
        raise ValueError(
            f"--eta0, --power and --constant-lr change a Constant or "
            f"PolynomialDecay rate; --optimizer {args.optimizer} runs {default!r}."
        )
    stored = default.to_dict()
    eta0 = args.eta0 if args.eta0 is not None else stored.get("eta0", stored.get("eta"))
    if constant:
        return Constant(eta0)
    power = args.power if args.power is not None else stored.get("power", 0.5)
    return PolynomialDecay(eta0, power)


def loss_of(args, data):
    """``--loss`` as a loss object, or the default for the kind of data."""
    from ..losses import get_loss, loss_names

    if args.loss is None:
        return get_loss("ce" if data.multiclass else "exp", data.multiclass)
    if args.loss not in loss_names(data.multiclass):
        kind = "multiclass" if data.multiclass else "binary"
        raise ValueError(
            f"--loss {args.loss} does not apply to {kind} data (it takes "
            f"{', '.join(loss_names(data.multiclass))})."
        )
    return get_loss(args.loss, data.multiclass)


def all_losses() -> list[str]:
    """Names of every registered loss (binary and multiclass)."""
    from ..losses import loss_names

    return loss_names()


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model`` and one flag per option of the registered models (``--depth``, ...)."""
    import dataclasses

    from .._options import spec_of
    from ..models import MODELS

    group = parser.add_argument_group("model (default: the linear one, w itself)")
    group.add_argument(
        "--model",
        choices=["linear", *MODELS],
        default="linear",
        help="train the parameter of a model whose effective weights score the samples: "
        "diagonal is the diagonal network w = u^D - v^D (default: linear)",
    )
    for name, cls in MODELS.items():
        for field in dataclasses.fields(cls):
            spec = spec_of(field)
            if spec is None:
                continue
            _, parse, choices, metavar = _field_parser({"spec": spec, "type": field.type})
            group.add_argument(
                flag(field.name),
                dest=f"model_{field.name}",
                default=argparse.SUPPRESS,
                type=parse,
                choices=choices,
                metavar=metavar,
                help=f"--model {name}: {spec.help}; {spec.allowed()} (default: "
                f"{field.default})".replace("%", "%%"),
            )


def model_of(args):
    """The model of ``--model`` with its option flags (None: the linear model)."""
    import dataclasses

    from ..models import MODELS, get_model

    given = {key[6:]: value for key, value in vars(args).items() if key.startswith("model_")}
    if args.model == "linear":
        if given:
            flags = ", ".join(flag(field) for field in given)
            raise ValueError(f"{flags} apply to a model; add --model (one of {', '.join(MODELS)}).")
        return None
    cls = get_model(args.model)
    takes = [field.name for field in dataclasses.fields(cls)]
    refused = [field for field in given if field not in takes]
    if refused:
        raise ValueError(
            f"{', '.join(flag(field) for field in refused)} do not apply to --model "
            f"{args.model} (it takes {', '.join(flag(field) for field in takes)})."
        )
    return cls(**given)
