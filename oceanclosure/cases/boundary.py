"""``[boundary]``: per-side conditions, for every variable or per variable.

    [boundary]                                  # every variable
    left = { kind = "dirichlet", value = 0.0 }
    right = { kind = "dirichlet", value = "1/(1+t)" }   # an expression in t and physics parameters
    [boundary.B]                                # overrides it for the variable B
    top = { kind = "flux", flux = -0.1 }
    bottom = { kind = "flux" }                  # no flux

Side names are those of the grid's dimensions: left/right (x), bottom/top (y,
or z in a column). A per-variable table gives every side, or ``kind =
"periodic"``; a side it leaves out keeps the shared table's condition. Values,
gradients and fluxes are numbers or safe expressions in t, the physics
parameters and, in 2D, the coordinate along the side; the names are checked
against the physics section once it is known (`check_boundary`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import Field, model_validator

from ..errors import InputError
from ..grid import SIDES as GRID_SIDES
from .base import Number, Text, _Context, _expression_problem, _Model, _Problem

ALL_SIDES = ("left", "right", "bottom", "top")
BoundaryNumber = Union[Number, Text]


class PeriodicSide(_Model):
    """Periodic side; must be paired with the opposite side."""

    kind: Literal["periodic"] = "periodic"


class DirichletSide(_Model):
    """Fixed value u = value on the side (a number or an expression in t)."""

    kind: Literal["dirichlet"] = "dirichlet"
    value: BoundaryNumber = 0.0


class NeumannSide(_Model):
    """Fixed gradient ∂u/∂x (∂u/∂y, ∂u/∂z) = gradient on the side, along the positive axis."""

    kind: Literal["neumann"] = "neumann"
    gradient: BoundaryNumber = 0.0


class FluxSide(_Model):
    """Prescribed total flux through the side along the positive axis (default 0: no flux)."""

    kind: Literal["flux"] = "flux"
    flux: BoundaryNumber = 0.0


SideSpec = Annotated[Union[PeriodicSide, DirichletSide, NeumannSide, FluxSide], Field(discriminator="kind")]


class _Sides(_Model):
    kind: Optional[Literal["periodic"]] = None
    left: Optional[SideSpec] = None
    right: Optional[SideSpec] = None
    bottom: Optional[SideSpec] = None
    top: Optional[SideSpec] = None

    def given(self) -> list[str]:
        return [s for s in ALL_SIDES if getattr(self, s) is not None]

    def _side_problems(self, ctx: _Context, complete: bool) -> list[_Problem]:
        given = self.given()
        if self.kind is not None and given:
            return [_Problem(("kind",), "cannot be combined with per-side tables "
                             f"({', '.join(given)}); use one or the other", self.kind)]
        if self.kind is not None:
            return []
        expected = ctx.sides() if ctx.dims else ()
        problems = []
        if ctx.dims:
            problems += [_Problem((s,), f"not a side of a grid with dims {list(ctx.dims)} (sides: "
                                  f"{', '.join(expected)})") for s in given if s not in expected]
        if complete:
            problems += [_Problem((s,), "missing: give every side a table, or "
                                  "kind = \"periodic\"") for s in expected if s not in given]
        for lo, hi in (("left", "right"), ("bottom", "top")):
            problems += self._pairing(lo, hi)
        return problems

    def _pairing(self, lo: str, hi: str) -> list[_Problem]:
        a, b = getattr(self, lo), getattr(self, hi)
        if a is None or b is None or (a.kind == "periodic") == (b.kind == "periodic"):
            return []
        side, other = (lo, hi) if a.kind == "periodic" else (hi, lo)
        return [_Problem((side,), f"periodic must be paired: {other} must be periodic too",
                         f"{other} kind {getattr(self, other).kind!r}")]

    def side_table(self, dims: tuple[str, ...], fallback: "_Sides | None" = None) -> dict[str, Any]:
        """The condition on every side of a grid with ``dims`` (missing ones from ``fallback``)."""
        names = [s for d in dims for s in GRID_SIDES[d]]
        if self.kind == "periodic":
            return {side: PeriodicSide() for side in names}
        table = fallback.side_table(dims) if fallback is not None else {}
        table.update({side: getattr(self, side) for side in names if getattr(self, side) is not None})
        missing = [side for side in names if side not in table]
        if missing:
            raise InputError(f"boundary: no condition for side(s) {', '.join(missing)}")
        return table


class VariableBoundaryConfig(_Sides):
    """``[boundary.<name>]``: the conditions of one variable (sides it omits are shared)."""

    def _problems(self, ctx):
        return self._side_problems(ctx, complete=False)


class BoundaryConfig(_Sides):
    """``[boundary]``: ``kind = "periodic"`` everywhere, or one table per side; ``[boundary.<name>]`` per variable."""

    variables: dict[Text, VariableBoundaryConfig] = Field(default_factory=dict)
    #: Keys that the case file does not write (the tables sit directly under [boundary]).
    flattened_keys: ClassVar[tuple[str, ...]] = ("variables",)

    @model_validator(mode="before")
    @classmethod
    def _per_variable(cls, data: Any) -> Any:
        """Sub-tables whose key is not a side or ``kind`` are per-variable tables."""
        if isinstance(data, dict) and "variables" not in data:
            named = {k: v for k, v in data.items() if k not in ALL_SIDES and k != "kind"}
            if named:
                data = {**{k: v for k, v in data.items() if k not in named}, "variables": named}
        return data

    def sides(self, dims, variable: str | None = None) -> dict[str, Any]:
        """The condition on every side for ``variable`` (the shared one when None).

        ``dims`` is the grid's dimension names, or for old callers its ndim.
        """
        dims = _as_dims(dims)
        if variable is not None and variable in self.variables:
            own = self.variables[variable]
            return own.side_table(dims, None if own.kind == "periodic" else self)
        return self.side_table(dims)

    def _problems(self, ctx):
        problems = self._side_problems(ctx, complete=not self.variables or self.kind is not None
                                       or bool(self.given()))
        if self.variables and self.kind is None and not self.given():
            problems += self._complete_per_variable(ctx)
        return problems

    def _complete_per_variable(self, ctx) -> list[_Problem]:
        """Without a shared table, every variable's table must give every side."""
        out = []
        for name, own in self.variables.items():
            if own.kind is None:
                out += [_Problem((name, s), "missing: give every side (there is no shared [boundary] table)")
                        for s in ctx.sides() if getattr(own, s) is None]
        return out


def _as_dims(dims) -> tuple[str, ...]:
    if isinstance(dims, int):
        return ("x",) if dims == 1 else ("x", "y")
    return tuple(dims)


def check_boundary(boundary: BoundaryConfig, variables: tuple[str, ...], parameters: tuple[str, ...],
                   ctx: _Context) -> list[_Problem]:
    """Cross-section checks: per-variable tables name variables; expressions use known names."""
    problems = [_Problem(("boundary", name), "not a variable of the model and not a side "
                         f"(variables: {', '.join(variables)}; sides: {', '.join(ctx.sides())})")
                for name in boundary.variables if name not in variables]
    if boundary.variables and boundary.kind is None and not boundary.given():
        problems += [_Problem(("boundary", name), "missing: without a shared [boundary] table every variable "
                              "needs its own [boundary.<name>]") for name in variables if name not in boundary.variables]
    tables = [((), boundary)] + [((name,), own) for name, own in boundary.variables.items()]
    for loc, table in tables:
        for side in ALL_SIDES:
            spec = getattr(table, side)
            problems += _side_expression_problems(spec, loc + (side,), side, parameters, ctx)
    return problems


def _side_expression_problems(spec, loc, side: str, parameters, ctx: _Context) -> list[_Problem]:
    if spec is None or spec.kind == "periodic":
        return []
    field = {"dirichlet": "value", "neumann": "gradient", "flux": "flux"}[spec.kind]
    value = getattr(spec, field)
    if not isinstance(value, str):
        return []
    names = ("t",) + tuple(parameters) + _along(side, ctx)
    what = f"boundary.{'.'.join(map(str, loc))}.{field}"
    return [p._replace(loc=("boundary",) + loc + (field,)) for p in
            _expression_problem(value, names, what, ctx)]


def _along(side: str, ctx: _Context) -> tuple[str, ...]:
    """The coordinate along ``side`` in 2D (y on left/right, x on bottom/top)."""
    if not ctx.dims or len(ctx.dims) < 2:
        return ()
    return ("y",) if side in ("left", "right") else ("x",)
