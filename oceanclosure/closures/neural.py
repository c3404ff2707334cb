"""Neural closures: a small network applied at every cell, on any grid.

Pointwise form (the gnCM Markovian / non-Markovian network, docs/reference_problems.md §1, §3):

    ∂u/∂t += s(x) · N_φ(q(x)),    q = (f_1 / σ_1, …, f_m / σ_m)

where f_k are stencil features at the *current* resolution (``u``, ``u_x``,
``u_xx``, ``nu``, ``dx``…, see `oceanclosure.stencils`), σ_k fixed input scales,
N_φ a multilayer perceptron R^m → R^(n_variables) and s an optional output scale
(|u| as in the paper, or a feature). The same φ runs on every grid: the network
sees only local, resolution-aware inputs.

Flux form (conservative by construction, 1D):

    ∂u/∂t += −(F_{j+1} − F_j) / dx,    F_j = s_j · N_φ(q_{j−1} ⊕ q_j)

Face j lies between cells j−1 and j (`oceanclosure.fluxes`). Its flux reads the
*concatenated* normalised features of the two neighbour cells, left cell first
(so the network may learn a direction, e.g. upwinding). On a periodic dimension
face 0 and face n are the same face; on a bounded one (``grid.bounded``) the
network has no cell beyond the wall, and its wall-face flux is zero. In a
simulation the fluxes go to the model (`fluxes`), which adds them to its own
before the divergence: the total wall flux is then the model's at a Dirichlet or
Neumann wall and the prescribed one at a flux wall. A face output scale is the
mean of the two cells' values.

Resolution-invariant flux form (options, all off by default). The face flux is

    F_j = (Δx/L)^p · s_j · σ_j · [g(q_j) − g(q̄_j)],    g = c·tanh(N_φ)  (or N_φ if no bound c)

* ``face_inputs`` are dimensionless face features, in grid-invariant form: with the
  jumps Δ_k = u_k − u_{k−1} across faces k = j−w … j+w and their total
  S_j = Σ_k |Δ_k|, ``"jumps"`` is Δ_k / S_j (2w + 1 numbers in [−1, 1]; on a smooth
  field each tends to sign(u_x)/(2w + 1), the stencil's shape, as Δx → 0),
  ``"direction"`` is ū_j / (|ū_j| + S_j) with ū_j the face mean (→ sign u), and
  ``"reynolds"`` is Re/(1 + Re), Re = S_j Δx / ((2w + 1) ν), the cell Reynolds
  number of the jump (→ 0 as Δx² on a smooth field; near 1 at an under-resolved shock).
* ``flux_scale = "jump"``: σ_j = (|ū_j| + S_j) S_j, the units of the flux u², O(Δx) on
  a smooth field and O(ΔU²) at a shock, whatever Δx.
* ``smooth_reference``: subtract g at q̄_j, the stencil of the linear field with the
  same rise (every jump feature replaced by their mean). g(q) − g(q̄) = O(Δx) on a
  smooth field, so with ``flux_scale = "jump"`` the flux is O(Δx²) and its divergence
  O(Δx²): the correction vanishes at the rate of a second-order scheme's truncation
  error (MUSCL), by construction, for any weights; on a linear field it is exactly 0.
* ``dx_power = p`` with ``length_scale = L`` multiplies the output by (Δx/L)^p (both
  forms): a plain dx-scaled output for closures whose inputs are physical derivatives.
* ``bound = c`` bounds each raw output by c (c·tanh), so that the flux is at most
  2c·σ_j (c·σ_j without the reference).
* ``gate = "reynolds"`` multiplies the face flux by G_j = Re_j² / (1 + Re_j²), Re_j the
  cell Reynolds number of ``"reynolds"``: the correction is switched off, whatever the
  weights, where the grid resolves the viscous scale (Re_j → 0: G = O(Δx⁴) on a smooth
  field), and left whole at an under-resolved shock (Re_j ≫ 1).

Stability: `rates` gives the exact Gershgorin bound max_i Σ_k |∂T_i/∂u_k| of the
closure's tendency Jacobian at the given state (by colored forward-mode probing: one
JVP per stencil color), as an advective rate, so the simulation's stable dt accounts
for the network at the grid it runs on. A Jacobian that is not finite is refused with
a `ClosureStabilityError` naming the closure.

The weights are `nnx.Param` (trainable); input scales, names and sizes are
static. Initialisation is deterministic from ``seed`` (or ``rngs``).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from ..errors import InputError
from ..fluxes import divergence
from ..stencils import LETTERS, feature_half_width, feature_names, features
from .base import Closure, as_fields, like_state
from .library import MAX_DERIVATIVE, _check_constraints

ACTIVATIONS: dict[str, Callable] = {
    "swish": jax.nn.silu,
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "identity": lambda x: x,
}

#: The output scale that multiplies each output by the magnitude of its own variable.
ABS_STATE = "abs_u"
#: Dimensionless face features of the flux form (module docstring), per variable.
FACE_FEATURES = ("jumps", "direction", "reynolds")
#: Face scales of the flux form: ``"jump"`` is σ_j = (|ū_j| + S_j) S_j.
FLUX_SCALES = ("jump",)
#: Face gates of the flux form: ``"reynolds"`` is G_j = Re_j² / (1 + Re_j²).
GATES = ("reynolds",)


class ClosureStabilityError(InputError):
    """A closure whose linearisation at the state is not finite (the run is refused)."""


class NeuralClosure(Closure):
    """A multilayer perceptron over pointwise features (module docstring).

    Args:
      inputs: feature names, e.g. ``["u", "u_x", "u_xx", "nu", "dx"]``.
      hidden: widths of the hidden layers (the paper's 10-7-5-5-3 by default).
      activation: ``swish``/``silu``, ``tanh``, ``relu``, ``gelu`` or ``identity``.
      output_scale: None, ``"abs_u"`` (each output times |its variable|) or a
        feature name (every output times that feature).
      scales: ``{input: σ}``; the network sees ``feature / σ`` (σ = 1 if omitted).
      rngs, seed: initialisation randomness (``rngs`` wins; else ``nnx.Rngs(seed)``).
      flux_form: output face fluxes whose divergence is the tendency (1D only).
      variables: state variable names (the features read them).
      constraints: ``{output: {other_output: weight}}``: a constrained output is that
        combination of the free ones (the network has one output per free output),
        e.g. ``{"N": {"P": -1, "Z": -1}}`` conserves N + P + Z (pointwise form only).
      outputs: names of the network's outputs (default: one per variable, as a
        tendency of that variable; a transfer closure names its edges here).
      parameters: physical parameter names the inputs may use (``nu``, …).
      accuracy: finite-difference accuracy of the derivative features.
      init_last_layer: ``"default"`` or ``"zeros"`` (the closure then adds exactly 0).
      param_dtype: weight dtype; default JAX's default float (float64 under x64).
      face_inputs: dimensionless face features (flux form only): ``"jumps"``,
        ``"direction"``, ``"reynolds"`` (module docstring); ``inputs`` may then be empty.
      jump_width: w, the jumps read are those of faces j − w … j + w (w ≥ 0).
      viscosity: the physical parameter ν of ``"reynolds"`` (default ``"nu"``).
      flux_scale: None or ``"jump"`` (flux form only; module docstring).
      smooth_reference: subtract the network at the linear-field stencil (needs ``"jumps"``).
      dx_power, length_scale: multiply the output by (dx / length_scale)^dx_power.
      bound: None or c > 0: each raw output is c·tanh(N).
      stability_rates: report the Jacobian bound of `rates` (off: no rates, as before).
      gate: None or ``"reynolds"`` (flux form only; module docstring).
    """

    def __init__(self, inputs: Sequence[str], *, hidden: Sequence[int] = (10, 7, 5, 5, 3),
                 activation: str = "swish", output_scale: str | None = None,
                 scales: Mapping[str, float] | None = None, rngs: nnx.Rngs | None = None, seed: int = 0,
                 flux_form: bool = False, variables: Sequence[str] = ("u",), parameters: Sequence[str] = (),
                 accuracy: int = 2, init_last_layer: str = "default", param_dtype=None,
                 outputs: Sequence[str] | None = None, face_inputs: Sequence[str] = (), jump_width: int = 1,
                 viscosity: str = "nu", flux_scale: str | None = None, smooth_reference: bool = False,
                 dx_power: float = 0.0, length_scale: float = 1.0, bound: float | None = None,
                 stability_rates: bool = False, gate: str | None = None,
                 constraints: Mapping[str, Mapping[str, float]] | None = None):
        self.variables = tuple(variables)
        self.outputs = tuple(outputs) if outputs is not None else self.variables
        if not self.outputs or len(set(self.outputs)) != len(self.outputs):
            raise InputError(f"NeuralClosure: outputs must be distinct and at least one, got {list(self.outputs)}")
        self.constraints = _check_constraints(constraints or {}, self.outputs)
        self.free_outputs = tuple(o for o in self.outputs if o not in self.constraints)
        if self.constraints and flux_form:
            raise InputError("NeuralClosure: constraints are for pointwise networks (a flux form conserves already)")
        if flux_form and self.outputs != self.variables:
            raise InputError("NeuralClosure: flux_form needs one output per variable "
                             f"(outputs {list(self.outputs)}, variables {list(self.variables)})")
        if output_scale == ABS_STATE and not set(self.outputs) <= set(self.variables):
            raise InputError("NeuralClosure: output_scale='abs_u' scales each output by its own variable, so the "
                             f"outputs {list(self.outputs)} must be variables ({list(self.variables)})")
        self.parameters = tuple(parameters)
        self.face_inputs = _check_face_inputs(face_inputs, flux_form)
        self.inputs = _check_inputs(inputs, self.variables, self.parameters, allow_empty=bool(self.face_inputs))
        self.scales = _check_scales(scales or {}, self.inputs)
        self.activation = _check_choice("activation", activation, ACTIVATIONS)
        self.output_scale = _check_output_scale(output_scale, self.variables, self.parameters)
        self.flux_form = bool(flux_form)
        self.accuracy = accuracy
        self.hidden = _check_hidden(hidden)
        self.jump_width = _check_count("jump_width", jump_width, 0)
        self.viscosity = str(viscosity)
        self.flux_scale = _check_face_option("flux_scale", flux_scale, FLUX_SCALES, self.flux_form)
        self.smooth_reference = _check_reference(smooth_reference, self.face_inputs)
        self.dx_power = _check_real("dx_power", dx_power, lambda v: v >= 0, ">= 0")
        self.length_scale = _check_real("length_scale", length_scale, lambda v: v > 0, "> 0")
        self.bound = None if bound is None else _check_real("bound", bound, lambda v: v > 0, "> 0")
        self.stability_rates = bool(stability_rates)
        self.gate = _check_face_option("gate", gate, GATES, self.flux_form)
        rngs = rngs if rngs is not None else nnx.Rngs(seed)
        dtype = param_dtype or jnp.asarray(0.0).dtype
        self.layers = _build_layers(self.n_inputs, self.hidden, len(self.free_outputs), rngs, dtype)
        self.stencil_width = self._stencil_width()
        if _check_choice("init_last_layer", init_last_layer, ("default", "zeros")) == "zeros":
            self.zero_last_layer()

    @property
    def n_inputs(self) -> int:
        """Width of the network's input: one per feature, two cells' worth in flux form, plus face features."""
        per_variable = {"jumps": 2 * self.jump_width + 1, "direction": 1, "reynolds": 1}
        face = sum(per_variable[name] for name in self.face_inputs) * len(self.variables)
        return len(self.inputs) * (2 if self.flux_form else 1) + face

    def zero_last_layer(self) -> None:
        """Zero the output layer's kernel and bias (in place): the tendency is then exactly 0."""
        last = self.layers[-1]
        last.kernel[...] = jnp.zeros_like(last.kernel[...])
        last.bias[...] = jnp.zeros_like(last.bias[...])

    # --- evaluation ---------------------------------------------------------

    def network(self, q):
        """N_φ applied along the last axis: ``(..., n_inputs) -> (..., n_variables)``."""
        lead = q.shape[:-1]
        out = self.network_columns(jnp.reshape(q, (-1, q.shape[-1])).T)
        return out.T.reshape(lead + (out.shape[0],))

    def network_columns(self, h):
        """N_φ on cells laid out along the last axis: ``(n_inputs, N) -> (n_variables, N)``.

        The layout the closure evaluates in: each layer is one
        ``(fan_out, fan_in) · (fan_in, N)`` product with the cells as the long,
        contiguous axis. For these narrow layers XLA:CPU runs it 1.6x (3×32) to
        3.6x (the paper's 10-7-5-5-3) faster than the cell-major
        ``(N, fan_in) · (fan_in, fan_out)`` (benchmarks/closure_overhead.py).
        """
        act = ACTIVATIONS[self.activation]
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            kernel, bias = layer.kernel[...], layer.bias[...]
            dtype = jnp.result_type(h, kernel, bias)
            h = jnp.matmul(kernel.T.astype(dtype), h.astype(dtype), precision=jax.lax.Precision.HIGHEST)
            h = h + bias.astype(dtype)[:, None]
            if k < last:
                h = act(h)
        return h

    def input_stack(self, fields: Mapping, grid, physics):
        """Normalised features at the cell centres, ``(*array_shape, len(inputs))``."""
        feats = features(fields, grid, self.inputs, physics, self.accuracy)
        if not self.inputs:
            like = fields[self.variables[0]]
            return jnp.zeros(jnp.shape(like) + (0,), jnp.result_type(like))
        return jnp.stack([feats[name] / scale for name, scale in zip(self.inputs, self.scales)], axis=-1)

    def face_terms(self, fields: Mapping, grid, physics):
        """Face features, their linear-field reference and the face scale σ (module docstring).

        Returns ``(features (m, k), reference (m, k), sigma (m, n_variables) or None)`` for the
        m faces the network evaluates (n periodic, n − 1 interior ones bounded); the
        features are those of ``face_inputs``, per variable in turn.
        """
        bounded = grid.bounded[0]
        feats, refs, sigmas = [], [], []
        for v in self.variables:
            jumps, ubar = _face_jumps(jnp.asarray(fields[v]), self.jump_width, bounded)
            total = jnp.sum(jnp.abs(jumps), axis=-1, keepdims=True)
            total = total + jnp.sqrt(jnp.finfo(total.dtype).tiny)
            shape = jumps / total
            mean = jnp.broadcast_to(jnp.mean(shape, axis=-1, keepdims=True), shape.shape)
            by_name = {"jumps": (shape, mean), "direction": (ubar[:, None] / (jnp.abs(ubar)[:, None] + total),) * 2}
            if "reynolds" in self.face_inputs:
                re = self._reynolds(total, grid, physics)
                by_name["reynolds"] = (re / (1 + re),) * 2
            feats += [by_name[n][0] for n in self.face_inputs]
            refs += [by_name[n][1] for n in self.face_inputs]
            sigmas.append((jnp.abs(ubar) + total[:, 0]) * total[:, 0])
        sigma = jnp.stack(sigmas, axis=-1) if self.flux_scale == "jump" else None
        if not feats:
            return None, None, sigma
        return jnp.concatenate(feats, axis=-1), jnp.concatenate(refs, axis=-1), sigma

    def face_gate(self, fields: Mapping, grid, physics):
        """G_j = Re_j² / (1 + Re_j²) per face and variable, ``(m, n_variables)``, or None without a gate."""
        if self.gate is None:
            return None
        gates = []
        for v in self.variables:
            jumps, _ = _face_jumps(jnp.asarray(fields[v]), self.jump_width, grid.bounded[0])
            re2 = self._reynolds(jnp.sum(jnp.abs(jumps), axis=-1), grid, physics) ** 2
            gates.append(re2 / (1 + re2))
        return jnp.stack(gates, axis=-1)

    def _reynolds(self, total, grid, physics):
        """Re = S_j Δx / ((2w + 1) ν), the cell Reynolds number of the mean jump."""
        return total * grid.dx / ((2 * self.jump_width + 1) * self._viscosity(physics, total.dtype))

    def _viscosity(self, physics, dtype):
        value = (physics or {}).get(self.viscosity)
        if value is None:
            raise InputError(f"NeuralClosure: face input 'reynolds' needs the physical parameter "
                             f"{self.viscosity!r} (viscosity=), which this model's physics lacks "
                             f"(has {sorted(k for k, v in (physics or {}).items() if v is not None)})")
        return jnp.asarray(value, dtype)

    def bounded_network(self, q):
        """g(q) = c·tanh(N_φ(q)) with a ``bound`` c, else N_φ(q)."""
        out = self.network(q)
        return out if self.bound is None else self.bound * jnp.tanh(out)

    def input_columns(self, fields: Mapping, grid, physics):
        """Normalised features, one row per input, cells flattened: ``(len(inputs), N)``."""
        feats = features(fields, grid, self.inputs, physics, self.accuracy)
        return jnp.stack([jnp.reshape(feats[name] / scale, (-1,)) for name, scale in zip(self.inputs, self.scales)])

    def output_scale_values(self, fields: Mapping, grid, physics):
        """The factor s at the cell centres, ``(*array_shape, n_variables)``, or None."""
        if self.output_scale is None:
            return None
        if self.output_scale == ABS_STATE:
            return jnp.stack([jnp.abs(fields[v]) for v in self.variables], axis=-1)
        value = features(fields, grid, (self.output_scale,), physics, self.accuracy)[self.output_scale]
        return value[..., None]

    def tendencies(self, fields: Mapping, grid, physics) -> dict:
        """Tendency per variable."""
        if self.flux_form:
            q = self.input_stack(fields, grid, physics)
            s = self.output_scale_values(fields, grid, physics)
            out = self._flux_tendency(q, s, grid, fields, physics)
            return {v: out[..., k] for k, v in enumerate(self.variables)}
        shape = jnp.shape(fields[self.variables[0]])
        out = self.network_columns(self.input_columns(fields, grid, physics))  # (n_outputs, N)
        if self.bound is not None:
            out = self.bound * jnp.tanh(out)
        out = out * self._dx_factor(grid)
        if self.output_scale == ABS_STATE:  # each free output times |its variable|, before the constraints
            out = out * jnp.stack([jnp.reshape(jnp.abs(fields[v]), (-1,)) for v in self.free_outputs])
        elif self.output_scale is not None:
            value = features(fields, grid, (self.output_scale,), physics, self.accuracy)[self.output_scale]
            out = out * jnp.reshape(value, (1, -1))
        result = {v: jnp.reshape(out[k], shape) for k, v in enumerate(self.free_outputs)}
        for name, combination in self.constraints.items():
            result[name] = sum(weight * result[other] for other, weight in combination.items())
        return {v: result[v] for v in self.outputs}

    def __call__(self, u, state, grid, t, physics):
        fields = as_fields(u, self.variables)
        return like_state(u, self.tendencies(fields, grid, physics), self.variables), state

    @property
    def has_fluxes(self) -> bool:
        return self.flux_form

    def fluxes(self, u, state, grid, t, physics):
        """In flux form, the face fluxes ``{variable: (F,)}`` (module docstring); else None."""
        if not self.flux_form:
            return None
        fields = as_fields(u, self.variables)
        flux = self.face_fluxes(self.input_stack(fields, grid, physics), self.output_scale_values(fields, grid, physics),
                                grid, fields, physics)
        return {v: (flux[..., k],) for k, v in enumerate(self.variables)}

    def tendency(self, u, state, grid, t, physics):
        """The pointwise tendency; zero in flux form, whose face fluxes go through `fluxes`."""
        if self.flux_form:
            return like_state(u, {}, self.variables)
        return self(u, state, grid, t, physics)[0]

    @property
    def conserves(self) -> dict[str, float] | None:
        """Flux form: every variable's total. One constraint S_n = Σ w_k S_k: S_n − Σ w_k S_k = 0."""
        if self.flux_form:
            return {v: 1.0 for v in self.variables}
        if len(self.constraints) == 1:
            (name, combination), = self.constraints.items()
            return {name: 1.0, **{k: -w for k, w in combination.items()}}
        return None

    def face_fluxes(self, q, s, grid, fields=None, physics=None):
        """Fluxes at the n + 1 faces, ``(n + 1, n_variables)``, from the cell stack ``q``.

        ``s`` is the cell output scale (or None); a face uses the mean of its two cells.
        ``fields`` and ``physics`` give the face features and scale (needed with them).
        """
        if grid.ndim != 1:
            raise InputError(f"NeuralClosure: flux_form supports 1D grids only, got a {grid.ndim}D grid "
                             "(use the pointwise form in 2D)")
        bounded = grid.bounded[0]
        pair = _interior_pairs if bounded else _periodic_pairs
        q_left, q_right = pair(q)
        face, reference, sigma = (None, None, None)
        if self.face_inputs or self.flux_scale is not None or self.gate is not None:
            if fields is None:
                raise InputError("NeuralClosure.face_fluxes: face inputs, flux_scale and gate need the fields")
            face, reference, sigma = self.face_terms(fields, grid, physics)
        cells = [q_left, q_right]
        flux = self.bounded_network(jnp.concatenate(cells + ([face] if face is not None else []), axis=-1))
        if self.smooth_reference:
            flux = flux - self.bounded_network(jnp.concatenate(cells + [reference], axis=-1))
        if sigma is not None:
            flux = flux * sigma
        if self.gate is not None:
            flux = flux * self.face_gate(fields, grid, physics)
        flux = flux * self._dx_factor(grid)
        if s is not None:
            s_left, s_right = pair(s)
            flux = flux * (0.5 * (s_left + s_right))
        if bounded:
            wall = jnp.zeros_like(flux[:1])
            return jnp.concatenate([wall, flux, wall], axis=0)
        return jnp.concatenate([flux, flux[:1]], axis=0)

    def _dx_factor(self, grid):
        """(dx / length_scale)^dx_power (1 when dx_power = 0)."""
        return (grid.dx / self.length_scale) ** self.dx_power if self.dx_power else 1.0

    def rates(self, grid, physics, fields) -> dict[str, float]:
        """With ``stability_rates``: the advective rate max_i Σ_k |∂T_i/∂u_k| at ``fields``.

        The Gershgorin bound on the spectral radius of the tendency's Jacobian J, exact
        for this state: every eigenvalue λ of J has |λ| ≤ the rate. J is probed with one
        JVP per stencil color (cells k ≡ c mod m, m ≥ 2·stencil_width + 1, dividing n on a
        periodic line), so each probe holds at most one nonzero per row. 1D only (else {}).
        """
        if not self.stability_rates or grid.ndim != 1:
            return {}
        fields = {k: jnp.asarray(v) for k, v in as_fields(fields, self.variables).items()}
        colors = _colors(fields[self.variables[0]].shape[0], self.stencil_width, grid.bounded[0])
        rows = _jacobian_row_sums(self, fields, grid, physics, colors)
        rate = float(jnp.max(rows))
        if not math.isfinite(rate):
            raise ClosureStabilityError(
                f"{self.describe()}: the closure's Jacobian at the initial state is not finite; the run is "
                "refused (check the state and the closure's parameters)")
        return {"advective": rate}

    def describe(self) -> str:
        return f"NeuralClosure({'flux' if self.flux_form else 'pointwise'}, inputs {list(self.inputs + self.face_inputs)})"

    def _flux_tendency(self, q, s, grid, fields=None, physics=None):
        flux = self.face_fluxes(q, s, grid, fields, physics)
        return jnp.moveaxis(divergence(jnp.moveaxis(flux, 0, -1), grid.dx), -1, 0)

    def _stencil_width(self) -> int:
        names = self.inputs + ((self.output_scale,) if self.output_scale not in (None, ABS_STATE) else ())
        width = max((feature_half_width(n, self.accuracy) for n in names), default=0)
        if self.face_inputs or self.flux_scale is not None or self.gate is not None:
            width = max(width, self.jump_width + 1)
        return width + (1 if self.flux_form else 0)


def _periodic_pairs(a):
    """(cell j-1, cell j) for faces j = 0 .. n-1 of a periodic line (axis 0)."""
    return jnp.roll(a, 1, axis=0), a


def _interior_pairs(a):
    """(cell j-1, cell j) for the interior faces j = 1 .. n-1 of a bounded line (axis 0)."""
    return a[:-1], a[1:]


def _face_jumps(u, w: int, bounded: bool):
    """Jumps Δ_{j+k}, k = −w … w, ``(m, 2w + 1)``, and face means ū_j ``(m,)`` of a line ``u``.

    Periodic: faces j = 0 … n − 1, Δ_j = u_j − u_{j−1} (wrapping). Bounded: the interior
    faces j = 1 … n − 1; jumps beyond the walls repeat the outermost one.
    """
    if bounded:
        delta, ubar = u[1:] - u[:-1], 0.5 * (u[1:] + u[:-1])
        padded = jnp.pad(delta, (w, w), mode="edge")
        m = delta.shape[0]
        return jnp.stack([padded[k : k + m] for k in range(2 * w + 1)], axis=-1), ubar
    left = jnp.roll(u, 1)
    delta = u - left
    return jnp.stack([jnp.roll(delta, -k) for k in range(-w, w + 1)], axis=-1), 0.5 * (u + left)


def _colors(n: int, width: int, bounded: bool) -> int:
    """Colors m for Jacobian probing: m ≥ 2·width + 1 (and m | n when periodic), at most n."""
    m = 2 * width + 1
    if bounded:
        return min(m, n)
    while m < n and n % m:
        m += 1
    return min(m, n)


@functools.partial(jax.jit, static_argnums=(2, 4))
def _jacobian_row_sums(closure, fields: dict, grid, physics, colors: int):
    """max over outputs of Σ_k |∂T_i/∂u_k| per cell i, by colored JVPs (see `NeuralClosure.rates`).

    Jitted with the grid and the number of colors static: compiled once per grid and network.
    """
    variables = closure.variables
    n = fields[variables[0]].shape[0]
    zeros = {k: jnp.zeros_like(v) for k, v in fields.items()}
    total = {v: jnp.zeros(n, fields[v].dtype) for v in variables}
    for var in variables:
        for c in range(colors):
            tangent = dict(zeros)
            tangent[var] = jnp.asarray((jnp.arange(n) % colors) == c, fields[var].dtype)
            out = jax.jvp(lambda f: closure.tendencies(f, grid, physics), (fields,), (tangent,))[1]
            total = {v: total[v] + jnp.abs(out[v]) for v in variables if v in out}
    return jnp.max(jnp.stack(list(total.values())), axis=0)


# --- construction helpers -------------------------------------------------------


def _build_layers(n_in: int, hidden: tuple[int, ...], n_out: int, rngs: nnx.Rngs, dtype) -> nnx.List:
    sizes = (n_in,) + hidden + (n_out,)
    return nnx.List([nnx.Linear(a, b, param_dtype=dtype, precision=jax.lax.Precision.HIGHEST, rngs=rngs)
                     for a, b in zip(sizes[:-1], sizes[1:])])



def _vocabulary(variables, parameters) -> list[str]:
    return feature_names(variables, LETTERS, MAX_DERIVATIVE, parameters)


def _check_inputs(inputs, variables, parameters, allow_empty: bool = False) -> tuple[str, ...]:
    inputs = tuple(str(n) for n in inputs)
    if not inputs and not allow_empty:
        raise InputError("NeuralClosure: give at least one input feature (or face_inputs in flux form)")
    vocabulary = _vocabulary(variables, parameters)
    unknown = [n for n in inputs if n not in vocabulary]
    if unknown:
        raise InputError(
            f"NeuralClosure: unknown input(s) {unknown}; expected states {list(variables)}, their derivatives "
            f"up to order {MAX_DERIVATIVE} (u_x, u_xx, …), dx/dy, or a physical parameter listed in "
            f"parameters= (got parameters={list(parameters)})"
        )
    if len(set(inputs)) != len(inputs):
        raise InputError(f"NeuralClosure: inputs must be distinct, got {list(inputs)}")
    return inputs


def _check_scales(scales: Mapping[str, float], inputs) -> tuple[float, ...]:
    unknown = [k for k in scales if k not in inputs]
    if unknown:
        raise InputError(f"NeuralClosure: scales given for {unknown}, which are not inputs {list(inputs)}")
    values = tuple(float(scales.get(name, 1.0)) for name in inputs)
    bad = {n: v for n, v in zip(inputs, values) if not (math.isfinite(v) and v != 0.0)}
    if bad:
        raise InputError(f"NeuralClosure: input scales must be finite and non-zero, got {bad}")
    return values


def _check_output_scale(output_scale, variables, parameters):
    if output_scale is None or output_scale == ABS_STATE:
        return output_scale
    if output_scale not in _vocabulary(variables, parameters):
        raise InputError(
            f"NeuralClosure: output_scale must be None, {ABS_STATE!r} or a feature name "
            f"(states {list(variables)}, derivatives, dx, parameters {list(parameters)}), got {output_scale!r}"
        )
    return output_scale


def _check_hidden(hidden) -> tuple[int, ...]:
    widths = tuple(int(h) for h in hidden)
    if any(h < 1 for h in widths):
        raise InputError(f"NeuralClosure: hidden layer widths must be >= 1, got {list(hidden)}")
    return widths


def _check_choice(what: str, value, allowed):
    if value not in allowed:
        raise InputError(f"NeuralClosure: {what} must be one of {list(allowed)}, got {value!r}")
    return value


def _check_face_inputs(face_inputs, flux_form: bool) -> tuple[str, ...]:
    names = tuple(str(n) for n in face_inputs)
    unknown = [n for n in names if n not in FACE_FEATURES]
    if unknown:
        raise InputError(f"NeuralClosure: face_inputs must be among {list(FACE_FEATURES)}, got {unknown}")
    if len(set(names)) != len(names):
        raise InputError(f"NeuralClosure: face_inputs must be distinct, got {list(names)}")
    if names and not flux_form:
        raise InputError(f"NeuralClosure: face_inputs {list(names)} need flux_form = true (they live on faces)")
    return names


def _check_face_option(name: str, value, choices, flux_form: bool):
    """An option among ``choices`` that acts on face fluxes (None: off); it needs flux_form."""
    if value is None:
        return None
    _check_choice(name, value, choices)
    if not flux_form:
        raise InputError(f"NeuralClosure: {name} = {value!r} needs flux_form = true")
    return value


def _check_reference(smooth_reference, face_inputs) -> bool:
    if smooth_reference and "jumps" not in face_inputs:
        raise InputError("NeuralClosure: smooth_reference = true needs 'jumps' in face_inputs "
                         f"(got face_inputs {list(face_inputs)})")
    return bool(smooth_reference)


def _check_count(what: str, value, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise InputError(f"NeuralClosure: {what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(what: str, value, ok, expected: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"NeuralClosure: {what} must be a number {expected}, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or not ok(number):
        raise InputError(f"NeuralClosure: {what} must be a finite number {expected}, got {value!r}")
    return number
