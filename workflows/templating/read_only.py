"""The read-only copy of a run's context that templates render against."""

import copy


def _read_only(*_args, **_kwargs):
    raise TypeError("the run's context is read-only")


class _ReadOnlyDict(dict):
    __module__ = "builtins"  # with the names below, errors read as before: "'dict object' has no attribute 'x'"
    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only


class _ReadOnlyList(list):
    __module__ = "builtins"
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = clear = extend = insert = pop = remove = reverse = sort = _read_only


_ReadOnlyDict.__name__, _ReadOnlyList.__name__ = "dict", "list"


def read_only_copy(value):
    """A copy that shares only immutable values with `value`: what a template does to it cannot
    reach the engine's context, even by a path the sandbox misses."""
    if isinstance(value, dict):
        return _ReadOnlyDict((key, read_only_copy(item)) for key, item in value.items())
    if isinstance(value, list):
        return _ReadOnlyList(map(read_only_copy, value))
    if isinstance(value, tuple):
        return tuple(map(read_only_copy, value))
    if isinstance(value, (str, int, float, type(None))):
        return value
    return copy.deepcopy(value)
