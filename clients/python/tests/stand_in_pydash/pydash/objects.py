"""pydash.objects' get, omit and set_ for dotted paths: what azure-ai-ml 1.4.0 calls."""

from typing import Any, Iterable, List

_MISSING = object()


def _path(path: Any) -> List[str]:
    return list(path) if isinstance(path, (list, tuple)) else str(path).split(".")


def get(obj: Any, path: Any, default: Any = None) -> Any:
    for key in _path(path):
        if isinstance(obj, dict):
            obj = obj.get(key, _MISSING)
        elif isinstance(obj, (list, tuple)) and key.isdigit():
            obj = obj[int(key)] if int(key) < len(obj) else _MISSING
        else:
            obj = getattr(obj, key, _MISSING)
        if obj is _MISSING:
            return default
    return obj


def omit(obj: Any, *keys: Any) -> dict:
    drop = set()
    for key in keys:
        drop.update([key] if isinstance(key, str) else key)
    return {k: v for k, v in dict(obj).items() if k not in drop}


def set_(obj: Any, path: Any, value: Any) -> Any:
    keys = _path(path)
    here = obj
    for key in keys[:-1]:
        if isinstance(here, dict):
            here = here.setdefault(key, {})
        else:
            if getattr(here, key, None) is None:
                setattr(here, key, {})
            here = getattr(here, key)
    if isinstance(here, dict):
        here[keys[-1]] = value
    else:
        setattr(here, keys[-1], value)
    return obj
