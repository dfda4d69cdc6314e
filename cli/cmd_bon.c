/* cmd_bon.c — `alim bon`: exact best-of-N on one response space. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/info.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_bon_help[] =
    "usage: alim bon DIST.csv --n N [--ties random|ordered] [--policy] [--csv FILE] [--json]\n"
    "                [--normalize] [--check-mc M [--seed S] [--mc-direct]]\n"
    "       alim bon DIST.csv --n N --soft LAMBDA   (soft best-of-N)\n"
    "       alim bon DIST.csv --poisson MU          (Best-of-Poisson, N = 1 + Poisson(MU))\n"
    "                [--hedge MAX] [--json] [--check-mc M [--seed S]]\n"
    "\n"
    "Exact best-of-N: draw N outcomes from p (DIST.csv: rows p,r) and keep one of maximal\n"
    "reward. With reward levels v_1 < ... < v_L, masses q_j and F_j = q_1 + ... + q_j, the\n"
    "chosen level has probability P_j = F_j^N - F_{j-1}^N, and\n"
    "    KL(pi_N || p) = sum_j P_j log(P_j / q_j)                (random tie-breaking)\n"
    "    E r           = v_L - sum_{j<L} (v_{j+1} - v_j) F_j^N\n"
    "    win rate      = P(r(Y) > r(Y')) + P(r(Y) = r(Y'))/2,  Y' ~ p   (<= N/(N+1))\n"
    "    bound         KL <= log N - (N-1)/N  (tight only when no outcome is likely at scale 1/N).\n"
    "N is any real >= 1 (fractional N uses the same formulas); everything is computed in log\n"
    "domain with log1p/expm1, so N = 1e15, 1e300 or e^5000 is exact too. The output also\n"
    "compares with the KL-RL optimum at the same KL: its reward R*(KL), the shortfall\n"
    "R*(KL) - E r and KL(pi_N || phi_lambda) = how far best-of-N is from the optimum.\n"
    "\n"
    "options:\n"
    "  --n N            number of draws: a number >= 1 or e^X (N = e^X, for huge N)\n"
    "  --ties RULE      random (default): uniform among tied maximisers (least KL);\n"
    "                   ordered: a later row beats an earlier row with the same reward\n"
    "  --policy         include the policy pi_N (one value per row)\n"
    "  --csv FILE       write the rows p,r,policy as CSV (atomically; '-' = stdout)\n"
    "  --json           one JSON object: kl_nats, kl_bound_nats, reward, win_rate,\n"
    "                   win_rate_strict, kl_random_nats, kl_ordered_nats, rl_same_kl, ...\n"
    "  --normalize      rescale p to sum 1 (default: p must sum to 1 within 1e-9)\n"
    "  --check-mc M     Monte Carlo check with M best-of-N draws (95% intervals); the level is\n"
    "                   drawn by inverting F_j^N, which works for any N\n"
    "  --mc-direct      draw N outcomes per sample instead (integer N <= 10^7; slow)\n"
    "  --seed S         seed of the Monte Carlo check (default 1)\n"
    "  --timing         add wall-clock seconds of reading and computing to the JSON\n"
    "  --soft LAMBDA    soft best-of-N (Verdun et al. 2025): of the N draws, return draw i with\n"
    "                   probability e^{LAMBDA r_i}/sum_k e^{LAMBDA r_k} (0: p; inf: best-of-N). Exact\n"
    "                   for any real N (a 1-D integral per level, relative error ~1e-15, reported);\n"
    "                   kl_to_tilt_nats = KL(soft || phi_LAMBDA) -> 0 like 1/N^2\n"
    "  --poisson MU     Best-of-Poisson (Khalaf et al. 2025): N = 1 + K, K ~ Poisson(MU), then\n"
    "                   best-of-N; P(level <= j) = F_j e^{-MU S_j}; MU may be e^X; --ties works\n"
    "  gold reward      a third column g in DIST.csv (rows p,r,g) is a gold reward: selection\n"
    "                   uses r, gold_reward = E g of the output\n"
    "  --hedge MAX      (needs g) HedgeTune: the parameter in [1, MAX] (N), [0, MAX] (MU) or\n"
    "                   [0, MAX] (LAMBDA of --soft, at the given N) that maximises the gold reward\n"
    "\n"
    "example:\n"
    "  alim bon d.csv --n 4        # d.csv of 'alim tilt --help': KL 0.5597505604, E r 1.5279\n"
    "  alim bon d.csv --n 1e15 --json\n";

/* HedgeTune's answer as a JSON object "hedge". */
static void json_hedge(cJSON *j, const alim_hedge_result *h, const char *param)
{
    cJSON *o = cJSON_AddObjectToObject(j, "hedge");
    cJSON_AddStringToObject(o, "parameter", param);
    cli_json_add_number(o, "best", h->param);
    cli_json_add_number(o, "gold_reward", h->at.gold_reward);
    cli_json_add_number(o, "kl_nats", h->at.kl_nats);
    cli_json_add_number(o, "reward", h->at.reward);
    cli_json_add_number(o, "win_rate", h->at.win_rate);
    cJSON_AddBoolToObject(o, "interior", h->interior);
    cJSON_AddBoolToObject(o, "exhaustive", h->exhaustive);
}

/* `alim bon --soft` and `alim bon --poisson`: one level law, its quantities and the comparisons. */
static int cmd_bon_family(const char *path, int normalize, int json, alim_bon_size N, double soft, alim_bon_size mu,
                          alim_ties ties, double hedge, size_t mc, uint64_t seed)
{
    const int is_soft = !isnan(soft);
    alim_error err;
    alim_error_clear(&err);
    alim_rdist d;
    double *gold = NULL, *gl = NULL, *lp = NULL, *lt = NULL;
    if (alim_rdist_read_gold_csv(&d, &gold, path, ALIM_RDIST_SUM_TOL, normalize, &err)) return cli_fail(&err);
    int rc = 0;
    alim_levels lv = {0}, ord = {0};
    alim_soft_info si = {0};
    alim_hedge_result hr;
    alim_bonfam_mc_result mcr;
    const int need_ordered = !is_soft && ties == ALIM_TIES_ORDERED;
    if (alim_levels_from_rdist(&d, &lv, &err)) goto fail;
    if (need_ordered && alim_levels_ordered(&d, &lv, &ord, &err)) goto fail;
    lp = malloc(2 * lv.n * sizeof *lp);
    gl = gold ? malloc(lv.n * sizeof *gl) : NULL;
    if (!lp || (gold && !gl)) {
        alim_error_set(&err, ALIM_ENOMEM, "bon", "out of memory");
        goto fail;
    }
    lt = lp + lv.n;
    if (gold && alim_levels_gold(&d, &lv, gold, gl, &err)) goto fail;
    if (is_soft) {
        if (alim_soft_bon_level_log_probs(&lv, N, soft, lp, &si, &err)) goto fail;
    } else alim_bop_level_log_probs(&lv, mu, lp);
    alim_bonfam_point pt;
    alim_bonfam_eval_law(&lv, gl, lp, &pt);
    double kl_ord = NAN;
    if (need_ordered) {
        double *lo = malloc(ord.n * sizeof *lo);
        if (!lo) {
            alim_error_set(&err, ALIM_ENOMEM, "bon", "out of memory");
            goto fail;
        }
        alim_bop_level_log_probs(&ord, mu, lo);
        kl_ord = 0;
        for (size_t i = 0; i < ord.n; i++)
            if (lo[i] > -INFINITY) kl_ord += exp(lo[i]) * (lo[i] - ord.log_q[i]);
        free(lo);
    }
    const double kl = need_ordered ? kl_ord : pt.kl_nats;
    /* the tilt: at soft's lambda (its N -> inf limit), and at the same KL (the KL-RL optimum) */
    double kl_to_tilt = NAN, tilt_reward = NAN;
    if (is_soft) {
        alim_tilt_level_log_probs(&lv, soft, lt);
        kl_to_tilt = 0;
        for (size_t j = 0; j < lv.n; j++)
            if (lp[j] > -INFINITY) kl_to_tilt += exp(lp[j]) * (lp[j] - lt[j]);
        if (kl_to_tilt < 0) kl_to_tilt = 0;
        alim_bonfam_point tp;
        alim_bonfam_eval_law(&lv, NULL, lt, &tp);
        tilt_reward = tp.reward;
    }
    alim_tilt_solution rl;
    {
        alim_rdist ld;
        if ((rc = asym_rdist_of_levels(&lv, &ld))) goto done;
        alim_status st = alim_tilt_solve_kl(&ld, kl, &rl, &err);
        alim_rdist_free(&ld);
        if (st) goto fail;
    }
    if (!isnan(hedge)) {
        if (!gl) {
            alim_error_set(&err, ALIM_EINVAL, path, "--hedge needs a gold reward column (rows p,r,g)");
            goto fail;
        }
        if (alim_bonfam_hedge(&lv, gl, is_soft ? ALIM_METHOD_SOFT : ALIM_METHOD_BOP, is_soft ? N.n : 0, is_soft ? 0 : 0,
                              hedge, &hr, &err))
            goto fail;
    }
    if (mc && alim_bonfam_mc(&lv, gl, is_soft ? ALIM_METHOD_SOFT : ALIM_METHOD_BOP, is_soft ? N.n : mu.n, soft, mc, seed,
                             &mcr, &err))
        goto fail;
    const double kb = is_soft ? NAN : alim_bop_kl_bound(mu), wb = is_soft ? NAN : alim_bop_win_rate_bound(mu);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", path);
        cJSON_AddStringToObject(j, "method", is_soft ? "soft" : "bop");
        cJSON_AddNumberToObject(j, "outcomes", (double)d.n);
        cJSON_AddNumberToObject(j, "levels", (double)lv.n);
        if (is_soft) {
            cli_json_add_number(j, "n", N.n);
            cli_json_add_number(j, "log_n", N.log_n);
            cli_json_add_number(j, "lambda", soft);
        } else {
            cli_json_add_number(j, "mu", mu.n);
            cli_json_add_number(j, "log_mu", mu.log_n);
            cli_json_add_number(j, "expected_n", mu.n + 1);
            cJSON_AddStringToObject(j, "ties", need_ordered ? "ordered" : "random");
            cli_json_add_number(j, "kl_random_nats", pt.kl_nats);
            if (need_ordered) cli_json_add_number(j, "kl_ordered_nats", kl_ord);
            cli_json_add_number(j, "kl_bound_nats", kb);
            cli_json_add_number(j, "win_rate_bound", wb);
        }
        cli_json_add_number(j, "kl_nats", kl);
        cli_json_add_number(j, "kl_bits", alim_bits(kl));
        cli_json_add_number(j, "kl_saturation_nats", 0.0 - lv.log_q[lv.n - 1]);
        cli_json_add_number(j, "reward", pt.reward);
        cli_json_add_number(j, "reward_gain", pt.reward - d.mean);
        cli_json_add_number(j, "win_rate", pt.win_rate);
        cli_json_add_number(j, "win_rate_strict", pt.win_rate_strict);
        if (gl) cli_json_add_number(j, "gold_reward", pt.gold_reward);
        if (is_soft) {
            cli_json_add_number(j, "kl_to_tilt_nats", kl_to_tilt);
            cli_json_add_number(j, "tilt_reward", tilt_reward);
            cJSON *q = cJSON_AddObjectToObject(j, "quadrature");
            cJSON_AddNumberToObject(q, "nodes", (double)si.nodes);
            cli_json_add_number(q, "mass_error", si.mass_error);
            cli_json_add_number(q, "step_error", si.step_error);
            static const char *lim[] = {"quadrature", "n=1", "lambda=0", "tilt", "best-of-n"};
            cJSON_AddStringToObject(q, "method", lim[si.limit]);
        }
        cJSON *r = cJSON_AddObjectToObject(j, "rl_same_kl");
        cli_json_add_number(r, "lambda", rl.pt.lambda);
        cJSON_AddBoolToObject(r, "saturated", rl.saturated);
        cli_json_add_number(r, "reward", rl.pt.mean);
        cli_json_add_number(r, "shortfall", rl.pt.mean - pt.reward);
        if (!isnan(hedge)) json_hedge(j, &hr, is_soft ? "lambda" : "mu");
        if (mc) {
            cJSON *m = cJSON_AddObjectToObject(j, "monte_carlo");
            cJSON_AddNumberToObject(m, "samples", (double)mc);
            cJSON_AddNumberToObject(m, "seed", (double)seed);
            const alim_mc_estimate *e[4] = {&mcr.reward, &mcr.kl_nats, &mcr.win_rate, &mcr.gold_reward};
            static const char *k[4] = {"reward", "kl_nats", "win_rate", "gold_reward"};
            for (int t = 0; t < (gl ? 4 : 3); t++) {
                double a[3] = {e[t]->mean, e[t]->lo, e[t]->hi};
                cli_json_add_array(m, k[t], a, 3);
            }
        }
        rc = cli_print_json(j);
    } else {
        if (is_soft) {
            printf("soft best-of-N on %s (%zu outcomes, %zu reward levels), N = ", path, d.n, lv.n);
            if (isfinite(N.n)) printf("%.17g", N.n);
            else printf("e^%.17g", N.log_n);
            printf(", lambda = %.17g\n", soft);
        } else {
            printf("Best-of-Poisson on %s (%zu outcomes, %zu reward levels), N = 1 + Poisson(mu), mu = ", path, d.n, lv.n);
            if (isfinite(mu.n)) printf("%.17g", mu.n);
            else printf("e^%.17g", mu.log_n);
            printf(", %s ties\n", need_ordered ? "ordered" : "random");
        }
        printf("  KL(pi || p)            %.15g nats  (%.6g bits)\n", kl, alim_bits(kl));
        if (!is_soft) printf("  bound E[log N - (N-1)/N] %.13g nats\n", kb);
        printf("  reward E r             %.15g  (gain %+.6g over E_p r = %.10g)\n", pt.reward, pt.reward - d.mean, d.mean);
        printf("  win rate (ties 1/2)    %.15g", pt.win_rate);
        if (!is_soft) printf("  (E[N/(N+1)] = %.10g)", wb);
        printf("\n  win rate (strict)      %.15g\n", pt.win_rate_strict);
        if (gl) printf("  gold reward E g        %.15g\n", pt.gold_reward);
        if (is_soft)
            printf("  tilt phi_lambda        reward %.15g, KL(soft || phi_lambda) %.6g nats (-> 0 as N grows)\n"
                   "  quadrature             %zu nodes, mass error %.3g, step error %.3g\n",
                   tilt_reward, kl_to_tilt, si.nodes, si.mass_error, si.step_error);
        printf("  KL-RL at the same KL   lambda %.12g, reward %.15g, shortfall %.6g\n", rl.pt.lambda, rl.pt.mean,
               rl.pt.mean - pt.reward);
        if (!isnan(hedge))
            printf("  HedgeTune              %s = %.12g maximises the gold reward (%.15g, KL %.6g)%s\n",
                   is_soft ? "lambda" : "mu", hr.param, hr.at.gold_reward, hr.at.kl_nats,
                   hr.interior ? ": hacking beyond it" : " (at the end of the range)");
        if (mc) {
            printf("  Monte Carlo (M = %zu, direct simulation, 95%% intervals):\n", mc);
            printf("    reward    %.6f [%.6f, %.6f]\n", mcr.reward.mean, mcr.reward.lo, mcr.reward.hi);
            printf("    KL        %.6f [%.6f, %.6f]\n", mcr.kl_nats.mean, mcr.kl_nats.lo, mcr.kl_nats.hi);
            printf("    win rate  %.6f [%.6f, %.6f]\n", mcr.win_rate.mean, mcr.win_rate.lo, mcr.win_rate.hi);
            if (gl) printf("    gold      %.6f [%.6f, %.6f]\n", mcr.gold_reward.mean, mcr.gold_reward.lo, mcr.gold_reward.hi);
        }
    }
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(lp);
    free(gl);
    free(gold);
    alim_levels_free(&lv);
    alim_levels_free(&ord);
    alim_rdist_free(&d);
    return rc;
}

int cmd_bon(int argc, char **argv)
{
    static const struct option opts[] = {{"n", required_argument, 0, 'N'},       {"ties", required_argument, 0, 't'},
                                         {"policy", no_argument, 0, 'p'},        {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},          {"normalize", no_argument, 0, 'z'},
                                         {"check-mc", required_argument, 0, 'm'}, {"seed", required_argument, 0, 's'},
                                         {"mc-direct", no_argument, 0, 'd'},     {"timing", no_argument, 0, 'T'},
                                         {"soft", required_argument, 0, 'S'},    {"poisson", required_argument, 0, 'P'},
                                         {"hedge", required_argument, 0, 'H'},   {0, 0, 0, 0}};
    alim_bon_size N = {NAN, NAN};
    int have_n = 0, want_policy = 0, json = 0, normalize = 0, direct = 0, timing = 0, have_soft = 0, have_mu = 0;
    double soft = NAN, hedge = NAN;
    alim_bon_size mu = {NAN, NAN};
    alim_ties ties = ALIM_TIES_RANDOM;
    const char *csv = NULL;
    size_t mc = 0;
    uint64_t seed = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'N':
            if (asym_parse_n("--n", optarg, &N)) return CLI_EXIT_USAGE;
            have_n = 1;
            break;
        case 't':
            if (!strcmp(optarg, "random")) ties = ALIM_TIES_RANDOM;
            else if (!strcmp(optarg, "ordered")) ties = ALIM_TIES_ORDERED;
            else return cli_error("--ties", "'%s' is not 'random' or 'ordered'", optarg);
            break;
        case 'p': want_policy = 1; break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'z': normalize = 1; break;
        case 'd': direct = 1; break;
        case 'T': timing = 1; break;
        case 'm':
            if (cli_parse_size("--check-mc", optarg, &mc)) return CLI_EXIT_USAGE;
            if (mc < 2) return cli_error("--check-mc", "need at least 2 samples");
            break;
        case 's':
            if (cli_parse_u64("--seed", optarg, &seed)) return CLI_EXIT_USAGE;
            break;
        case 'S':
            if (!strcmp(optarg, "inf")) soft = INFINITY;
            else if (cli_parse_double("--soft", optarg, &soft)) return CLI_EXIT_USAGE;
            if (!(soft >= 0)) return cli_error("--soft", "lambda must be >= 0 or inf (got '%s')", optarg);
            have_soft = 1;
            break;
        case 'P':
            if (!strncmp(optarg, "e^", 2) || !strncmp(optarg, "exp(", 4)) {
                if (asym_parse_n("--poisson", optarg, &mu)) return CLI_EXIT_USAGE;
            } else {
                double v;
                if (cli_parse_double("--poisson", optarg, &v)) return CLI_EXIT_USAGE;
                if (!(v >= 0) || isinf(v))
                    return cli_error("--poisson", "mu must be a finite number >= 0 or e^X (got '%s')", optarg);
                mu.n = v, mu.log_n = log(v);
            }
            have_mu = 1;
            break;
        case 'H':
            if (cli_parse_double("--hedge", optarg, &hedge)) return CLI_EXIT_USAGE;
            if (!(hedge >= 1) || isinf(hedge)) return cli_error("--hedge", "MAX must be a finite number >= 1");
            break;
        case ':': return cli_usage_error("bon", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("bon", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("bon", "expected one DIST.csv argument");
    if (have_mu && (have_n || have_soft)) return cli_usage_error("bon", "--poisson replaces --n (and excludes --soft)");
    if (!have_n && !have_mu) return cli_usage_error("bon", "--n N (or --poisson MU) is required");
    if (have_soft && ties == ALIM_TIES_ORDERED)
        return cli_usage_error("bon", "--soft has no tie rule (tied draws share the softmax weight)");
    if ((have_soft || have_mu) && (want_policy || csv || direct))
        return cli_usage_error("bon", "--policy, --csv and --mc-direct are for plain best-of-N");
    if (have_soft || have_mu)
        return cmd_bon_family(argv[optind], normalize, json, N, have_soft ? soft : NAN, mu, ties, hedge, mc, seed);
    alim_rdist d;
    double *gold = NULL;
    const double t0 = asym_now();
    {
        alim_error e0;
        alim_error_clear(&e0);
        if (alim_rdist_read_gold_csv(&d, &gold, argv[optind], ALIM_RDIST_SUM_TOL, normalize, &e0)) return cli_fail(&e0);
    }
    int rc = 0;
    const double t1 = asym_now();
    alim_error err;
    alim_error_clear(&err);
    alim_levels lv = {0}, ord = {0};
    double *pi = NULL, *gl = NULL;
    alim_hedge_result hr;
    const int need_ordered = ties == ALIM_TIES_ORDERED;
    if ((want_policy || csv || need_ordered || gold ? alim_levels_from_rdist(&d, &lv, &err)
                                                    : alim_levels_from_rdist_nomap(&d, &lv, &err)))
        goto fail;
    if (gold) {
        if (!(gl = malloc(lv.n * sizeof *gl))) {
            alim_error_set(&err, ALIM_ENOMEM, "bon", "out of memory");
            goto fail;
        }
        if (alim_levels_gold(&d, &lv, gold, gl, &err)) goto fail;
    }
    if (!isnan(hedge)) {
        if (!gl) {
            alim_error_set(&err, ALIM_EINVAL, argv[optind], "--hedge needs a gold reward column (rows p,r,g)");
            goto fail;
        }
        if (alim_bonfam_hedge(&lv, gl, ALIM_METHOD_BON, 0, 1, hedge, &hr, &err)) goto fail;
    }
    if (need_ordered && alim_levels_ordered(&d, &lv, &ord, &err)) goto fail;
    alim_bon_result b;
    alim_bon_eval(&lv, N, &b);
    double gold_reward = NAN;
    if (gl) {
        alim_bonfam_point fp;
        if (alim_bonfam_eval(&lv, gl, ALIM_METHOD_BON, isfinite(N.n) ? N.n : 1, 0, &fp, &err)) goto fail;
        gold_reward = fp.gold_reward;
        if (!isfinite(N.n)) { /* only log N fits: the law through the level probabilities */
            double *lp = malloc(lv.n * sizeof *lp);
            if (!lp) {
                alim_error_set(&err, ALIM_ENOMEM, "bon", "out of memory");
                goto fail;
            }
            alim_bon_level_log_probs(&lv, N, lp);
            alim_bonfam_eval_law(&lv, gl, lp, &fp);
            gold_reward = fp.gold_reward;
            free(lp);
        }
    }
    const int binary = lv.n <= 2 && (lv.v[0] == 0 || lv.v[0] == 1) && (lv.v[lv.n - 1] == 0 || lv.v[lv.n - 1] == 1);
    const double kl_ord = need_ordered ? alim_bon_kl(&ord, N) : NAN;
    const double kl = need_ordered ? kl_ord : b.kl_nats;
    /* the KL-RL optimum at the same KL, solved on the reward levels (the tilt depends on
     * the reward distribution only, and there are at most as many levels as outcomes) */
    alim_tilt_solution rl;
    {
        alim_rdist ld;
        if ((rc = asym_rdist_of_levels(&lv, &ld))) goto done;
        alim_status st = alim_tilt_solve_kl(&ld, kl, &rl, &err);
        alim_rdist_free(&ld);
        if (st) goto fail;
    }
    const double shortfall = rl.pt.mean - b.reward;
    const double kl_to_rl = alim_tilt_kl_from(&rl.pt, kl, b.reward);
    const double wbound = isfinite(N.n) ? N.n / (N.n + 1) : 1.0;
    if (want_policy || csv) {
        pi = malloc(d.n * sizeof *pi);
        if (!pi) {
            alim_error_set(&err, ALIM_ENOMEM, "bon", "out of memory");
            goto fail;
        }
        if (alim_bon_policy(&d, &lv, need_ordered ? &ord : NULL, N, ties, pi, &err)) goto fail;
    }
    const double t2 = asym_now();
    alim_bon_mc_result mcr;
    if (mc && alim_bon_mc(&lv, N, mc, seed, direct, &mcr, &err)) goto fail;
    if (csv) {
        asym_out o;
        if ((rc = asym_out_open(&o, csv))) goto done;
        fputs("p,r,policy\n", o.fp);
        for (size_t i = 0; i < d.n; i++) {
            asym_csv_num(o.fp, d.p[i]);
            fputc(',', o.fp);
            asym_csv_num(o.fp, d.r[i]);
            fputc(',', o.fp);
            asym_csv_num(o.fp, pi[i]);
            fputc('\n', o.fp);
        }
        if ((rc = asym_out_close(&o))) goto done;
        if (!strcmp(csv, "-")) goto done;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", argv[optind]);
        cJSON_AddNumberToObject(j, "outcomes", (double)d.n);
        cJSON_AddNumberToObject(j, "levels", (double)lv.n);
        cli_json_add_number(j, "n", N.n);
        cli_json_add_number(j, "log_n", N.log_n);
        cJSON_AddStringToObject(j, "ties", need_ordered ? "ordered" : "random");
        cli_json_add_number(j, "kl_nats", kl);
        cli_json_add_number(j, "kl_bits", alim_bits(kl));
        cli_json_add_number(j, "kl_random_nats", b.kl_nats);
        if (need_ordered) cli_json_add_number(j, "kl_ordered_nats", kl_ord);
        cli_json_add_number(j, "kl_bound_nats", b.kl_bound_nats);
        cli_json_add_number(j, "kl_bound_gap_nats", b.kl_bound_nats - kl);
        cli_json_add_number(j, "kl_one_atom_nats", b.kl_one_atom_nats);
        cli_json_add_number(j, "kl_saturation_nats", 0.0 - lv.log_q[lv.n - 1]);
        cli_json_add_number(j, "reward", b.reward);
        cli_json_add_number(j, "reward_gain", b.reward - d.mean);
        cli_json_add_number(j, "win_rate", b.win_rate);
        cli_json_add_number(j, "win_rate_strict", b.win_rate_strict);
        cli_json_add_number(j, "win_rate_bound", wbound);
        cli_json_add_number(j, "top_level_prob", b.top_prob);
        if (binary) cli_json_add_number(j, "pass_at_k", b.reward); /* rewards in {0, 1}: pass@N = E r */
        if (gl) cli_json_add_number(j, "gold_reward", gold_reward);
        if (!isnan(hedge)) json_hedge(j, &hr, "n");
        cJSON *r = cJSON_AddObjectToObject(j, "rl_same_kl");
        cli_json_add_number(r, "lambda", rl.pt.lambda);
        cJSON_AddBoolToObject(r, "saturated", rl.saturated);
        cli_json_add_number(r, "reward", rl.pt.mean);
        cli_json_add_number(r, "shortfall", shortfall);
        cli_json_add_number(r, "kl_bon_to_rl_nats", kl_to_rl);
        if (mc) {
            cJSON *m = cJSON_AddObjectToObject(j, "monte_carlo");
            cJSON_AddNumberToObject(m, "samples", (double)mc);
            cJSON_AddNumberToObject(m, "seed", (double)seed);
            cJSON_AddStringToObject(m, "sampler", direct ? "direct" : "inversion");
            double a[3];
            a[0] = mcr.reward.mean, a[1] = mcr.reward.lo, a[2] = mcr.reward.hi;
            cli_json_add_array(m, "reward", a, 3);
            a[0] = mcr.kl_nats.mean, a[1] = mcr.kl_nats.lo, a[2] = mcr.kl_nats.hi;
            cli_json_add_array(m, "kl_nats", a, 3);
            a[0] = mcr.win_rate.mean, a[1] = mcr.win_rate.lo, a[2] = mcr.win_rate.hi;
            cli_json_add_array(m, "win_rate", a, 3);
            a[0] = mcr.win_rate_strict.mean, a[1] = mcr.win_rate_strict.lo, a[2] = mcr.win_rate_strict.hi;
            cli_json_add_array(m, "win_rate_strict", a, 3);
        }
        if (timing) {
            cJSON *t = cJSON_AddObjectToObject(j, "timing");
            cJSON_AddNumberToObject(t, "read_seconds", t1 - t0);
            cJSON_AddNumberToObject(t, "compute_seconds", t2 - t1);
        }
        if (want_policy) cli_json_add_array(j, "policy", pi, d.n);
        rc = cli_print_json(j);
    } else {
        printf("best-of-N on %s (%zu outcomes, %zu reward levels), N = ", argv[optind], d.n, lv.n);
        if (isfinite(N.n)) printf("%.17g", N.n);
        else printf("e^%.17g", N.log_n);
        printf(", %s ties\n", need_ordered ? "ordered" : "random");
        printf("  KL(pi_N || p)          %.15g nats  (%.6g bits)\n", kl, alim_bits(kl));
        if (need_ordered) printf("  KL with random ties    %.15g nats  (the least over tie rules)\n", b.kl_nats);
        printf("  bound log N - (N-1)/N  %.15g nats  (gap %.6g)\n", b.kl_bound_nats, b.kl_bound_nats - kl);
        printf("  one-atom model         %.15g nats  (top level mass %.6g; KL -> %.6g as N grows)\n", b.kl_one_atom_nats,
               exp(lv.log_q[lv.n - 1]), 0.0 - lv.log_q[lv.n - 1]);
        printf("  reward E r             %.15g  (gain %+.6g over E_p r = %.10g)\n", b.reward, b.reward - d.mean, d.mean);
        printf("  win rate (ties 1/2)    %.15g  (N/(N+1) = %.10g)\n", b.win_rate, wbound);
        printf("  win rate (strict)      %.15g\n", b.win_rate_strict);
        if (binary) printf("  pass@N                 %.15g  (rewards in {0, 1})\n", b.reward);
        if (gl) printf("  gold reward E g        %.15g\n", gold_reward);
        if (!isnan(hedge))
            printf("  HedgeTune              N = %.17g maximises the gold reward (%.15g, KL %.6g)%s\n", hr.param,
                   hr.at.gold_reward, hr.at.kl_nats, hr.interior ? ": hacking beyond it" : " (at the end of the range)");
        printf("  KL-RL at the same KL   lambda %.12g, reward %.15g, shortfall %.6g\n", rl.pt.lambda, rl.pt.mean, shortfall);
        printf("  KL(pi_N || phi_lambda) %.15g nats\n", kl_to_rl);
        if (mc) {
            printf("  Monte Carlo (M = %zu, %s sampler, 95%% intervals):\n", mc, direct ? "direct" : "inversion");
            printf("    reward    %.6f [%.6f, %.6f]\n", mcr.reward.mean, mcr.reward.lo, mcr.reward.hi);
            printf("    KL        %.6f [%.6f, %.6f]\n", mcr.kl_nats.mean, mcr.kl_nats.lo, mcr.kl_nats.hi);
            printf("    win rate  %.6f [%.6f, %.6f]\n", mcr.win_rate.mean, mcr.win_rate.lo, mcr.win_rate.hi);
            printf("    strict    %.6f [%.6f, %.6f]\n", mcr.win_rate_strict.mean, mcr.win_rate_strict.lo,
                   mcr.win_rate_strict.hi);
        }
        if (want_policy) {
            printf("  policy:\n");
            for (size_t i = 0; i < d.n; i++) printf("    %zu  p=%.10g  r=%.10g  pi=%.15g\n", i + 1, d.p[i], d.r[i], pi[i]);
        }
    }
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(pi);
    free(gl);
    free(gold);
    alim_levels_free(&lv);
    alim_levels_free(&ord);
    alim_rdist_free(&d);
    return rc;
}
