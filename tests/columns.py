"""Case text shared by the tests of 1-D column cases (z up, no-flux ends, float64)."""

import pytest

import oceanclosure
from oceanclosure import CaseError


def load_text(tmp_path, text: str, overrides=()):
    """The case ``text`` written to ``tmp_path/case.toml`` and loaded with ``overrides``."""
    (tmp_path / "case.toml").write_text(text)
    return oceanclosure.load_case(tmp_path, list(overrides))


def case_message(tmp_path, text: str, overrides=()) -> str:
    """The message of the `CaseError` that loading ``text`` with ``overrides`` must raise."""
    with pytest.raises(CaseError) as err:
        load_text(tmp_path, text, overrides)
    return str(err.value)


def column(domain=(-50.0, 0.0), nz: int = 10) -> str:
    """The ``[grid]`` (z, float64) and no-flux ``[boundary]`` sections."""
    return f"""
[grid]
dims = ["z"]
domain = [{domain[0]!r}, {domain[1]!r}]
nz = {nz}
precision = "float64"

[boundary]
bottom = {{ kind = "flux" }}
top = {{ kind = "flux" }}
"""


def reacting_pair(nz: int, stop: float) -> str:
    """Two tracers A, B diffusing (κ = 2) on z ∈ [-50, 0], with no reaction in the model.

    The truth (twice as fine) converts A into B at k = 0.1: a missing process for a
    closure to learn, with A + B conserved.
    """
    return "format = 2\n" + column((-50.0, 0.0), nz) + f"""
[physics]
model = "advection_diffusion_reaction"
variables = {{ A = {{ units = "mmol m-3" }}, B = {{ units = "mmol m-3" }} }}
diffusivity = 2.0
parameters = {{ k = 0.1 }}

[initial_condition.A]
expression = "1 + cos(pi*z/50)"
[initial_condition.B]
expression = "0.2"

[truth]
fine = {{ refine = 2, physics = {{ reactions = {{ A = "-k*A", B = "k*A" }} }} }}

[time]
stop = {stop!r}
output_interval = 0.5
dt = 0.05
"""


#: A short Adam recipe for `reacting_pair` (train on t ≤ 4, validate on 4 < t ≤ 6).
PAIR_TRAINING = """
[training]
window = 3
batch = 4
steps = 60
optimizer = "adam"
learning_rate = 0.01
loss = "mse"
checkpoint_every = 60
train_times = [0.0, 4.0]
validation_times = [4.0, 6.0]
"""
