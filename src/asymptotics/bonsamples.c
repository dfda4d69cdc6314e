/* bonsamples.c — the best-of-N family from samples: reading grouped samples, unbiased subset
 * (U-statistic) curves per group, their mean over prompts and bootstrap intervals (see
 * alim/bonsamples.h). */
#include "alim/bonsamples.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/io.h"
#include "alim/rng.h"

const char *alim_bs_quantity_name(alim_bs_quantity q)
{
    static const char *const names[ALIM_BS_NQ] = {"reward",          "win_rate",       "win_rate_strict",
                                                  "gold_reward",     "kl_plugin_nats", "kl_beirami_nats",
                                                  "soft_reward",     "soft_gold_reward", "bop_reward",
                                                  "bop_win_rate",    "bop_gold_reward"};
    return (unsigned)q < ALIM_BS_NQ ? names[q] : "?";
}

void alim_bon_samples_free(alim_bon_samples *s)
{
    if (!s) return;
    if (s->group_name)
        for (size_t k = 0; k < s->n_groups; k++) free(s->group_name[k]);
    free(s->group_name);
    free(s->start);
    free(s->r);
    free(s->g);
    free(s->logp);
    free(s->line);
    memset(s, 0, sizeof *s);
}

void alim_bon_samples_group_sizes(const alim_bon_samples *s, size_t *min, size_t *max)
{
    size_t lo = (size_t)-1, hi = 0;
    for (size_t k = 0; k < s->n_groups; k++) {
        const size_t c = s->start[k + 1] - s->start[k];
        if (c < lo) lo = c;
        if (c > hi) hi = c;
    }
    *min = s->n_groups ? lo : 0;
    *max = hi;
}

/* ---- grouping ------------------------------------------------------------------------------ */

/* sort key: group, then reward, then file order (a stable sort without a context pointer) */
typedef struct {
    size_t group, idx;
    double r;
} key;

static int cmp_key(const void *a, const void *b)
{
    const key *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Fills s from per-sample arrays (group indices 0..G-1), sorting every group by reward. Takes
 * ownership of names (G entries, may be NULL). */
static alim_status build_groups(alim_bon_samples *s, const size_t *group, size_t G, const double *r, const double *g,
                                const double *logp, const size_t *line, size_t n, char **names, alim_error *err)
{
    memset(s, 0, sizeof *s);
    key *k = malloc(n * sizeof *k);
    s->start = calloc(G + 1, sizeof *s->start);
    s->r = malloc(n * sizeof *s->r);
    s->g = g ? malloc(n * sizeof *s->g) : NULL;
    s->logp = logp ? malloc(n * sizeof *s->logp) : NULL;
    s->line = malloc(n * sizeof *s->line);
    s->group_name = names ? names : calloc(G, sizeof *s->group_name);
    s->n_groups = G, s->n_samples = n;
    if (!k || !s->start || !s->r || (g && !s->g) || (logp && !s->logp) || !s->line || !s->group_name) {
        free(k);
        alim_bon_samples_free(s);
        return alim_error_set(err, ALIM_ENOMEM, "samples", "out of memory (%zu samples)", n);
    }
    for (size_t i = 0; i < n; i++) k[i].group = group[i], k[i].idx = i, k[i].r = r[i], s->start[group[i] + 1]++;
    for (size_t j = 0; j < G; j++) s->start[j + 1] += s->start[j];
    qsort(k, n, sizeof *k, cmp_key);
    for (size_t i = 0; i < n; i++) {
        const size_t j = k[i].idx;
        s->r[i] = r[j];
        if (g) s->g[i] = g[j];
        if (logp) s->logp[i] = logp[j];
        s->line[i] = line ? line[j] : j + 1;
    }
    free(k);
    if (!names)
        for (size_t j = 0; j < G; j++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%zu", j);
            if (!(s->group_name[j] = strdup(buf))) {
                alim_bon_samples_free(s);
                return alim_error_set(err, ALIM_ENOMEM, "samples", "out of memory");
            }
        }
    return ALIM_OK;
}

alim_status alim_bon_samples_from_arrays(alim_bon_samples *s, const size_t *group, const double *r, const double *g,
                                         const double *logp, size_t n, alim_error *err)
{
    memset(s, 0, sizeof *s);
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, "samples", "no samples");
    size_t G = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(r[i]) || (g && !isfinite(g[i])) || (logp && !(logp[i] <= 0 && isfinite(logp[i]))))
            return alim_error_set(err, ALIM_EINVAL, "samples", "sample %zu: reward, gold or logp not valid", i + 1);
        if (group[i] + 1 > G) G = group[i] + 1;
    }
    size_t *used = calloc(G, sizeof *used), *gi = malloc(n * sizeof *gi);
    if (!used || !gi) {
        free(used), free(gi);
        return alim_error_set(err, ALIM_ENOMEM, "samples", "out of memory");
    }
    /* renumber the groups that occur, in order of first appearance */
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (!used[group[i]]) used[group[i]] = ++next;
        gi[i] = used[group[i]] - 1;
    }
    alim_status st = build_groups(s, gi, next, r, g, logp, NULL, n, NULL, err);
    free(used), free(gi);
    return st;
}

/* ---- CSV --------------------------------------------------------------------------------- */

typedef struct {
    char **f;
    size_t n, cap;
} fields;

/* Splits one record starting at *p (in place: fields are NUL-terminated, quotes removed).
 * Advances *p past the record's newline and *line past every newline consumed. */
static int split_record(char **p, char *end, size_t *line, fields *fs)
{
    char *s = *p;
    fs->n = 0;
    for (;;) {
        if (fs->n == fs->cap) {
            size_t nc = fs->cap ? 2 * fs->cap : 16;
            char **nf = realloc(fs->f, nc * sizeof *nf);
            if (!nf) return -1;
            fs->f = nf, fs->cap = nc;
        }
        while (s < end && (*s == ' ' || *s == '\t')) s++;
        char *out = s, *start = s;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) break;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') *out++ = '"', s += 2;
                    else {
                        s++;
                        break;
                    }
                } else {
                    if (*s == '\n') (*line)++;
                    *out++ = *s++;
                }
            }
            while (s < end && *s != ',' && *s != '\n') s++; /* text after the closing quote is ignored */
        } else {
            while (s < end && *s != ',' && *s != '\n') s++;
            out = s;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t' || out[-1] == '\r')) out--;
        }
        const char sep = s < end ? *s : '\n';
        *out = '\0';
        fs->f[fs->n++] = start;
        if (s < end) s++;
        if (sep == '\n') {
            if (s <= end) (*line)++;
            break;
        }
    }
    *p = s;
    return 0;
}

static int blank_or_comment(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
    return s >= end || *s == '\n' || *s == '#';
}

static int parse_num(const char *s, double *v)
{
    if (!*s) return -1;
    char *e;
    *v = strtod(s, &e);
    return *e ? -1 : 0;
}

/* open-addressing hash of group names -> index */
typedef struct {
    size_t *slot; /* index + 1, 0 = empty */
    size_t cap;
} name_hash;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int find_col(fields *hdr, const char *want)
{
    for (size_t i = 0; i < hdr->n; i++)
        if (!strcmp(hdr->f[i], want)) return (int)i;
    return -1;
}

alim_status alim_bon_samples_read_csv(alim_bon_samples *s, const char *path, const char *group_col,
                                      const char *reward_col, alim_error *err)
{
    memset(s, 0, sizeof *s);
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    char *p = buf, *end = buf + len, w[ALIM_ERROR_WHERE_MAX];
    size_t line = 1, hdr_line = 0;
    fields hdr = {0}, fs = {0};
    char **hnames = NULL;
    size_t nh = 0;
    int cg = -1, cr = -1, cgold = -1, clogp = -1;
    size_t n = 0, cap = 0, G = 0, gcap = 0;
    double *r = NULL, *g = NULL, *lp = NULL;
    size_t *grp = NULL, *lines = NULL;
    char **names = NULL;
    name_hash h = {0};
    st = ALIM_ENOMEM;
#define FAIL(code, where, ...)                                  \
    do {                                                        \
        st = alim_error_set(err, code, where, __VA_ARGS__);     \
        goto done;                                              \
    } while (0)
    while (p < end) {
        if (blank_or_comment(p, end)) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
            line++;
            continue;
        }
        const size_t at = line;
        snprintf(w, sizeof w, "%s:%zu", path, at);
        if (split_record(&p, end, &line, hdr_line ? &fs : &hdr)) FAIL(ALIM_ENOMEM, path, "out of memory");
        if (!hdr_line) { /* the header: find the columns */
            hdr_line = at;
            nh = hdr.n;
            if (!(hnames = malloc(nh * sizeof *hnames))) FAIL(ALIM_ENOMEM, path, "out of memory");
            for (size_t i = 0; i < nh; i++) hnames[i] = hdr.f[i];
            if (group_col) {
                if ((cg = find_col(&hdr, group_col)) < 0) FAIL(ALIM_EFORMAT, w, "no column '%s' in the header", group_col);
            } else {
                static const char *const gn[] = {"group", "prompt", "prompt_id"};
                for (int i = 0; i < 3 && cg < 0; i++) cg = find_col(&hdr, gn[i]);
            }
            if (reward_col) {
                if ((cr = find_col(&hdr, reward_col)) < 0)
                    FAIL(ALIM_EFORMAT, w, "no column '%s' in the header", reward_col);
            } else if ((cr = find_col(&hdr, "r")) < 0 && (cr = find_col(&hdr, "reward")) < 0) {
                double v;
                if (nh && !parse_num(hdr.f[0], &v))
                    FAIL(ALIM_EFORMAT, w, "the first line must be a header naming the columns (r, group, g, logp)");
                FAIL(ALIM_EFORMAT, w, "no reward column: name it 'r' or 'reward' in the header, or give reward_col");
            }
            if ((cgold = find_col(&hdr, "g")) < 0) cgold = find_col(&hdr, "gold");
            clogp = find_col(&hdr, "logp");
            continue;
        }
        if (fs.n != nh) FAIL(ALIM_EFORMAT, w, "row has %zu fields, expected %zu (header at line %zu)", fs.n, nh, hdr_line);
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            double *nr = realloc(r, cap * sizeof *nr);
            if (nr) r = nr;
            double *ng = cgold >= 0 ? realloc(g, cap * sizeof *ng) : NULL;
            if (ng) g = ng;
            double *nl = clogp >= 0 ? realloc(lp, cap * sizeof *nl) : NULL;
            if (nl) lp = nl;
            size_t *ngr = realloc(grp, cap * sizeof *ngr);
            if (ngr) grp = ngr;
            size_t *nli = realloc(lines, cap * sizeof *nli);
            if (nli) lines = nli;
            if (!nr || (cgold >= 0 && !ng) || (clogp >= 0 && !nl) || !ngr || !nli) FAIL(ALIM_ENOMEM, path, "out of memory");
        }
        const struct {
            int col;
            double *dst;
            const char *what;
        } num[3] = {{cr, r, "reward"}, {cgold, g, "gold reward"}, {clogp, lp, "logp"}};
        for (int k = 0; k < 3; k++) {
            if (num[k].col < 0) continue;
            const char *f = fs.f[num[k].col];
            double v;
            if (parse_num(f, &v)) FAIL(ALIM_EFORMAT, w, "%s '%.40s' (column '%s') is not a number", num[k].what, f, hnames[num[k].col]);
            if (!isfinite(v)) FAIL(ALIM_EINVAL, w, "%s (column '%s') is not a finite number (%s)", num[k].what, hnames[num[k].col], f);
            if (k == 2 && v > 0) FAIL(ALIM_EINVAL, w, "logp %g > 0 is not a log-probability", v);
            num[k].dst[n] = v;
        }
        /* the group index */
        size_t gidx = 0;
        if (cg >= 0) {
            const char *name = fs.f[cg];
            if (2 * (G + 1) > h.cap) {
                size_t nc = h.cap ? 2 * h.cap : 64;
                size_t *ns = calloc(nc, sizeof *ns);
                if (!ns) FAIL(ALIM_ENOMEM, path, "out of memory");
                for (size_t j = 0; j < G; j++) {
                    size_t b = hash_str(names[j]) & (nc - 1);
                    while (ns[b]) b = (b + 1) & (nc - 1);
                    ns[b] = j + 1;
                }
                free(h.slot);
                h.slot = ns, h.cap = nc;
            }
            size_t b = hash_str(name) & (h.cap - 1);
            while (h.slot[b] && strcmp(names[h.slot[b] - 1], name)) b = (b + 1) & (h.cap - 1);
            if (!h.slot[b]) {
                if (G == gcap) {
                    gcap = gcap ? 2 * gcap : 64;
                    char **nn = realloc(names, gcap * sizeof *nn);
                    if (!nn) FAIL(ALIM_ENOMEM, path, "out of memory");
                    names = nn;
                }
                if (!(names[G] = strdup(name))) FAIL(ALIM_ENOMEM, path, "out of memory");
                h.slot[b] = ++G;
            }
            gidx = h.slot[b] - 1;
        }
        grp[n] = gidx;
        lines[n] = at;
        n++;
    }
    if (!hdr_line) FAIL(ALIM_EFORMAT, path, "empty file: expected a header and samples");
    if (n == 0) FAIL(ALIM_EFORMAT, path, "no samples after the header (line %zu)", hdr_line);
    if (cg < 0) {
        G = 1;
        if (!(names = malloc(sizeof *names)) || !(names[0] = strdup("all"))) FAIL(ALIM_ENOMEM, path, "out of memory");
    }
    st = build_groups(s, grp, G, r, g, lp, lines, n, names, err);
    names = NULL; /* owned by s now (freed by build_groups on failure) */
    G = 0;
done:
#undef FAIL
    if (names)
        for (size_t j = 0; j < G; j++) free(names[j]);
    free(names);
    free(h.slot);
    free(hnames);
    free(hdr.f), free(fs.f);
    free(r), free(g), free(lp), free(grp), free(lines);
    free(buf);
    return st;
}

/* ---- one group --------------------------------------------------------------------------- */

/* R[a] = C(a, n)/C(N, n) for a = 0..N (descending recurrence from R[N] = 1; no overflow). */
static void binom_ratio(size_t N, size_t n, double *R)
{
    R[N] = 1.0;
    for (size_t a = N; a > 0; a--) R[a - 1] = a - 1 >= n ? R[a] * (double)(a - n) / (double)a : 0.0;
}

alim_status alim_bon_subset_max_weights(const double *r, size_t N, size_t n, double *w, alim_error *err)
{
    if (n < 1 || n > N) return alim_error_set(err, ALIM_EINVAL, "best-of-n", "n = %zu must be in [1, %zu]", n, N);
    double *R = malloc((N + 1) * sizeof *R);
    if (!R) return alim_error_set(err, ALIM_ENOMEM, "best-of-n", "out of memory");
    binom_ratio(N, n, R);
    /* sample i (1-based) is the maximum with probability C(i-1, n-1)/C(N, n) = R[i] n / i; a tied
     * block shares its total equally (random tie-breaking) */
    for (size_t b = 0; b < N;) {
        size_t e = b + 1;
        while (e < N && r[e] == r[b]) e++;
        double P = 0;
        for (size_t i = b; i < e; i++) P += R[i + 1] * (double)n / (double)(i + 1);
        for (size_t i = b; i < e; i++) w[i] = P / (double)(e - b);
        b = e;
    }
    free(R);
    return ALIM_OK;
}

#define SOFT_H 0.25 /* step in log t: the integrand is analytic in |Im log t| < pi/2, error ~e^{-4 pi^2} */

/* Soft best-of-n for n = 1..n_max on one group: E over n-subsets S of sum_{i in S} f_i w_i / W(S),
 * for f = r - min r (sr) and f = g - min g (sg). 1/W = int_0^inf e^{-tW} dt turns the subset mean into
 * the dual part of the elementary symmetric mean of y_j = e^{-t w_j} (1 + eps a_j), computed with
 * the convex recurrence M_k^(m) = (1 - k/m) M_k^(m-1) + (k/m) y_m M_{k-1}^(m-1) (all terms >= 0). */
static alim_status soft_group(const double *r, const double *g, size_t N, size_t n_max, double lambda, double *sr,
                              double *sg, double *step_err, alim_error *err)
{
    const double rmin = r[0], rmax = r[N - 1], span = lambda * (rmax - rmin);
    if (!(span <= 700))
        return alim_error_set(err, ALIM_ERANGE, "soft_lambda",
                              "lambda (max r - min r) = %g within a group: weights e^{lambda r} underflow (limit 700)", span);
    double gmin = 0;
    if (g) {
        gmin = g[0];
        for (size_t j = 1; j < N; j++)
            if (g[j] < gmin) gmin = g[j];
    }
    double *w = malloc(3 * N * sizeof *w), *M = calloc(6 * (n_max + 1), sizeof *M);
    if (!w || !M) {
        free(w), free(M);
        return alim_error_set(err, ALIM_ENOMEM, "soft_lambda", "out of memory");
    }
    double *a = w + N, *b = a + N;
    double *MR = M, *MA = M + (n_max + 1), *MB = MA + (n_max + 1), *S1 = MB + (n_max + 1), *S2 = S1 + (n_max + 1),
           *T1 = S2 + (n_max + 1);
    for (size_t j = 0; j < N; j++) {
        w[j] = exp(lambda * (r[j] - rmax));
        a[j] = (r[j] - rmin) * w[j];
        b[j] = g ? (g[j] - gmin) * w[j] : 0.0;
    }
    /* nodes x = log t from t0 = 1e-17/n_max (the part below is t0 x integrand(t0): relative 1e-17)
     * to t1 = (39.2 + span)/w_min, where the tail e^{-t n w_min} of every n is below 1e-17 */
    const double x0 = log(1e-17 / (double)n_max), x1 = log((39.2 + span) / w[0]);
    const size_t K = (size_t)ceil((x1 - x0) / SOFT_H) + 1;
    for (size_t k = 0; k < K; k++) {
        const double t = exp(x0 + (double)k * SOFT_H);
        MR[0] = 1, MA[0] = MB[0] = 0;
        for (size_t kk = 1; kk <= n_max; kk++) MR[kk] = MA[kk] = MB[kk] = 0;
        for (size_t m = 1; m <= N; m++) {
            const double x = exp(-t * w[m - 1]), xa = x * a[m - 1], xb = x * b[m - 1];
            const size_t top = m < n_max ? m : n_max;
            const double im = 1.0 / (double)m;
            for (size_t kk = top; kk >= 1; kk--) {
                const double cr = (double)kk * im, cl = 1.0 - cr;
                MA[kk] = cl * MA[kk] + cr * (x * MA[kk - 1] + xa * MR[kk - 1]);
                MB[kk] = cl * MB[kk] + cr * (x * MB[kk - 1] + xb * MR[kk - 1]);
                MR[kk] = cl * MR[kk] + cr * x * MR[kk - 1];
            }
        }
        const double wt = k == 0 ? t * (1.0 + SOFT_H / 2) : SOFT_H * t; /* node 0 also carries [0, t0] */
        for (size_t n = 1; n <= n_max; n++) {
            S1[n] += wt * MA[n];
            T1[n] += wt * MB[n];
            if (!(k & 1)) S2[n] += (k == 0 ? t * (1.0 + SOFT_H) : 2 * SOFT_H * t) * MA[n];
        }
    }
    double e = 0;
    for (size_t n = 1; n <= n_max; n++) {
        if (S1[n] > 0) {
            const double d = fabs(S2[n] / S1[n] - 1);
            if (d > e) e = d;
        }
        sr[n - 1] = rmin + S1[n];
        sg[n - 1] = g ? gmin + T1[n] : NAN;
    }
    if (step_err) *step_err = e;
    free(w), free(M);
    return ALIM_OK;
}

alim_status alim_bon_samples_group_curve(const double *r, const double *g, const double *logp, size_t N,
                                         size_t n_max, double soft_lambda, double *out, double *bop_tail,
                                         double *soft_step_error, alim_error *err)
{
    if (N == 0 || n_max < 1 || n_max > N)
        return alim_error_set(err, ALIM_EINVAL, "n_max", "n_max = %zu must be in [1, %zu]", n_max, N);
    for (size_t i = 1; i < N; i++)
        if (!(r[i] >= r[i - 1])) return alim_error_set(err, ALIM_EINVAL, "samples", "rewards of a group must be sorted");
    const int soft = !isnan(soft_lambda);
    if (soft && !(soft_lambda >= 0 && isfinite(soft_lambda)))
        return alim_error_set(err, ALIM_EINVAL, "soft_lambda", "lambda must be a finite number >= 0 (got %g)", soft_lambda);
    for (size_t q = 0; q < ALIM_BS_NQ; q++)
        for (size_t n = 0; n < n_max; n++) out[q * n_max + n] = NAN;
    if (soft_step_error) *soft_step_error = 0;
    /* Best-of-Poisson at mu = n_max - 1 needs sizes up to mu + 40 sqrt(mu) + 40 (the rest of the
     * Poisson mass is below e^-200) */
    double nh = (double)n_max + 40 * sqrt((double)n_max) + 40;
    const size_t n_hi = nh >= (double)N ? N : (size_t)nh;
    /* tied blocks */
    size_t B = 0;
    size_t *bs = malloc((N + 1) * sizeof *bs);
    double *R = malloc((N + 1) * sizeof *R), *U = malloc(4 * n_hi * sizeof *U);
    double *v = malloc(2 * N * sizeof *v);
    alim_levels lv = {0};
    alim_status st = ALIM_OK;
    if (!bs || !R || !U || !v) {
        st = alim_error_set(err, ALIM_ENOMEM, "samples", "out of memory (group of %zu)", N);
        goto done;
    }
    for (size_t i = 0; i < N; B++) {
        bs[B] = i;
        while (++i < N && r[i] == r[bs[B]]) {}
    }
    bs[B] = N;
    /* the empirical reward law as levels (plug-in KL) */
    double *lq = v + N;
    for (size_t b = 0; b < B; b++) v[b] = r[bs[b]], lq[b] = log((double)(bs[b + 1] - bs[b]) / (double)N);
    if ((st = alim_levels_from_log(v, lq, B, &lv, err))) goto done;
    double *Ur = U, *Uw = U + n_hi, *Ug = Uw + n_hi; /* reward, win rate (ties 1/2), gold for sizes 1..n_hi */
    for (size_t n = 1; n <= n_hi; n++) {
        binom_ratio(N, n, R);
        double er = 0, eg = 0, kb = 0, ks = 0, kh = 0;
        alim_bon_size sz = {(double)n, log((double)n)};
        for (size_t b = 0; b < B; b++) {
            const size_t m = bs[b], c = bs[b + 1] - m;
            double P = 0;
            for (size_t i = m; i < m + c; i++) P += R[i + 1] * (double)n / (double)(i + 1);
            er += P * r[m];
            if (g) {
                double s = 0;
                for (size_t i = m; i < m + c; i++) s += g[i];
                eg += P * s / (double)c;
            }
            if (logp && n <= n_max) {
                double s = 0;
                for (size_t i = m; i < m + c; i++) s += alim_bon_kl_one_atom(exp(logp[i]), sz);
                kb += P * s / (double)c;
            }
            /* E[K; max = v] and P(K = 1, max = v) of an n+1-subset, times (N - n)/(n + 1) */
            ks += (double)c * R[m + c - 1];
            kh += (double)c * (R[m + c - 1] + R[m]);
        }
        Ur[n - 1] = er;
        Ug[n - 1] = g ? eg : NAN;
        Uw[n - 1] = n < N ? 1.0 - kh / (2.0 * (double)(N - n)) : NAN;
        if (n <= n_max) {
            out[ALIM_BS_REWARD * n_max + n - 1] = er;
            out[ALIM_BS_WIN_RATE * n_max + n - 1] = Uw[n - 1];
            out[ALIM_BS_WIN_STRICT * n_max + n - 1] = n < N ? 1.0 - ks / (double)(N - n) : NAN;
            if (g) out[ALIM_BS_GOLD * n_max + n - 1] = eg;
            if (logp) out[ALIM_BS_KL_BEIRAMI * n_max + n - 1] = kb;
            out[ALIM_BS_KL_PLUGIN * n_max + n - 1] = n == 1 ? 0.0 : alim_bon_kl(&lv, sz); /* n = 1 is p itself */
        }
    }
    /* Best-of-Poisson: sizes 1 + K, K ~ Poisson(mu), mixed over the sizes the group supplies */
    for (size_t n = 1; n <= n_max; n++) {
        const double mu = (double)(n - 1), lmu = log(mu);
        double sr = 0, sw = 0, sg = 0, mr = 0, mw = 0;
        for (size_t k = 0; k < n_hi; k++) {
            const double pk = mu == 0 ? (k == 0) : exp((double)k * lmu - mu - lgamma((double)k + 1));
            sr += pk * Ur[k], mr += pk;
            if (g) sg += pk * Ug[k];
            if (k + 1 < N) sw += pk * Uw[k], mw += pk;
        }
        out[ALIM_BS_BOP_REWARD * n_max + n - 1] = sr / mr;
        out[ALIM_BS_BOP_WIN_RATE * n_max + n - 1] = mw > 0 ? sw / mw : NAN;
        if (g) out[ALIM_BS_BOP_GOLD * n_max + n - 1] = sg / mr;
        if (bop_tail) bop_tail[n - 1] = mw < 1 ? 1 - mw : 0;
    }
    if (soft)
        st = soft_group(r, g, N, n_max, soft_lambda, out + ALIM_BS_SOFT_REWARD * n_max, out + ALIM_BS_SOFT_GOLD * n_max,
                        soft_step_error, err);
done:
    alim_levels_free(&lv);
    free(bs), free(R), free(U), free(v);
    return st;
}

/* ---- over prompts -------------------------------------------------------------------------- */

void alim_bon_samples_curves_free(alim_bon_samples_curves *c)
{
    if (!c) return;
    free(c->value), free(c->lo), free(c->hi), free(c->bop_tail);
    memset(c, 0, sizeof *c);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's default percentile: linear between the order statistics at (B - 1) p */
static double percentile(const double *x, size_t B, double p)
{
    const double h = (double)(B - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo >= B - 1) return x[B - 1];
    return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

alim_status alim_bon_samples_curves_compute(const alim_bon_samples *s, const alim_bon_samples_options *opt,
                                            alim_bon_samples_curves *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nmin, nmax_g;
    alim_bon_samples_group_sizes(s, &nmin, &nmax_g);
    if (s->n_groups == 0) return alim_error_set(err, ALIM_EINVAL, "samples", "no groups");
    size_t n_max = opt->n_max ? opt->n_max : nmin;
    if (n_max > nmin) {
        size_t k = 0;
        while (s->start[k + 1] - s->start[k] != nmin) k++;
        return alim_error_set(err, ALIM_EINVAL, "n_max",
                              "%zu exceeds the smallest group: '%s' (first sample at line %zu) has %zu samples", n_max,
                              s->group_name[k], s->line[s->start[k]], nmin);
    }
    if (opt->bootstrap && !(opt->level > 0 && opt->level < 1))
        return alim_error_set(err, ALIM_EINVAL, "level", "the interval level must be in (0, 1) (got %g)", opt->level);
    const size_t G = s->n_groups, Q = ALIM_BS_NQ, W = Q * n_max;
    double *cur = malloc(G * W * sizeof *cur), *tails = malloc(G * n_max * sizeof *tails), *serr = calloc(G, sizeof *serr);
    out->value = malloc(W * sizeof *out->value);
    out->bop_tail = malloc(n_max * sizeof *out->bop_tail);
    if (!cur || !tails || !serr || !out->value || !out->bop_tail) {
        free(cur), free(tails), free(serr);
        alim_bon_samples_curves_free(out);
        return alim_error_set(err, ALIM_ENOMEM, "samples", "out of memory (%zu groups x %zu values)", G, W);
    }
    out->n_max = n_max;
    out->have_gold = s->g != NULL, out->have_logp = s->logp != NULL, out->have_soft = !isnan(opt->soft_lambda);
    alim_status st = ALIM_OK;
    alim_error gerr;
    alim_error_clear(&gerr);
    /* groups are independent: each thread writes its own rows, so results do not depend on threads */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < G; k++) {
        const size_t a = s->start[k], N = s->start[k + 1] - a;
        alim_error e;
        alim_status sk = alim_bon_samples_group_curve(s->r + a, s->g ? s->g + a : NULL, s->logp ? s->logp + a : NULL, N,
                                                      n_max, opt->soft_lambda, cur + k * W, tails + k * n_max, serr + k,
                                                      &e);
        if (sk) {
#pragma omp critical(bonsamples_err)
            if (!st) st = sk, gerr = e;
        }
    }
    if (st) {
        if (err) *err = gerr;
        goto done;
    }
    for (size_t i = 0; i < W; i++) {
        double m = 0;
        for (size_t k = 0; k < G; k++) m += cur[k * W + i];
        out->value[i] = m / (double)G;
    }
    for (size_t n = 0; n < n_max; n++) {
        double t = 0;
        for (size_t k = 0; k < G; k++)
            if (tails[k * n_max + n] > t) t = tails[k * n_max + n];
        out->bop_tail[n] = t;
    }
    for (size_t k = 0; k < G; k++)
        if (serr[k] > out->soft_step_error) out->soft_step_error = serr[k];
    if (opt->bootstrap) {
        const size_t Bn = opt->bootstrap;
        double *rep = malloc(Bn * W * sizeof *rep);
        out->lo = malloc(W * sizeof *out->lo);
        out->hi = malloc(W * sizeof *out->hi);
        if (!rep || !out->lo || !out->hi) {
            free(rep);
            st = alim_error_set(err, ALIM_ENOMEM, "bootstrap", "out of memory (%zu replicates x %zu values)", Bn, W);
            goto done;
        }
        int oom = 0;
        /* replicate b: G groups drawn with replacement from stream (seed, b) */
#pragma omp parallel reduction(| : oom)
        {
            size_t *cnt = malloc(G * sizeof *cnt);
            if (!cnt) oom = 1;
#pragma omp for schedule(dynamic, 4)
            for (size_t b = 0; b < Bn; b++) {
                if (!cnt) continue;
                alim_rng rng;
                alim_rng_seed(&rng, opt->seed, b);
                memset(cnt, 0, G * sizeof *cnt);
                for (size_t i = 0; i < G; i++) cnt[alim_rng_below(&rng, G)]++;
                double *m = rep + b * W;
                for (size_t i = 0; i < W; i++) m[i] = 0;
                for (size_t k = 0; k < G; k++)
                    if (cnt[k])
                        for (size_t i = 0; i < W; i++) m[i] += (double)cnt[k] * cur[k * W + i];
                for (size_t i = 0; i < W; i++) m[i] /= (double)G;
            }
            free(cnt);
        }
        if (oom) {
            free(rep);
            st = alim_error_set(err, ALIM_ENOMEM, "bootstrap", "out of memory");
            goto done;
        }
        double *col = malloc(Bn * sizeof *col);
        if (!col) {
            free(rep);
            st = alim_error_set(err, ALIM_ENOMEM, "bootstrap", "out of memory");
            goto done;
        }
        const double pl = (1 - opt->level) / 2, ph = (1 + opt->level) / 2;
        for (size_t i = 0; i < W; i++) {
            int nan = 0;
            for (size_t b = 0; b < Bn; b++) nan |= isnan(col[b] = rep[b * W + i]);
            if (nan) {
                out->lo[i] = out->hi[i] = NAN;
                continue;
            }
            qsort(col, Bn, sizeof *col, cmp_double);
            out->lo[i] = percentile(col, Bn, pl);
            out->hi[i] = percentile(col, Bn, ph);
        }
        free(col), free(rep);
    }
done:
    free(cur), free(tails), free(serr);
    if (st) alim_bon_samples_curves_free(out);
    return st;
}
