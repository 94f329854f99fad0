#!/usr/bin/python3
"""Seed corpora of fuzz_safetensors, fuzz_idx and fuzz_csv (valid and
invalid inputs). Regenerate with python3 tests/vectors/model/gen_fuzz_corpus.py"""
import gzip
import json
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(here, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def st(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


w = struct.pack("<15f", *[i / 7.0 for i in range(15)])
good = {"__metadata__": {"privfl.model": "logreg"},
        "fc.weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
        "fc.bias": {"dtype": "F32", "shape": [3], "data_offsets": [48, 60]}}
put("fuzz_safetensors", "valid_logreg", st(good, w))
put("fuzz_safetensors", "valid_empty", st({}, b""))
put("fuzz_safetensors", "truncated", st(good, w)[:70])
bad = dict(good)
bad["fc.bias"] = {"dtype": "F32", "shape": [3], "data_offsets": [48, 6000]}
put("fuzz_safetensors", "offset_past_end", st(bad, w))
put("fuzz_safetensors", "huge_header_len", struct.pack("<Q", 1 << 62) + b"{}")
put("fuzz_safetensors", "bad_json", struct.pack("<Q", 9) + b'{"a":{"dt')
put("fuzz_safetensors", "escapes", st({"__metadata__": {"k\u00e9\n": "\ud83d\ude00\"\\"}}, b""))


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + payload


def pair(img, lab):
    return struct.pack("<H", len(img)) + img + lab


img = idx([2, 3, 3], bytes(range(18)))
lab = idx([2], bytes([1, 0]))
put("fuzz_idx", "valid_raw", pair(img, lab))
put("fuzz_idx", "valid_gzip", pair(gzip.compress(img, mtime=0), gzip.compress(lab, mtime=0)))
put("fuzz_idx", "valid_2d", pair(idx([2, 5], bytes(10)), lab))
put("fuzz_idx", "count_mismatch", pair(img, idx([3], bytes([1, 0, 2]))))
put("fuzz_idx", "truncated", pair(img[:-3], lab))
put("fuzz_idx", "huge_dims", pair(bytes([0, 0, 8, 3]) + struct.pack(">III", 0xffffffff, 0xffffffff, 2), lab))
put("fuzz_idx", "bad_gzip", pair(gzip.compress(img, mtime=0)[:20], lab))

csv = (b"age,color,income,c,label\n30,red,100,1,yes\n40,blue,,2,no\n"
       b"\"50\",\"gr\"\"een\",300,1,yes\r\nNA,red,200,3,no\n60,red,400,2,yes\n")
for opt in (0, 2, 3, 4, 8, 14):
    put("fuzz_csv", "valid_opt%d" % opt, bytes([opt]) + csv)
put("fuzz_csv", "ragged", b"\x02a,label\n1,x\n2\n3,y\n")
put("fuzz_csv", "unterminated_quote", b"\x02a,label\n\"1,x\n")
put("fuzz_csv", "one_class", b"\x02a,label\n1,x\n2,x\n")
put("fuzz_csv", "no_label", b"\x02a,b\n1,2\n")
put("fuzz_csv", "empty", b"\x00")
