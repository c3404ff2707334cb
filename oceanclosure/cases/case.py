"""The validated `Case`, reading a case directory, and validating the whole file."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import (
    Any,
    Callable,
    Mapping,
    Optional,
    Sequence,
)

import tomli_w

from ..grid import ALLOWED_DIMS, default_dims
from .base import (
    CASE_FILE,
    CASE_FORMAT,
    FORMAT_KEY,
    CaseError,
    _analytic_registry,
    _Context,
    _expression_parser,
    _format,
    _freeze,
    _is_number,
    _Problem,
    _Problems,
    _report,
    _thaw,
)
from .boundary import (
    BoundaryConfig,
    DirichletSide,
    NeumannSide,
    PeriodicSide,
    check_boundary,
)
from .closures import ClosureConfig
from .evaluate import EvaluateConfig
from .grid import GridConfig, _domain
from .initial import InitialConditionConfig, check_initial_condition
from .observations import ObservationsConfig
from .overrides import _override_list, apply_overrides
from .physics import PhysicsConfig
from .sections import _SECTIONS, _validate_section
from .time import OutputConfig, TimeConfig
from .training import TrainingConfig
from .truth import TruthConfig, merged_physics

# --------------------------------------------------------------------------
# the case


@dataclasses.dataclass(frozen=True)
class Case:
    """A validated case: typed sections plus where it came from.

    Attributes:
      directory: the case directory (absolute); relative paths resolve against it.
      path: the case TOML file (absolute).
      grid, boundary, physics, initial_condition, time, output: validated sections.
      truth: the ``[truth]`` section, or None.
      closures: the ``[[closure]]`` tables, in order.
      observations: the ``[observations]`` section (defaults when absent).
      training: the ``[training]`` section (``train_times`` filled in), or None.
      raw: the TOML as read, with overrides applied (read-only; no defaults).
      overrides: the ``--set`` strings applied, in order.
    """

    directory: Path
    path: Path
    grid: GridConfig
    boundary: BoundaryConfig
    physics: PhysicsConfig
    initial_condition: InitialConditionConfig
    time: TimeConfig
    output: OutputConfig
    truth: Optional[TruthConfig] = None
    closures: tuple[ClosureConfig, ...] = ()
    observations: ObservationsConfig = dataclasses.field(default_factory=ObservationsConfig)
    training: Optional[TrainingConfig] = None
    evaluate: Optional[EvaluateConfig] = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False,
                                               repr=False)
    overrides: tuple[str, ...] = dataclasses.field(default=(), compare=False)
    source: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.directory.name

    def boundary_sides(self, variable: str | None = None) -> dict[str, PeriodicSide | DirichletSide | NeumannSide]:
        """The boundary condition on every side of this case's grid (for ``variable``, or the shared one)."""
        return self.boundary.sides(self.grid.names, variable)

    def resolve_path(self, relative: str | Path) -> Path:
        """``relative`` resolved against the case directory."""
        return self.directory / relative

    def to_dict(self) -> dict[str, Any]:
        """The resolved case (defaults filled in) as plain TOML-ready data."""
        def dump(model):
            return model.model_dump(mode="json", exclude_none=True)

        resolved = {FORMAT_KEY: CASE_FORMAT}
        resolved.update({name: dump(getattr(self, name)) for name in
                         ("grid", "boundary", "physics", "initial_condition", "time", "output")})
        if self.truth is not None:
            resolved["truth"] = dump(self.truth)
        resolved["closure"] = [dump(c) for c in self.closures]
        resolved["observations"] = dump(self.observations)
        if self.training is not None:
            resolved["training"] = dump(self.training)
        if self.evaluate is not None:
            resolved["evaluate"] = dump(self.evaluate)
        return resolved

    def to_toml(self) -> str:
        """The resolved, validated case as TOML; loading it gives an equal case."""
        return tomli_w.dumps(self.to_dict())

    def __reduce__(self):  # raw is a read-only mapping proxy, which cannot be pickled
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _restore_case, ({**state, "raw": _thaw(self.raw), "source": _thaw(self.source)},)

    def with_overrides(self, overrides: Sequence[str], *,
                       analytic: Mapping[str, Callable] | None = None) -> "Case":
        """A new case with ``--set`` overrides applied to this one, re-validated."""
        overrides = _override_list(overrides)
        raw = apply_overrides(_thaw(self.raw), overrides)
        return _build(raw, self.path, self.overrides + overrides, analytic, _thaw(self.source or self.raw))

    def without_overrides(self, *, analytic: Mapping[str, Callable] | None = None) -> "Case":
        """The case as its file says, before any ``--set`` (from what was read, not re-read)."""
        if not self.overrides:
            return self
        return _build(_thaw(self.source), self.path, (), analytic)


def _restore_case(state: dict) -> Case:
    return Case(**{**state, "raw": _freeze(state["raw"]), "source": _freeze(state.get("source", {}))})


# --------------------------------------------------------------------------
# reading and overrides


def load_case(path: str | Path, overrides: Sequence[str] = (), *,
              analytic: Mapping[str, Callable] | None = None) -> Case:
    """Read, override and validate a case.

    Args:
      path: a case directory (holding ``case.toml``) or a path to a ``.toml`` file.
      overrides: ``key.path=value`` strings (the CLI's ``--set``), applied in order.
      analytic: registry of analytic solutions for ``truth.analytic``; default
        ``oceanclosure.analytic.ANALYTIC`` (names are not checked if unavailable).

    Raises:
      CaseError: with every problem found, one per line.
    """
    overrides = _override_list(overrides)
    toml_path = _case_file(Path(path))
    source = _read_toml(toml_path)
    raw = apply_overrides(copy.deepcopy(source), overrides)
    return _build(raw, toml_path, overrides, analytic, source)




def _case_file(path: Path) -> Path:
    if path.is_dir():
        if not (path / CASE_FILE).is_file():
            raise CaseError(f"no {CASE_FILE} in case directory {path}: create "
                            f"{path / CASE_FILE}, or pass the path of a .toml file")
        return path / CASE_FILE
    if path.is_file():
        if path.suffix != ".toml":
            raise CaseError(f"case file {path} is not a .toml file: pass a case directory "
                            f"or a path to a .toml file")
        return path
    raise CaseError(f"case not found: {path} does not exist (expected a case directory "
                    f"containing {CASE_FILE}, or a path to a .toml file)")


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"malformed TOML in {path}: {exc}; fix the syntax there "
                        "(TOML reference: https://toml.io)") from None
    except UnicodeDecodeError as exc:
        raise CaseError(f"case file {path} is not valid UTF-8 text ({exc.reason} at byte "
                        f"{exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise CaseError(f"cannot read case file {path}: {exc.strerror}") from None



# --------------------------------------------------------------------------
# validation of the whole case


def _build(raw: dict, toml_path: Path, overrides: tuple[str, ...],
           analytic: Mapping[str, Callable] | None, source: dict | None = None) -> Case:
    directory = toml_path.parent.resolve()
    sections, problems = _validate(raw, directory, _analytic_registry(analytic))
    if problems:
        raise CaseError(_report(toml_path, overrides, problems))
    sections["closures"] = sections.pop("closure")
    return Case(directory=directory, path=toml_path.resolve(), raw=_freeze(raw),
                overrides=overrides, source=_freeze(raw if source is None else source), **sections)


def _validate(raw: dict, directory: Path, registry: Mapping | None,
              nested: bool = False) -> tuple[dict, list[_Problem]]:
    """Every section validated (defaults for absent ones) and all problems found."""
    truth = raw.get("truth")
    ctx = _Context(directory=directory, analytic=registry, has_truth="truth" in raw,
                   analytic_truth=isinstance(truth, dict) and "analytic" in truth,
                   parse=_expression_parser())
    version_problems = _format_problems(raw.get(FORMAT_KEY, 1))
    if version_problems:  # another format's sections may mean something else: say only this
        return {}, version_problems
    problems = [_Problem((key,), f"unknown section (allowed: {', '.join(_SECTIONS)}, or the key {FORMAT_KEY})")
                for key in raw if key not in _SECTIONS and key != FORMAT_KEY]
    sections = {}
    for name, spec in _SECTIONS.items():
        if name not in raw and name == "observations":  # its defaults depend on the model's fields
            sections[name], found = _validate_section(name, {}, ctx)
            problems += found
            continue
        if name not in raw:
            sections[name] = spec.default
            if spec.required:
                problems.append(_Problem((name,), f"missing required section [{name}]"))
            continue
        sections[name], found = _validate_section(name, raw[name], ctx)
        problems += found
        if name == "grid":
            shape = sections[name].shape if sections[name] is not None else None
            ndim = _ndim(sections[name], raw[name])
            ctx = dataclasses.replace(ctx, ndim=ndim, dims=_dims(sections[name], raw[name], ndim), shape=shape)
        if name == "physics" and sections[name] is not None:
            ctx = dataclasses.replace(ctx, variables=sections[name].variable_names)
    problems += _cross_problems(sections, ctx)
    if not nested and sections.get("training") is not None:
        known = {_format(p) for p in problems}  # a base problem is not repeated per configuration
        problems += [p for p in _configuration_problems(raw, sections["training"], directory,
                                                        registry)
                     if _format(p._replace(loc=p.loc[3:])) not in known]
    if not problems and sections["training"] is not None:
        time, training = sections["time"], sections["training"]
        if training.train_times is None:
            sections["training"] = training.model_copy(
                update={"train_times": (time.start, time.stop)})
    return sections, problems


def _cross_problems(sections: dict, ctx: _Context) -> list[_Problem]:
    """Checks between valid sections: variables, boundary names, the fine truth's physics and IC."""
    problems = []
    truth, physics = sections.get("truth"), sections.get("physics")
    if physics is not None:
        variables, parameters = physics.variable_names, physics.parameter_names
        if sections.get("boundary") is not None:
            problems += check_boundary(sections["boundary"], variables, parameters, ctx)
        if sections.get("initial_condition") is not None:
            from .biogeochem import (
                is_column,  # it imports .physics, which imports it: not at the top
            )

            problems += check_initial_condition(sections["initial_condition"], variables,
                                                column=is_column(physics))
    problems += _column_problems(sections)
    problems += _closure_variable_problems(sections)
    if truth is not None and truth.fine is not None:
        ic = sections.get("initial_condition")
        if ic is not None and ic.file is not None:
            problems.append(_Problem(("truth", "fine"), "cannot refine an initial condition "
                                     "read from a file (it is on the case grid); use "
                                     "initial_condition.expression, or an analytic or file "
                                     "truth"))
        if physics is not None and truth.fine.physics:
            merged = merged_physics(physics.model_dump(mode="json"), truth.fine.physics)
            _, found = _validate_section("physics", merged, ctx)
            problems += [p._replace(loc=("truth", "fine") + p.loc) for p in found]
    return problems


def _closure_variable_problems(sections: dict) -> list[_Problem]:
    """Each closure reads fields the model has (its variables, or the model's closure inputs such as PAR)."""
    physics, closures = sections.get("physics"), sections.get("closure") or ()
    if physics is None:
        return []
    known = (*physics.variable_names, *getattr(physics, "closure_input_names", ()))
    problems = []
    for i, config in enumerate(closures):
        for loc, names in _closure_reads(config):
            unknown = [n for n in names if n not in known]
            if unknown:
                problems.append(_Problem(("closure", i, *loc), f"{unknown} are not fields of the model "
                                         f"(it has {', '.join(known)})"))
    return problems


def _closure_reads(config) -> list[tuple[tuple, tuple]]:
    """``(location, names)`` of the fields a ``[[closure]]`` table reads."""
    out = []
    network = getattr(config, "network", None)
    if network is not None:
        out.append((("network", "variables"), tuple(network.variables)))
    elif hasattr(config, "variables"):
        out.append((("variables",), tuple(config.variables)))
    if hasattr(config, "variable"):
        out.append((("variable",), (config.variable,)))
    return out


def _column_problems(sections: dict) -> list[_Problem]:
    """The observation map against both models' variables; the spin-up physics of a plankton column."""
    from ..observation_map import ObservationMap
    from .biogeochem import is_column, spin_up_physics, truth_physics

    physics, truth = sections.get("physics"), sections.get("truth")
    observations, ic = sections.get("observations"), sections.get("initial_condition")
    if physics is None:
        return []
    problems = []
    source = truth_physics(physics, truth)
    mapping = observations.map if observations is not None else {}
    if mapping or source.variable_names != physics.variable_names:
        try:
            ObservationMap(mapping, physics.variable_names, source.variable_names)
        except ValueError as err:
            problems.append(_Problem(("observations", "map"), str(err).removeprefix("observations.map: ")))
    if ic is not None and ic.spin_up is not None and ic.total_nitrogen is not None:
        spun, found = spin_up_physics(physics, ic)
        problems += found
        if spun is not None and not is_column(spun):
            problems.append(_Problem(("initial_condition", "spin_up", "physics"), "the spin-up model must be a "
                                     "plankton model (npzd_oa or npz_oa)"))
    return problems


def _configuration_problems(raw: dict, training: TrainingConfig, directory: Path,
                            registry: Mapping | None) -> list[_Problem]:
    """Each ``training.configurations[i]`` applied to the case must give a valid case."""
    problems = []
    base = {key: value for key, value in raw.items() if key != "training"}
    for i, overrides in enumerate(training.configurations):
        loc = ("training", "configurations", i)
        fixed = [j for j, text in enumerate(overrides)
                 if text.partition("=")[0].strip().split(".")[0] == "training"]
        if fixed:
            problems += [_Problem(loc + (j,), "a configuration cannot change [training]",
                                  overrides[j]) for j in fixed]
            continue
        try:
            changed = apply_overrides(base, overrides)
        except CaseError as exc:
            problems.append(_Problem(loc, str(exc)))
            continue
        _, found = _validate(changed, directory, registry, nested=True)
        problems += [p._replace(loc=loc + p.loc) for p in found]
    return problems


def _format_problems(version: Any) -> list[_Problem]:
    """A case file of an unknown format version is refused, saying what to change.

    Format 1 is every file written before the key existed (a single field ``u``);
    format 2 adds named fields, z columns, per-variable and time-dependent
    boundaries and cell-averaged initial conditions. A format-1 file reads
    unchanged as format 2, except that expression initial conditions and
    analytic truths are now cell averages (``sampling = "point"`` restores point values).
    """
    if isinstance(version, bool) or not isinstance(version, int):
        return [_Problem((FORMAT_KEY,), f"expected an integer case format version (this oceanclosure reads "
                         f"1 to {CASE_FORMAT})", version)]
    if version > CASE_FORMAT:
        return [_Problem((FORMAT_KEY,), f"case format {version} is newer than this oceanclosure reads (1 to "
                         f"{CASE_FORMAT}): upgrade oceanclosure, or rewrite the case in format {CASE_FORMAT}", version)]
    if version < 1:
        return [_Problem((FORMAT_KEY,), f"unknown case format version; use {CASE_FORMAT} (or omit the key for 1)",
                         version)]
    return []


def _dims(grid: GridConfig | None, raw_grid: Any, ndim: int | None) -> tuple[str, ...] | None:
    """The grid's dimension names, from ``dims`` or the domain if the rest of [grid] is invalid."""
    if grid is not None:
        return grid.names if grid.names in ALLOWED_DIMS else None
    given = raw_grid.get("dims") if isinstance(raw_grid, dict) else None
    if isinstance(given, list) and tuple(given) in ALLOWED_DIMS:
        return tuple(given)
    return default_dims(ndim) if ndim is not None else None


def _ndim(grid: GridConfig | None, raw_grid: Any) -> int | None:
    """The grid's dimension, from its domain alone if the rest of [grid] is invalid."""
    if grid is not None:
        return grid.ndim
    try:
        domain = _domain(raw_grid.get("domain"))
    except (AttributeError, _Problems):
        return None
    return 1 if _is_number(domain[0]) else 2


