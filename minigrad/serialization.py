"""Checkpoint files: ``minigrad.save`` / ``minigrad.load`` and ``Module.save`` / ``Module.load``.

The format is an uncompressed NumPy ``.npz`` (a zip archive of ``.npy`` arrays) read without
pickle, so loading a file never runs code from it (PyTorch's ``torch.save`` files are pickles and
``torch.load`` needs ``weights_only=True`` for that guarantee). ``Module.save`` stores one array
per state-dict entry under its name, so ``np.load`` reads it too. ``minigrad.save`` stores the
arrays of any nested structure plus one more member, ``__minigrad__``: the structure as JSON
(dicts with the types of their keys, lists, tuples, numbers, strings, None), whose leaves name
the arrays. That holds a model's, an optimizer's and a scheduler's state dicts in one file.

Writes are atomic: the archive goes to a temporary file beside the target, is flushed to disk and
renamed over the target, so a crash leaves either the old file or the new one, never half of
one. The temporary's name, ``.<target name>.tmp.<host>.<pid>.<random>``, says whose it is: a
save that is killed leaves it behind, and the next save to the same path removes the ones whose
process no longer runs on this host (a save still running elsewhere keeps its own). New files
get the permissions ``open()`` would give (``0o666`` less the umask); an existing file keeps
its permissions.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import socket
import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

from minigrad import _device
from minigrad.tensor import Tensor, from_numpy

__all__ = ["save", "load"]

PathLike = str | os.PathLike
HEADER = "__minigrad__"  # the archive member holding the structure of a minigrad.save file
FORMAT_VERSION = 1
_EXPECTED = "an .npz archive written by Module.save or minigrad.save"


# -- atomic writes --------------------------------------------------------------------------------

def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def _temp_prefix(target: str) -> str:
    """Every temporary of a save to ``target`` starts with this (in the target's directory)."""
    return f".{os.path.basename(target)}.tmp."


_TEMP_TAIL = re.compile(r"^(?P<host>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{12})$")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, which can no longer write, does
    not count)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError:
        return True  # cannot tell: keep its file
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"
    except (OSError, ValueError):
        return True


def stale_temporaries(target: PathLike) -> list[str]:
    """Paths of the temporaries that killed saves to ``target`` left behind on this host."""
    target = os.path.abspath(os.fspath(target))
    directory, prefix, host = os.path.dirname(target), _temp_prefix(target), _host()
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    stale = []
    for name in names:
        if not name.startswith(prefix):
            continue
        m = _TEMP_TAIL.match(name[len(prefix):])
        if m and m["host"] == host and not _pid_alive(int(m["pid"])):
            stale.append(os.path.join(directory, name))
    return stale


def write_atomic(path: PathLike, write: Callable[[IO[bytes]], None], who: str) -> None:
    """Call ``write(file)`` on a temporary file beside ``path`` and rename it over ``path``.

    Errors name ``path`` (never the temporary); on any failure ``path`` is untouched and the
    temporary is removed. Removes the temporaries that killed saves to ``path`` left behind."""
    path = os.fspath(path)
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, f"{who}: cannot write a checkpoint over a "
                                "directory", path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT,
            f"{who}: cannot write the checkpoint, the directory {directory} does not exist "
            "(create it first)",
            path,
        )
    for stale in stale_temporaries(target):
        try:
            os.unlink(stale)
        except OSError:
            pass  # another save removed it first, or we may not: not this save's problem
    try:
        keep_mode: int | None = os.stat(target).st_mode & 0o7777
    except OSError:
        keep_mode = None
    prefix = _temp_prefix(target) + f"{_host()}.{os.getpid()}."
    while True:
        tmp = os.path.join(directory, prefix + secrets.token_hex(6))
        try:
            # 0o666 less the umask, as open() would create the file
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise type(e)(e.errno, f"{who}: cannot write the checkpoint: {e.strerror}",
                          path) from None
    try:
        if keep_mode is not None:
            os.fchmod(fd, keep_mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# -- the archive ----------------------------------------------------------------------------------

def write_npz(f: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """An uncompressed .npz of ``arrays`` (what ``np.savez`` writes), never pickling."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _describe_start(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return f"it looks like text (starts with {head.decode('ascii')!r})"
    return f"it starts with the bytes {head!r}"


def _not_a_checkpoint(who: str, path: str, why: str) -> ValueError:
    return ValueError(f"{who}: {path} is not a minigrad checkpoint ({_EXPECTED}): {why}")


def read_npz(f: PathLike | IO[bytes], who: str) -> tuple[dict[str, np.ndarray], Any]:
    """The arrays of a checkpoint, in file order, and its decoded header (None for a plain
    .npz such as ``Module.save`` writes). Anything else raises an error naming the file and
    what it seems to be; nothing is ever unpickled."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, f"{who}: a directory, not a checkpoint file",
                                    path)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, f"{who}: no such file", path)
        with open(path, "rb") as fh:
            return _read_archive(fh, path, who)
    return _read_archive(f, getattr(f, "name", repr(f)), who)


def _read_archive(fh: IO[bytes], path: str, who: str) -> tuple[dict[str, np.ndarray], Any]:
    head = fh.read(8)
    fh.seek(0)
    if head.startswith(b"\x93NUMPY"):
        raise _not_a_checkpoint(
            who, path, "it holds a single array (numpy.save's .npy format); read it with "
            "numpy.load")
    if head[:1] == b"\x80":
        raise _not_a_checkpoint(
            who, path, "it looks like a pickle (pickle.dump, or torch.save's legacy format), and "
            "minigrad never unpickles files: unpickling can run any code the file contains")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _not_a_checkpoint(who, path, _describe_start(head))
    try:
        with zipfile.ZipFile(fh) as zf:
            names = zf.namelist()
            if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
                raise _not_a_checkpoint(
                    who, path, "it is a PyTorch checkpoint (torch.save), whose tensors are "
                    "stored in a pickle, and minigrad never unpickles files. Convert it where "
                    "PyTorch is installed: state = torch.load(path, weights_only=True); "
                    "numpy.savez('out.npz', **{k: v.numpy() for k, v in state.items()})")
            others = [n for n in names if not n.endswith(".npy")]
            if others:
                raise _not_a_checkpoint(
                    who, path, f"it is a zip archive holding {others[:3]} besides arrays")
            arrays = {}
            for name in names:
                with zf.open(name) as member:
                    try:
                        arrays[name[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
                    except ValueError as e:
                        if "allow_pickle" not in str(e):
                            raise
                        raise _not_a_checkpoint(
                            who, path, f"its array {name[:-4]!r} holds pickled Python objects"
                        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ValueError(
            f"{who}: {path} is damaged (truncated or corrupt zip archive: {e}); expected "
            f"{_EXPECTED}") from None
    if HEADER not in arrays:
        return arrays, None
    raw = arrays.pop(HEADER)
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
        version = header["version"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{who}: {path}: unreadable {HEADER} structure ({e})") from None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{who}: {path} was written in checkpoint format {version!r}; this "
                         f"minigrad reads format {FORMAT_VERSION} and older: upgrade minigrad")
    return arrays, header


# -- nested structures <-> JSON + arrays ----------------------------------------------------------

_DICT_TYPES: dict[str, type] = {"dict": dict, "OrderedDict": OrderedDict, "Counter": Counter}
_SUPPORTED = ("Tensors, NumPy arrays and scalars, Python numbers, str, bool, None, and "
              "dicts, lists and tuples of these")


# ``nn.Parameter`` sits above this module (nn imports serialization for Module.save), so it names
# itself here when minigrad.nn.parameter is imported; a saved Parameter loads back as one.
_PARAMETER_TYPE: list[Any] = [None]


def register_parameter_type(cls: type) -> None:
    """Make ``cls`` (``nn.Parameter``) the type that saved parameters load back as."""
    _PARAMETER_TYPE[0] = cls


def _key_path(path: str, key: Any) -> str:
    return f"{path}[{key!r}]"


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.names: dict[int, str] = {}  # id(tensor or array) -> member name: shared stays shared
        self.keep: list[Any] = []  # keeps the objects behind those ids alive while encoding
        self.active: set[int] = set()  # containers being encoded: detects cycles

    def _store(self, obj: Any, array: np.ndarray, parts: list[str], path: str) -> str:
        if array.dtype.hasobject:
            raise TypeError(f"minigrad.save: {path} is an array of Python objects (dtype "
                            f"{array.dtype}); only numeric, bool and string arrays can be saved")
        name = self.names.get(id(obj))
        if name is not None:
            return name
        base = "/".join(parts) or "obj"
        name, k = base, 1
        while name in self.arrays or name == HEADER:
            name, k = f"{base}~{k}", k + 1
        self.arrays[name] = array
        self.names[id(obj)] = name
        self.keep.append(obj)
        return name

    def key(self, key: Any, path: str) -> Any:
        if key is None or isinstance(key, (bool, int, str)):
            return key
        if isinstance(key, float):
            return self.value(key, [], path)
        if isinstance(key, tuple):
            return {"$tuple": [self.key(k, path) for k in key]}
        raise TypeError(f"minigrad.save: a key of {path} is a {type(key).__name__}; dict keys "
                        "must be str, int, float, bool, None or tuples of these")

    def value(self, obj: Any, parts: list[str], path: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)  # an int subclass (IntEnum, ...) saves as its value
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"$float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if isinstance(obj, Tensor):
            out = {"$tensor": self._store(obj, _device.to_host(obj.data), parts, path),
                   "requires_grad": bool(obj.requires_grad)}
            if type(obj) is _PARAMETER_TYPE[0]:
                out["parameter"] = True
            return out
        if isinstance(obj, np.ndarray):
            return {"$ndarray": self._store(obj, obj, parts, path)}
        if isinstance(obj, np.generic):
            return {"$scalar": self._store(obj, np.asarray(obj), parts, path)}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.active:
                raise ValueError(f"minigrad.save: {path} contains itself (a reference cycle)")
            self.active.add(id(obj))
            try:
                return self._container(obj, parts, path)
            finally:
                self.active.discard(id(obj))
        raise TypeError(f"minigrad.save: {path} is a {type(obj).__module__}."
                        f"{type(obj).__qualname__}; the format stores no code, so it holds only "
                        f"{_SUPPORTED}")

    def _container(self, obj: Any, parts: list[str], path: str) -> Any:
        if isinstance(obj, dict):
            # OrderedDict and Counter (MultiStepLR's milestones) keep their type; any other
            # dict subclass (defaultdict, ...) loads as a dict
            kind = next((name for name, cls in _DICT_TYPES.items()
                         if cls is not dict and isinstance(obj, cls)), "dict")
            items = [[self.key(k, path), self.value(v, [*parts, str(k)], _key_path(path, k))]
                     for k, v in obj.items()]
            return {"$dict": items, "type": kind}
        items = [self.value(v, [*parts, str(i)], f"{path}[{i}]") for i, v in enumerate(obj)]
        return {"$tuple": items} if isinstance(obj, tuple) else items


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], path: str, who: str,
                 device: Any) -> None:
        self.arrays, self.path, self.who, self.device = arrays, path, who, device
        self.made: dict[str, Any] = {}  # member name -> object: shared comes back shared

    def _array(self, name: Any) -> np.ndarray:
        if name not in self.arrays:
            raise ValueError(f"{self.who}: {self.path}: the structure refers to an array "
                             f"{name!r} that the archive does not hold (damaged file)")
        return self.arrays[name]

    def _tensor(self, node: dict[str, Any]) -> Tensor:
        name = node["$tensor"]
        if name not in self.made:
            array = self._array(name)
            if node.get("parameter") and _PARAMETER_TYPE[0] is not None:
                t: Tensor = _PARAMETER_TYPE[0](array,
                                               requires_grad=bool(node.get("requires_grad")))
            else:
                t = from_numpy(array)
                if node.get("requires_grad"):
                    t.requires_grad_(True)
            if self.device is not None and str(self.device) != "cpu":
                t = _to_device(t, self.device)
            self.made[name] = t
        return self.made[name]

    def value(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if not isinstance(node, dict):
            raise ValueError(f"{self.who}: {self.path}: unexpected {type(node).__name__} in the "
                             "structure (damaged file)")
        if "$tensor" in node:
            return self._tensor(node)
        if "$ndarray" in node:
            name = node["$ndarray"]
            return self.made.setdefault(name, self._array(name))
        if "$scalar" in node:
            return self._array(node["$scalar"])[()]
        if "$float" in node:
            return float(node["$float"])
        if "$tuple" in node:
            return tuple(self.value(v) for v in node["$tuple"])
        if "$dict" in node:
            out = _DICT_TYPES.get(node.get("type", "dict"), dict)()
            for k, v in node["$dict"]:  # item by item: Counter(pairs) would count the pairs
                out[self.key(k)] = self.value(v)
            return out
        raise ValueError(f"{self.who}: {self.path}: unknown entry {sorted(node)} in the "
                         "structure (written by a newer minigrad?)")

    def key(self, node: Any) -> Any:
        if isinstance(node, dict) and "$tuple" in node:
            return tuple(self.key(k) for k in node["$tuple"])
        return self.value(node)


def _to_device(t: Tensor, device: Any) -> Tensor:
    moved = t.to(device)
    if t.requires_grad and moved is not t:  # keep it a leaf on its new device
        moved = moved.detach().requires_grad_(True)
    return moved


# -- public functions -----------------------------------------------------------------------------

def save(obj: Any, f: PathLike | IO[bytes]) -> None:
    """Save ``obj`` to ``f`` (a path, or a binary file object) without pickling.

    obj: Tensors, NumPy arrays and scalars, Python numbers, str, bool, None, and dicts (keys:
    str, int, float, bool, None or tuples of these; ``OrderedDict`` and ``Counter`` keep their
    type), lists and tuples nesting them, e.g. ``{"model": model.state_dict(), "optimizer":
    opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3}``. Anything else (a function,
    an arbitrary object) raises ``TypeError`` naming where it sits in ``obj``. Tensors are
    stored as host arrays; a tensor or array that appears twice is stored once and loads as
    one object. A path is written atomically (see the module docstring).
    """
    encoder = _Encoder()
    root = encoder.value(obj, [], "obj")
    header = json.dumps({"format": "minigrad", "version": FORMAT_VERSION, "root": root},
                        allow_nan=False, separators=(",", ":"))
    arrays = {HEADER: np.frombuffer(header.encode("utf-8"), dtype=np.uint8), **encoder.arrays}

    def write(fh: IO[bytes]) -> None:
        write_npz(fh, arrays)

    if isinstance(f, (str, os.PathLike)):
        write_atomic(f, write, "minigrad.save")
    elif hasattr(f, "write"):
        write(f)
    else:
        raise TypeError(f"minigrad.save: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")


def load(f: PathLike | IO[bytes], map_location: Any = None, weights_only: bool = True) -> Any:
    """Load what :func:`save` wrote (or a ``Module.save`` checkpoint, returned as an
    ``OrderedDict`` of name -> Tensor).

    Tensors load on the CPU, or on ``map_location`` (``"cpu"``, ``"cuda"`` or a
    ``minigrad.device``); ``requires_grad`` is restored. ``weights_only`` is accepted for
    PyTorch compatibility: files never hold code, so every load is as safe as PyTorch's
    ``weights_only=True``. Errors name the file and what it holds instead (a PyTorch ``.pt``, a
    pickle, a ``.npy``, text, a damaged archive).
    """
    if map_location is not None and not isinstance(map_location, str):
        raise TypeError("minigrad.load: map_location must be None, 'cpu', 'cuda' or a "
                        f"minigrad.device, got {type(map_location).__name__}")
    path = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    arrays, header = read_npz(f, "minigrad.load")
    decoder = _Decoder(arrays, path, "minigrad.load", map_location)
    if header is None:
        return OrderedDict((name, decoder._tensor({"$tensor": name})) for name in arrays)
    return decoder.value(header.get("root"))


def save_state_dict(state: Mapping[str, Tensor], path: PathLike, who: str) -> None:
    """``Module.save``: one array per entry, under its name (a plain .npz, no structure)."""
    if HEADER in state:
        raise ValueError(f"{who}: {HEADER!r} is reserved in checkpoints; rename that entry")
    arrays = {k: _device.to_host(v.data) for k, v in state.items()}
    write_atomic(path, lambda fh: write_npz(fh, arrays), who)


def load_state_dict_file(path: PathLike, who: str) -> Mapping[str, Any]:
    """``Module.load``: the state dict in a ``Module.save`` file, or in a ``minigrad.save``
    file whose object is a state dict (a mapping of names to tensors or arrays)."""
    arrays, header = read_npz(path, who)
    if header is None:
        return arrays
    obj = _Decoder(arrays, os.fspath(path), who, None).value(header.get("root"))
    if isinstance(obj, Mapping) and all(isinstance(v, (Tensor, np.ndarray))
                                        for v in obj.values()):
        return obj
    hint = ""
    if isinstance(obj, Mapping) and obj:
        entry = next((k for k, v in obj.items() if isinstance(v, Mapping)), next(iter(obj)))
        hint = (f"; load it with model.load_state_dict(minigrad.load(path)[{entry!r}]) or "
                "whichever entry holds the model's state")
    raise ValueError(
        f"{who}: {os.fspath(path)} was written by minigrad.save and holds a "
        f"{type(obj).__name__}"
        + (f" with keys {list(obj)[:6]}" if isinstance(obj, Mapping) else "")
        + f", not a state dict of tensors{hint}"
    )
