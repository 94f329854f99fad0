#!/usr/bin/env python3
"""A broad grid of reference epsilons for the RDP accountant, in 30-digit
mpmath arithmetic, independent of the C series: integer orders by the
closed form, fractional orders by numerical integration (both from
gen_rdp_vectors.py), conversion by Canonne-Kamath-Steinke Prop. 12 over the
dp_accounting order list. (The signed series converges only polynomially,
so it is no good as a high-precision reference.) Writes epsilon_grid.csv;
needs python3-mpmath; takes several minutes.
"""
import os
import mpmath as mp

import gen_rdp_vectors as g

mp.mp.dps = 30
HERE = os.path.dirname(os.path.abspath(__file__))


def rdp(q, s, a):
    return g.rdp(q, s, a)


def main():
    qs = [0.001, 0.01, 0.05, 0.2, 1.0]
    sigmas = [0.7, 1.0, 1.5, 3.0]
    steps = [1, 100, 5000]
    deltas = [1e-5, 1e-8]
    with open(os.path.join(HERE, "epsilon_grid.csv"), "w") as f:
        f.write("q,sigma,steps,delta,epsilon,order\n")
        for q in qs:
            for s in sigmas:
                one = [rdp(q, s, a) for a in g.ORDERS]
                for t in steps:
                    for d in deltas:
                        e, o = g.eps_from_rdp([t * r for r in one], d)
                        f.write("%r,%r,%d,%r,%s,%r\n" % (
                            q, s, t, d, mp.nstr(e, 17), float(o)))
                print(q, s, flush=True)


if __name__ == "__main__":
    main()
