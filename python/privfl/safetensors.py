"""safetensors files with the standard library and NumPy (no safetensors
package needed): an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw
little-endian data. privfl's own reader (C) is the hardened one; this
module writes files for it and reads the files it writes."""

import json
import struct

import numpy as np

# safetensors dtype name <-> NumPy dtype. BF16 has no NumPy dtype: it is
# read as float32 (exactly) and written from float32 (rounded to nearest).
DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def _bf16_to_f32(raw):
    u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return u.view(np.float32)


def _f32_to_bf16(a):
    u = np.array(a, dtype=np.float32, order="C").view(np.uint32)
    nan = np.isnan(a)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r.astype("<u2").tobytes()


def save(tensors, path, metadata=None, bf16=()):
    """Write tensors (a dict name -> array-like, e.g. a PyTorch state_dict
    converted with .numpy()) to path. Names listed in bf16 are stored as
    BF16. The tensors are written in name order."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if name in bf16:
            dt, raw = "BF16", _f32_to_bf16(a.astype(np.float32).ravel())
        else:
            a = np.array(a, order="C")  # (keeps 0-d shapes)
            dt = _NAMES.get(a.dtype)
            if dt is None:
                raise ValueError("tensor %r: dtype %s has no safetensors "
                                 "name" % (name, a.dtype))
            raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """Read a safetensors file into (dict name -> NumPy array, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: truncated" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: truncated header" % path)
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        raw = body[b:e]
        if t["dtype"] == "BF16":
            a = _bf16_to_f32(raw)
        else:
            a = np.frombuffer(raw, dtype=np.dtype(DTYPES[t["dtype"]])
                              .newbyteorder("<"))
        out[name] = a.reshape(t["shape"]).copy()
    return out, meta
