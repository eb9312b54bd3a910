"""The pattern interface: what a pattern needs, its window, its settings and its versioned result.

A pattern is evaluated for an *analysis date* and a grain. Its window ends with the last period that
is complete when the analysis date begins (a daily analysis on 2025-07-02 sees up to 2025-07-01) and
reaches back `lookback_<grain>` periods. Settings are a pydantic model with defaults; the catalog
overrides them per tenant or metric with a dict (`Pattern.settings`), unknown keys are rejected.

`analyze_many` evaluates many analysis dates over data read once: `prepare` does the work that does
not depend on the window (laying the data on the period grid, fitting shared models), then each date
is evaluated on its own window slice. `analyze` is `analyze_many` with one date, so a date gives the
same result however it is asked for.

Too little data is not an exception: the result carries a typed `error` and no findings.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from semsync.errors import InvalidInputError
from semsync.partitions import Grain
from semsync.patterns.periods import last_complete_ordinal, period_end, period_start


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a non-finite number is reported as missing."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


Number = Annotated[float | None, AfterValidator(finite_or_none)]
"""A float field of a result: NaN and ±inf become None."""


def finite_or_none_list(values: np.ndarray) -> list:
    """`finite_or_none` of every element of a float array at once, as a (nested) list of Python floats
    and None: the values of `ResultModel.trusted` fields computed in bulk."""
    return np.where(np.isfinite(values), values, None).tolist()


class DataNeed(StrEnum):
    """What a pattern reads (see `semsync.patterns.data.PatternDataOrganiser`)."""

    SERIES = "series"
    SERIES_WITH_TARGETS = "series_with_targets"
    DIMENSIONAL_SERIES = "dimensional_series"
    FUTURE_TARGETS = "future_targets"


class ErrorType(StrEnum):
    INSUFFICIENT_DATA = "insufficient_data"
    MISSING_LATEST_VALUE = "missing_latest_value"
    MODEL_ERROR = "model_error"
    #: the data cannot be analysed as given: a text value, two rows for one period (and slice)
    INVALID_DATA = "invalid_data"


class Direction(StrEnum):
    """Which way a metric improves: revenue is higher-is-better; churn, cost, latency lower-is-better."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"

    @property
    def sign(self) -> int:
        """+1 when higher is better, −1 when lower is: `sign × value` is larger for better values."""
        return 1 if self is Direction.HIGHER_IS_BETTER else -1


class PatternError(BaseModel):
    """Why a result has no findings, e.g. ``insufficient_data`` with `required` and `available`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ErrorType
    message: str
    required: int | None = None
    available: int | None = None


class AnalysisError(Exception):
    """Raised inside `Pattern.evaluate` to end one date's evaluation with a typed error result."""

    def __init__(self, error: PatternError) -> None:
        super().__init__(error.message)
        self.error = error

    @classmethod
    def insufficient(cls, what: str, required: int, available: int) -> AnalysisError:
        return cls(
            PatternError(
                type=ErrorType.INSUFFICIENT_DATA,
                message=f"{what}: {available} available, {required} required",
                required=required,
                available=available,
            )
        )

    @classmethod
    def missing_latest(cls, grain: Grain, latest: int) -> AnalysisError:
        return cls(
            PatternError(
                type=ErrorType.MISSING_LATEST_VALUE,
                message=f"no value for the latest complete {grain} period, {period_start(grain, latest)}",
                required=1,
                available=0,
            )
        )


class AnalysisWindow(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    grain: Grain


class ResultModel(BaseModel):
    """Base of every result and nested finding: strict keys, JSON-safe numbers (`Number`)."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def trusted(cls, **fields: Any) -> Self:
        """The model of `fields` without validation, for findings built by the thousand from values
        known to be of their fields' types: Python ints, strs, dates, models, and floats already
        finite or None (`finite_or_none_list`). Validating costs several times more than computing
        such a finding; `model_construct` skips validation but not its per-field alias and default
        handling, which costs more still. Every field is given, in the fields' order, so the model
        equals (and serialises as) the validated one."""
        if fields.keys() != cls.__pydantic_fields__.keys():
            raise TypeError(f"{cls.__name__}.trusted takes every field: {sorted(cls.__pydantic_fields__)}")
        model = cls.__new__(cls)
        _set = object.__setattr__
        _set(model, "__dict__", fields)
        _set(model, "__pydantic_fields_set__", set(fields))
        _set(model, "__pydantic_extra__", None)
        _set(model, "__pydantic_private__", None)
        return model


class AnalysisResult(ResultModel):
    """The fields every pattern result carries."""

    pattern: str
    version: str
    metric_id: str
    dimension_name: str | None = None
    grain: Grain
    analysis_date: date
    analysis_window: AnalysisWindow
    num_periods: int
    evaluation_time: datetime
    error: PatternError | None = None


class PatternSettings(BaseModel):
    """Settings common to every pattern; subclasses set the defaults and add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback_day: int
    lookback_week: int
    lookback_month: int
    #: the metric's direction (from the catalog's metric definition, `settings_for`)
    direction: Direction = Direction.HIGHER_IS_BETTER

    def lookback(self, grain: Grain) -> int:
        return getattr(self, f"lookback_{grain.value}")


@dataclass(frozen=True)
class PatternData:
    """What a pattern analyses for one metric, as read by the data organiser.

    - `series`: columns ``date, value``, one row per period (date = the period's first day);
    - `targets`: ``date, target_value`` (+ ``target_upper_bound, target_lower_bound, yellow_buffer,
      red_buffer``), the targets of the same grain;
    - `dimensional`: ``date, dimension_name, dimension_slice, value``.
    """

    metric_id: str
    series: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    dimensional: pd.DataFrame | None = None
    dimension_name: str | None = None

    def dimension_names(self) -> list[str]:
        if self.dimension_name is not None:
            return [self.dimension_name]
        if self.dimensional is None or len(self.dimensional) == 0:
            return []
        return sorted(self.dimensional["dimension_name"].unique().tolist())

    def for_dimension(self, name: str) -> PatternData:
        frame = self.dimensional
        if frame is not None:
            frame = frame[frame["dimension_name"] == name]
        return replace(self, dimensional=frame, dimension_name=name)


_KEYS = {"series": ["date"], "targets": ["date"], "dimensional": ["dimension_name", "dimension_slice", "date"]}
_NUMBERS = {
    "series": ["value"],
    "targets": ["target_value", "target_upper_bound", "target_lower_bound", "yellow_buffer", "red_buffer"],
    "dimensional": ["value"],
}


_FRAMES = {
    DataNeed.SERIES: ("series",),
    DataNeed.SERIES_WITH_TARGETS: ("series", "targets"),
    DataNeed.DIMENSIONAL_SERIES: ("dimensional",),
    DataNeed.FUTURE_TARGETS: ("targets",),
}


def checked_data(data: PatternData, needs: Iterable[DataNeed]) -> tuple[PatternData, PatternError | None]:
    """Where data enters the patterns: the one place bad values are dealt with.

    - a value that is not a number (text) → an ``invalid_data`` error, for every analysis date;
    - two rows for one period (one period and slice of a dimension) → ``invalid_data``: neither
      row can be preferred;
    - ±infinity and NaN → missing: the period has no value (so an infinite latest value is a
      ``missing_latest_value`` error, and an infinite slice counts as absent);
    - null → missing, as before.
    Only the frames `needs` names are checked. Returns the data with its number columns as floats,
    or the error."""
    frames = {}
    names = {name for need in needs for name in _FRAMES[need]}
    for name, keys in _KEYS.items():
        frame = getattr(data, name)
        if name not in names:
            continue
        if frame is None or len(frame) == 0:
            frames[name] = frame
            continue
        frame = frame.copy()
        for column in _NUMBERS[name]:
            if column not in frame.columns:
                continue
            raw = frame[column]
            numbers = pd.to_numeric(raw, errors="coerce")
            bad = numbers.isna() & raw.notna()
            if bad.any():
                row = frame[bad].iloc[0]
                where = ", ".join(f"{k} {row[k]}" for k in keys if k in frame.columns)
                return data, PatternError(
                    type=ErrorType.INVALID_DATA,
                    message=f"{name}: {column} {raw[bad].iloc[0]!r} ({where}) is not a number",
                )
            numbers = numbers.astype(float)
            frame[column] = numbers.where(np.isfinite(numbers))
        duplicated = frame.duplicated(subset=keys, keep=False)
        if duplicated.any():
            row = frame[duplicated].iloc[0]
            where = ", ".join(f"{k} {row[k]}" for k in keys)
            return data, PatternError(
                type=ErrorType.INVALID_DATA,
                message=f"{name}: {int(duplicated.sum())} rows share a period ({where}): one row per period",
            )
        frames[name] = frame
    return replace(data, **frames), None


@dataclass(frozen=True)
class Span:
    """A window as inclusive period ordinals; `end` is the latest complete period."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start + 1


S = TypeVar("S", bound=PatternSettings)
R = TypeVar("R", bound=AnalysisResult)
P = TypeVar("P")


class Pattern(ABC, Generic[S, R, P]):
    """A versioned analysis; `P` is what `prepare` shares between the analysis dates of one call."""

    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[frozenset[DataNeed]]
    settings_model: ClassVar[type[PatternSettings]]
    result_model: ClassVar[type[AnalysisResult]]
    #: run once per dimension of the metric (the data names one dimension)
    per_dimension: ClassVar[bool] = False

    # -- settings and windows -------------------------------------------------------------------

    def settings(self, overrides: Mapping[str, Any] | PatternSettings | None = None) -> S:
        """The defaults overridden by `overrides` (from the catalog); unknown keys are rejected."""
        if isinstance(overrides, self.settings_model):
            return overrides  # type: ignore[return-value]
        if isinstance(overrides, PatternSettings):
            raise InvalidInputError(
                f"{self.name} takes {self.settings_model.__name__}, not {type(overrides).__name__}",
                part="settings",
            )
        try:
            return self.settings_model.model_validate(dict(overrides or {}))  # type: ignore[return-value]
        except ValidationError as error:
            raise InvalidInputError(f"invalid {self.name} settings: {error}", part="settings",
                                    value=dict(overrides or {})) from error

    def span(self, analysis_date: date, grain: Grain, settings: S) -> Span:
        """The ordinals of the analysis window: `lookback` periods ending at the last complete one."""
        end = last_complete_ordinal(grain, analysis_date)
        return Span(end - settings.lookback(grain) + 1, end)

    def target_end(self, span: Span, grain: Grain, settings: S) -> int:
        """The last ordinal whose targets the pattern reads (later than the window for forecasts)."""
        return span.end

    def window(self, analysis_date: date, grain: Grain | str, settings: Mapping | S | None = None) -> AnalysisWindow:
        grain = Grain(grain)
        return self._window(self.span(analysis_date, grain, self.settings(settings)), grain)

    def data_range(
        self, analysis_dates: Iterable[date], grain: Grain | str, settings: Mapping | S | None = None
    ) -> tuple[date, date, date]:
        """(first day, last day of the series, last day of targets) needed for `analysis_dates`."""
        grain, settings = Grain(grain), self.settings(settings)
        spans = [self.span(d, grain, settings) for d in analysis_dates]
        if not spans:
            raise InvalidInputError("no analysis dates", part="analysis_dates")
        start = min(s.start for s in spans)
        end = max(s.end for s in spans)
        target_end = max(self.target_end(s, grain, settings) for s in spans)
        return period_start(grain, start), period_end(grain, end), period_end(grain, target_end)

    @staticmethod
    def _window(span: Span, grain: Grain) -> AnalysisWindow:
        return AnalysisWindow(start=period_start(grain, span.start), end=period_end(grain, span.end), grain=grain)

    # -- analysis ---------------------------------------------------------------------------------

    def analyze(
        self, data: PatternData, analysis_date: date, grain: Grain | str, settings: Mapping | S | None = None
    ) -> R:
        """The pattern's result for one analysis date."""
        return self.analyze_many(data, [analysis_date], grain, settings)[0]

    def analyze_many(
        self,
        data: PatternData,
        analysis_dates: Iterable[date],
        grain: Grain | str,
        settings: Mapping | S | None = None,
    ) -> list[R]:
        """One result per analysis date, in order, from data read once."""
        grain, settings = Grain(grain), self.settings(settings)
        dates = list(analysis_dates)
        dimension_name = self._dimension_name(data)
        if dimension_name is not None:
            data = data.for_dimension(dimension_name)
        spans = [self.span(d, grain, settings) for d in dates]
        data, invalid = checked_data(data, self.needs)
        prepared = self.prepare(data, grain, settings, spans) if invalid is None else None
        results = []
        for analysis_date, span in zip(dates, spans, strict=True):
            try:
                if invalid is not None:
                    raise AnalysisError(invalid)
                fields = self.evaluate(prepared, span, grain, settings)
                error = None
            except AnalysisError as failure:
                fields = {"num_periods": failure.error.available or 0}
                error = failure.error
            results.append(
                self.result_model(
                    pattern=self.name,
                    version=self.version,
                    metric_id=data.metric_id,
                    dimension_name=dimension_name,
                    grain=grain,
                    analysis_date=analysis_date,
                    analysis_window=self._window(span, grain),
                    evaluation_time=datetime.now(UTC),
                    error=error,
                    **fields,
                )
            )
        return results  # type: ignore[return-value]

    def _dimension_name(self, data: PatternData) -> str | None:
        if not self.per_dimension:
            return None
        names = data.dimension_names()
        if len(names) != 1:
            raise InvalidInputError(
                f"{self.name} runs once per dimension; the data holds {names or 'none'}: "
                "pass data.for_dimension(name) (or use semsync.patterns.run_pattern)",
                part="dimension_name",
            )
        return names[0]

    @abstractmethod
    def prepare(self, data: PatternData, grain: Grain, settings: S, spans: list[Span]) -> P:
        """Work shared by every analysis date of one call; must not depend on any one window."""

    @abstractmethod
    def evaluate(self, prepared: P, span: Span, grain: Grain, settings: S) -> dict[str, Any]:
        """The pattern's own result fields (and ``num_periods``) for one window.

        Reads nothing outside `span` (and, for targets, `target_end`); raises `AnalysisError`.
        """
