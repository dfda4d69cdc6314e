/* test_channel.c — channel families, cascades and Blahut–Arimoto against spec §6
 * (mpmath values), closed forms, and the bracket invariant at every iteration. */
#include <math.h>
#include <stdlib.h>

#include "alim/channel.h"
#include "alim/info.h"
#include "alim/rng.h"
#include "check.h"

#define TOL 1e-10

/* capacity in bits of a channel; also checks lower <= want <= upper when want >= 0 */
static double cap_bits(const alim_channel *c, double want_bits, const char *name, alim_capacity *keep)
{
    alim_capacity r;
    alim_error e;
    alim_status st = alim_channel_capacity(c, NULL, &r, &e);
    CHECK(st == ALIM_OK, "%s: %s", name, e.what);
    if (st) return NAN;
    CHECK(r.converged, "%s did not converge", name);
    CHECK(r.upper_nats - r.lower_nats < 1e-11, "%s: bracket too wide", name);
    if (want_bits >= 0) {
        double w = alim_nats(want_bits);
        /* the spec values carry 13 digits: allow their rounding */
        CHECK(r.lower_nats <= w + 1e-12 && w - 1e-12 <= r.upper_nats, "%s: bracket [%.15g, %.15g] misses %.15g",
              name, r.lower_nats, r.upper_nats, w);
        CHECK_ABS(alim_bits(r.lower_nats), want_bits, TOL, name);
    }
    double v = alim_bits(r.lower_nats);
    if (keep) *keep = r;
    else alim_capacity_free(&r);
    return v;
}

static void bsc_cascade(double p1, double p2, double want, double want_min)
{
    alim_channel a, b, c;
    alim_channel_bsc(&a, p1, NULL);
    alim_channel_bsc(&b, p2, NULL);
    CHECK(alim_channel_compose(&a, &b, &c, NULL) == ALIM_OK, "compose");
    cap_bits(&c, want, "BSC cascade", NULL);
    double m = fmin(cap_bits(&a, -1, "stage 1", NULL), cap_bits(&b, -1, "stage 2", NULL));
    CHECK_ABS(m, want_min, TOL, "min of stage capacities");
    CHECK(cap_bits(&c, -1, "cascade", NULL) <= m + 1e-12, "data processing: cascade <= min");
    alim_channel_free(&a);
    alim_channel_free(&b);
    alim_channel_free(&c);
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_channel c;
    const double bsc[][2] = {{0.1, 0.5310044064107}, {0.11, 0.5000840418355}, {0.25, 0.1887218755409}, {0.4, 0.02904940554533}};
    for (int i = 0; i < 4; i++) {
        alim_channel_bsc(&c, bsc[i][0], NULL);
        cap_bits(&c, bsc[i][1], "BSC", NULL);
        alim_channel_free(&c);
    }
    alim_channel_bec(&c, 0.3, NULL);
    {
        alim_capacity r;
        cap_bits(&c, 0.7, "BEC(.3)", &r);
        CHECK(r.iterations <= 2, "BEC converges at once (%zu iterations)", r.iterations);
        alim_capacity_free(&r);
    }
    alim_channel_free(&c);
    bsc_cascade(0.1, 0.2, 0.1732536275074, 0.2780719051126);
    bsc_cascade(0.05, 0.05, 0.5470574518127, 0.7136030428840);
    bsc_cascade(0.11, 0.11, 0.2865518560106, 0.5000840418355);

    const double z[][3] = {{0.5, 0.3219280948874, 0.4}, {0.1, 0.7628482520105, 0.4562981236354}, {0.25, 0.5582386267373, 0.4278255967918}};
    for (int i = 0; i < 3; i++) {
        alim_capacity r;
        alim_channel_z(&c, z[i][0], NULL);
        cap_bits(&c, z[i][1], "Z", &r);
        CHECK_ABS(r.input[1], z[i][2], 1e-5, "Z optimal input");
        /* closed form */
        double p = z[i][0];
        CHECK_ABS(z[i][1], log2(1 + (1 - p) * pow(p, p / (1 - p))), 1e-12, "Z closed form");
        alim_capacity_free(&r);
        alim_channel_free(&c);
    }
    {
        alim_channel a, b, zz;
        alim_channel_z(&a, 0.5, NULL);
        alim_channel_z(&b, 0.5, NULL);
        alim_channel_compose(&a, &b, &zz, NULL);
        cap_bits(&zz, 0.1446582428319, "Z(.5)oZ(.5)", NULL);
        alim_channel_free(&a);
        alim_channel_free(&b);
        alim_channel_free(&zz);
    }
    const double msc[][3] = {{4, 0.1, 1.372508156339}, {16, 0.2, 2.496693785991}, {1024, 0.3, 6.119131971846}};
    for (int i = 0; i < 3; i++) {
        alim_channel_msc(&c, (size_t)msc[i][0], msc[i][1], NULL);
        cap_bits(&c, msc[i][2], "MSC", NULL);
        alim_channel_free(&c);
    }
    {
        const double w1[] = {.7, .2, .1, .1, .3, .6};
        alim_capacity r;
        alim_channel_from_matrix(&c, w1, 2, 3, 0, 0, "W1", NULL);
        cap_bits(&c, 0.3328866725999, "W1", &r);
        CHECK_ABS(r.input[0], 0.4893490641173, 1e-5, "W1 r*");
        alim_capacity_free(&r);
        alim_channel_free(&c);
        const double w2[] = {.8, .1, .1, .1, .6, .3, .2, .2, .6};
        alim_channel_from_matrix(&c, w2, 3, 3, 0, 0, "W2", NULL);
        cap_bits(&c, 0.4129373822185, "W2", &r);
        CHECK_ABS(r.input[0], 0.4564836306928, 1e-5, "W2 r*0");
        CHECK_ABS(r.input[2], 0.1233027859432, 1e-5, "W2 r*2");
        alim_capacity_free(&r);
        alim_channel_free(&c);
        const double w3[] = {1, 0, .5, .5, 0, 1};
        alim_channel_from_matrix(&c, w3, 3, 2, 0, 0, "W3", NULL);
        cap_bits(&c, 1.0, "W3 (zero-mass input)", &r);
        CHECK(r.input[1] < 1e-5, "W3 middle input gets no mass (%g)", r.input[1]);
        alim_capacity_free(&r);
        alim_channel_free(&c);
    }
    /* zero-capacity channel: identical rows stop at once */
    {
        const double w[] = {.2, .3, .5, .2, .3, .5};
        alim_capacity r;
        alim_channel_from_matrix(&c, w, 2, 3, 0, 0, "same rows", NULL);
        cap_bits(&c, 0.0, "zero capacity", &r);
        CHECK(r.iterations == 1, "zero capacity: one iteration");
        alim_capacity_free(&r);
        alim_channel_free(&c);
    }
    /* all-zero columns are dropped */
    {
        const double w[] = {.7, 0, .3, 0, .2, 0, .8, 0};
        alim_channel_from_matrix(&c, w, 2, 4, 0, 0, "zero columns", NULL);
        const double wc[] = {.7, .3, .2, .8};
        alim_channel d;
        alim_channel_from_matrix(&d, wc, 2, 2, 0, 0, "compact", NULL);
        CHECK_ABS(cap_bits(&c, -1, "with zero columns", NULL), cap_bits(&d, -1, "compact", NULL), 1e-14,
                  "zero columns do not change capacity");
        alim_channel_free(&c);
        alim_channel_free(&d);
    }
    /* the bracket holds at every iteration: random channels, reference = converged value */
    {
        alim_rng rng;
        alim_rng_seed(&rng, 7, 0);
        int ok = 1, mono = 1;
        for (int t = 0; t < 40; t++) {
            size_t nx = 2 + alim_rng_below(&rng, 6), ny = 2 + alim_rng_below(&rng, 6);
            double *w = malloc(nx * ny * sizeof *w);
            for (size_t x = 0; x < nx; x++) {
                double s = 0;
                for (size_t y = 0; y < ny; y++) s += (w[x * ny + y] = alim_rng_uniform(&rng) < 0.2 ? 0 : alim_rng_uniform(&rng));
                if (s == 0) w[x * ny] = s = 1;
                for (size_t y = 0; y < ny; y++) w[x * ny + y] /= s;
            }
            alim_channel_from_matrix(&c, w, nx, ny, 0, 0, "random", NULL);
            alim_capacity opt_r;
            alim_capacity_options o = {1e-14, 1000000};
            alim_channel_capacity(&c, &o, &opt_r, NULL);
            double cstar = 0.5 * (opt_r.lower_nats + opt_r.upper_nats);
            alim_ba *s;
            alim_ba_alloc(&c, &s, NULL);
            double prev_lo = -1;
            for (int k = 0; k < 200; k++) {
                alim_ba_iterate(s);
                double lo, hi;
                alim_ba_bracket(s, &lo, &hi);
                if (!(lo <= cstar + 1e-13 && cstar - 1e-13 <= hi)) ok = 0;
                if (lo < prev_lo - 1e-14) mono = 0;
                prev_lo = lo;
            }
            /* I(r) at the returned law is within the bracket too */
            double i_r = alim_channel_mutual_information(&c, opt_r.input);
            if (!(i_r <= opt_r.upper_nats + 1e-13 && i_r >= opt_r.lower_nats - 1e-9)) ok = 0;
            alim_ba_free(s);
            alim_capacity_free(&opt_r);
            alim_channel_free(&c);
            free(w);
        }
        CHECK(ok, "bracket contains the capacity at every iteration");
        CHECK(mono, "lower end never decreases");
    }
    /* bad input */
    {
        alim_error e;
        const double neg[] = {1.1, -0.1, .5, .5};
        CHECK(alim_channel_from_matrix(&c, neg, 2, 2, 0, 0, "m.csv", &e) == ALIM_EINVAL, "negative entry");
        const double off[] = {.5, .4, .5, .5};
        CHECK(alim_channel_from_matrix(&c, off, 2, 2, 0, 0, "m.csv", &e) == ALIM_EINVAL, "row not stochastic");
        CHECK(alim_channel_from_matrix(&c, off, 2, 2, 0, 1, "m.csv", &e) == ALIM_OK, "normalize accepts");
        CHECK_ABS(c.w[0], 0.5 / 0.9, 1e-15, "normalized row");
        alim_channel_free(&c);
        const double nanm[] = {NAN, 1, .5, .5};
        CHECK(alim_channel_from_matrix(&c, nanm, 2, 2, 0, 0, "m.csv", &e) == ALIM_EINVAL, "NaN entry");
        const double zero[] = {0, 0, .5, .5};
        CHECK(alim_channel_from_matrix(&c, zero, 2, 2, 0, 1, "m.csv", &e) == ALIM_EINVAL, "zero row cannot normalize");
        CHECK(alim_channel_bsc(&c, 1.5, &e) == ALIM_EINVAL, "bsc p > 1");
        CHECK(alim_channel_msc(&c, 1, 0.1, &e) == ALIM_EINVAL, "msc M < 2");
        alim_channel a, b, o;
        alim_channel_bsc(&a, 0.1, NULL);
        alim_channel_bec(&b, 0.1, NULL);
        CHECK(alim_channel_compose(&b, &a, &o, &e) == ALIM_EINVAL, "cascade size mismatch");
        alim_channel_free(&a);
        alim_channel_free(&b);
    }
    return check_summary(argv[0]);
}
