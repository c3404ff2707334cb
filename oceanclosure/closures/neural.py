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

The weights are `nnx.Param` (trainable); input scales, names and sizes are
static. Initialisation is deterministic from ``seed`` (or ``rngs``).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from ..fluxes import divergence
from ..stencils import LETTERS, feature_half_width, feature_names, features
from .base import Closure, as_fields, like_state
from .library import MAX_DERIVATIVE

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
      outputs: names of the network's outputs (default: one per variable, as a
        tendency of that variable; a transfer closure names its edges here).
      parameters: physical parameter names the inputs may use (``nu``, …).
      accuracy: finite-difference accuracy of the derivative features.
      init_last_layer: ``"default"`` or ``"zeros"`` (the closure then adds exactly 0).
      param_dtype: weight dtype; default JAX's default float (float64 under x64).
    """

    def __init__(self, inputs: Sequence[str], *, hidden: Sequence[int] = (10, 7, 5, 5, 3),
                 activation: str = "swish", output_scale: str | None = None,
                 scales: Mapping[str, float] | None = None, rngs: nnx.Rngs | None = None, seed: int = 0,
                 flux_form: bool = False, variables: Sequence[str] = ("u",), parameters: Sequence[str] = (),
                 accuracy: int = 2, init_last_layer: str = "default", param_dtype=None,
                 outputs: Sequence[str] | None = None):
        self.variables = tuple(variables)
        self.outputs = tuple(outputs) if outputs is not None else self.variables
        if not self.outputs or len(set(self.outputs)) != len(self.outputs):
            raise ValueError(f"NeuralClosure: outputs must be distinct and at least one, got {list(self.outputs)}")
        if (flux_form or output_scale == ABS_STATE) and self.outputs != self.variables:
            raise ValueError("NeuralClosure: flux_form and output_scale='abs_u' need one output per variable "
                             f"(outputs {list(self.outputs)}, variables {list(self.variables)})")
        self.parameters = tuple(parameters)
        self.inputs = _check_inputs(inputs, self.variables, self.parameters)
        self.scales = _check_scales(scales or {}, self.inputs)
        self.activation = _check_choice("activation", activation, ACTIVATIONS)
        self.output_scale = _check_output_scale(output_scale, self.variables, self.parameters)
        self.flux_form = bool(flux_form)
        self.accuracy = accuracy
        self.hidden = _check_hidden(hidden)
        rngs = rngs if rngs is not None else nnx.Rngs(seed)
        dtype = param_dtype or jnp.asarray(0.0).dtype
        self.layers = _build_layers(self.n_inputs, self.hidden, len(self.outputs), rngs, dtype)
        self.stencil_width = self._stencil_width()
        if _check_choice("init_last_layer", init_last_layer, ("default", "zeros")) == "zeros":
            self.zero_last_layer()

    @property
    def n_inputs(self) -> int:
        """Width of the network's input: one per feature, two cells' worth in flux form."""
        return len(self.inputs) * (2 if self.flux_form else 1)

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
        return jnp.stack([feats[name] / scale for name, scale in zip(self.inputs, self.scales)], axis=-1)

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
            out = self._flux_tendency(q, s, grid)
            return {v: out[..., k] for k, v in enumerate(self.variables)}
        shape = jnp.shape(fields[self.variables[0]])
        out = self.network_columns(self.input_columns(fields, grid, physics))  # (n_outputs, N)
        if self.output_scale == ABS_STATE:
            out = out * jnp.stack([jnp.reshape(jnp.abs(fields[v]), (-1,)) for v in self.variables])
        elif self.output_scale is not None:
            value = features(fields, grid, (self.output_scale,), physics, self.accuracy)[self.output_scale]
            out = out * jnp.reshape(value, (1, -1))
        return {v: jnp.reshape(out[k], shape) for k, v in enumerate(self.outputs)}

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
                                grid)
        return {v: (flux[..., k],) for k, v in enumerate(self.variables)}

    def tendency(self, u, state, grid, t, physics):
        """The pointwise tendency; zero in flux form, whose face fluxes go through `fluxes`."""
        if self.flux_form:
            return like_state(u, {}, self.variables)
        return self(u, state, grid, t, physics)[0]

    @property
    def conserves(self) -> dict[str, float] | None:
        return {v: 1.0 for v in self.variables} if self.flux_form else None

    def face_fluxes(self, q, s, grid):
        """Fluxes at the n + 1 faces, ``(n + 1, n_variables)``, from the cell stack ``q``.

        ``s`` is the cell output scale (or None); a face uses the mean of its two cells.
        """
        if grid.ndim != 1:
            raise ValueError(f"NeuralClosure: flux_form supports 1D grids only, got a {grid.ndim}D grid "
                             "(use the pointwise form in 2D)")
        bounded = grid.bounded[0]
        pair = _interior_pairs if bounded else _periodic_pairs
        q_left, q_right = pair(q)
        flux = self.network(jnp.concatenate([q_left, q_right], axis=-1))
        if s is not None:
            s_left, s_right = pair(s)
            flux = flux * (0.5 * (s_left + s_right))
        if bounded:
            wall = jnp.zeros_like(flux[:1])
            return jnp.concatenate([wall, flux, wall], axis=0)
        return jnp.concatenate([flux, flux[:1]], axis=0)

    def _flux_tendency(self, q, s, grid):
        flux = self.face_fluxes(q, s, grid)
        return jnp.moveaxis(divergence(jnp.moveaxis(flux, 0, -1), grid.dx), -1, 0)

    def _stencil_width(self) -> int:
        names = self.inputs + ((self.output_scale,) if self.output_scale not in (None, ABS_STATE) else ())
        width = max((feature_half_width(n, self.accuracy) for n in names), default=0)
        return width + (1 if self.flux_form else 0)


def _periodic_pairs(a):
    """(cell j-1, cell j) for faces j = 0 .. n-1 of a periodic line (axis 0)."""
    return jnp.roll(a, 1, axis=0), a


def _interior_pairs(a):
    """(cell j-1, cell j) for the interior faces j = 1 .. n-1 of a bounded line (axis 0)."""
    return a[:-1], a[1:]


# --- construction helpers -------------------------------------------------------


def _build_layers(n_in: int, hidden: tuple[int, ...], n_out: int, rngs: nnx.Rngs, dtype) -> nnx.List:
    sizes = (n_in,) + hidden + (n_out,)
    return nnx.List([nnx.Linear(a, b, param_dtype=dtype, precision=jax.lax.Precision.HIGHEST, rngs=rngs)
                     for a, b in zip(sizes[:-1], sizes[1:])])



def _vocabulary(variables, parameters) -> list[str]:
    return feature_names(variables, LETTERS, MAX_DERIVATIVE, parameters)


def _check_inputs(inputs, variables, parameters) -> tuple[str, ...]:
    inputs = tuple(str(n) for n in inputs)
    if not inputs:
        raise ValueError("NeuralClosure: give at least one input feature")
    vocabulary = _vocabulary(variables, parameters)
    unknown = [n for n in inputs if n not in vocabulary]
    if unknown:
        raise ValueError(
            f"NeuralClosure: unknown input(s) {unknown}; expected states {list(variables)}, their derivatives "
            f"up to order {MAX_DERIVATIVE} (u_x, u_xx, …), dx/dy, or a physical parameter listed in "
            f"parameters= (got parameters={list(parameters)})"
        )
    if len(set(inputs)) != len(inputs):
        raise ValueError(f"NeuralClosure: inputs must be distinct, got {list(inputs)}")
    return inputs


def _check_scales(scales: Mapping[str, float], inputs) -> tuple[float, ...]:
    unknown = [k for k in scales if k not in inputs]
    if unknown:
        raise ValueError(f"NeuralClosure: scales given for {unknown}, which are not inputs {list(inputs)}")
    values = tuple(float(scales.get(name, 1.0)) for name in inputs)
    bad = {n: v for n, v in zip(inputs, values) if not (math.isfinite(v) and v != 0.0)}
    if bad:
        raise ValueError(f"NeuralClosure: input scales must be finite and non-zero, got {bad}")
    return values


def _check_output_scale(output_scale, variables, parameters):
    if output_scale is None or output_scale == ABS_STATE:
        return output_scale
    if output_scale not in _vocabulary(variables, parameters):
        raise ValueError(
            f"NeuralClosure: output_scale must be None, {ABS_STATE!r} or a feature name "
            f"(states {list(variables)}, derivatives, dx, parameters {list(parameters)}), got {output_scale!r}"
        )
    return output_scale


def _check_hidden(hidden) -> tuple[int, ...]:
    widths = tuple(int(h) for h in hidden)
    if any(h < 1 for h in widths):
        raise ValueError(f"NeuralClosure: hidden layer widths must be >= 1, got {list(hidden)}")
    return widths


def _check_choice(what: str, value, allowed):
    if value not in allowed:
        raise ValueError(f"NeuralClosure: {what} must be one of {list(allowed)}, got {value!r}")
    return value
