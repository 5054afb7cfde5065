"""Tables of fields: how one type is written to summary.json and read back, said once.

A ``Table`` lists a type's JSON fields in the order they are written; each ``Field`` knows its key,
the JSON types a reader accepts, how to turn the attribute into JSON and back, and whether it is
derived (written for readers, recomputed rather than read). Writing and reading walk the same
table, so a field added, renamed or retyped changes both directions at once. Why not pydantic or
cattrs: the file rounds numbers its own way, keeps ints as ints, lays lists out on one line and
names a broken field as ``client.endpoints[3].histogram``; bending a library to each of these
would be longer than this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from runner.timefmt import iso_utc, parse_iso_utc

T = TypeVar("T")
Kind = type | tuple[type, ...]
OPT_NUMBER: Kind = (int, float, type(None))
OPT_STR: Kind = (str, type(None))


class FieldError(ValueError):
    """A field of the document is missing or of the wrong type (message: where and what)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
OMIT: Any = object()  # a writer's answer: leave this key out of the object


def _same(value: Any) -> Any:
    return value


def _same_at(value: Any, _where: str) -> Any:
    return value


@dataclass(frozen=True)
class Field(Generic[T]):
    """One JSON field of a type.

    ``attr`` is the attribute it comes from and goes back to (the key when empty); ``write`` turns
    the attribute into JSON, ``read`` turns checked JSON back (given the field's path for errors).
    ``dump`` writes from the whole object and the writer's context instead (e.g. a rate needs a
    duration); answering ``OMIT`` leaves the key out. A ``derived`` field is written for readers and
    recomputed, never read. An ``embed`` field's object is merged into its parent's, and read from
    the parent's object. ``absent`` is what a reader uses when an older summary lacks the key
    (the key is required when it is not given).
    """

    key: str
    kind: Kind
    attr: str = ""
    write: Callable[[Any], Any] = _same
    read: Callable[[Any, str], Any] = _same_at
    dump: Callable[[T, Mapping[str, Any]], Any] | None = None
    derived: bool = False
    embed: bool = False
    absent: Any = REQUIRED

    @property
    def name(self) -> str:
        return self.attr or self.key


def derived(key: str, dump: Callable[[Any, Mapping[str, Any]], Any]) -> Field[Any]:
    """A written-only field, computed from the object and the writer's context."""
    return Field(key, object, dump=dump, derived=True)


@dataclass(frozen=True)
class Table(Generic[T]):
    """A type's fields in writing order, and the callable that builds the type from them."""

    build: Callable[..., T]
    fields: tuple[Field[T], ...]

    def dump(self, obj: T, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``obj`` as a JSON object, in table order."""
        out: dict[str, Any] = {}
        for f in self.fields:
            value = f.dump(obj, context or {}) if f.dump else f.write(getattr(obj, f.name))
            if f.embed:
                out.update(value)
            elif value is not OMIT:
                out[f.key] = value
        return out

    def values(self, obj: Any, where: str) -> dict[str, Any]:
        """The attributes a JSON object gives (derived fields skipped), each checked and converted."""
        if not isinstance(obj, dict):
            raise FieldError(f"{where or 'the document'} should be an object")
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.derived:
                continue
            if f.embed:
                out[f.name] = f.read(obj, where)
            elif f.key not in obj and f.absent is not REQUIRED:
                out[f.name] = f.absent
            else:
                out[f.name] = f.read(get(obj, f.key, f.kind, where), at(where, f.key))
        return out

    def load(self, obj: Any, where: str, **extra: Any) -> T:
        """Build the type from a JSON object (plus ``extra`` attributes the object does not hold)."""
        return self.build(**self.values(obj, where), **extra)


# -- reading ---------------------------------------------------------------------------------------
def at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def get(obj: Any, key: str, kind: Kind, where: str) -> Any:
    """``obj[key]`` checked against ``kind`` (a bool is not accepted as a number)."""
    if not isinstance(obj, dict):
        raise FieldError(f"{where or 'the document'} should be an object")
    if key not in obj:
        raise FieldError(f"{at(where, key)} is missing")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise FieldError(f"{at(where, key)} should be {names}, not {type(value).__name__}")
    return value


def read_time(value: Any, where: str) -> float:
    try:
        return parse_iso_utc(value)
    except ValueError as err:
        raise FieldError(f"{where}: {err}") from err


def read_strings(values: list[Any], where: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise FieldError(f"{where} should be a list of strings")
    return values


def read_codes(counts: Mapping[str, Any], where: str) -> dict[int, int]:
    try:
        out = {int(code): n for code, n in counts.items()}
    except ValueError as err:
        raise FieldError(f"{where} should be keyed by HTTP status codes") from err
    if not all(is_int(n) for n in out.values()):
        raise FieldError(f"{where} should map status codes to counts")
    return out


def read_pairs(buckets: Any, where: str) -> list[Any]:
    if not isinstance(buckets, list) or not all(
        isinstance(b, list) and len(b) == 2 and all(is_int(x) for x in b) for b in buckets
    ):
        raise FieldError(f"{where} should be [index, count] pairs of integers")
    return buckets


def read_nan(value: float | None, _where: str) -> float:
    """null back to NaN (how a non-finite number is written)."""
    return value if value is not None else math.nan


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def time_field(key: str, attr: str = "") -> Field[Any]:
    """An epoch-seconds attribute written as ISO 8601 UTC with milliseconds."""
    return Field(key, str, attr=attr, write=iso_utc, read=read_time)


# -- writing numbers -------------------------------------------------------------------------------
def rate(count: int, duration_s: float | None) -> float | None:
    return round(count / duration_s, 3) if duration_s else None


def ms(value: float | None) -> float | None:
    return round(float(value), 3) if value is not None and math.isfinite(value) else None


def exact(value: float | None) -> float | None:
    """A number written as it is (no rounding), or null."""
    return value if value is not None and math.isfinite(value) else None


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sig(value: float | None, digits: int = 6) -> float | None:
    """``digits`` significant digits, but never rounded coarser than a whole number."""
    if value is None or isinstance(value, int):
        return value
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def by_code(counts: Mapping[int, int]) -> dict[str, int]:
    return {str(code): counts[code] for code in sorted(counts)}
