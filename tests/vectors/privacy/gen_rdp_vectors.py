#!/usr/bin/env python3
"""Reference values for the privfl RDP accountant, computed independently of
the C code with mpmath (50 digits):

  * integer orders: the closed form
      A = sum_i binom(a, i) (1-q)^(a-i) q^i exp((i^2 - i) / (2 s^2))
  * fractional orders: numerical integration of
      A = E_{z ~ N(0, s^2)} [(1 - q + q exp((2z - 1) / (2 s^2)))^a]
    (no series at all);
  RDP = log(A) / (a - 1).
  * epsilon: Canonne-Kamath-Steinke 2020 Prop. 12 minimized over the
    dp_accounting order list, with the same guards as dp_accounting.

Usage: python3 gen_rdp_vectors.py  (writes rdp_vectors.csv and
epsilon_vectors.csv next to this file; needs python3-mpmath).
"""
import os
import mpmath as mp

mp.mp.dps = 50
HERE = os.path.dirname(os.path.abspath(__file__))
ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + \
    [128, 256, 512, 1024]


def log_a(q, s, a):
    q, s = mp.mpf(q), mp.mpf(s)
    if float(a).is_integer():
        a = int(a)
        tot = mp.mpf(0)
        for i in range(a + 1):
            tot += mp.binomial(a, i) * (1 - q) ** (a - i) * q ** i * \
                mp.exp(mp.mpf(i * i - i) / (2 * s * s))
        return mp.log(tot)
    a = mp.mpf(a)

    def f(z):
        ratio = 1 - q + q * mp.exp((2 * z - 1) / (2 * s * s))
        return mp.npdf(z, 0, s) * ratio ** a
    # the integrand peaks near a/2 .. a (in units of 1); split at points
    pts = [-mp.inf, -10 * s, 0, mp.mpf(1) / 2, 1, a / 2, a, a + 10 * s,
           mp.inf]
    pts = sorted(set(pts))
    return mp.log(mp.quad(f, pts))


def rdp(q, s, a):
    if q == 1:
        return mp.mpf(a) / (2 * mp.mpf(s) ** 2)
    return log_a(q, s, a) / (mp.mpf(a) - 1)


def eps_from_rdp(rdps, delta):
    best, best_o = mp.inf, ORDERS[0]
    d = mp.mpf(delta)
    for a, r in zip(ORDERS, rdps):
        if d * d + mp.expm1(-r) > 0:
            e = mp.mpf(0)
        elif a > 1.01:
            e = r + mp.log1p(-mp.mpf(1) / a) - mp.log(d * a) / (mp.mpf(a) - 1)
        else:
            e = mp.inf
        if e < best:
            best, best_o = e, a
    return max(best, 0), best_o


def main():
    rdp_cases = [(0.01, 1.0), (0.0355, 1.2), (0.1, 0.8), (0.2, 2.0),
                 (0.5, 1.5), (0.001, 0.7), (0.05, 4.0)]
    orders = [1.1, 1.5, 2, 2.5, 3, 3.7, 5, 8, 10.9, 16, 32, 63, 256]
    with open(os.path.join(HERE, "rdp_vectors.csv"), "w") as f:
        f.write("q,sigma,order,rdp\n")
        for q, s in rdp_cases:
            for a in orders:
                f.write("%r,%r,%r,%s\n" % (q, s, float(a),
                                           mp.nstr(rdp(q, s, a), 17)))
    eps_cases = [(120 / 3383, 1.2, 100, 1e-5), (0.01, 1.1, 1000, 1e-5),
                 (0.001, 0.8, 10000, 1e-6), (0.05, 2.0, 200, 1e-5),
                 (0.1, 1.0, 50, 1e-5), (1.0, 5.0, 10, 1e-5),
                 (0.02, 0.9, 500, 1e-5), (0.005, 1.5, 3000, 1e-6),
                 (0.3, 3.0, 100, 1e-5), (0.0355, 0.6, 20, 1e-5)]
    with open(os.path.join(HERE, "epsilon_vectors.csv"), "w") as f:
        f.write("q,sigma,steps,delta,epsilon,order\n")
        for q, s, t, d in eps_cases:
            one = {}
            rdps = [t * rdp(q, s, a) for a in ORDERS]
            e, o = eps_from_rdp(rdps, d)
            f.write("%r,%r,%d,%r,%s,%r\n" % (q, s, t, d, mp.nstr(e, 17),
                                            float(o)))
            print(q, s, t, d, mp.nstr(e, 10), o, flush=True)


if __name__ == "__main__":
    main()
