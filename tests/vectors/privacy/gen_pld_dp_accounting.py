# Reference values for test_accountant_pld's test_pld_dp_accounting:
# Google's dp_accounting (python/dp_accounting of google/differential-privacy,
# commit b5b0286) at value discretization 1e-5, the Poisson-subsampled
# Gaussian under add-or-remove adjacency, self-composed T times.
#   eps_lower: its optimistic estimate (a lower bound on the true epsilon)
#   eps_upper: its pessimistic estimate (an upper bound, as privfl's is)
# usage: PYTHONPATH=.../python/dp_accounting python3 gen_pld_dp_accounting.py
#        > pld_dp_accounting.csv   (needs numpy, scipy, attrs, absl)
import sys
from dp_accounting.pld import privacy_loss_distribution as PLD
rows = [(1e-4,1.0,100000,1e-6),(1e-3,3.0,100,1e-6),(1e-3,3.0,1000,1e-6),(1e-4,1.0,10000,1e-5),
        (1e-3,1.0,30000,1e-7),(4.27e-3,1.1,3516,1e-5),(1e-2,0.8,1000,1e-5),(0.05,2.0,500,1e-5),
        (0.1,1.0,100,1e-7),(1.0,10.0,100,1e-5),(1.0,5.0,1,1e-6),(0.3,3.0,2000,1e-6),(1e-2,10.0,100000,1e-7),
        (1e-4,0.5,100000,1e-5)]
print("q,sigma,steps,delta,eps_lower,eps_upper")
for q,z,T,d in rows:
    r=[]
    for pess in (False, True):
        p=PLD.from_gaussian_mechanism(z, pessimistic_estimate=pess, value_discretization_interval=1e-5, sampling_prob=q)
        p=p.self_compose(T)
        r.append(p.get_epsilon_for_delta(d))
    print(f"{q!r},{z!r},{T},{d!r},{r[0]!r},{r[1]!r}", flush=True)
