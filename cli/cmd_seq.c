/* cmd_seq.c — `alim seq`: exact finite-n best-of-N vs KL-RL for a memoryless model. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/seqpmf.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_seq_help[] =
    "usage: alim seq DIST.csv (--length n | --sweep n1,n2,...) (--kl-per-token D | --n N)\n"
    "                [--n-rule ceil|round|floor|real] [--method auto|lattice|types]\n"
    "                [--lattice-step H] [--check-mc M [--seed S]] [--csv FILE] [--json] [--normalize]\n"
    "\n"
    "Sequences of n i.i.d. tokens from p with additive reward r_n = sum rho(y_i) (DIST.csv: one\n"
    "row per token, columns p,rho). Compares, exactly at finite n:\n"
    "  KL-RL with total budget n D: the tilt factorises, so it uses the per-token tilt\n"
    "    lambda*(D) for every n; per-token reward x*(D) = Lambda'(lambda*), per-token KL D;\n"
    "  best-of-N over sequences with N = e^{n D} (rounded by --n-rule): its per-token reward\n"
    "    E r_n / n, per-token KL(pi || p_n)/n, and KL(pi || phi_{n,lambda*}) (total and per token).\n"
    "Everything follows from the exact PMF of r_n under p_n: for lattice rewards\n"
    "(rho = a + h k) by binary powering of the token PMF tilted towards where best-of-N lives,\n"
    "in linear arithmetic with a running log scale (all terms >= 0, so relative accuracy\n"
    "~1e-15 everywhere it matters); otherwise by enumerating the C(n+V-1, V-1) count vectors.\n"
    "Side by side, the asymptotic theory (n -> inf): E r_n/n -> x*, KL/n -> D, the per-token\n"
    "KL(pi || phi) -> 0 at the rate log n/(2n) while the total grows like (1/2) log n, and the\n"
    "reward shortfall x* - E r_n/n ~ log n / (2 n lambda*); I_p(x*) = D; the Renyi\n"
    "cross-entropy identities Lambda(t) = t [log C - H_{1+t}(p; q)] and\n"
    "Lambda(l+t) - Lambda(l) = t [log C - H_{1+t}(phi_l; q)] with q = softmax(rho).\n"
    "\n"
    "options:\n"
    "  --length n          sequence length (>= 1)\n"
    "  --sweep LIST        several lengths, e.g. 1,4,16,64,256,1024 (a row each)\n"
    "  --kl-per-token D    per-token KL budget of KL-RL (nats, >= 0); sets N = e^{n D}\n"
    "  --n N               fixed best-of-N size instead (a number >= 1 or e^X); D = log N / n\n"
    "  --n-rule RULE       N from e^{n D}: ceil (default), round, floor (at least 1) or real\n"
    "                      (fractional N = e^{n D} exactly). Values within 1e-9 of an integer\n"
    "                      count as that integer; above 2^53 N is real whatever the rule.\n"
    "  --method M          auto (default: lattice if rho is on one), lattice, types\n"
    "  --lattice-step H    round rho to min rho + H k first (an approximation, reported)\n"
    "  --check-mc M        also simulate best-of-N directly (M samples; integer N, N n M <= 4e9):\n"
    "                      reward, win rate, and both KLs from the exact log-likelihood ratio at\n"
    "                      the simulated maxima, with 95% intervals\n"
    "  --seed S            seed of the simulation (default 1)\n"
    "  --csv FILE          write the rows as CSV to FILE (atomically; '-' = stdout)\n"
    "  --json              one JSON object: asymptotic predictions + one object per n\n"
    "  --normalize         rescale p to sum 1\n"
    "\n"
    "example:\n"
    "  alim seq d.csv --kl-per-token 0.5 --sweep 1,4,16,64,256,1024 --n-rule real\n";

typedef enum { RULE_CEIL, RULE_ROUND, RULE_FLOOR, RULE_REAL } n_rule;

static alim_bon_size n_from_rule(double logn, n_rule rule)
{
    alim_bon_size N;
    if (rule == RULE_REAL || logn > 36.7) { /* e^36.7 > 2^53 */
        alim_bon_size_from_log(logn, &N, NULL);
        return N;
    }
    double x = exp(logn), r = round(x), v;
    if (fabs(x - r) <= 1e-9 * x) v = r;
    else v = rule == RULE_CEIL ? ceil(x) : rule == RULE_FLOOR ? floor(x) : r;
    if (v < 1) v = 1;
    alim_bon_size_from_n(v, &N, NULL);
    return N;
}

static const char *csv_cols[] = {"n",
                                 "N",
                                 "log_n",
                                 "delta_nats",
                                 "lambda",
                                 "rl_reward_per_token",
                                 "rl_kl_per_token_nats",
                                 "bon_reward_per_token",
                                 "bon_kl_per_token_nats",
                                 "bon_kl_bound_per_token_nats",
                                 "bon_kl_to_rl_per_token_nats",
                                 "bon_kl_to_rl_total_nats",
                                 "shortfall_per_token",
                                 "predicted_shortfall",
                                 "rl_kl_for_bon_reward_per_token_nats",
                                 "tilted_rate_of_bon_reward_nats",
                                 "win_rate",
                                 "levels",
                                 "mc_reward_per_token",
                                 "mc_reward_lo",
                                 "mc_reward_hi",
                                 "mc_kl_per_token_nats",
                                 "mc_kl_per_token_lo",
                                 "mc_kl_per_token_hi",
                                 "mc_kl_to_rl_total_nats",
                                 "mc_kl_to_rl_total_lo",
                                 "mc_kl_to_rl_total_hi",
                                 "mc_win_rate",
                                 "mc_win_rate_lo",
                                 "mc_win_rate_hi",
                                 "bon_reward_total",
                                 "bon_kl_total_nats",
                                 "rl_reward_total",
                                 "rl_kl_total_nats",
                                 NULL};
enum { NCOL = 34 };

int cmd_seq(int argc, char **argv)
{
    static const struct option opts[] = {{"length", required_argument, 0, 'L'},       {"sweep", required_argument, 0, 'S'},
                                         {"kl-per-token", required_argument, 0, 'k'}, {"n", required_argument, 0, 'N'},
                                         {"n-rule", required_argument, 0, 'R'},       {"method", required_argument, 0, 'M'},
                                         {"lattice-step", required_argument, 0, 'H'}, {"check-mc", required_argument, 0, 'm'},
                                         {"seed", required_argument, 0, 's'},         {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},               {"normalize", no_argument, 0, 'z'},
                                         {0, 0, 0, 0}};
    double *lengths = NULL, delta = NAN;
    size_t nlen = 0, mc = 0;
    alim_bon_size Nfix = {NAN, NAN};
    int have_k = 0, have_n = 0, json = 0, normalize = 0, c;
    n_rule rule = RULE_CEIL;
    alim_seqpmf_options opt = ALIM_SEQPMF_OPTIONS_DEFAULT;
    uint64_t seed = 1;
    const char *csv = NULL;
    optind = 1;
    opterr = 0;
#define USAGE_FAIL(...)                                                                             \
    do {                                                                                           \
        int rc_ = (__VA_ARGS__); /* print before freeing: the message may use lengths */         \
        free(lengths);                                                                             \
        return rc_;                                                                                \
    } while (0)
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'L': {
            size_t n;
            if (cli_parse_size("--length", optarg, &n)) USAGE_FAIL(CLI_EXIT_USAGE);
            if (n == 0) USAGE_FAIL(cli_error("--length", "sequence length must be >= 1"));
            free(lengths);
            lengths = malloc(sizeof *lengths);
            if (!lengths) return cli_error("seq", "out of memory");
            lengths[0] = (double)n;
            nlen = 1;
            break;
        }
        case 'S':
            free(lengths);
            lengths = NULL;
            if (cli_parse_double_list("--sweep", optarg, &lengths, &nlen)) return CLI_EXIT_USAGE;
            for (size_t i = 0; i < nlen; i++)
                if (!(lengths[i] >= 1) || lengths[i] != floor(lengths[i]) || lengths[i] > 1e9)
                    USAGE_FAIL(cli_error("--sweep", "lengths must be integers >= 1 (got %g)", lengths[i]));
            break;
        case 'k':
            if (cli_parse_double("--kl-per-token", optarg, &delta)) USAGE_FAIL(CLI_EXIT_USAGE);
            if (delta < 0 || isinf(delta)) USAGE_FAIL(cli_error("--kl-per-token", "KL budget must be finite and >= 0 (got %g)", delta));
            have_k = 1;
            break;
        case 'N':
            if (asym_parse_n("--n", optarg, &Nfix)) USAGE_FAIL(CLI_EXIT_USAGE);
            have_n = 1;
            break;
        case 'R':
            if (!strcmp(optarg, "ceil")) rule = RULE_CEIL;
            else if (!strcmp(optarg, "round")) rule = RULE_ROUND;
            else if (!strcmp(optarg, "floor")) rule = RULE_FLOOR;
            else if (!strcmp(optarg, "real")) rule = RULE_REAL;
            else USAGE_FAIL(cli_error("--n-rule", "'%s' is not ceil, round, floor or real", optarg));
            break;
        case 'M':
            if (!strcmp(optarg, "auto")) opt.method = ALIM_SEQPMF_AUTO;
            else if (!strcmp(optarg, "lattice")) opt.method = ALIM_SEQPMF_LATTICE;
            else if (!strcmp(optarg, "types")) opt.method = ALIM_SEQPMF_TYPES;
            else USAGE_FAIL(cli_error("--method", "'%s' is not auto, lattice or types", optarg));
            break;
        case 'H':
            if (cli_parse_double("--lattice-step", optarg, &opt.lattice_step)) USAGE_FAIL(CLI_EXIT_USAGE);
            if (!(opt.lattice_step > 0) || isinf(opt.lattice_step)) USAGE_FAIL(cli_error("--lattice-step", "must be > 0"));
            break;
        case 'm':
            if (cli_parse_size("--check-mc", optarg, &mc)) USAGE_FAIL(CLI_EXIT_USAGE);
            if (mc < 2) USAGE_FAIL(cli_error("--check-mc", "need at least 2 samples"));
            break;
        case 's':
            if (cli_parse_u64("--seed", optarg, &seed)) USAGE_FAIL(CLI_EXIT_USAGE);
            break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'z': normalize = 1; break;
        case ':': USAGE_FAIL(cli_usage_error("seq", "option '%s' needs a value", argv[optind - 1]));
        default: USAGE_FAIL(cli_usage_error("seq", "unknown option '%s'", argv[optind - 1]));
        }
    }
    if (optind != argc - 1) USAGE_FAIL(cli_usage_error("seq", "expected one DIST.csv argument"));
    if (!nlen) USAGE_FAIL(cli_usage_error("seq", "give --length n or --sweep LIST"));
    if (have_k == have_n) USAGE_FAIL(cli_usage_error("seq", "give exactly one of --kl-per-token and --n"));
#undef USAGE_FAIL
    alim_rdist d;
    int rc = asym_load(argv[optind], normalize, &d);
    if (rc) {
        free(lengths);
        return rc;
    }
    alim_error err;
    alim_error_clear(&err);
    alim_progress prog = cli_progress();
    double(*rows)[NCOL] = calloc(nlen, sizeof *rows);
    alim_seq_result *res = calloc(nlen, sizeof *res);
    if (!rows || !res) {
        rc = cli_error("seq", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nlen; i++) {
        const size_t n = (size_t)lengths[i];
        alim_bon_size N = have_n ? Nfix : n_from_rule((double)n * delta, rule);
        const double D = have_n ? N.log_n / (double)n : delta;
        alim_seq_result *s = &res[i];
        if (alim_seq_compare(&d, n, D, N, &opt, s, &prog, &err)) {
            cli_progress_done();
            rc = cli_fail(&err);
            goto done;
        }
        const double nn = (double)n, xs = s->rl.pt.mean, lam = s->rl.pt.lambda, xb = s->bon.reward / nn;
        double *r = rows[i];
        r[0] = nn, r[1] = N.n, r[2] = N.log_n, r[3] = D, r[4] = lam, r[5] = xs, r[6] = s->rl.pt.kl_nats;
        r[7] = xb, r[8] = s->bon.kl_nats / nn, r[9] = s->bon.kl_bound_nats / nn;
        r[10] = s->bon_kl_to_rl_nats / nn, r[11] = s->bon_kl_to_rl_nats, r[12] = xs - xb;
        r[13] = lam > 0 && isfinite(lam) ? log(nn) / (2 * nn * lam) : NAN;
        r[14] = alim_rate_cramer(&d, xb, NULL);
        r[15] = isfinite(lam) ? alim_rate_tilted(&d, lam, xb) : NAN;
        r[16] = s->bon.win_rate, r[17] = (double)s->pmf.levels;
        for (int k = 18; k < 30; k++) r[k] = NAN;
        r[30] = s->bon.reward, r[31] = s->bon.kl_nats, r[32] = nn * xs, r[33] = nn * s->rl.pt.kl_nats;
        if (mc) {
            if (N.n != floor(N.n) || N.n * nn * (double)mc > 4e9) {
                if (nlen == 1) {
                    cli_progress_done();
                    rc = cli_error("--check-mc", "direct simulation needs an integer N with N n M <= 4e9 (N = %g)", N.n);
                    goto done;
                }
            } else {
                alim_seq_mc_result sm;
                if (alim_seq_mc(&d, n, N.n, D, mc, seed, &sm, &err)) {
                    cli_progress_done();
                    rc = cli_fail(&err);
                    goto done;
                }
                r[18] = sm.reward_per_token.mean, r[19] = sm.reward_per_token.lo, r[20] = sm.reward_per_token.hi;
                r[21] = sm.kl_nats.mean / nn, r[22] = sm.kl_nats.lo / nn, r[23] = sm.kl_nats.hi / nn;
                r[24] = sm.kl_to_rl_nats.mean, r[25] = sm.kl_to_rl_nats.lo, r[26] = sm.kl_to_rl_nats.hi;
                r[27] = sm.win_rate.mean, r[28] = sm.win_rate.lo, r[29] = sm.win_rate.hi;
            }
        }
    }
    cli_progress_done();
    /* n-independent asymptotic predictions (for the budget of the first row) */
    const alim_tilt_solution *rl = &res[0].rl;
    const double lam = rl->pt.lambda, logc = alim_tilt_log_softmax_norm(&d);
    double ren_lhs = NAN, ren_rhs = NAN, ren2_lhs = NAN, ren2_rhs = NAN;
    if (isfinite(lam) && lam > 0) {
        ren_lhs = rl->pt.log_partition;
        ren_rhs = lam * (logc - alim_tilt_renyi_cross_entropy(&d, 0.0, 1.0 + lam));
        alim_tilt_point p1;
        alim_tilt_eval(&d, lam + 1.0, &p1);
        ren2_lhs = p1.log_partition - rl->pt.log_partition;
        ren2_rhs = 1.0 * (logc - alim_tilt_renyi_cross_entropy(&d, lam, 2.0));
    }
    const double i_at_x = alim_rate_cramer(&d, rl->pt.mean, NULL);
    if (csv) {
        asym_out o;
        if ((rc = asym_out_open(&o, csv))) goto done;
        for (int k = 0; k < NCOL; k++) fprintf(o.fp, "%s%s", k ? "," : "", csv_cols[k]);
        fputc('\n', o.fp);
        for (size_t i = 0; i < nlen; i++) {
            for (int k = 0; k < NCOL; k++) {
                if (k) fputc(',', o.fp);
                asym_csv_num(o.fp, rows[i][k]);
            }
            fputc('\n', o.fp);
        }
        if ((rc = asym_out_close(&o))) goto done;
        if (!strcmp(csv, "-")) goto done;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", argv[optind]);
        cJSON_AddNumberToObject(j, "tokens", (double)d.n);
        cJSON *a = cJSON_AddObjectToObject(j, "asymptotic");
        cli_json_add_number(a, "delta_nats", res[0].delta_nats);
        cli_json_add_number(a, "lambda_star", lam);
        cJSON_AddBoolToObject(a, "saturated", rl->saturated);
        cli_json_add_number(a, "x_star", rl->pt.mean);
        cli_json_add_number(a, "rate_at_x_star_nats", i_at_x);
        cli_json_add_number(a, "log_partition_nats", rl->pt.log_partition);
        cli_json_add_number(a, "kl_max_per_token_nats", alim_tilt_kl_max(&d));
        cli_json_add_number(a, "log_softmax_norm", logc);
        cli_json_add_number(a, "renyi_identity_lhs", ren_lhs);
        cli_json_add_number(a, "renyi_identity_rhs", ren_rhs);
        cli_json_add_number(a, "renyi_tilted_identity_lhs", ren2_lhs);
        cli_json_add_number(a, "renyi_tilted_identity_rhs", ren2_rhs);
        cJSON *arr = cJSON_AddArrayToObject(j, "rows");
        for (size_t i = 0; i < nlen; i++) {
            cJSON *e = cJSON_CreateObject();
            for (int k = 0; k < NCOL; k++) {
                if (k >= 18 && k < 30 && isnan(rows[i][k])) continue;
                cli_json_add_number(e, csv_cols[k], rows[i][k]);
            }
            cJSON_AddStringToObject(e, "method", res[i].pmf.lattice ? "lattice" : "types");
            cJSON_AddBoolToObject(e, "lumped", res[i].pmf.lumped);
            cJSON_AddBoolToObject(e, "rounded", res[i].pmf.rounded);
            if (res[i].pmf.lattice) cli_json_add_number(e, "lattice_span", res[i].pmf.h);
            cJSON_AddItemToArray(arr, e);
        }
        rc = cli_print_json(j);
    } else {
        printf("memoryless sequences from %s (%zu tokens), per-token KL budget %.10g nats\n", argv[optind], d.n,
               res[0].delta_nats);
        printf("asymptotics (n -> inf):\n");
        printf("  lambda*            %.15g%s\n", lam, rl->saturated ? " (saturated)" : "");
        printf("  x* = Lambda'(l*)   %.15g  (per-token reward of KL-RL at every n)\n", rl->pt.mean);
        printf("  I_p(x*)            %.15g  (= the budget)\n", i_at_x);
        if (isfinite(ren_lhs)) {
            printf("  Renyi: Lambda(l*) = %.15g,  l*[log C - H_{1+l*}(p;q)] = %.15g\n", ren_lhs, ren_rhs);
            printf("         Lambda(l*+1) - Lambda(l*) = %.15g,  log C - H_2(phi*;q) = %.15g\n", ren2_lhs, ren2_rhs);
        }
        printf("exact finite n (best-of-N with N draws of n-token sequences; per token unless 'total'):\n");
        printf("%7s %13s %13s %13s %13s %13s %13s %12s %12s\n", "n", "N", "E_BoN r/n", "KL_BoN/n", "bound/n",
               "KL(BoN||RL)/n", "total", "shortfall", "log n/2nl*");
        for (size_t i = 0; i < nlen; i++) {
            double *r = rows[i];
            char nb[32];
            if (isfinite(r[1]) && r[1] < 1e12) { if (r[1] != floor(r[1])) snprintf(nb, sizeof nb, "%.6g", r[1]); else snprintf(nb, sizeof nb, "%.0f", r[1]); }
            else snprintf(nb, sizeof nb, "e^%.6g", r[2]);
            printf("%7.0f %13s %13.10f %13.10f %13.10f %13.10f %13.10f %12.4e %12.4e\n", r[0], nb, r[7], r[8], r[9], r[10],
                   r[11], r[12], r[13]);
        }
        if (mc) {
            printf("direct simulation (M = %zu, 95%% intervals; rows with integer N and N n M <= 4e9):\n", mc);
            printf("%7s %32s %32s %32s\n", "n", "E r/n: MC [CI] exact", "KL_BoN/n: MC [CI] exact", "KL(BoN||RL): MC [CI] exact");
            for (size_t i = 0; i < nlen; i++) {
                const double *r = rows[i];
                if (isnan(r[18])) continue;
                printf("%7.0f  %.4f [%.4f,%.4f] %.4f  %.4f [%.4f,%.4f] %.4f  %.4f [%.4f,%.4f] %.4f\n", r[0], r[18], r[19], r[20],
                       r[7], r[21], r[22], r[23], r[8], r[24], r[25], r[26], r[11]);
            }
        }
    }
done:
    free(rows);
    free(res);
    free(lengths);
    alim_rdist_free(&d);
    return rc;
}
