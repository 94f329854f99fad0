#define pfl_sa_server_neighbours(S, u, out, cap, cnt) pfl_sa_neighbours(&h->p, u, out, cnt)
#define pfl_sa_threshold(p, d) ((p)->t)
#define pfl_sa_server_transcript(S, ctx) memcpy(ctx, h->p.round_ctx, 32)
#define pfl_sa_choose_params_min(mo, n, d, c, m, k, t) pfl_sa_choose_params(mo, n, d, c, k, t)
