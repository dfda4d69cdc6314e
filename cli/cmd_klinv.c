/* cmd_klinv.c — `alim klinv`: kl inverses and the PAC-Bayes upper bounds. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alim/bounds.h"
#include "cli.h"

const char cmd_klinv_help[] =
    "usage: alim klinv --q Q --c C [--lower] [--json]\n"
    "       alim klinv --emp-risk R --kl K --m M [--delta D] [--catoni-c C] [--json]\n"
    "\n"
    "First form: the Bernoulli kl-inverse (spec bottleneck.md §5.3)\n"
    "    kl^{-1}_+(q, c) = sup{p in [q, 1] : kl(q||p) <= c}      (--lower: inf over [0, q])\n"
    "with kl(q||p) = q log(q/p) + (1-q) log((1-q)/(1-p)) in nats, to a few ulps.\n"
    "\n"
    "Second form: PAC-Bayes upper bounds on the Gibbs risk R(Q) that hold with probability\n"
    ">= 1 - delta over m i.i.d. labels, given the empirical risk R and KL(Q||P) = K nats:\n"
    "    kl-xi      kl(R || R(Q)) <= (K + ln(xi(m)/delta)) / m       (Maurer/Seeger, exact xi(m))\n"
    "    kl-2sqrtm  the same with xi(m) <= 2 sqrt(m)\n"
    "    pinsker    R(Q) <= R + sqrt((K + ln(2 sqrt(m)/delta)) / (2m))  (McAllester/Maurer)\n"
    "    catoni     R(Q) <= (1 - exp(-C R - (K + ln(1/delta))/m)) / (1 - e^-C)\n"
    "\n"
    "options:\n"
    "  --q Q, --c C    the kl-inverse's arguments: Q in [0, 1], C >= 0 (nats)\n"
    "  --lower         the lower inverse kl^{-1}_-\n"
    "  --emp-risk R    empirical (Gibbs) risk in [0, 1]\n"
    "  --kl K          KL(Q||P) in nats (>= 0)\n"
    "  --m M           number of labels (integer >= 1)\n"
    "  --delta D       confidence (default 0.05)\n"
    "  --catoni-c C    Catoni's C > 0 (default 1)\n"
    "  --json          JSON: value (first form); kl_xi, kl_2sqrtm, pinsker, catoni, xi (second)\n"
    "\n"
    "examples:\n"
    "  alim klinv --q 0.1 --c 0.05                         -> 0.2200786011069\n"
    "  alim klinv --emp-risk 0.1 --kl 5 --m 1000           -> kl-xi 0.1520011951812, ...\n";

int cmd_klinv(int argc, char **argv)
{
    static const struct option opts[] = {{"q", required_argument, 0, 'q'},        {"c", required_argument, 0, 'c'},
                                         {"lower", no_argument, 0, 'l'},          {"emp-risk", required_argument, 0, 'r'},
                                         {"kl", required_argument, 0, 'k'},       {"m", required_argument, 0, 'm'},
                                         {"delta", required_argument, 0, 'd'},    {"catoni-c", required_argument, 0, 'C'},
                                         {"json", no_argument, 0, 'j'},           {0, 0, 0, 0}};
    double q = NAN, cc = NAN, r = NAN, kl = NAN, m = NAN, delta = 0.05, catoni = 1.0;
    int lower = 0, json = 0, c, rc;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'q': if ((rc = cli_parse_double("--q", optarg, &q))) return rc; break;
        case 'c': if ((rc = cli_parse_double("--c", optarg, &cc))) return rc; break;
        case 'l': lower = 1; break;
        case 'r': if ((rc = cli_parse_double("--emp-risk", optarg, &r))) return rc; break;
        case 'k': if ((rc = cli_parse_double("--kl", optarg, &kl))) return rc; break;
        case 'm': if ((rc = cli_parse_double("--m", optarg, &m))) return rc; break;
        case 'd': if ((rc = cli_parse_double("--delta", optarg, &delta))) return rc; break;
        case 'C': if ((rc = cli_parse_double("--catoni-c", optarg, &catoni))) return rc; break;
        case 'j': json = 1; break;
        default: return cli_usage_error("klinv", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("klinv", "unexpected argument '%s'", argv[optind]);
    int inverse_mode = !isnan(q) || !isnan(cc);
    int pb_mode = !isnan(r) || !isnan(kl) || !isnan(m);
    if (inverse_mode == pb_mode) return cli_usage_error("klinv", "give either --q and --c, or --emp-risk, --kl and --m");
    if (inverse_mode) {
        if (isnan(q) || isnan(cc)) return cli_usage_error("klinv", "--q and --c go together");
        if (!(q >= 0 && q <= 1)) return cli_error("--q", "must be in [0, 1]");
        if (!(cc >= 0) || isinf(cc)) return cli_error("--c", "must be a finite number >= 0");
        double v = lower ? alim_kl_inverse_lower(q, cc) : alim_kl_inverse_upper(q, cc);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cli_json_add_number(o, "q", q);
            cli_json_add_number(o, "c_nats", cc);
            cJSON_AddStringToObject(o, "side", lower ? "lower" : "upper");
            cli_json_add_number(o, "value", v);
            return cli_print_json(o);
        }
        printf("kl^-1_%s(%.17g, %.17g) = %.16g\n", lower ? "-" : "+", q, cc, v);
        return CLI_EXIT_OK;
    }
    if (isnan(r) || isnan(kl) || isnan(m)) return cli_usage_error("klinv", "PAC-Bayes needs --emp-risk, --kl and --m");
    if (lower) return cli_usage_error("klinv", "--lower goes with --q and --c");
    if (!(r >= 0 && r <= 1)) return cli_error("--emp-risk", "must be in [0, 1]");
    if (!(kl >= 0) || isinf(kl)) return cli_error("--kl", "must be a finite number of nats >= 0");
    if (!(m >= 1) || m != floor(m) || m > 1e15) return cli_error("--m", "must be an integer >= 1");
    if (!(delta > 0 && delta < 1)) return cli_error("--delta", "must be in (0, 1)");
    if (!(catoni > 0) || isinf(catoni)) return cli_error("--catoni-c", "must be positive");
    double v[4];
    for (int f = 0; f < 4; f++) v[f] = alim_pacbayes_bound((alim_pacbayes_form)f, r, kl, m, delta, catoni);
    double xi = alim_pacbayes_xi(m);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_number(o, "emp_risk", r);
        cli_json_add_number(o, "kl_nats", kl);
        cli_json_add_number(o, "m", m);
        cli_json_add_number(o, "delta", delta);
        cli_json_add_number(o, "xi", xi);
        cli_json_add_number(o, "kl_xi", v[ALIM_PB_KL_XI]);
        cli_json_add_number(o, "kl_2sqrtm", v[ALIM_PB_KL_2SQRTM]);
        cli_json_add_number(o, "pinsker", v[ALIM_PB_PINSKER]);
        cli_json_add_number(o, "catoni", v[ALIM_PB_CATONI]);
        cli_json_add_number(o, "catoni_c", catoni);
        return cli_print_json(o);
    }
    printf("PAC-Bayes upper bounds on R(Q), probability >= %g, m = %.0f, KL = %.10g nats, R^ = %.10g\n", 1 - delta, m, kl, r);
    printf("  kl-xi       %.13f   (xi(m) = %.13g)\n", v[0], xi);
    printf("  kl-2sqrtm   %.13f\n", v[1]);
    printf("  pinsker     %.13f\n", v[2]);
    printf("  catoni      %.13f   (C = %g)\n", v[3], catoni);
    return CLI_EXIT_OK;
}
