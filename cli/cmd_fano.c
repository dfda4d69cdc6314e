/* cmd_fano.c — `alim fano`: Fano lower bounds on risk, and the capacity a target risk needs. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>

#include "alim/bounds.h"
#include "alim/info.h"
#include "cli.h"

const char cmd_fano_help[] =
    "usage: alim fano (--M M | --log2M L) (--info I | --info-nats I) [--loss-gap D] [--json]\n"
    "       alim fano (--M M | --log2M L) --risk EPS [--json]\n"
    "\n"
    "Lower bounds on the risk of ANY learner that sees the value U only through a channel\n"
    "carrying I bits about it (spec bottleneck.md §2), for a codebook of M values:\n"
    "    weak:   R >= D * max{0, 1 - (I + 1 bit) / log2 M}\n"
    "    strong: R >= D * phi_M^{-1}(log M - I),  phi_M(p) = h(p) + p log(M-1)\n"
    "where D is the loss gap of a D-separable codebook (1 for 0-1 loss). The bound does not\n"
    "depend on the number of labels. The strong form is tight for the M-ary symmetric channel.\n"
    "\n"
    "With --risk EPS it answers the inverse question (prediction P2): the capacity, in bits,\n"
    "that a target risk EPS requires: weak (1-EPS) log2 M - 1, strong log2 M - h2(EPS) -\n"
    "EPS log2(M-1).\n"
    "\n"
    "options:\n"
    "  --M M          codebook size, an integer >= 2\n"
    "  --log2M L      log2 of the codebook size, for huge M (L >= 1; 2^64 and far beyond)\n"
    "  --info I       information I(U;Y|S) or capacity in bits\n"
    "  --info-nats I  the same in nats\n"
    "  --loss-gap D   scale the bounds by D in (0, 1] (default 1)\n"
    "  --risk EPS     target risk in [0, 1]: print the required capacity instead\n"
    "  --json         JSON: weak, strong (risk bounds), log2M, info_bits; with --risk:\n"
    "                 required_weak_bits, required_strong_bits (and _nats)\n"
    "\n"
    "examples:\n"
    "  alim fano --M 256 --info 4          -> weak 0.375, strong 0.3804717309727\n"
    "  alim fano --log2M 32 --risk 0.01    -> weak 30.68 bits, strong 31.59920686411 bits\n";

int cmd_fano(int argc, char **argv)
{
    static const struct option opts[] = {{"M", required_argument, 0, 'M'},        {"log2M", required_argument, 0, 'L'},
                                         {"info", required_argument, 0, 'i'},     {"info-nats", required_argument, 0, 'n'},
                                         {"loss-gap", required_argument, 0, 'd'}, {"risk", required_argument, 0, 'r'},
                                         {"json", no_argument, 0, 'j'},           {0, 0, 0, 0}};
    double M = NAN, log2m = NAN, info = NAN, risk = NAN, gap = 1.0;
    int json = 0, c, rc;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'M':
            if ((rc = cli_parse_double("--M", optarg, &M))) return rc;
            if (!(M >= 2) || M != floor(M) || isinf(M)) return cli_error("--M", "must be an integer >= 2 (use --log2M for huge M)");
            break;
        case 'L':
            if ((rc = cli_parse_double("--log2M", optarg, &log2m))) return rc;
            if (!(log2m >= 1) || isinf(log2m)) return cli_error("--log2M", "must be a finite number >= 1");
            break;
        case 'i':
            if ((rc = cli_parse_double("--info", optarg, &info))) return rc;
            if (!(info >= 0) || isinf(info)) return cli_error("--info", "must be a finite number of bits >= 0");
            info = alim_nats(info);
            break;
        case 'n':
            if ((rc = cli_parse_double("--info-nats", optarg, &info))) return rc;
            if (!(info >= 0) || isinf(info)) return cli_error("--info-nats", "must be a finite number of nats >= 0");
            break;
        case 'd':
            if ((rc = cli_parse_double("--loss-gap", optarg, &gap))) return rc;
            if (!(gap > 0 && gap <= 1)) return cli_error("--loss-gap", "must be in (0, 1]");
            break;
        case 'r':
            if ((rc = cli_parse_double("--risk", optarg, &risk))) return rc;
            if (!(risk >= 0 && risk <= 1)) return cli_error("--risk", "must be in [0, 1]");
            break;
        case 'j': json = 1; break;
        default: return cli_usage_error("fano", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("fano", "unexpected argument '%s'", argv[optind]);
    if (isnan(M) == isnan(log2m)) return cli_usage_error("fano", "give exactly one of --M and --log2M");
    if (isnan(info) == isnan(risk)) return cli_usage_error("fano", "give exactly one of --info/--info-nats and --risk");
    double log_m = isnan(M) ? log2m * ALIM_LN2 : log(M);
    double l2 = isnan(M) ? log2m : log2(M);
    if (!isnan(risk)) {
        double w = alim_fano_required_weak(log_m, risk), s = alim_fano_required_strong(log_m, risk);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cli_json_add_number(o, "log2M", l2);
            cli_json_add_number(o, "risk", risk);
            cli_json_add_number(o, "required_weak_bits", alim_bits(w));
            cli_json_add_number(o, "required_strong_bits", alim_bits(s));
            cli_json_add_number(o, "required_weak_nats", w);
            cli_json_add_number(o, "required_strong_nats", s);
            return cli_print_json(o);
        }
        printf("codebook        log2 M = %.10g\n", l2);
        printf("target risk     %.10g\n", risk);
        printf("capacity needed weak %.13g bits, strong %.13g bits (%.13g nats)\n", alim_bits(w), alim_bits(s), s);
        return CLI_EXIT_OK;
    }
    double w = gap * alim_fano_weak(log_m, info), s = gap * alim_fano_strong(log_m, info);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_number(o, "log2M", l2);
        cli_json_add_number(o, "info_bits", alim_bits(info));
        cli_json_add_number(o, "info_nats", info);
        cli_json_add_number(o, "loss_gap", gap);
        cli_json_add_number(o, "weak", w);
        cli_json_add_number(o, "strong", s);
        return cli_print_json(o);
    }
    printf("codebook     log2 M = %.10g\n", l2);
    printf("information  %.13g bits (%.13g nats)\n", alim_bits(info), info);
    printf("risk >=      weak %.13g, strong %.13g%s\n", w, s, gap != 1.0 ? " (times the loss gap)" : "");
    return CLI_EXIT_OK;
}
