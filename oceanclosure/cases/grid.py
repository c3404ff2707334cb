"""``[grid]``: the case's grid (named dimensions, domain, cells, precision)."""

from __future__ import annotations

import math
from typing import (
    Annotated,
    Any,
    Literal,
    Optional,
    Union,
)

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
)

from ..grid import ALLOWED_DIMS, default_dims
from .base import PRECISIONS, _is_number, _Model, _Problem, _Problems, _thaw

# --------------------------------------------------------------------------
# [grid]


def _domain(value: Any) -> tuple:
    """[x0, x1] or [[x0, x1], [y0, y1]], each with upper > lower."""
    def pair(v):
        ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(map(_is_number, v))
        return tuple(float(a) for a in v) if ok and all(map(math.isfinite, v)) else None

    shape_error = _Problem((), "expected [x0, x1] (1D) or [[x0, x1], [y0, y1]] (2D) "
                           "with finite numbers", value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _Problems([shape_error])
    if all(map(_is_number, value)):
        bounds, loc = (pair(value),), ()
    else:
        bounds, loc = tuple(pair(v) for v in value), (0, 1)
    if None in bounds:
        raise _Problems([shape_error])
    bad = [_Problem(loc[i:i + 1], "upper bound must be > lower bound", list(b))
           for i, b in enumerate(bounds) if not b[1] > b[0]]
    if bad:
        raise _Problems(bad)
    return bounds[0] if loc == () else bounds


Cells = Annotated[int, Strict(), Field(ge=3)]


class GridConfig(_Model):
    """``[grid]``: a uniform cell-centred grid with named dimensions.

    ``dims`` is ``["x"]`` (the default for ``domain = [x0, x1]``), ``["z"]`` (a
    vertical column in metres, positive up: ``domain = [-100.0, 0.0]``, ``nz``)
    or ``["x", "y"]`` (the default for ``domain = [[x0, x1], [y0, y1]]``, with
    ``nx`` and ``ny``). Each dimension takes its cell count ``n<dim>``.
    """

    dims: Optional[tuple[Literal["x", "y", "z"], ...]] = None
    domain: Annotated[
        Union[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]],
        PlainValidator(_domain),
        PlainSerializer(_thaw),
    ]
    nx: Optional[Cells] = None
    ny: Optional[Cells] = None
    nz: Optional[Cells] = None
    precision: Literal[PRECISIONS] = "float32"

    @property
    def ndim(self) -> int:
        return 1 if _is_number(self.domain[0]) else 2

    @property
    def names(self) -> tuple[str, ...]:
        """The dimension names, in dimension order (``dims`` or its default)."""
        return tuple(self.dims) if self.dims else default_dims(self.ndim)

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        """((x0, x1),) or ((x0, x1), (y0, y1))."""
        return (self.domain,) if self.ndim == 1 else self.domain

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(getattr(self, f"n{name}") for name in self.names)

    def _problems(self, ctx):
        names = self.names
        if names not in ALLOWED_DIMS:
            return [_Problem(("dims",), "expected one of " + ", ".join(str(list(d)) for d in ALLOWED_DIMS),
                             list(names))]
        if len(names) != self.ndim:
            form = "[x0, x1]" if len(names) == 1 else "[[x0, x1], [y0, y1]]"
            return [_Problem(("domain",), f"dims {list(names)} need a domain {form}", _thaw(self.domain))]
        problems = [_Problem((f"n{name}",), f"missing required key for dims {list(names)}")
                    for name in names if getattr(self, f"n{name}") is None]
        problems += [_Problem((f"n{name}",), f"not allowed: the grid's dims are {list(names)}; remove it",
                              getattr(self, f"n{name}"))
                     for name in ("x", "y", "z") if name not in names and getattr(self, f"n{name}") is not None]
        return problems
