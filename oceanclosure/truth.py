"""High-fidelity references ("truths") for a case, written as netCDF under the case.

A case's ``[truth]`` section names one source:

* ``analytic``: the named exact solution u(x, t) on the case grid (`AnalyticTruth`): its
  cell averages by adaptive Gauss–Legendre quadrature (`quadrature.cell_average`),

      ū_i(t) = (1/|C_i|) ∫_{C_i} u(x, t) dx      (``sampling = "cell_average"``, default),

  or its values at the cell centres, u(x_i, t) (``sampling = "point"``);
* ``fine``: the same case (optionally a richer model) run without closures on a grid
  ``refine`` times finer per dimension, then cell-averaged onto the case grid,

      ū_I = (1/refine^d) Σ_{i ∈ I} u_i      (exact finite-volume averages);

* ``file``: a user netCDF holding the variable on the case's cell centres.

Whatever the source, the truth is a dataset like a run's (`io.make_dataset`): ``u``
with dims ``(time, x)`` or ``(time, y, x)`` at the case's output times
``start, start + output_interval, ..., stop``, and global attributes ``truth_source``,
the source's details, ``truth_key`` (a hash of the case settings it depends on) and
provenance. `load_truth` reads the file at `truth_path`, or generates and writes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from .analytic import get_analytic
from .build import build_grid
from .cases.overrides import toml_value
from .errors import InputError, MissingFileError
from .fieldfile import FieldFileError, field_on_grid, open_netcdf
from .grid import Grid
from .io import file_sha256
from .quadrature import DEFAULT_POINTS, SAMPLINGS, sample
from .timestepping import output_times

__all__ = [
    "NO_TRUTH",
    "AnalyticTruth",
    "TruthError",
    "case_grid",
    "case_times",
    "check_truth",
    "fine_case",
    "generate_truth",
    "load_truth",
    "open_truth",
    "truth_inapplicable",
    "truth_key",
    "truth_label",
    "truth_notes",
    "truth_path",
]

TIME_TOLERANCE = 1e-9
"""Times and coordinates coincide when they differ by less than this, relative to the span."""


class TruthError(InputError):
    """A truth that cannot be generated, read or used; the message says how to fix it."""


# --------------------------------------------------------------------------
# the analytic truth


@dataclasses.dataclass(frozen=True)
class AnalyticTruth:
    """An exact solution u(x[, y], t) on a grid's cells, ``truth(t) -> array``.

        ū_i(t) = (1/|C_i|) ∫_{C_i} u(x, t) dx     (sampling = "cell_average")
        u_i(t) = u(x_i, t)                       (sampling = "point")

    Args:
      function: ``function(*coords, t, **parameters)``, coords in the grid's dimension
        order (an `analytic.ANALYTIC` solution).
      grid: the cells.
      parameters: keyword parameters of ``function``.
      sampling: one of `quadrature.SAMPLINGS`.
      points: Gauss–Legendre points per dimension for cell averages.
    """

    function: Callable[..., np.ndarray]
    grid: Grid
    parameters: Mapping[str, float] = dataclasses.field(default_factory=dict)
    sampling: str = "cell_average"
    points: int = DEFAULT_POINTS

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise InputError(f"AnalyticTruth: sampling must be one of {', '.join(map(repr, SAMPLINGS))}, "
                             f"got {self.sampling!r}")

    @classmethod
    def from_case(cls, case, sampling: str | None = None,
                  points: int = DEFAULT_POINTS, grid: Grid | None = None) -> AnalyticTruth | None:
        """The case's ``[truth] analytic`` solution on its grid (None without one).

        ``sampling`` defaults to ``truth.sampling``; physics parameters the solution
        accepts are passed to it, then ``truth.parameters``.
        """
        if case.truth is None or not case.truth.analytic:
            return None
        name = case.truth.analytic
        function = get_analytic(name)
        accepted = inspect.signature(function).parameters
        physics = {k: _scalar(v) for k, v in case.physics.params().items() if k in accepted}
        parameters = {**physics, **dict(case.truth.parameters)}
        unknown = [k for k in parameters if k not in accepted]
        if unknown:
            raise InputError(
                f"truth.parameters: {unknown} are not parameters of analytic solution "
                f"'{name}' (it takes {[p for p in accepted if p not in ('x', 'y', 'z', 't')]})"
            )
        sampling = sampling or case.truth.sampling or "cell_average"
        return cls(function, build_grid(case) if grid is None else grid, parameters, sampling, points)

    def __call__(self, t: float) -> np.ndarray:
        """The truth at time ``t``, float64, shape ``grid.array_shape``."""
        dims = self.grid.dims

        def at_t(**coords):
            return self.function(*(coords[d] for d in dims), t, **self.parameters)

        return sample(at_t, self.grid, self.sampling, self.points)


def _scalar(value):
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


# --------------------------------------------------------------------------
# what the truth depends on


def case_grid(case) -> Grid:
    """The case's grid, with walls (bounded dimensions) from its boundary conditions."""
    return build_grid(case)


def case_times(case) -> np.ndarray:
    """The case's output times: start, start + output_interval, ..., stop."""
    return output_times(case.time.start, case.time.stop, case.time.output_interval)


def _inputs(case) -> dict:
    """The resolved case settings the truth depends on (and nothing else)."""
    resolved = case.to_dict()
    truth = {k: v for k, v in resolved["truth"].items() if k != "output"}
    grid = {k: v for k, v in resolved["grid"].items() if k != "precision"}
    time = {k: resolved["time"][k] for k in ("start", "stop", "output_interval")}
    inputs = {"grid": grid, "time": time, "truth": truth}
    if case.truth.source == "analytic":
        inputs["physics"] = {k: v for k, v in resolved["physics"].items() if k != "scheme"}
    elif case.truth.source == "file":
        path = case.resolve_path(case.truth.file)
        inputs["file_sha256"] = file_sha256(path) if path.is_file() else None
    elif case.truth.source == "fine":
        inputs.update({key: resolved[key] for key in ("grid", "boundary", "physics",
                                                      "initial_condition")})
        # every [time] key but the growth bound, a guard on runs that does not change a finished truth
        inputs["time"] = {k: v for k, v in resolved["time"].items() if k != "growth_bound"}
    if case.observations.map:
        inputs["observation_map"] = dict(case.observations.map)
    return inputs


def truth_key(case) -> str:
    """A short hash of the settings the truth depends on (grid, times, truth, ...)."""
    text = json.dumps(_inputs(case), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _require_truth(case) -> None:
    if case.truth is None:
        raise TruthError(f"case '{case.name}' has no [truth] section; add one with analytic = "
                         "\"...\", fine = {refine = 8} or file = \"...\" (see oceanclosure.cases)")


def truth_path(case) -> Path:
    """Where the case's truth is written: ``truth.output`` in the case directory.

    A case changed by ``--set`` overrides whose truth differs from the unchanged
    case's, and that does not set its own ``truth.output``, gets its own file,
    ``<stem>-<truth_key><suffix>`` beside it, so that training configurations
    (several nx, nu) never share a truth file.
    """
    _require_truth(case)
    path = case.resolve_path(case.truth.output)
    if not case.overrides or _own_file(case):
        return path
    return path.with_name(f"{path.stem}-{truth_key(case)}{path.suffix}")


def _own_file(case) -> bool:
    """Whether the overridden ``case`` may use ``truth.output`` as it stands."""
    from .cases import CaseError

    try:
        base = case.without_overrides()
    except CaseError:
        return False
    if base.truth is None or base.truth.output != case.truth.output:
        return True  # an output path of its own
    return truth_key(base) == truth_key(case)


# --------------------------------------------------------------------------
# whether the truth applies to a case changed by overrides

NO_TRUTH = "the case has no [truth]"
"""What `truth_inapplicable` says of a case without a ``[truth]`` (no comparison, and nothing to note)."""

_UNSET = object()


def truth_label(case) -> str:
    """Which truth the case compares against: ``analytic 'name'``, ``fine (refine 8)`` or ``file 'x.nc'``."""
    _require_truth(case)
    source = case.truth.source
    if source == "analytic":
        return f"analytic '{case.truth.analytic}'"
    if source == "fine":
        return f"fine (refine {case.truth.fine.refine})"
    return f"file '{case.truth.file}'"


def truth_inapplicable(case) -> str | None:
    """None if the case's truth is a truth of the case as overridden; else why not, in one line.

    The overrides (``case.overrides``, compared with what the case file says) may change:

    * the initial condition: only to ``initial_condition.truth = true`` (analytic truths);
      a fine truth is run from the changed one, so it still applies;
    * ``physics.model``, or a PDE parameter (`params`; the numerics, ``physics.scheme``,
      always may): an analytic truth only takes the parameters its solution accepts
      (advecting_shock takes ``nu``) and that ``truth.parameters`` does not fix; a file
      truth takes none; a fine truth is run with them unless ``truth.fine.physics`` fixes them;
    * the grid and the times: a file truth must still lie on the grid and cover the times.

    Everything else (grid, time, boundary, closures, training, output) leaves the truth
    applicable; `truth_notes` says what is compared as given. Returns `NO_TRUTH` for a
    case without a ``[truth]``.
    """
    if case.truth is None:
        return NO_TRUTH
    if not case.overrides:
        return None
    return _initial_condition_reason(case) or _physics_reason(case) or _file_fit_reason(case)


def truth_notes(case) -> list[str]:
    """What the overrides changed that the truth is compared across as given, one line each.

    A changed domain, boundary condition or start time (and, for an analytic truth, a
    parameter of its solution when the initial condition is not the truth): the truth
    is still compared, but it need not satisfy what changed. Empty without a ``[truth]``,
    for a fine truth (it is run from the overridden case) and when `truth_inapplicable`.
    """
    if case.truth is None or case.truth.source == "fine" or not case.overrides or truth_inapplicable(case):
        return []
    what = _the(case)
    from_truth = _initial_condition_is_truth(case)
    notes = [f"grid.{key} was overridden: {what} is compared as given on the new grid"
             for key in _changed(case, "grid") if key in ("domain", "dims")]
    notes += [f"boundary.{key} was overridden: {what} is compared as given (it need not satisfy the new "
              "boundary condition)" for key in _changed(case, "boundary")]
    if "start" in _changed(case, "time") and not from_truth:
        notes.append(f"time.start was overridden: {what} is compared as given from the new start (the initial "
                     "condition need not be the truth there)")
    if case.truth.source == "analytic" and not from_truth:
        notes += [f"physics.{key} was overridden and the initial condition is not initial_condition.truth = true: "
                  f"{what} for the new {key} is compared as given" for key in _physics_changes(case)
                  if key in case.physics.params()]
    return notes


def _initial_condition_reason(case) -> str | None:
    if case.truth.source == "fine" or not _changed(case, "initial_condition"):
        return None
    if _initial_condition_is_truth(case):
        return None
    return (f"{_overrides_of(case, 'initial_condition')} changed the initial condition, so {_the(case)} "
            "no longer applies")


def _initial_condition_is_truth(case) -> bool:
    """Whether every field starts from the analytic truth (``initial_condition.truth = true``)."""
    return all(case.initial_condition.for_field(name).source == "truth" for name in case.physics.variable_names)


def _physics_reason(case) -> str | None:
    """Why a changed ``physics.model`` or PDE parameter leaves the truth behind, if it does."""
    source, parameters = case.truth.source, case.physics.params()
    for key in _physics_changes(case):
        changed = f"{_overrides_of(case, 'physics', key)} changed physics.{key}"
        if key == "model":
            return f"{changed}, so {_the(case)} no longer applies"
        if key not in parameters:  # numerics (the scheme): the same PDE
            continue
        if source == "file":
            return f"{changed}, a parameter of the PDE, so {_the(case)} no longer applies"
        if source == "fine" and key in case.truth.fine.physics:
            return f"{changed}, but truth.fine.physics fixes {key} for the fine run, so {_the(case)} no longer applies"
        if source == "analytic" and key in case.truth.parameters:
            return (f"{changed}, but truth.parameters fixes {key} = {case.truth.parameters[key]!r} for {_the(case)}, "
                    "so it no longer applies")
        if source == "analytic" and key not in _solution_parameters(case):
            return (f"{changed}, which {_the(case)} does not take (it takes "
                    f"{sorted(_solution_parameters(case))}), so it no longer applies")
    return None


def _solution_parameters(case) -> set[str]:
    accepted = inspect.signature(get_analytic(case.truth.analytic)).parameters
    return set(accepted) - {"x", "y", "z", "t"}


def _file_fit_reason(case) -> str | None:
    """Why a file truth does not lie on the overridden grid or cover the overridden times, if it does not."""
    if case.truth.source != "file" or not (_changed(case, "grid") or _changed(case, "time")):
        return None
    path = case.resolve_path(case.truth.file)
    names = case.physics.variable_names
    stored = [case.truth.variable] if names == ("u",) else list(names)
    try:
        with _open_lazily(path, "truth.file") as ds:
            for variable in (v for v in stored if v in ds):  # a missing variable is load_truth's error
                da = _on_grid(ds[variable], case_grid(case), f"truth.file {path}: '{variable}'")
                _time_index(da["time"].values, case, f"truth.file {path}")
    except TruthError as err:
        overrides = " and ".join(_overrides_of(case, s) for s in ("grid", "time") if _changed(case, s))
        return f"{overrides} changed the grid or times, and {_the(case)} does not fit them: {err}"
    return None


def _the(case) -> str:
    """The truth, named in a sentence."""
    source = case.truth.source
    if source == "analytic":
        return f"the analytic solution '{case.truth.analytic}'"
    if source == "fine":
        return f"the fine truth (refine {case.truth.fine.refine})"
    return f"the truth file '{case.truth.file}'"


def _changed(case, section: str) -> list[str]:
    """The keys of ``section`` whose value the overrides changed from what the case file says."""
    new, old = case.raw.get(section) or {}, case.source.get(section) or {}
    if not hasattr(new, "keys") or not hasattr(old, "keys"):
        return [] if new == old else [section]
    return sorted(k for k in set(new) | set(old) if new.get(k, _UNSET) != old.get(k, _UNSET))


def _physics_changes(case) -> list[str]:
    """The physics keys the overrides changed, a key given only as its default not counted."""
    fields = type(case.physics).model_fields

    def value(table, key):
        field = fields.get(key)
        default = _UNSET if field is None or field.is_required() else field.default
        return (table or {}).get(key, default)

    return [key for key in _changed(case, "physics")
            if value(case.raw.get("physics"), key) != value(case.source.get("physics"), key)]


def _overrides_of(case, section: str, key: str | None = None) -> str:
    """The overrides that set ``section`` (or its ``key``), quoted, for a message."""
    from .cases.overrides import parse_override

    def touches(parts: tuple[str, ...]) -> bool:
        return parts[0] == section and (key is None or len(parts) == 1 or parts[1] == key)

    texts = [text for text in case.overrides if touches(parse_override(text)[0])]
    return " and ".join(f"override '{text}'" for text in texts) or f"an override of {section}"


# --------------------------------------------------------------------------
# generation


def generate_truth(case, progress: Callable[[float, float], None] | None = None) -> xr.Dataset:
    """The case's truth on its grid at its output times (nothing is written).

    Args:
      case: a validated `cases.Case` with a ``[truth]`` section.
      progress: optional ``progress(t, stop)`` callback for a fine-grid run.

    Raises:
      TruthError: the truth cannot be computed or read (message names the fix).
      FileNotFoundError: a ``truth.file`` that does not exist.
    """
    _require_truth(case)
    source = case.truth.source
    if source == "analytic":
        values, details = _analytic(case)
    elif source == "fine":
        values, details = _fine(case, progress)
    else:
        values, details = _from_file(case)
    return _dataset(case, values, {"truth_source": source, **details})


def _dataset(case, values: dict[str, np.ndarray], details: dict) -> xr.Dataset:
    from .io import make_dataset

    source = details["truth_source"]
    attrs = {
        "title": f"oceanclosure truth ({source}) of case '{case.name}'",
        **details,
        "truth_key": truth_key(case),
        "truth_inputs": json.dumps(_inputs(case), sort_keys=True),
        "case_toml": case.to_toml(),
    }
    grid = case_grid(case)
    prefix = (lambda name: "") if list(values) == ["u"] else (lambda name: f"{name}: ")
    fields = {name: (v, {**_units(case, name), "long_name": f"{prefix(name)}truth ({source})"})
              for name, v in values.items()}
    return make_dataset(grid, case_times(case), fields, attrs, time_units=case.physics.time_units)


def _units(case, name: str) -> dict[str, str]:
    variables = getattr(case.physics, "variables", None)
    return {"units": variables[name].units} if variables else {"units": "1"}


def _analytic(case) -> tuple[dict, dict]:
    if case.physics.variable_names != ("u",):
        raise TruthError(f"truth.analytic: the analytic solutions are solutions for u, and this model has the fields "
                         f"{list(case.physics.variable_names)}; use truth.fine or truth.file")
    function = AnalyticTruth.from_case(case)
    try:
        values = np.stack([function(float(t)) for t in case_times(case)])
    except ValueError as err:  # not finite inside a cell, or outside the solution's range
        raise TruthError(f"analytic solution '{case.truth.analytic}': {err}") from None
    _check_finite(values, f"analytic solution '{case.truth.analytic}'")
    return {"u": values}, {"truth_analytic": case.truth.analytic,
                    "truth_parameters": json.dumps(dict(case.truth.parameters)),
                    "truth_sampling": function.sampling}


def fine_overrides(case) -> list[str]:
    """``--set`` strings that turn ``case`` into its fine-grid truth run."""
    from .cases import merged_physics

    fine = case.truth.fine
    overrides = [f"grid.n{name}={n * fine.refine}" for name, n in zip(case.grid.names, case.grid.shape)]
    physics = case.physics.model_dump(mode="json", exclude_none=True)
    changed = merged_physics(physics, fine.physics)
    if fine.scheme is not None:
        changed["scheme"] = fine.scheme
    if changed != physics:
        overrides.append(f"physics={toml_value(changed)}")
    if fine.stepper is not None:
        overrides.append(f"time.stepper={toml_value(fine.stepper)}")
    if fine.precision is not None:
        overrides.append(f"grid.precision={toml_value(fine.precision)}")
    if fine.dt is not None:
        overrides.append(f"time.dt={fine.dt!r}")
    elif fine.cfl is not None:
        overrides.append(f"time.cfl={fine.cfl!r}")
    elif case.time.dt is not None:  # a dt fixed for the coarse grid need not be stable
        overrides.append("time.cfl=0.5")
    return overrides


def fine_case(case):
    """The fine-grid case of a ``truth.fine`` truth (validated like any case)."""
    return case.with_overrides(fine_overrides(case))


def _fine(case, progress) -> tuple[np.ndarray, dict]:
    from .analysis import coarse_grain
    from .closures import NoClosure
    from .runner import RunBlowUpError, run

    overrides = fine_overrides(case)
    fine = case.with_overrides(overrides)
    try:
        ds = run(fine, closure=NoClosure(), progress=progress, truth=False, growth_bound=False)
    except RunBlowUpError as err:
        raise TruthError(f"the fine truth run ({' '.join(overrides)}) blew up: {err}; lower "
                         "truth.fine.cfl or give truth.fine.dt") from None
    times = case_times(case)
    if ds.sizes["time"] != times.size or not _close(ds.time.values, times, case.time.stop):
        raise TruthError(f"the fine truth run has output times {ds.time.values[:3]}..., "
                         f"the case needs {times[:3]}...; this is a bug in oceanclosure")
    stored = [name for name in fine.physics.variable_names if name in ds]
    coarse = coarse_grain(ds[stored], case.truth.fine.refine) if case.truth.fine.refine > 1 else ds[stored]
    values = observed(case, {name: np.asarray(coarse[name].values, dtype=np.float64) for name in stored},
                      fine.physics.variable_names)
    for name, v in values.items():
        _check_finite(v, f"the fine truth run ({name})")
    details = {"truth_refine": case.truth.fine.refine, "truth_overrides": " ".join(overrides),
               "truth_fine_scheme": ds.attrs["scheme"], "truth_fine_stepper": ds.attrs["stepper"],
               "truth_fine_dt": float(ds.attrs["dt"]), "truth_fine_steps": int(ds.attrs["steps"]),
               "truth_fine_precision": ds.attrs["precision"]}
    return values, details


def observed(case, fields: dict[str, np.ndarray], variables) -> dict[str, np.ndarray]:
    """The truth model's ``fields`` as the case's model sees them (`observation_map`; identity by default)."""
    from .observation_map import ObservationMap

    if tuple(variables) == case.physics.variable_names and not case.observations.map:
        return {name: fields[name] for name in case.physics.variable_names}
    try:
        return ObservationMap(case.observations.map, case.physics.variable_names, tuple(variables))(fields)
    except ValueError as err:
        raise TruthError(str(err)) from None


def _from_file(case) -> tuple[dict, dict]:
    """Each field from the file: ``truth.variable`` for a single-field model, else the field's own name."""
    path = case.resolve_path(case.truth.file)
    names = case.physics.variable_names
    stored = {"u": case.truth.variable} if names == ("u",) else {name: name for name in names}
    ds = _open(path, "truth.file")
    values = {}
    for name, variable in stored.items():
        if variable not in ds:
            raise TruthError(f"truth.file {path} has no variable '{variable}' (it has "
                             f"{sorted(ds.data_vars)}); set truth.variable" if names == ("u",) else
                             f"truth.file {path} has no variable '{variable}' (it has {sorted(ds.data_vars)}); "
                             "a multi-field truth file holds every field under its own name")
        da = _on_grid(ds[variable], case_grid(case), f"truth.file {path}: '{variable}'")
        index = _time_index(da["time"].values, case, f"truth.file {path}")
        values[name] = np.asarray(da.isel(time=index).values, dtype=np.float64)
        _check_finite(values[name], f"truth.file {path}")
    return values, {"truth_file": str(path), "truth_variable": ", ".join(stored.values())}


# --------------------------------------------------------------------------
# checks shared by file truths and stored truths


def _open(path: Path, what: str) -> xr.Dataset:
    try:
        return open_netcdf(path, what)
    except FieldFileError as err:
        raise TruthError(str(err)) from None


def _open_lazily(path: Path, what: str) -> xr.Dataset:
    """The dataset at ``path`` with nothing read but its coordinates (close it after use)."""
    if not Path(path).is_file():
        raise MissingFileError(f"{what}: {path} does not exist (paths are relative to the case directory)")
    try:
        return xr.open_dataset(path, decode_times=False, decode_timedelta=False, cache=False)
    except Exception as err:  # noqa: BLE001 -- netCDF4/HDF5/scipy raise many kinds of errors on bad files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TruthError(f"{what}: cannot read {path} as netCDF ({reason}); check the file, or delete it and "
                         "regenerate it") from None


def _close(a, b, scale: float) -> bool:
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) <= TIME_TOLERANCE * max(1.0, abs(scale))))


def _on_grid(da: xr.DataArray, grid: Grid, what: str) -> xr.DataArray:
    """``da`` with dims (time, [y,] x), checked to sit on ``grid``'s cell centres (`fieldfile`)."""
    try:
        return field_on_grid(da, grid, what, time="required", require_coordinates=True)
    except FieldFileError as err:
        raise TruthError(str(err)) from None


def _time_index(given: np.ndarray, case, what: str) -> np.ndarray:
    """Indices into ``given`` of the case's output times (all must be present)."""
    given = np.asarray(given, dtype=np.float64)
    times = case_times(case)
    tol = TIME_TOLERANCE * max(1.0, abs(case.time.start), abs(case.time.stop))
    if given.size == 0 or given.min() > times[0] + tol or given.max() < times[-1] - tol:
        span = f"[{given.min():g}, {given.max():g}]" if given.size else "no times"
        raise TruthError(f"{what} covers t in {span}, the case runs t in [{times[0]:g}, "
                         f"{times[-1]:g}]; give data over the whole run or change time.start/stop")
    nearest = np.abs(given[None, :] - times[:, None]).argmin(axis=1)
    missing = np.flatnonzero(np.abs(given[nearest] - times) > tol)
    if missing.size:
        t = times[missing[0]]
        raise TruthError(f"{what} has no data at output time t = {t:g} ({missing.size} of "
                         f"{times.size} output times missing); write it every "
                         f"time.output_interval = {case.time.output_interval:g} from "
                         f"{case.time.start:g}, or change time.output_interval")
    return nearest


def _check_finite(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise TruthError(f"{what} is not finite everywhere")


def check_truth(ds: xr.Dataset, case, path: Path | str = "the truth") -> xr.Dataset:
    """``ds`` checked to be this case's truth (grid, times, settings); returned as is."""
    what = f"truth file {path}"
    for name in case.physics.variable_names:
        if name not in ds:
            raise TruthError(f"{what} has no variable '{name}' (it has {sorted(ds.data_vars)}); "
                             "regenerate it with `oceanclosure truth CASE_DIR --overwrite`")
        _on_grid(ds[name], case_grid(case), what)
    times = case_times(case)
    if ds.sizes["time"] != times.size or not _close(ds.time.values, times, case.time.stop):
        raise TruthError(f"{what} has {ds.sizes['time']} times in [{float(ds.time.min()):g}, "
                         f"{float(ds.time.max()):g}], the case needs {times.size} in "
                         f"[{times[0]:g}, {times[-1]:g}]; regenerate it with "
                         "`oceanclosure truth CASE_DIR --overwrite`")
    stored = ds.attrs.get("truth_key")
    if stored is not None and stored != truth_key(case):
        changed = _differences(ds.attrs.get("truth_inputs"), _inputs(case))
        raise TruthError(f"{what} was generated for other case settings (they differ in "
                         f"{changed}); regenerate it with `oceanclosure truth CASE_DIR --overwrite`")
    return ds


def _differences(stored_json: str | None, current: dict) -> str:
    try:
        stored = json.loads(stored_json)
    except (TypeError, ValueError):
        return "unknown settings"

    def flat(node, prefix=""):
        if isinstance(node, dict):
            return {k: v for key, sub in node.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): node}

    a, b = flat(stored), flat(current)
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "") if keys else "unknown settings"


# --------------------------------------------------------------------------
# load or generate


def load_truth(case, generate: bool = True, overwrite: bool = False,
               progress: Callable[[float, float], None] | None = None) -> xr.Dataset:
    """The case's truth: read from `truth_path`, or generated and written there.

    Args:
      generate: if the file does not exist, generate and write it (else raise
        FileNotFoundError).
      overwrite: regenerate and replace the file even if it exists.

    Raises:
      TruthError: a stored truth that is corrupt or belongs to other settings.
    """
    from .io import write_netcdf

    path = truth_path(case)
    if path.exists() and not overwrite:
        ds = check_truth(_open(path, "truth"), case, path)
    elif not generate:
        raise MissingFileError(f"no truth at {path}; create it with `oceanclosure truth "
                                f"{case.directory}`")
    else:
        ds = generate_truth(case, progress=progress)
        write_netcdf(ds, path, overwrite=overwrite)
    return ds


def open_truth(case, progress: Callable[[float, float], None] | None = None) -> xr.Dataset:
    """The case's truth file at `truth_path`, opened lazily: read it a snapshot at a time, and close it.

    A missing file is generated and written first, as by `load_truth`; the file is
    checked like `load_truth`'s (grid, times, settings).
    """
    path = truth_path(case)
    if not path.exists():
        load_truth(case, progress=progress)
    ds = _open_lazily(path, "truth")
    try:
        return check_truth(ds, case, path)
    except BaseException:
        ds.close()
        raise
