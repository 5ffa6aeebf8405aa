"""Series keys (measurement and tags, the text before the first space), parsed once each.

Lines of a body repeat few series keys, so the vectorised path dictionary-encodes
the keys of its lines and parses only the distinct ones, with kernels over the
dictionary. Tag columns then come out dictionary-encoded: per line, an index
into the distinct values of that tag.

The distinct keys of one client's bodies mostly repeat, in the same order (a collector
sends the same series every interval; TSBS's 5,000-line bodies hold the same 100 or 1,000
hosts each time), and parsing them is a fixed ~1.6 ms a body whatever its size: some 40
kernel calls and a loop over the tag keys. So the last few sets of distinct keys are kept
parsed, keyed by their exact bytes (``KEPT_KEY_SETS``). A parse holding more than
``MAX_KEPT_BYTES`` (its key text, and arrays that grow with keys times tag keys) is not
kept: a body of many distinct tag keys is parsed each time rather than held. What is kept
is read only: its arrays are not writeable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.lru import LockedLru

PLAIN = r'[^ ,=\\"\x00-\x1f\x7f]+'  # a token of a simple line: no delimiter, escape or quote
_SERIES_KEY = rf"^{PLAIN}(?:,{PLAIN}={PLAIN})*$"
KEPT_KEY_SETS = 16  # sets of distinct keys kept parsed (a few clients' bodies each)
MAX_KEPT_BYTES = 1 << 20  # per kept parse, all it holds (1,000 TSBS series keys: 223 KiB)


@dataclass(frozen=True)
class TagColumn:
    """One tag key of one measurement over the distinct series keys."""

    measurement: int  # index into ``SeriesKeys.names``
    key: str
    index: np.ndarray  # int32 per distinct series key: index into ``values``, -1 if absent
    values: pa.Array  # the distinct values (utf8)


@dataclass(frozen=True)
class SeriesKeys:
    """The parsed distinct series keys of a batch of lines."""

    valid: np.ndarray  # bool per key: simple grammar, no repeated tag key
    measurement: np.ndarray  # int64 per key: index into ``names`` (-1 when not valid)
    names: tuple[str, ...]
    tags: tuple[TagColumn, ...]


def parse_series_keys(keys: pa.Array) -> SeriesKeys:
    """Parse distinct series keys (a utf8 array); keys that are not simple are not ``valid``.

    The result may be shared with other calls given the same keys: do not modify it.
    """
    packed = _packed(keys)
    if packed is None:
        return _parse(keys)
    kept = _KEPT.get(packed)
    if kept is not None:
        return kept
    parsed = _parse(keys)
    if len(packed[1]) + len(packed[2]) + _held_bytes(parsed) <= MAX_KEPT_BYTES:
        for array in (parsed.valid, parsed.measurement, *(tag.index for tag in parsed.tags)):
            array.flags.writeable = False
        _KEPT.put(packed, parsed)
    return parsed


def forget_kept_parses() -> None:
    """Drop every kept parse (``bench/parse.py`` times parsing without them)."""
    _KEPT.clear()


_Packed = tuple[pa.DataType, bytes, bytes]


def _packed(keys: pa.Array) -> _Packed | None:
    """The keys as (type, offsets from 0, text): equal for equal key lists. None for key
    lists that are not kept: other layouts than (large) string, nulls (a dictionary's
    values have none), or too much text."""
    if not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        return None
    if keys.null_count or not len(keys):
        return None
    offsets_buffer, text_buffer = keys.buffers()[1:3]
    width = 8 if pa.types.is_large_string(keys.type) else 4
    offsets = np.frombuffer(
        offsets_buffer, dtype=f"<i{width}", count=len(keys) + 1, offset=keys.offset * width
    )
    start, end = int(offsets[0]), int(offsets[-1])
    if end - start > MAX_KEPT_BYTES:
        return None
    text = memoryview(text_buffer)[start:end].tobytes() if text_buffer is not None else b""
    return keys.type, (offsets - start).tobytes(), text


def _held_bytes(parsed: SeriesKeys) -> int:
    """What a parse holds (each tag's values are a slice of one array: ``nbytes``, its span)."""
    arrays = parsed.valid.nbytes + parsed.measurement.nbytes
    return arrays + sum(t.index.nbytes + t.values.nbytes for t in parsed.tags)


# Parses run on several threads at once: two may parse one set twice, and keep one.
_KEPT: LockedLru[_Packed, SeriesKeys] = LockedLru(KEPT_KEY_SETS)


def _parse(keys: pa.Array) -> SeriesKeys:
    count = len(keys)
    valid = pc.match_substring_regex(keys, _SERIES_KEY).to_numpy(zero_copy_only=False)
    good = np.flatnonzero(valid)
    measurement = np.full(count, -1, dtype=np.int64)
    if not len(good):
        return SeriesKeys(valid, measurement, (), ())
    parts = pc.split_pattern(keys if len(good) == count else keys.take(good), ",")
    sizes = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    tokens = pc.list_flatten(parts)
    heads = np.cumsum(sizes) - sizes
    names = pc.dictionary_encode(tokens.take(pa.array(heads)))
    measurement[good] = names.indices.to_numpy(zero_copy_only=False)

    is_tag = np.ones(len(tokens), dtype=bool)
    is_tag[heads] = False
    owner = good[np.repeat(np.arange(len(good)), sizes - 1)]  # series key of each tag
    pairs = pc.list_flatten(pc.split_pattern(tokens.filter(pa.array(is_tag)), "=", max_splits=1))
    tag_keys = pc.dictionary_encode(pairs.take(pa.array(np.arange(0, len(pairs), 2))))
    tag_values = pc.dictionary_encode(pairs.take(pa.array(np.arange(1, len(pairs), 2))))
    value_code = tag_values.indices.to_numpy(zero_copy_only=False)
    key_code = tag_keys.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    key_names = tag_keys.dictionary.to_pylist()

    group = measurement[owner] * len(key_names) + key_code
    order = np.argsort(group, kind="stable")  # owners stay in order within a group
    repeated = (np.diff(group[order]) == 0) & (np.diff(owner[order]) == 0)
    if repeated.any():  # a repeated tag key: the exact parser reports it
        bad_keys = owner[order[1:][repeated]]
        valid[bad_keys] = False
        measurement[bad_keys] = -1
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    columns, distinct_values = [], []
    for chunk in np.split(order, cuts) if len(order) else []:
        name, key = divmod(int(group[chunk[0]]), len(key_names))
        distinct, index_in_distinct = np.unique(value_code[chunk], return_inverse=True)
        index = np.full(count, -1, dtype=np.int32)
        index[owner[chunk]] = index_in_distinct
        columns.append((name, key_names[key], index))
        distinct_values.append(distinct)
    # Every column's distinct values in one take, then sliced (a kernel call costs more).
    values = tag_values.dictionary.take(
        pa.array(np.concatenate([np.zeros(0, np.int64), *distinct_values]))
    )
    bounds = np.cumsum([0] + [len(d) for d in distinct_values]).tolist()
    tags = tuple(
        TagColumn(name, key, index, values.slice(start, stop - start))
        for (name, key, index), start, stop in zip(columns, bounds[:-1], bounds[1:], strict=True)
    )
    return SeriesKeys(valid, measurement, tuple(names.dictionary.to_pylist()), tags)
