#!/usr/bin/env python3
"""Known-answer vectors for the SecAgg PRG and Shamir sharing, computed
independently of libsodium (python 'cryptography' ChaCha20 and Python
integers). Regenerate: python3 gen_vectors.py > this directory's files."""
import hashlib
import struct
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

L = 2**252 + 27742317777372353535851937790883648493


def chacha(key, state_words_12_15, nbytes):
    c = Cipher(algorithms.ChaCha20(key, state_words_12_15), mode=None)
    return c.encryptor().update(b"\0" * nbytes)


def prg_bytes(seed, nwords):
    # IETF: counter 0 (word 12), nonce "LibsodiumDRG" (words 13..15)
    return chacha(seed, struct.pack("<I", 0) + b"LibsodiumDRG", 4 * nwords)


def coef(seed, i):
    # original ChaCha20: 64-bit counter 0, 8-byte nonce = i little-endian
    wide = chacha(seed, struct.pack("<Q", 0) + struct.pack("<Q", i), 64)
    return int.from_bytes(wide, "little") % L


def split(secret, t, xs, seed):
    halves = [int.from_bytes(secret[:16], "little"),
              int.from_bytes(secret[16:], "little")]
    shares = []
    for x in xs:
        out = b""
        for h in range(2):
            cs = [halves[h]] + [coef(seed, h * (t - 1) + j - 1)
                                for j in range(1, t)]
            y = sum(c * pow(x, j, L) for j, c in enumerate(cs)) % L
            out += y.to_bytes(32, "little")
        shares.append(out)
    return shares


def main(which):
    seeds = [bytes(32), bytes(range(32)),
             hashlib.blake2b(b"privfl prg kat", digest_size=32).digest()]
    if which == "prg":
        for seed in seeds:
            for n in (1, 5, 2047, 2048, 2049, 10000):
                ks = prg_bytes(seed, n)
                first = struct.unpack("<%dI" % min(n, 8), ks[:4 * min(n, 8)])
                last = struct.unpack("<I", ks[-4:])[0]
                print(seed.hex(), n, hashlib.blake2b(ks, digest_size=32)
                      .hexdigest(), "%08x" % last,
                      ",".join("%08x" % w for w in first))
    else:
        cases = [(1, [1, 2, 3]), (2, [1, 2, 3]), (3, [7, 1, 100, 4000000000]),
                 (5, [5, 4, 3, 2, 1, 9, 10]), (10, list(range(1, 13)))]
        for k, (t, xs) in enumerate(cases):
            secret = hashlib.blake2b(b"secret %d" % k, digest_size=32).digest()
            seed = hashlib.blake2b(b"coef %d" % k, digest_size=32).digest()
            shares = split(secret, t, xs, seed)
            print(secret.hex(), seed.hex(), t, ",".join(map(str, xs)),
                  ",".join(s.hex() for s in shares))


main(sys.argv[1])
