/* cmd_rate.c — `alim rate`: Cramer rate functions I_p and J_lambda, at a point or as a curve. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_rate_help[] =
    "usage: alim rate DIST.csv [--x X] [--lambda L] [--points P] [--csv FILE] [--json] [--normalize]\n"
    "\n"
    "Large-deviation rate functions of the mean reward (DIST.csv: rows p,r; for sequences of\n"
    "n i.i.d. tokens, P(r_n / n ~ x) ~ e^{-n I(x)}):\n"
    "  I_p(x)  = sup_t [t x - Lambda(t)] = min{KL(q || p) : E_q r = x}   (under p)\n"
    "  J_l(x)  = I_p(x) - l x + Lambda(l)  = min{KL(q || phi_l) : E_q r = x} (under the tilt phi_l)\n"
    "I_p is also the KL-RL frontier read sideways: the least KL that reaches mean reward x.\n"
    "The sup is solved by safeguarded Newton on Lambda'(t) = x (never a grid search). Both are\n"
    "finite exactly on [min r, max r]: I_p(max r) = log 1/p(A), outside they are 'inf'.\n"
    "With --x the values at one point (and the maximising t); without it a curve of P points\n"
    "over [min r, max r] as CSV with columns x,rate_nats,t,tilted_rate_nats.\n"
    "\n"
    "options:\n"
    "  --x X         evaluate at X\n"
    "  --lambda L    tilt of J_l (default 0, where J_0 = I_p); finite\n"
    "  --points P    points of the curve (default 101, at least 2)\n"
    "  --csv FILE    write the curve to FILE atomically (default stdout)\n"
    "  --json        one JSON object (x, rate_nats, t, lambda, tilted_rate_nats; or a curve)\n"
    "  --normalize   rescale p to sum 1\n"
    "\n"
    "example:\n"
    "  alim rate d.csv --x 1.5 --lambda 1     # I = 0.4930073414, J_1 = 0.02022951902\n";

int cmd_rate(int argc, char **argv)
{
    static const struct option opts[] = {{"x", required_argument, 0, 'x'},   {"lambda", required_argument, 0, 'l'},
                                         {"points", required_argument, 0, 'P'}, {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},      {"normalize", no_argument, 0, 'z'},
                                         {0, 0, 0, 0}};
    double x = NAN, lambda = 0;
    size_t points = 101;
    int have_x = 0, json = 0, normalize = 0, c;
    const char *csv = "-";
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'x':
            if (cli_parse_double("--x", optarg, &x)) return CLI_EXIT_USAGE;
            have_x = 1;
            break;
        case 'l':
            if (cli_parse_double("--lambda", optarg, &lambda)) return CLI_EXIT_USAGE;
            if (isinf(lambda)) return cli_error("--lambda", "must be finite");
            break;
        case 'P':
            if (cli_parse_size("--points", optarg, &points)) return CLI_EXIT_USAGE;
            if (points < 2) return cli_error("--points", "need at least 2 points");
            break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'z': normalize = 1; break;
        case ':': return cli_usage_error("rate", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("rate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("rate", "expected one DIST.csv argument");
    alim_rdist d;
    int rc = asym_load(argv[optind], normalize, &d);
    if (rc) return rc;
    if (have_x) {
        double t, I = alim_rate_cramer(&d, x, &t), J = alim_rate_tilted(&d, lambda, x);
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cli_json_add_number(j, "x", x);
            cli_json_add_number(j, "rate_nats", I);
            cli_json_add_number(j, "t", t);
            cli_json_add_number(j, "lambda", lambda);
            cli_json_add_number(j, "tilted_rate_nats", J);
            cli_json_add_number(j, "reference_reward", d.mean);
            rc = cli_print_json(j);
        } else {
            printf("rate functions of %s at x = %.15g (E_p r = %.10g, r in [%.10g, %.10g])\n", argv[optind], x, d.mean,
                   d.r_min, d.r_max);
            printf("  I_p(x)          %.15g nats  (maximising t = %.15g)\n", I, t);
            printf("  J_lambda(x)     %.15g nats  (lambda = %.10g)\n", J, lambda);
        }
        alim_rdist_free(&d);
        return rc;
    }
    cJSON *j = NULL, *arr = NULL;
    asym_out o = {0};
    if (json) {
        j = cJSON_CreateObject();
        cli_json_add_number(j, "lambda", lambda);
        arr = cJSON_AddArrayToObject(j, "curve");
    } else {
        if ((rc = asym_out_open(&o, csv))) {
            alim_rdist_free(&d);
            return rc;
        }
        fputs("x,rate_nats,t,tilted_rate_nats\n", o.fp);
    }
    for (size_t i = 0; i < points; i++) {
        double xi = i + 1 == points ? d.r_max : d.r_min + (d.r_max - d.r_min) * (double)i / (double)(points - 1);
        double t, I = alim_rate_cramer(&d, xi, &t), J = alim_rate_tilted(&d, lambda, xi);
        double v[4] = {xi, I, t, J};
        if (json) {
            cJSON *e = cJSON_CreateObject();
            cli_json_add_number(e, "x", xi);
            cli_json_add_number(e, "rate_nats", I);
            cli_json_add_number(e, "t", t);
            cli_json_add_number(e, "tilted_rate_nats", J);
            cJSON_AddItemToArray(arr, e);
        } else {
            for (int k = 0; k < 4; k++) {
                if (k) fputc(',', o.fp);
                asym_csv_num(o.fp, v[k]);
            }
            fputc('\n', o.fp);
        }
    }
    rc = json ? cli_print_json(j) : asym_out_close(&o);
    alim_rdist_free(&d);
    return rc;
}
