#!/usr/bin/env python3
"""Seed corpus for tests/fuzz/fuzz_accountant_state: valid checkpoints in
the pfl_accountant_save format (magic, version, method, count, records of
q, sigma, steps as little-endian f64/f64/u64, BLAKE2b-128 checksum) and a
few broken ones. Writes into tests/fuzz/corpus/fuzz_accountant_state/."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fuzz", "corpus", "fuzz_accountant_state")


def state(method, charges, version=1, fix_sum=True):
    b = b"PFLACCT\0" + struct.pack("<III", version, method, len(charges))
    for q, s, t in charges:
        b += struct.pack("<ddQ", q, s, t)
    return b + (hashlib.blake2b(b, digest_size=16).digest() if fix_sum
                else b"\0" * 16)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        "empty_rdp": state(0, []),
        "empty_pld": state(1, []),
        "one_rdp": state(0, [(0.0355, 1.2, 100)]),
        "two_rdp": state(0, [(0.03, 1.1, 7), (0.04, 0.9, 3)]),
        "one_pld": state(1, [(0.01, 2.0, 10)]),
        "bad_sum": state(0, [(0.03, 1.1, 7)], fix_sum=False),
        "bad_method": state(5, [(0.03, 1.1, 7)]),
        "bad_version": state(0, [], version=2),
        "bad_q": state(0, [(1.5, 1.1, 7)]),
        "nan_sigma": state(0, [(0.5, float("nan"), 7)]),
        "zero_steps": state(0, [(0.5, 1.0, 0)]),
        "huge_steps": state(0, [(0.5, 1.0, 1 << 62)]),
        "truncated": state(0, [(0.03, 1.1, 7)])[:30],
        "count_lies": state(0, [(0.03, 1.1, 7)])[:16] +
        struct.pack("<I", 1000) + state(0, [(0.03, 1.1, 7)])[20:],
    }
    for name, data in cases.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
