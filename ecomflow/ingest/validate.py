"""Vectorised contract checks: coerce a file's columns to the contract types and find the rows that break it.

Every check works on whole Arrow columns; a row that fails any check is quarantined with one record per
failing field, and the other rows of the file load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomflow.sources.contract import Column, Table

ROW = "__row_number"

_SHAPES: dict[str, str] = {
    "int64": r"^[+-]?\d+$",
    "float64": r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$",
}
_BOOL_WORDS = {"true": True, "t": True, "1": True, "yes": True, "false": False, "f": False, "0": False, "no": False}
_TYPE_ERRORS: dict[str, str] = {
    "int64": "wrong_type: expected an integer",
    "float64": "wrong_type: expected a number",
    "bool": "wrong_type: expected true/false",
    "string": "wrong_type: expected text",
    "date": "malformed_date: expected YYYY-MM-DD",
    "timestamp": "malformed_timestamp: expected ISO 8601 (YYYY-MM-DD HH:MM:SS[+00:00])",
}
_INVALID_UTF8 = "invalid_text: not valid UTF-8"
_NUL = "invalid_text: holds a NUL character, which PostgreSQL text cannot store"


@dataclass
class Rejections:
    """Quarantine records collected for one file: parallel lists, turned into an Arrow table at the end."""

    row_numbers: list[pa.Array] = field(default_factory=list)
    fields: list[str | None] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    raw_values: list[pa.Array] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def add(self, mask: pa.Array, rows: pa.Array, field_name: str | None, reason: str, raw: pa.Array | None) -> None:
        """Record ``reason`` for every row where ``mask`` is true, with the file's value of ``raw`` as text."""
        indices = pc.indices_nonzero(pc.fill_null(mask, False))
        if len(indices) == 0:
            return
        self.row_numbers.append(rows.take(indices))
        self.raw_values.append(_raw_text(raw.take(indices)) if raw is not None else pa.nulls(len(indices), pa.string()))
        self.fields.append(field_name)
        self.reasons.append(reason)
        self.counts.append(len(indices))

    def to_table(self, source_file: str) -> pa.Table:
        """One row per (row, field, reason)."""
        n = sum(self.counts)
        return pa.table(
            {
                "source_file": pa.array([source_file] * n, pa.string()),
                "row_number": pa.concat_arrays([a.cast(pa.int64()) for a in self.row_numbers])
                if n
                else pa.array([], pa.int64()),
                "field": pa.array(
                    [f for f, c in zip(self.fields, self.counts, strict=True) for _ in range(c)], pa.string()
                ),
                "reason": pa.array(
                    [r for r, c in zip(self.reasons, self.counts, strict=True) for _ in range(c)], pa.string()
                ),
                "raw_value": pa.concat_arrays([a.cast(pa.string()) for a in self.raw_values])
                if n
                else pa.array([], pa.string()),
            }
        )


class ColumnTypeError(ValueError):
    """A file's column has a type no contract type can be read from (a list, a struct, ...)."""


def _to_string(values: pa.Array) -> pa.Array:
    """Values as Arrow strings, exactly as they are (bytes that are not UTF-8 become null: see ``_bad_utf8``)."""
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        return _strict_cast(values, pa.string())[0]
    try:
        return pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ColumnTypeError(f"has type {values.type}, which cannot be read as text") from error


def _as_text(values: pa.Array) -> pa.Array:
    """Values as trimmed strings, empty strings as null: what parsing a user's file reads."""
    text = pc.utf8_trim_whitespace(_to_string(values))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _raw_text(values: pa.Array) -> pa.Array:
    r"""Values exactly as the file wrote them, for ``raw.quarantine``.

    A NUL, which PostgreSQL text cannot hold, is spelled ``\0``; bytes that are not UTF-8 are written in
    hexadecimal, ``\x...``.
    """
    text = _to_string(values)
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        hex_text = pa.array([None if v is None else "\\x" + v.hex() for v in values.to_pylist()], pa.string())
        text = pc.if_else(pc.and_(pc.is_null(text), pc.is_valid(values)), hex_text, text)
    return pc.replace_substring(text, "\x00", "\\0")


def _bad_utf8(values: pa.Array) -> pa.Array:
    """True where a binary (or unvalidated string) value is not valid UTF-8."""
    if pa.types.is_string(values.type):
        try:
            values.validate(full=True)
            return _all_false(len(values))
        except pa.ArrowInvalid:
            values = values.view(pa.binary())
    elif not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        return _all_false(len(values))
    return _strict_cast(values, pa.string())[1]


def _strict_cast(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """Cast ``values``; where Arrow refuses (an impossible calendar date, an overflow), bisect to the culprits.

    Returns the cast array (null where it failed) and the mask of failures. The bisection only runs on the
    rare chunk that holds a bad value, so the common path is a single vectorised cast.
    """
    try:
        return pc.cast(values, target), _all_false(len(values))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) == 1:
            return pa.nulls(1, target), pa.array([True])
    middle = len(values) // 2
    left, left_bad = _strict_cast(values.slice(0, middle), target)
    right, right_bad = _strict_cast(values.slice(middle), target)
    return pa.concat_arrays([left, right]), pa.concat_arrays([left_bad, right_bad])


def _parse_text(text: pa.Array, column: Column) -> tuple[pa.Array, pa.Array]:
    """Parse strings into ``column``'s type; returns the typed array and the mask of unparseable values."""
    present = pc.is_valid(text)
    if column.type == "string":
        return text, _all_false(len(text))
    if column.type == "bool":
        lowered = pc.utf8_lower(text)
        words = pa.array(list(_BOOL_WORDS))
        shaped = pc.is_in(lowered, value_set=words)
        typed = pc.is_in(lowered, value_set=pa.array([w for w, v in _BOOL_WORDS.items() if v]))
        typed = pc.if_else(shaped, typed, pa.scalar(None, pa.bool_()))
        return typed, pc.and_(present, pc.invert(shaped))
    shaped = pc.fill_null(pc.match_substring_regex(text, _SHAPES[column.type]), False)
    candidates = pc.if_else(shaped, text, pa.scalar(None, pa.string()))
    if column.type == "timestamp":
        # Values without a zone are UTC by the contract; digits past the microsecond are dropped (PostgreSQL's
        # precision, as for a Parquet timestamp in nanoseconds).
        candidates = pc.replace_substring_regex(candidates, r"(\.\d{6})\d+", r"\1")
        zoned = pc.fill_null(pc.match_substring_regex(candidates, r"(Z|[+-]\d{2}(:?\d{2})?)$"), True)
        candidates = pc.if_else(zoned, candidates, pc.binary_join_element_wise(candidates, "Z", ""))
    typed, failed = _strict_cast(candidates, column.arrow_type)
    bad = pc.and_(present, pc.or_(pc.invert(shaped), failed))
    return pc.if_else(bad, pa.scalar(None, column.arrow_type), typed), bad


def coerce_column(values: pa.Array, column: Column) -> tuple[pa.Array, pa.Array]:
    """Bring one file column to the contract type; returns the typed column and its mask of type errors."""
    if column.type == "string" and pa.types.is_string(values.type) and pc.any(_bad_utf8(values)).as_py():
        values = values.view(pa.binary())  # a Parquet string column holding bytes that are not UTF-8
    if values.type == column.arrow_type:
        return values, _all_false(len(values))
    if pa.types.is_timestamp(values.type) and column.type == "timestamp":
        if values.type.tz is None:
            values = pc.assume_timezone(values, "UTC")
        # Nanoseconds are dropped: PostgreSQL keeps microseconds.
        return pc.cast(values, column.arrow_type, safe=False), _all_false(len(values))
    if not pa.types.is_string(values.type) and column.type in {"int64", "float64", "date"}:
        try:
            return pc.cast(values, column.arrow_type), _all_false(len(values))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if column.type == "string" and (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        bad = _bad_utf8(values)
        return pc.if_else(bad, pa.scalar(None, pa.string()), _as_text(values)), bad
    return _parse_text(_as_text(values), column)


def check_table(data: pa.Table, table: Table, rows: pa.Array) -> tuple[pa.Table, pa.Array, Rejections]:
    """Coerce and check a file already known to have every required column.

    Args:
        data: the file's columns (any types), restricted to contract columns present in the file.
        table: the contract.
        rows: 1-based row numbers of ``data`` in its file.

    Returns:
        The typed table (contract column order, bad values null), the mask of rows to quarantine, and the
        quarantine records.
    """
    rejections = Rejections()
    typed_columns: dict[str, pa.Array] = {}
    bad_rows = _all_false(data.num_rows)
    for column in table.columns:
        if column.name not in data.column_names:
            typed_columns[column.name] = pa.nulls(data.num_rows, column.arrow_type)
            continue
        original = data.column(column.name).combine_chunks()
        try:
            typed, type_errors = coerce_column(original, column)
        except ColumnTypeError as error:
            raise ColumnTypeError(f"column {column.name!r} {error}; expected {column.type}") from error
        type_reason = _INVALID_UTF8 if column.type == "string" else _TYPE_ERRORS[column.type]
        rejections.add(type_errors, rows, column.name, type_reason, original)
        checks = _value_checks(typed, column, table, type_errors)
        for mask, reason in checks:
            rejections.add(mask, rows, column.name, reason, original)
        for mask in [type_errors, *(m for m, _ in checks)]:
            bad_rows = pc.or_(bad_rows, pc.fill_null(mask, False))
        typed_columns[column.name] = typed
    return pa.table(typed_columns, schema=table.arrow_schema.remove_metadata()), bad_rows, rejections


def _value_checks(typed: pa.Array, column: Column, table: Table, type_errors: pa.Array) -> list[tuple[pa.Array, str]]:
    """Masks of rows breaking nullability, allowed values, text rules, finiteness and the range of one column."""
    checks: list[tuple[pa.Array, str]] = []
    missing = pc.and_(pc.is_null(typed), pc.invert(type_errors))
    if not column.nullable:
        reason = "null_key: key column is empty" if column.name in table.key else "null_required: column is required"
        checks.append((missing, reason))
    if column.allowed is not None:
        unknown = pc.invert(pc.is_in(typed, value_set=pa.array(column.allowed)))
        checks.append(
            (pc.and_(unknown, pc.is_valid(typed)), f"unknown_value: expected one of {', '.join(column.allowed)}")
        )
    if column.type == "string":
        checks.append((pc.match_substring(typed, "\x00"), _NUL))
        limit = column.length_limit
        checks.append((pc.greater(pc.utf8_length(typed), limit), f"too_long: at most {limit:,} characters"))
    finite = None
    if column.type == "float64":
        finite = pc.is_finite(typed)
        checks.append((pc.invert(finite), "not_finite: NaN and infinity are not numbers"))
    if column.min_value is not None:
        below = pc.less(typed, pa.scalar(column.min_value).cast(typed.type))
        reason = (
            "negative_value: must be >= 0"
            if column.min_value == 0
            else f"below_minimum: must be >= {column.min_value:g}"
        )
        checks.append((below if finite is None else pc.and_(below, finite), reason))
    if column.max_value is not None:
        above = pc.greater(typed, pa.scalar(column.max_value).cast(typed.type))
        reason = f"above_maximum: must be <= {column.max_value:g}"
        checks.append((above if finite is None else pc.and_(above, finite), reason))
    return checks


def duplicate_key_mask(data: pa.Table, key: tuple[str, ...]) -> pa.Array:
    """True for every row whose key already appeared on an earlier row (the first occurrence wins).

    Each key column becomes dense integer codes (Arrow's dictionary encoding), the codes are combined into one
    integer per row, and the repeats are found without a Python loop: dictionary codes are numbered in order of
    first appearance, so with a one-column key a row repeats an earlier one exactly when its code does not
    exceed every code before it (a running maximum); combined codes already in order (files written in key
    order) repeat their neighbour; other files fall back to NumPy's sort.
    """
    combined = np.zeros(data.num_rows, dtype=np.int64)
    for name in key:
        encoded = pc.dictionary_encode(data.column(name).combine_chunks())
        cardinality = len(encoded.dictionary) + 1  # the extra code stands for null
        codes = pc.fill_null(encoded.indices, cardinality - 1).to_numpy(zero_copy_only=False).astype(np.int64)
        if len(key) == 1:
            earlier_max = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
            return pa.array(codes <= earlier_max)
        if int(combined.max(initial=0)) + 1 > np.iinfo(np.int64).max // cardinality:
            combined = np.unique(combined, return_inverse=True)[1].astype(np.int64)  # re-densify, or it overflows
        combined = combined * cardinality + codes
    duplicate = np.zeros(data.num_rows, dtype=bool)
    steps = np.diff(combined)
    if (steps >= 0).all():
        duplicate[1:] = steps == 0
        return pa.array(duplicate)
    _, first_index = np.unique(combined, return_index=True)
    duplicate[:] = True
    duplicate[first_index] = False
    return pa.array(duplicate)


def _all_false(n: int) -> pa.Array:
    return pa.repeat(pa.scalar(False), n)
