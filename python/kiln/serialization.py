# SPDX-License-Identifier: BSD-3-Clause
"""kiln.save / kiln.load: objects in safetensors files, written and read by kiln's C++ io
(include/kiln/io/safetensors.hpp: atomic write, validating reader).

Note [Saving Python structure in safetensors]
A safetensors file holds named tensors and a string-to-string "__metadata__" map, nothing
else. A flat dict of named tensors (a state_dict) is saved as exactly that, so
safetensors.torch / safetensors.numpy read it and a file they wrote loads as a dict. Any
other object (a tensor, an optimizer's state_dict: nested dicts, lists and tuples of
tensors, numbers, strings, None) keeps its tensors under their key paths ("state.0.exp_avg")
and its structure as JSON in the metadata entry "kiln.structure", where a tensor is
{"tensor": name}, a dict {"dict": [[key, value], ...]} (keys keep their type: an
optimizer's state is keyed by int), a tuple {"tuple": [...]}, a non-finite float
{"float": "inf"}, and every other value is itself: JSON keeps ints and floats apart
(1 vs 1.0) and prints floats so they read back exactly.
"""
import json
import math
import numbers
import os

from . import _C

_STRUCTURE = "kiln.structure"


def save(obj, f):
    """Saves `obj` (a tensor, a dict of tensors, or nested dicts / lists / tuples of tensors,
    numbers, strings, bools and None) to the path `f` as a safetensors file, atomically (a
    temporary file in the same directory renamed over `f`). Tensors are saved as their
    values (contiguous, without autograd history); a tensor reachable twice is stored
    twice. Dict subclasses (OrderedDict, defaultdict, Counter) load back as dicts."""
    path = _path(f, "save")
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, _C.Tensor)
                                             for k, v in obj.items()):
        _C._save_safetensors(path, list(obj.items()), {"format": "pt"})
        return
    tensors = []
    used = set()

    def encode(value, where):
        if isinstance(value, _C.Tensor):
            name = ".".join(where) or "tensor"
            base, n = name, 0
            while name in used or name == "__metadata__":
                n += 1
                name = f"{base}~{n}"
            used.add(name)
            tensors.append((name, value))
            return {"tensor": name}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            value = float(value)
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, dict):
            return {"dict": [[_key(k, where), encode(v, where + [str(k)])]
                             for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            items = [encode(v, where + [str(i)]) for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"tuple": items}
        raise TypeError(f"kiln.save: cannot save a {type(value).__name__} (at "
                        f"'{'.'.join(where) or '<root>'}'); only tensors, dicts, lists, "
                        "tuples, numbers, strings, bools and None")

    def _key(k, where):
        if k is None or isinstance(k, (bool, str, numbers.Number, tuple)):
            return encode(k, where)
        raise TypeError(f"kiln.save: cannot save a dict key of type {type(k).__name__} (in "
                        f"'{'.'.join(where) or '<root>'}')")

    structure = json.dumps(encode(obj, []), allow_nan=False, separators=(",", ":"))
    _C._save_safetensors(path, tensors, {"format": "kiln", _STRUCTURE: structure})


def load(f, map_location=None):
    """Loads what save wrote, with the same structure, dtypes, shapes and values, or a
    safetensors file from elsewhere as a dict of its tensors in file order. A damaged file
    raises RuntimeError naming what is wrong with it; `map_location` may only be the CPU."""
    path = _path(f, "load")
    if map_location not in (None, "cpu"):
        raise ValueError(f"kiln.load: kiln tensors live on the CPU; map_location="
                         f"{map_location!r} is not supported")
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    named, metadata = _C._load_safetensors(path)
    tensors = dict(named)
    text = metadata.get(_STRUCTURE)
    if text is None:
        return tensors
    try:
        structure = json.loads(text)
    except ValueError as e:
        raise ValueError(f"kiln.load: {path}: the '{_STRUCTURE}' metadata is not valid JSON "
                         f"({e})") from None
    unused = set(tensors)

    def decode(node):
        if isinstance(node, list):
            return [decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (tag, v), = node.items()
            if tag == "tensor" and isinstance(v, str):
                if v not in tensors:
                    raise ValueError(f"kiln.load: {path}: the structure names a tensor '{v}' "
                                     "that the file does not hold")
                unused.discard(v)
                return tensors[v]
            if tag == "dict" and isinstance(v, list) and all(
                    isinstance(kv, list) and len(kv) == 2 for kv in v):
                return {_hashable(decode(k)): decode(x) for k, x in v}
            if tag == "tuple" and isinstance(v, list):
                return tuple(decode(x) for x in v)
            if tag == "float" and v in ("inf", "-inf", "nan"):
                return float(v)
        raise ValueError(f"kiln.load: {path}: unknown entry {json.dumps(node)[:80]} in the "
                         f"'{_STRUCTURE}' metadata")

    obj = decode(structure)
    if unused:
        raise ValueError(f"kiln.load: {path}: tensors {sorted(unused)[:5]} are not part of "
                         "the saved structure")
    return obj


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _path(f, op):
    try:
        return os.fspath(f)
    except TypeError:
        raise TypeError(f"kiln.{op}: expected a file path (str or os.PathLike), got "
                        f"{type(f).__name__}; kiln writes safetensors files atomically by "
                        "path, not through file objects") from None
