"""``initial_condition.family``: a random initial-condition family, one config per kind.

``family = { kind = "random_fourier", modes = 4, amplitude = 1.0, seed = 0 }`` draws the
field of `oceanclosure.families.random_fourier` (the law is stated there). To add a kind,
write a config class with a ``Literal`` ``kind`` tag and a function
``function(grid, sampling=..., **config.arguments())`` and add both to `FAMILIES`; the
discriminated union, its error messages and TOML output follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import (
    Annotated,
    Any,
    Literal,
    NamedTuple,
    Union,
)

from pydantic import (
    Field,
    Strict,
)

from ..families import random_fourier
from .base import NonNegative, _Model

Count = Annotated[int, Strict(), Field(ge=1)]
Seed = Annotated[int, Strict(), Field(ge=0)]


class _FamilyConfig(_Model):
    """Base of the family configs: ``kind`` plus the keyword arguments of the family's function."""

    def arguments(self) -> dict[str, Any]:
        """The family function's keyword arguments (every key but ``kind``)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "kind"}


class RandomFourierConfig(_FamilyConfig):
    """``kind = "random_fourier"``: Σ_{k=1..modes} a_k sin(k·2π(x − x0)/L + φ_k), zero mean.

    ``a = amplitude · N(0, 1)/k``, ``φ ~ U(0, 2π)``, from ``numpy.random.default_rng(seed)``.
    """

    kind: Literal["random_fourier"]
    modes: Count
    amplitude: NonNegative = 1.0
    seed: Seed = 0


class Family(NamedTuple):
    """A family kind: its validated config and ``function(grid, sampling=..., **arguments) -> array``."""

    config: type[_FamilyConfig]
    function: Callable[..., Any]


FAMILIES: dict[str, Family] = {
    "random_fourier": Family(RandomFourierConfig, random_fourier),
}
"""Family kinds by the ``kind`` written in the case file."""

_KINDS = tuple(f.config for f in FAMILIES.values())
FamilyConfig = Annotated[Union[_KINDS], Field(discriminator="kind")]  # noqa: UP007 (a union built from the registry)

