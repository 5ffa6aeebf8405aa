"""Series keys (measurement and tags, the text before the first space), parsed once each.

Lines of a body repeat few series keys, so the vectorised path dictionary-encodes
the keys of its lines and parses only the distinct ones, with kernels over the
dictionary. Tag columns then come out dictionary-encoded: per line, an index
into the distinct values of that tag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PLAIN = r'[^ ,=\\"\x00-\x1f\x7f]+'  # a token of a simple line: no delimiter, escape or quote
_SERIES_KEY = rf"^{PLAIN}(?:,{PLAIN}={PLAIN})*$"


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
    names: list[str]
    tags: list[TagColumn]


def parse_series_keys(keys: pa.Array) -> SeriesKeys:
    """Parse distinct series keys (a utf8 array); keys that are not simple are not ``valid``."""
    count = len(keys)
    valid = pc.match_substring_regex(keys, _SERIES_KEY).to_numpy(zero_copy_only=False)
    good = np.flatnonzero(valid)
    measurement = np.full(count, -1, dtype=np.int64)
    if not len(good):
        return SeriesKeys(valid, measurement, [], [])
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
    tags = [
        TagColumn(name, key, index, values.slice(start, stop - start))
        for (name, key, index), start, stop in zip(columns, bounds[:-1], bounds[1:], strict=True)
    ]
    return SeriesKeys(valid, measurement, names.dictionary.to_pylist(), tags)
