#!/usr/bin/env python3
"""Reads and writes torch.save files with numpy only (no torch), for the tests.

Reading uses a restricted pickle.Unpickler: only torch's tensor rebuild functions, its typed
storage classes and collections.OrderedDict resolve; storages come back through persistent_load.
Writing emits the same opcodes torch.save does (the stdlib pickler at protocol 2, driven by
torch's persistent_id), in both layouts of torch/serialization.py:
  zip:    <name>/data.pkl, <name>/byteorder, <name>/data/<key> (64-byte aligned, stored),
          <name>/version, <name>/.data/serialization_id
  legacy: pickles of the magic number, the protocol version, the sys-info dict, the object,
          the sorted storage keys; then per storage an int64 element count and its raw bytes.

CLI (used by Tests/SloMoNeuralTests):
  torch_pickle.py checksums FILE [--key KEY]
      one line per tensor: name, shape, checksum of its float32 values (see checksum()).
  torch_pickle.py fixture OUT --format zip|legacy [--nested] [--seed N]
      writes a checkpoint exercising prefixes, strides, shared storages and dtypes;
      prints the tensors it holds as JSON (name -> {"shape", "values"}, module. stripped).
"""
import argparse
import codecs
import collections
import datetime
import io
import json
import pickle
import struct
import sys
import zipfile

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "DoubleStorage": np.dtype("<f8"),
    "BFloat16Storage": np.dtype("<u2"),  # raw bits; converted on the way out
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}
REBUILDERS = {"_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state"}


# ---------------------------------------------------------------- reading

class _StorageType:
    def __init__(self, name):
        self.name = name


class _Storage:
    def __init__(self, type_name, numel):
        self.type_name = type_name
        self.array = np.zeros(numel, STORAGE_DTYPES[type_name])


class _TensorView:
    """A strided view, resolved once the storage bytes are in (legacy storages follow the pickle)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def numpy(self):
        return _strided(self.storage.array, self.storage.type_name, self.offset, self.size, self.stride)


def _strided(array, type_name, offset, size, stride):
    """A contiguous copy of the view (in elements) of a storage, bfloat16 bits widened to float32."""
    itemsize = array.dtype.itemsize
    view = np.ascontiguousarray(np.lib.stride_tricks.as_strided(array[offset:], size, [s * itemsize for s in stride]))
    if type_name == "BFloat16Storage":
        return (view.astype(np.uint32) << 16).view(np.float32)
    return view


def _rebuild_tensor(storage, offset, size, stride, *_):
    return _TensorView(storage, offset, size, stride)


def _rebuild_parameter(data, *_):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages, read_record=None):
        super().__init__(file)
        self.storages = storages
        self.read_record = read_record

    def find_class(self, module, name):
        if module == "torch._utils" and name in REBUILDERS:
            return _rebuild_tensor if name.startswith("_rebuild_tensor") else _rebuild_parameter
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        # A training checkpoint's timestamp: a datetime built from bytes, which protocol 2 writes via _codecs.encode.
        if (module, name) in (("datetime", "datetime"), ("_codecs", "encode")):
            return datetime.datetime if module == "datetime" else codecs.encode
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        assert kind == "storage" and isinstance(storage_type, _StorageType)
        if key not in self.storages:
            storage = _Storage(storage_type.name, numel)
            if self.read_record is not None:
                storage.array[:] = np.frombuffer(self.read_record(key), storage.array.dtype, numel)
            self.storages[key] = storage
        storage = self.storages[key]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("legacy storage views are not supported")
        return storage


def _resolve(obj):
    if isinstance(obj, _TensorView):
        return obj.numpy()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_resolve(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(v) for v in obj)
    return obj


def load(path):
    """The object in a torch.save file, with tensors as numpy arrays of their stored dtype."""
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                pickle_name = next(n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1)
                prefix = pickle_name[: -len("data.pkl")]
                storages = {}
                unpickler = _Unpickler(io.BytesIO(archive.read(pickle_name)), storages,
                                       lambda key: archive.read(prefix + "data/" + key))
                return _resolve(unpickler.load())
        f.seek(0)
        storages = {}
        if pickle.load(f) != MAGIC_NUMBER:
            raise ValueError(f"{path} is not a torch file")
        if pickle.load(f) != PROTOCOL_VERSION:
            raise ValueError(f"{path}: unknown legacy protocol version")
        pickle.load(f)  # sys info
        obj = _Unpickler(f, storages).load()
        for key in pickle.load(f):
            storage = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            data = f.read(numel * storage.array.dtype.itemsize)
            storage.array[:] = np.frombuffer(data, storage.array.dtype, numel)[: storage.array.size]
        return _resolve(obj)


def state_dict(path, key=None):
    obj = load(path)
    if key is not None:
        obj = obj[key]
    return collections.OrderedDict((k[len("module."):] if k.startswith("module.") else k, v) for k, v in obj.items())


def checksum(array):
    """Order- and bit-exact: sum over i of (float32 bits of element i) * (i + 1), modulo 2**64."""
    bits = np.ascontiguousarray(array, dtype="<f4").reshape(-1).view("<u4").astype(np.uint64)
    return int(np.sum(bits * np.arange(1, bits.size + 1, dtype=np.uint64), dtype=np.uint64))


# ---------------------------------------------------------------- writing

class Tensor:
    """A tensor to save: a strided view (in elements) of a 1-D storage array. Tensors sharing
    the same storage array object share one storage in the file, as in torch."""

    def __init__(self, storage, offset, shape, stride, storage_type=None):
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)
        self.storage_type = storage_type or next(n for n, d in STORAGE_DTYPES.items()
                                                 if d == storage.dtype.newbyteorder("<") and n != "BFloat16Storage")

    @staticmethod
    def of(array, storage_type=None):
        array = np.ascontiguousarray(array)
        strides = [s // array.itemsize for s in array.strides] if array.ndim else []
        return Tensor(array.reshape(-1), 0, array.shape, strides, storage_type)

    def values(self):
        """What torch would load, as float32."""
        return _strided(self.storage, self.storage_type, self.offset, self.shape, self.stride).astype(np.float32)


class StateDict(collections.OrderedDict):
    """An OrderedDict pickled the way nn.Module.state_dict() is: with a `_metadata` attribute."""
    metadata = None


class _Persistent:
    """A tensor's storage, written as torch's persistent id."""

    def __init__(self, tensor):
        self.tensor = tensor


class _GlobalRef:
    """A module-level name (torch.FloatStorage), written as GLOBAL."""

    def __init__(self, module, name):
        self.module, self.name = module, name


class _Emitter:
    """The opcodes CPython's pickler writes at protocol 2 for the objects torch checkpoints hold."""

    def __init__(self, legacy):
        self.out = bytearray(b"\x80\x02")
        self.memo = {}
        self.legacy = legacy
        self.storage_keys = {}  # id(storage array) -> key
        self.storages = {}  # key -> (array, type name)

    def memoize(self, key, obj=None):
        # Holding obj keeps its id() from being reused by a later temporary, as pickle's memo does.
        index = len(self.memo)
        self.memo[key] = (index, obj)
        self.out += b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index)

    def fetched(self, key):
        if key not in self.memo:
            return False
        index = self.memo[key][0]
        self.out += b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)
        return True

    def glob(self, module, name):
        if not self.fetched(("global", module, name)):
            self.out += b"c" + f"{module}\n{name}\n".encode()
            self.memoize(("global", module, name))

    def save(self, obj):
        if isinstance(obj, (tuple, list, dict, Tensor, datetime.datetime)) and self.fetched(("obj", id(obj))):
            return  # saved before: pickle refers back to it
        if obj is None:
            self.out += b"N"
        elif obj is True or obj is False:
            self.out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            if 0 <= obj < 256:
                self.out += b"K" + bytes([obj])
            elif 0 <= obj < 65536:
                self.out += b"M" + struct.pack("<H", obj)
            elif -(2 ** 31) <= obj < 2 ** 31:
                self.out += b"J" + struct.pack("<i", obj)
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                self.out += b"\x8a" + bytes([len(raw)]) + raw
        elif isinstance(obj, float):
            self.out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            if not self.fetched(("str", obj)):
                raw = obj.encode()
                self.out += b"X" + struct.pack("<I", len(raw)) + raw
                self.memoize(("str", obj))
        elif isinstance(obj, tuple):
            self.save_tuple(obj)
        elif isinstance(obj, list):
            self.out += b"]"
            self.memoize(("obj", id(obj)), obj)
            for start in range(0, len(obj), 1000):  # pickle's batch size
                batch = obj[start:start + 1000]
                if len(batch) > 1:
                    self.out += b"("
                for item in batch:
                    self.save(item)
                self.out += b"e" if len(batch) > 1 else b"a"
        elif isinstance(obj, Tensor):
            self.glob("torch._utils", "_rebuild_tensor_v2")
            self.save_tuple((_Persistent(obj), obj.offset, obj.shape, obj.stride, False, collections.OrderedDict()))
            self.out += b"R"
            self.memoize(("obj", id(obj)), obj)
        elif isinstance(obj, datetime.datetime):
            # datetime reduces to (datetime, (state bytes,)); protocol 2 writes bytes as _codecs.encode(latin-1 text).
            self.glob("datetime", "datetime")
            self.glob("_codecs", "encode")
            self.save_tuple((obj.__reduce__()[1][0].decode("latin1"), "latin1"))
            self.out += b"R"
            self.memoize(("bytes", id(obj)), obj)
            self.out += b"\x85"
            self.memoize(("arguments", id(obj)), obj)
            self.out += b"R"
            self.memoize(("obj", id(obj)), obj)
        elif isinstance(obj, _GlobalRef):
            self.glob(obj.module, obj.name)
        elif isinstance(obj, _Persistent):
            self.save_tuple(self.persistent_id(obj.tensor))
            self.out += b"Q"
        elif isinstance(obj, collections.OrderedDict):
            self.glob("collections", "OrderedDict")
            self.out += b")R"
            self.memoize(("obj", id(obj)), obj)
            self.save_items(obj)
            if isinstance(obj, StateDict) and obj.metadata is not None:
                self.save({"_metadata": obj.metadata})
                self.out += b"b"
        elif isinstance(obj, dict):
            self.out += b"}"
            self.memoize(("obj", id(obj)), obj)
            self.save_items(obj)
        else:
            raise TypeError(f"cannot write {type(obj).__name__}")

    def save_tuple(self, items):
        if not items:
            self.out += b")"
            return
        if len(items) > 3:
            self.out += b"("
        for item in items:
            self.save(item)
        self.out += b"t" if len(items) > 3 else bytes([0x84 + len(items)])
        self.memoize(("obj", id(items)), items)

    def save_items(self, mapping):
        items = list(mapping.items())
        for start in range(0, len(items), 1000):  # pickle's batch size
            batch = items[start:start + 1000]
            if len(batch) > 1:
                self.out += b"("
            for key, value in batch:
                self.save(key)
                self.save(value)
            self.out += b"u" if len(batch) > 1 else b"s"

    def persistent_id(self, tensor):
        storage = tensor.storage
        if id(storage) not in self.storage_keys:
            # zip: keys count up; legacy: torch used the storage's address.
            key = str(id(storage)) if self.legacy else str(len(self.storage_keys))
            self.storage_keys[id(storage)] = key
            self.storages[key] = (storage, tensor.storage_type)
        key = self.storage_keys[id(storage)]
        storage_type = _GlobalRef("torch", tensor.storage_type)
        if self.legacy:
            return ("storage", storage_type, key, "cpu", storage.size, None)
        return ("storage", storage_type, key, "cpu", storage.size)


def save(obj, path, format="zip"):
    """Writes obj (dicts, lists, tuples, scalars, Tensor) as torch.save would, in `format`."""
    emitter = _Emitter(legacy=(format == "legacy"))
    emitter.save(obj)
    emitter.out += b"."
    if format == "legacy":
        with open(path, "wb") as f:
            f.write(pickle.dumps(MAGIC_NUMBER, protocol=2))
            f.write(pickle.dumps(PROTOCOL_VERSION, protocol=2))
            f.write(pickle.dumps({"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                                  "type_sizes": {"short": 2, "int": 4, "long": 8}}, protocol=2))
            f.write(emitter.out)
            keys = sorted(emitter.storages)
            f.write(pickle.dumps(keys, protocol=2))
            for key in keys:
                array, _ = emitter.storages[key]
                f.write(struct.pack("<q", array.size))
                f.write(np.ascontiguousarray(array).tobytes())
        return
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "archive"
    records = [("data.pkl", bytes(emitter.out)), ("byteorder", b"little")]
    records += [(f"data/{key}", np.ascontiguousarray(emitter.storages[key][0]).tobytes()) for key in sorted(emitter.storages)]
    records += [("version", b"3\n"), (".data/serialization_id", b"0" * 40)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for record, data in records:
            info = zipfile.ZipInfo(f"{name}/{record}", date_time=(1980, 1, 1, 0, 0, 0))
            # torch pads the local header's extra field ("FB") so every record's data is 64-byte aligned.
            start = archive.fp.tell() + 30 + len(info.filename.encode()) + 4
            padding = -start % 64
            info.extra = struct.pack("<HH", 0x4246, padding) + b"Z" * padding
            archive.writestr(info, data)


# ---------------------------------------------------------------- fixtures

def fixture(seed, nested):
    """A state dict covering what the Swift reader must handle; returns (object to save, expected tensors)."""
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal(35).astype(np.float32)  # a (5, 7) storage
    shared = rng.standard_normal(10).astype(np.float32)
    tensors = collections.OrderedDict([
        ("conv.weight", Tensor.of(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))),
        ("conv.bias", Tensor.of(rng.standard_normal(4).astype(np.float32))),
        # The transpose of the (5, 7) matrix: non-contiguous.
        ("fc.weight_t", Tensor(matrix, 0, (7, 5), (1, 7))),
        ("half", Tensor.of(rng.standard_normal((2, 3, 4)).astype(np.float16))),
        ("bfloat", Tensor.of((rng.standard_normal(6).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16),
                             "BFloat16Storage")),
        ("double", Tensor.of(rng.standard_normal(3))),
        ("bn.num_batches_tracked", Tensor.of(np.array(12345, dtype=np.int64))),
        # Two views of one storage, the second at an offset.
        ("shared.head", Tensor(shared, 0, (2, 2), (2, 1))),
        ("shared.tail", Tensor(shared, 4, (3, 2), (2, 1))),
    ])

    def prefixed(prefix):
        state = StateDict((prefix + name, tensor) for name, tensor in tensors.items())
        state.metadata = collections.OrderedDict([("", {"version": 1})])
        return state

    expected = {name: {"shape": list(t.shape), "values": [float(v) for v in t.values().reshape(-1)]}
                for name, t in tensors.items()}
    if nested:
        # Laid out like Super SloMo's training checkpoints.
        obj = {"Detail": "End to end Super SloMo.", "epoch": 3, "timestamp": datetime.datetime(2018, 7, 4, 12, 30, 5, 123456),
               "trainBatchSz": 6, "validationBatchSz": 10, "learningRate": 1e-4, "loss": [[0.5, 0.25]], "valLoss": [[0.75]],
               "valPSNR": [[30.5]], "state_dictFC": prefixed(""), "state_dictAT": prefixed("module.")}
        return obj, expected
    return prefixed("module."), expected


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    sums = commands.add_parser("checksums")
    sums.add_argument("file")
    sums.add_argument("--key")
    fix = commands.add_parser("fixture")
    fix.add_argument("out")
    fix.add_argument("--format", choices=["zip", "legacy"], default="zip")
    fix.add_argument("--nested", action="store_true")
    fix.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "checksums":
        for name, array in state_dict(args.file, args.key).items():
            shape = ",".join(str(n) for n in array.shape)
            print(f"{name} [{shape}] {checksum(array.astype(np.float32))}")
    else:
        obj, expected = fixture(args.seed, args.nested)
        save(obj, args.out, args.format)
        json.dump(expected, sys.stdout)


if __name__ == "__main__":
    main()
