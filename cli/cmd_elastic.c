/* cmd_elastic.c — `alim elastic`: the elasticity lab. Subcommands `oracle`, `resist` and
 * `rebound` live here with the help text of all; `scale` and `coefficient` in elastic_*.c. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/gpt.h"
#include "alim/io.h"
#include "alim/oracle.h"
#include "alim/rebound.h"
#include "alim/resist.h"
#include "alim/source.h"
#include "cli.h"
#include "elastic.h"

const char cmd_elastic_help[] =
    "usage: alim elastic <subcommand> [options]\n"
    "\n"
    "The elasticity lab (\"Language models resist alignment\", docs/elastic.md).\n"
    "\n"
    "subcommands:\n"
    "  oracle   E0: the exact count-weighted learner; gamma_a, gamma_p, their derivatives in\n"
    "           l = |D_t|/|D_a| (analytic and finite-difference), the ratio vs k = |D_p|/|D_a|,\n"
    "           the Hooke ratio, the novel-component control, PASS/FAIL rows\n"
    "  resist   E1: resistance. Pretrain a small GPT, align it by SFT in three slices\n"
    "           (theta1..theta3), let each theta_k write a data set D_k, then fine-tune\n"
    "           theta_k on D_l (forward) and theta_l on D_k (inverse) and compare the training\n"
    "           losses; sign test over pairs x seeds, PASS / NULL / FAIL\n"
    "  rebound  E2: rebound. Align theta0 with n_pos positive (C2) documents, then feed it\n"
    "           n_neg negative (C3) documents; behaviour score, bits/token and KL to theta0\n"
    "           at every checkpoint, n*(eps), criteria (a)-(e), PASS / NULL\n"
    "  scale    E3: rebound rate R and elasticity coefficient E_hat versus model size and\n"
    "           versus pretraining tokens; Spearman rho over (level, seed), PASS / NULL\n"
    "  coefficient\n"
    "           E4: the elasticity coefficient E_hat = -slope(dgamma_a)/slope(dgamma_p) in\n"
    "           l = n_neg/n_pos with a bootstrap interval, the Hooke ratio, the oracle's value\n"
    "\n"
    "The usage and options of each follow.\n"
    "\n"
    "usage: alim elastic oracle [--k 10,100,1000] [--l 0.001,0.01] [--shares q1,q2,q3]\n"
    "                           [--smoothing A] [--no-markov] [--seed S] [--a-docs N]\n"
    "                           [--table] [--json] [--csv FILE]\n"
    "\n"
    "Two learners, both exact: 'mix' has three components, each Zipf(1) over its own 30\n"
    "symbols (spec §1.6); 'markov' is the count-based first-order model on the synthetic\n"
    "source S (the 'O' model of spec §4.2), trained on k |D_a| pretraining documents of the\n"
    "mixture q, |D_a| documents of C2 and l |D_a| documents of C3. Rates are bits per token.\n"
    "The ratio is -(dgamma_a/dl)/(dgamma_p/dl); the Hooke ratio is\n"
    "|D_a| dgamma_a / (|D_p| |dgamma_p|) with the changes measured from l = 0.\n"
    "Assertions (spec §4.4): dgamma_p/dl < 0 < dgamma_a/dl; ratio within 5% of k (5% (1+10 l)\n"
    "for l > 0.001); analytic and finite-difference derivatives agree to 0.1%; Hooke within\n"
    "5% of 1; with the perturbation from a novel component (share 0 in pretraining) both\n"
    "derivatives > 0. Failed assertions are results, not errors: the exit status is 0.\n"
    "\n"
    "options:\n"
    "  --k LIST          k = |D_p|/|D_a| values (default 10,100,1000)\n"
    "  --l LIST          l = |D_t|/|D_a| values (default 0.001,0.01)\n"
    "  --shares LIST     pretraining shares of C1,C2,C3 (default 1/3 each, as in spec §1.6)\n"
    "  --smoothing A     additive smoothing: 'mix' adds A to every probability of the joint\n"
    "                    alphabet and renormalises; 'markov' adds A to every transition count\n"
    "  --no-markov       only the 'mix' learner\n"
    "  --seed S          seed of the source S (default 1)\n"
    "  --a-docs N        |D_a| in documents for 'markov' (default 2000; matters only with\n"
    "                    smoothing)\n"
    "  --table           reproduce the table of spec §1.6 (spec value next to ours)\n"
    "  --json            one JSON object on stdout\n"
    "  --csv FILE        the grid as CSV (written atomically)\n"
    "\n"
    "usage: alim elastic resist --data DIR --run DIR [--seeds N] [--pretrain-tokens N]\n"
    "                           [--layers N --dim N --heads N --context N] [--quick]\n"
    "                           [--json] [--csv FILE] [--curves FILE]\n"
    "\n"
    "E1 of spec §4.5 on a data directory from 'alim data synthetic|natural|text'. For each\n"
    "seed s = 1..N (s sets the initialisation, the data order and the sampling):\n"
    "  theta0    a new GPT (byte tokenizer) pretrained on DIR/pretrain.txt, lr 1e-3 cosine to\n"
    "            1e-4, 200 warm-up steps, batch 16, weight decay 0.1\n"
    "  theta1-3  ONE SFT pass over pool_c2.txt documents 1-600 in document order, batch 8,\n"
    "            lr 3e-4 constant, no warm-up, weight decay 0, stopped and resumed bit for bit\n"
    "            after 200, 400 and 600 documents: theta_k = the model at stop k\n"
    "  D1-D3     theta_k draws 300 documents of 128 tokens at temperature 1: from the\n"
    "            end-of-text token (synthetic), or continuing the first 16 bytes of the\n"
    "            first 300 windows of pool_c1.txt (natural/text; only the continuation is\n"
    "            scored); H_k = theta_k's own loss on D_k\n"
    "  pairs     (1,2), (2,3), (1,3): forward = theta_k fine-tuned on D_l, inverse = theta_l\n"
    "            on D_k, same settings as the SFT; per-step training losses (nats)\n"
    "The excess of a run is its mean loss minus H of its data set. A case (pair, seed) has\n"
    "inverse < forward when the inverse run's mean loss is lower; the sign test is exact\n"
    "and one-sided. PASS: inverse lower in every case, raw and after the entropy\n"
    "correction, p <= 0.05 and mean gaps >= 2 SE. FAIL: the opposite in every case. NULL:\n"
    "anything else (mixed signs, a gap below 2 SE, or one that the correction removes);\n"
    "a null result is a result, and the exit status is 0 for all three.\n"
    "Every training run, sample set and fine-tuning run is a cell of the run directory:\n"
    "run the same command again to resume (finished cells are reused); a different\n"
    "configuration on the same run directory is refused. The number of seeds is not\n"
    "part of the configuration, so --seeds 5 adds seeds 4 and 5 to a 3-seed run.\n"
    "Writes RUN/curves.csv (pair,seed,direction,step,loss_nats), RUN/summary.csv (one\n"
    "row per pair and seed) and RUN/summary.json.\n"
    "\n"
    "options:\n"
    "  --data DIR             the data directory (manifest.json, pretrain.txt, pool_c*.txt)\n"
    "  --run DIR              the run directory (created; reopened to resume)\n"
    "  --seeds N              seeds 1..N (default 3)\n"
    "  --pretrain-tokens N    pretraining budget in tokens (default 2000000, the spec's)\n"
    "  --layers N --dim N --heads N --context N   model shape (default G1: 2 x 64 x 4, 128)\n"
    "  --sft-docs N           documents per SFT slice (default 200)\n"
    "  --samples N            documents per D_k (default 300)\n"
    "  --sample-tokens N      tokens per generated document, prompt included (default 128)\n"
    "  --prompt-bytes N       prompt length, natural/text sources (default 16)\n"
    "  --quick                a tiny configuration for tests (seconds): 1 x 16 x 2, context 32,\n"
    "                         16384 pretraining tokens, 3 x 20 SFT documents, 24 samples of\n"
    "                         32 tokens, 2 seeds; options given with it override it\n"
    "  --threads N            OpenMP and BLAS threads (default: all cores)\n"
    "  --json                 print the summary (RUN/summary.json) on stdout\n"
    "  --csv FILE             also write the per pair and seed summary CSV to FILE\n"
    "  --curves FILE          also write the per-step loss curves CSV to FILE\n"
    "\n"
    "example:\n"
    "  alim data synthetic --out syn\n"
    "  alim elastic resist --data syn --run e1-syn --seeds 3\n"
    "\n"
    "usage: alim elastic rebound --data DIR --run DIR [--seeds N] [--n-pos LIST] [--n-neg LIST]\n"
    "                            [--samples N] [--epsilon E] [--control] [--control-run DIR]\n"
    "                            [--quick] [--json] [--csv FILE]\n"
    "\n"
    "E2 of spec §4.6. For each seed s = 1..N: theta0 as in 'resist' (own cells); for each\n"
    "n_pos (default 200,400,1000,2000) theta_pos = theta0 after 1 epoch on pool_c2.txt\n"
    "documents 1..n_pos (batch 8, lr 3e-4 constant, weight decay 0); then ONE epoch on\n"
    "pool_c3.txt documents 1..max(n_neg) in document order from theta_pos, stopped and\n"
    "resumed (bit for bit) at the update where the pass has read the first n_neg\n"
    "documents (default n_neg 0,20,40,100,200,400; 0 = theta_pos). At theta0 and every\n"
    "checkpoint: bits/token on test_c1..c3 and test_mix, KL(model || theta0) per position\n"
    "on test_mix, and 256 documents drawn from end-of-text at temperature 1, labelled by the\n"
    "exact class under chains.json (synthetic) or by classifier.nb (natural/text);\n"
    "score = positive (C2) rate - negative (C3) rate. n*(eps) = smallest n_neg (linearly\n"
    "interpolated) with KL < eps nats. Criteria (a)-(e) of spec §4.6 on the seed means\n"
    "(PASS / FAIL, NULL when they cannot be evaluated; (e) needs --control-run); the\n"
    "verdict is PASS only when all five pass, else NULL. Exit status 0 either way.\n"
    "Control (novel negative): a data directory without C3 in pretraining,\n"
    "  alim data synthetic --shares 0.95,0.05,0 --out syn-ctl\n"
    "  alim elastic rebound --data syn-ctl --run e2-ctl --control\n"
    "  alim elastic rebound --data syn --run e2-syn --control-run e2-ctl\n"
    "Cells are resumable as in 'resist'; writes RUN/grid.csv (theta0 row, then n_pos x\n"
    "n_neg rows: seed means and SEs) and RUN/summary.json.\n"
    "\n"
    "options:\n"
    "  --data DIR, --run DIR, --seeds N (default 3), --pretrain-tokens N,\n"
    "  --layers N --dim N --heads N --context N   as for resist\n"
    "  --n-pos LIST           positive documents (increasing)\n"
    "  --n-neg LIST           negative prefixes (increasing, first 0)\n"
    "  --samples N            documents drawn per checkpoint (default 256)\n"
    "  --sample-tokens N      at most N tokens per document (default 128)\n"
    "  --epsilon E            n*(eps) threshold in nats (default 0.01)\n"
    "  --control              the data directory is the control (C3 share 0)\n"
    "  --control-run DIR      a finished control run directory, for criterion (e)\n"
    "  --theta0 DIR           start every seed from this checkpoint instead of pretraining:\n"
    "                         any GPT-2-format model (e.g. `alim train` output or a Hugging\n"
    "                         Face GPT-2 directory) with its tokenizer (vocab.json +\n"
    "                         merges.txt), which then tokenizes the data; the shape comes from\n"
    "                         it, the context is capped at its n_positions; give the tokens\n"
    "                         it was pretrained on with --pretrain-tokens (for E4's k)\n"
    "  --quick                tests: 1 x 16 x 2, context 32, 16384 pretraining tokens,\n"
    "                         n_pos 10,20,30,40, n_neg 0,8,16,24,32,40, 16 samples of 32\n"
    "                         tokens, 2 seeds; options given with it override it\n"
    "  --threads N, --json (print RUN/summary.json), --csv FILE (copy RUN/grid.csv)\n"
    "\n"
    "usage: alim elastic scale --data DIR --run DIR [--seeds N] [--part size|tokens|both]\n"
    "                          [--sizes LxDxH,...] [--size-pretrain-tokens N]\n"
    "                          [--budgets N,...] [--budget-lr LR] [--budget-model I]\n"
    "                          [--quick] [--json] [--csv FILE]\n"
    "\n"
    "E3 of spec §4.7, as E2 rebound runs in sub-directories of RUN:\n"
    "  size     one rebound run per shape (default 1x32x2, 2x64x4, 4x128x4 = G0, G1, G2), each\n"
    "           with theta0 pretrained on DIR/pretrain.txt as in E2 (2M tokens, cosine lr),\n"
    "           n_pos 400,2000 and n_neg 0,20,40,100,400            -> RUN/size-LxDxH/\n"
    "  tokens   one pretraining run per seed of the --budget-model shape (default the 2nd,\n"
    "           G1) at lr 1e-3 constant after 200 warm-up steps, stopped and resumed bit for\n"
    "           bit at each budget (default 250000,500000,1000000,2000000,4000000 tokens,\n"
    "           rounded up to whole updates of 16 x 128), so the checkpoints are one run;\n"
    "           from each, a rebound run with n_pos 2000 and n_neg 0,20,40,100\n"
    "                                                                -> RUN/tokens-N/\n"
    "Per level and seed, at the largest n_pos: R = (score(0) - score(n1))/n1 over the first\n"
    "negative prefix n1, and E_hat as 'coefficient' on the n_neg <= 100 (per seed, and on the\n"
    "seed means with a bootstrap interval), with k = pretraining tokens / alignment tokens.\n"
    "Criteria: Spearman rho of (level, R) and (level, E_hat) over all (level, seed) pairs\n"
    "> 0 in each part (PASS), else NULL. Resumable like 'rebound'. Writes RUN/scale.csv\n"
    "(per level and seed), RUN/levels.csv (seed means) and RUN/summary.json.\n"
    "The full default takes about an hour on 2 cores (docs/results.md has the measured time).\n"
    "\n"
    "options:\n"
    "  --part P               size, tokens or both (default both)\n"
    "  --sizes LIST           shapes LAYERSxDIMxHEADS (default 1x32x2,2x64x4,4x128x4)\n"
    "  --size-pretrain-tokens N   theta0 budget of the size part (default 2000000)\n"
    "  --budgets LIST         pretraining budgets of the tokens part, increasing\n"
    "  --budget-lr LR         its constant learning rate (default 1e-3)\n"
    "  --budget-model I       which shape of --sizes it trains, 1-based (default 2)\n"
    "  --samples N, --sample-tokens N, --seeds N (default 3), --threads N\n"
    "  --quick                tests: shapes 1x8x2, 1x16x2, context 32, budgets 4096, 8192,\n"
    "                         16384, small grids, 2 seeds\n"
    "  --json (print RUN/summary.json), --csv FILE (copy RUN/scale.csv)\n"
    "\n"
    "usage: alim elastic coefficient --data DIR --run DIR [--n-pos LIST] [--n-neg LIST]\n"
    "                                [--bootstrap B] [rebound options] [--json] [--csv FILE]\n"
    "       alim elastic coefficient --from-rebound E2RUN --run DIR [--n-pos LIST] [--n-neg LIST]\n"
    "\n"
    "E4 of spec §4.8. theta_pos = theta0 after n_pos positive documents (default 200 and 2000,\n"
    "k = |D_p|/|D_a| about 78 and 7.8 with 2M pretraining tokens), perturbed by n_neg negative\n"
    "documents (default 20, 40, 100), l = n_neg/n_pos. With gamma_p = bits/token on test_mix\n"
    "and gamma_a on test_c2, Delta = value at n_neg minus value at 0, per seed:\n"
    "  E_hat = -slope(Delta gamma_a) / slope(Delta gamma_p)   (least squares through 0)\n"
    "on the seed means, with a 95% percentile bootstrap over whole seeds (default 10000\n"
    "resamples), the Hooke ratio |D_a| Delta gamma_a / (|D_p| |Delta gamma_p|) per l, E_hat/k\n"
    "and the count-weighted learner's E_hat at the same k and l (alim elastic oracle).\n"
    "Criteria: (a) slope_p < 0 < slope_a, (b) the interval of E_hat above 1, (c) E_hat larger\n"
    "at the larger k; PASS if all hold, FAIL if the signs are wrong for every n_pos, else NULL.\n"
    "The cells are those of an E2 rebound run in RUN (resumable); --from-rebound reads a\n"
    "finished 'alim elastic rebound' run instead (its grid must hold the points) and trains\n"
    "nothing. Writes RUN/coefficient.csv and RUN/coefficient.json.\n"
    "\n"
    "options:\n"
    "  --n-pos LIST, --n-neg LIST (first 0)   the grid (defaults above)\n"
    "  --from-rebound E2RUN   analyse a finished E2 run (results go to --run DIR)\n"
    "  --bootstrap B          resamples (default 10000; 0 = no interval)\n"
    "  --seeds N, --pretrain-tokens N, --layers N --dim N --heads N --context N,\n"
    "  --theta0 DIR, --samples N, --sample-tokens N, --threads N   as for rebound\n"
    "  --quick                tests: rebound's quick model, n_pos 10,40, n_neg 0,8,16,24\n"
    "  --json (print RUN/coefficient.json), --csv FILE (copy RUN/coefficient.csv)\n"
    "\n"
    "example (E2 then E4 from its cells, then E3):\n"
    "  alim elastic rebound --data syn --run e2\n"
    "  alim elastic coefficient --from-rebound e2 --run e4\n"
    "  alim elastic scale --data syn --run e3\n";

typedef struct {
    const char *model;
    alim_oracle_point pt;
    alim_oracle_point novel;
    int sign_ok, ratio_ok, fd_ok, hooke_ok, novel_ok;
    double tol;
} row;

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static void judge(row *r)
{
    const alim_oracle_point *p = &r->pt;
    r->tol = p->l <= 0.001 + 1e-12 ? 0.05 : 0.05 * (1 + 10 * p->l);
    r->sign_ok = p->dgamma_p_dl < 0 && p->dgamma_a_dl > 0;
    r->ratio_ok = fabs(p->ratio / p->k - 1) <= r->tol;
    r->fd_ok = rel(p->dgamma_a_dl_fd, p->dgamma_a_dl) <= 1e-3 && rel(p->dgamma_p_dl_fd, p->dgamma_p_dl) <= 1e-3;
    r->hooke_ok = p->l > 0 ? fabs(p->hooke - 1) <= 0.05 : 1; /* no change at l = 0: nothing to compare */
    r->novel_ok = r->novel.dgamma_a_dl > 0 && r->novel.dgamma_p_dl > 0;
}

static void add_point_json(cJSON *o, const alim_oracle_point *p)
{
    cli_json_add_number(o, "k", p->k);
    cli_json_add_number(o, "l", p->l);
    cli_json_add_number(o, "gamma_a_bits", p->gamma_a_bits);
    cli_json_add_number(o, "gamma_p_bits", p->gamma_p_bits);
    cli_json_add_number(o, "dgamma_a_dl_bits", p->dgamma_a_dl);
    cli_json_add_number(o, "dgamma_p_dl_bits", p->dgamma_p_dl);
    cli_json_add_number(o, "dgamma_a_dl_fd_bits", p->dgamma_a_dl_fd);
    cli_json_add_number(o, "dgamma_p_dl_fd_bits", p->dgamma_p_dl_fd);
    cli_json_add_number(o, "ratio", p->ratio);
    cli_json_add_number(o, "ratio_fd", p->ratio_fd);
    cli_json_add_number(o, "ratio_over_k", p->ratio / p->k);
    cli_json_add_number(o, "delta_gamma_a_bits", p->delta_a_bits);
    cli_json_add_number(o, "delta_gamma_p_bits", p->delta_p_bits);
    cli_json_add_number(o, "ratio_secant", p->ratio_secant);
    cli_json_add_number(o, "hooke_ratio", p->hooke);
}

/* the spec's §1.6 table */
typedef struct {
    const char *setting;
    double k, l, q1, q2, q3, smoothing, spec, half_unit;
} table_row;
static const table_row TABLE[] = {
    {"k = 100", 100, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 100.1, 0.05},
    {"k = 1000", 1000, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1001, 0.5},
    {"k = 1000", 1000, 0.02, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1021, 0.5},
    {"k = 1000, q = (.8, .1, .1)", 1000, 0.001, 0.8, 0.1, 0.1, 0, 1004.5, 0.05},
    {"k = 1000, additive smoothing 1e-3", 1000, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1e-3, 1002, 0.5},
};

static int run_table(int json)
{
    double *comp = alim_oracle_zipf_components(3, 30);
    if (!comp) return cli_error("oracle", "out of memory");
    size_t n = sizeof TABLE / sizeof *TABLE;
    cJSON *o = json ? cJSON_CreateObject() : NULL, *arr = json ? cJSON_AddArrayToObject(o, "table") : NULL;
    if (!json) {
        printf("spec §1.6 table: three components, each Zipf(1) over its own 30 symbols; ratio = -Dgamma_a/Dgamma_p\n");
        printf("measured from l = 0 (the secant; the derivative ratio at l is shown too)\n\n");
        printf("%-36s %7s %9s %11s %11s  %s\n", "setting", "l", "spec", "ours", "derivative", "");
    }
    int all = 1;
    for (size_t i = 0; i < n; i++) {
        const table_row *t = &TABLE[i];
        double q[3] = {t->q1, t->q2, t->q3};
        alim_oracle_mix m = {3, 90, comp, q, 1, 2, t->smoothing};
        alim_oracle_point p;
        alim_error err;
        alim_error_clear(&err);
        if (alim_oracle_mix_eval(&m, t->k, t->l, &p, &err)) {
            free(comp);
            cJSON_Delete(o);
            return cli_fail(&err);
        }
        int match = fabs(p.ratio_secant - t->spec) <= t->half_unit;
        all &= match;
        if (json) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "setting", t->setting);
            cli_json_add_number(r, "k", t->k);
            cli_json_add_number(r, "l", t->l);
            cli_json_add_number(r, "smoothing", t->smoothing);
            cli_json_add_number(r, "spec_ratio", t->spec);
            cli_json_add_number(r, "ratio_secant", p.ratio_secant);
            cli_json_add_number(r, "ratio_derivative", p.ratio);
            cJSON_AddBoolToObject(r, "match", match);
            cJSON_AddItemToArray(arr, r);
        } else
            printf("%-36s %7g %9g %11.4f %11.4f  %s\n", t->setting, t->l, t->spec, p.ratio_secant, p.ratio,
                   match ? "match" : "DIFFERS");
    }
    free(comp);
    if (json) {
        cJSON_AddBoolToObject(o, "all_match", all);
        return cli_print_json(o);
    }
    printf("\n%s\n", all ? "all rows match the spec" : "rows marked DIFFERS: see docs/elastic.md (definition of the smoothing)");
    return CLI_EXIT_OK;
}

static int oracle(int argc, char **argv)
{
    static const struct option opts[] = {
        {"k", required_argument, 0, 'k'},         {"l", required_argument, 0, 'l'},
        {"shares", required_argument, 0, 'q'},    {"smoothing", required_argument, 0, 'a'},
        {"no-markov", no_argument, 0, 'M'},       {"seed", required_argument, 0, 's'},
        {"a-docs", required_argument, 0, 'A'},    {"table", no_argument, 0, 't'},
        {"json", no_argument, 0, 'j'},            {"csv", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    double kd[] = {10, 100, 1000}, ld[] = {0.001, 0.01};
    double *ks = NULL, *ls = NULL, *qs = NULL;
    size_t nk = 0, nl = 0, nq = 0;
    double smoothing = 0, a_docs = 2000;
    uint64_t seed = 1;
    int json = 0, table = 0, markov = 1, rc = 0;
    const char *csv = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': free(ks); rc = cli_parse_double_list("--k", optarg, &ks, &nk); break;
        case 'l': free(ls); rc = cli_parse_double_list("--l", optarg, &ls, &nl); break;
        case 'q': free(qs); rc = cli_parse_double_list("--shares", optarg, &qs, &nq); break;
        case 'a': rc = cli_parse_double("--smoothing", optarg, &smoothing); break;
        case 'M': markov = 0; break;
        case 's': rc = cli_parse_u64("--seed", optarg, &seed); break;
        case 'A': rc = cli_parse_double("--a-docs", optarg, &a_docs); break;
        case 't': table = 1; break;
        case 'j': json = 1; break;
        case 'c': csv = optarg; break;
        case 'h': free(ks), free(ls), free(qs); return cli_print_help("elastic");
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
        if (rc) break;
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && qs && nq != 3) rc = cli_error("--shares", "need 3 shares (C1,C2,C3), got %zu", nq);
    if (!rc && !(smoothing >= 0)) rc = cli_error("--smoothing", "must be >= 0");
    if (rc) {
        free(ks), free(ls), free(qs);
        return rc;
    }
    if (table) {
        free(ks), free(ls), free(qs);
        return run_table(json);
    }
    double q[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    if (qs) memcpy(q, qs, sizeof q);
    free(qs);
    if (!ks) ks = kd, nk = 3;
    if (!ls) ls = ld, nl = 2;
    double qn[3] = {0, 0, 0};
    double s12 = q[0] + q[1];
    alim_error err;
    alim_error_clear(&err);
    int st = 0;
    if (!(s12 > 0)) st = alim_error_set(&err, ALIM_EINVAL, "--shares", "C1 and C2 shares are both 0");
    else qn[0] = q[0] / s12, qn[1] = q[1] / s12;
    double *comp = alim_oracle_zipf_components(3, 30);
    alim_source src;
    memset(&src, 0, sizeof src);
    alim_source_config scfg;
    alim_source_config_default(&scfg);
    scfg.seed = seed;
    if (!st && markov) st = alim_source_build(&src, &scfg, &err);
    size_t nmodels = markov ? 2 : 1, nrows = nmodels * nk * nl;
    row *rows = calloc(nrows, sizeof *rows);
    if (!comp || !rows) st = alim_error_set(&err, ALIM_ENOMEM, "oracle", "out of memory");
    size_t r = 0;
    for (size_t mi = 0; mi < nmodels && !st; mi++)
        for (size_t i = 0; i < nk && !st; i++)
            for (size_t j = 0; j < nl && !st; j++, r++) {
                rows[r].model = mi == 0 ? "mix" : "markov";
                if (mi == 0) {
                    alim_oracle_mix m = {3, 90, comp, q, 1, 2, smoothing};
                    st = alim_oracle_mix_eval(&m, ks[i], ls[j], &rows[r].pt, &err);
                    m.q = qn;
                    if (!st) st = alim_oracle_mix_eval(&m, ks[i], ls[j], &rows[r].novel, &err);
                } else {
                    alim_oracle_markov m = {&src, q, 1, 2, a_docs, smoothing};
                    st = alim_oracle_markov_eval(&m, ks[i], ls[j], &rows[r].pt, &err);
                    m.q = qn;
                    if (!st) st = alim_oracle_markov_eval(&m, ks[i], ls[j], &rows[r].novel, &err);
                }
                if (!st) judge(&rows[r]);
            }
    free(comp);
    alim_source_free(&src);
    if (ks != kd) free(ks);
    if (ls != ld) free(ls);
    if (st) {
        free(rows);
        return cli_fail(&err);
    }
    int all = 1;
    for (r = 0; r < nrows; r++)
        all &= rows[r].sign_ok && rows[r].ratio_ok && rows[r].fd_ok && rows[r].hooke_ok && rows[r].novel_ok;
    if (csv) {
        alim_atomic_file f;
        if (alim_atomic_open(&f, csv, &err)) {
            free(rows);
            return cli_fail(&err);
        }
        fprintf(f.fp, "model,k,l,gamma_a_bits,gamma_p_bits,dgamma_a_dl_bits,dgamma_p_dl_bits,dgamma_a_dl_fd_bits,"
                      "dgamma_p_dl_fd_bits,ratio,ratio_fd,ratio_over_k,delta_gamma_a_bits,delta_gamma_p_bits,hooke_ratio,"
                      "novel_dgamma_a_dl_bits,novel_dgamma_p_dl_bits,sign,ratio_check,fd_check,hooke_check,novel_check\n");
        for (r = 0; r < nrows; r++) {
            const alim_oracle_point *p = &rows[r].pt;
            fprintf(f.fp, "%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%s,%s,%s,%s,%s\n",
                    rows[r].model, p->k, p->l, p->gamma_a_bits, p->gamma_p_bits, p->dgamma_a_dl, p->dgamma_p_dl,
                    p->dgamma_a_dl_fd, p->dgamma_p_dl_fd, p->ratio, p->ratio_fd, p->ratio / p->k, p->delta_a_bits,
                    p->delta_p_bits, p->hooke, rows[r].novel.dgamma_a_dl, rows[r].novel.dgamma_p_dl,
                    rows[r].sign_ok ? "PASS" : "FAIL", rows[r].ratio_ok ? "PASS" : "FAIL", rows[r].fd_ok ? "PASS" : "FAIL",
                    rows[r].hooke_ok ? "PASS" : "FAIL", rows[r].novel_ok ? "PASS" : "FAIL");
        }
        if (alim_atomic_commit(&f, &err)) {
            free(rows);
            return cli_fail(&err);
        }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_array(o, "shares", q, 3);
        cli_json_add_array(o, "novel_shares", qn, 3);
        cli_json_add_number(o, "smoothing", smoothing);
        cli_json_add_number(o, "seed", (double)seed);
        cJSON *arr = cJSON_AddArrayToObject(o, "grid");
        for (r = 0; r < nrows; r++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "model", rows[r].model);
            add_point_json(e, &rows[r].pt);
            cli_json_add_number(e, "novel_dgamma_a_dl_bits", rows[r].novel.dgamma_a_dl);
            cli_json_add_number(e, "novel_dgamma_p_dl_bits", rows[r].novel.dgamma_p_dl);
            cli_json_add_number(e, "ratio_tolerance", rows[r].tol);
            cJSON *ch = cJSON_AddObjectToObject(e, "checks");
            cJSON_AddBoolToObject(ch, "signs", rows[r].sign_ok);
            cJSON_AddBoolToObject(ch, "ratio_near_k", rows[r].ratio_ok);
            cJSON_AddBoolToObject(ch, "analytic_equals_fd", rows[r].fd_ok);
            cJSON_AddBoolToObject(ch, "hooke_near_1", rows[r].hooke_ok);
            cJSON_AddBoolToObject(ch, "novel_both_positive", rows[r].novel_ok);
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_AddBoolToObject(o, "all_pass", all);
        free(rows);
        return cli_print_json(o);
    }
    printf("E0 oracle: shares q = (%g, %g, %g), smoothing %g; novel control q = (%g, %g, 0)\n", q[0], q[1], q[2],
           smoothing, qn[0], qn[1]);
    printf("rates in bits/token; derivatives d/dl in bits; ratio = -(dga/dl)/(dgp/dl)\n\n");
    printf("%-7s %6s %6s %9s %9s %11s %12s %10s %7s %7s %11s %11s  %s\n", "model", "k", "l", "gamma_a", "gamma_p",
           "dga/dl", "dgp/dl", "ratio", "r/k", "hooke", "novel dga", "novel dgp", "checks");
    for (r = 0; r < nrows; r++) {
        const alim_oracle_point *p = &rows[r].pt;
        printf("%-7s %6g %6g %9.5f %9.5f %11.4e %12.4e %10.3f %7.4f %7.4f %11.4e %11.4e  %s %s %s %s %s\n", rows[r].model,
               p->k, p->l, p->gamma_a_bits, p->gamma_p_bits, p->dgamma_a_dl, p->dgamma_p_dl, p->ratio, p->ratio / p->k,
               p->hooke, rows[r].novel.dgamma_a_dl, rows[r].novel.dgamma_p_dl, rows[r].sign_ok ? "signs:PASS" : "signs:FAIL",
               rows[r].ratio_ok ? "ratio:PASS" : "ratio:FAIL", rows[r].fd_ok ? "fd:PASS" : "fd:FAIL",
               rows[r].hooke_ok ? "hooke:PASS" : "hooke:FAIL", rows[r].novel_ok ? "novel:PASS" : "novel:FAIL");
    }
    printf("\n%s\n", all ? "all assertions PASS" : "some assertions FAIL");
    free(rows);
    return CLI_EXIT_OK;
}

/* ---- resist (E1) ---------------------------------------------------------------------- */

void cli_elastic_note(void *ctx, const char *line)
{
    (void)ctx;
    cli_progress_done();
    fprintf(stderr, "%s\n", line);
}

int cli_elastic_use_theta0(alim_rebound_config *c, const char *dir, int context_given, const char ***dirs, char *origin, size_t origin_size)
{
    alim_gpt m = {0};
    alim_error err;
    alim_error_clear(&err);
    if (alim_checkpoint_load(dir, &m, NULL, NULL, &err)) return cli_fail(&err);
    const alim_gpt_config g = m.config;
    alim_gpt_free(&m);
    c->n_layer = g.n_layer, c->n_embd = g.n_embd, c->n_head = g.n_head;
    if (!context_given && c->context > g.n_positions) c->context = g.n_positions;
    if (c->sample_tokens > (size_t)c->context) c->sample_tokens = (size_t)c->context;
    *dirs = malloc(c->n_seeds * sizeof **dirs);
    if (!*dirs) return cli_error("--theta0", "out of memory"), CLI_EXIT_RUNTIME;
    for (size_t s = 0; s < c->n_seeds; s++) (*dirs)[s] = dir;
    snprintf(origin, origin_size, "--theta0 %s (%dx%dx%d, vocabulary %d; pretrained on %llu tokens as stated by --pretrain-tokens)", dir,
             g.n_layer, g.n_embd, g.n_head, g.vocab_size, (unsigned long long)c->pretrain_tokens);
    c->theta0_dirs = *dirs;
    c->theta0_origin = origin;
    return 0;
}

int cli_elastic_copy_file(const char *from, const char *to)
{
    char *buf;
    size_t len;
    alim_error err;
    alim_error_clear(&err);
    if (alim_file_read_all(from, &buf, &len, &err)) return cli_fail(&err);
    alim_status st = alim_file_write_atomic(to, buf, len, &err);
    free(buf);
    return st ? cli_fail(&err) : 0;
}

int cli_elastic_parse_pos_int(const char *opt, const char *s, int *out)
{
    uint64_t v;
    int rc = cli_parse_u64(opt, s, &v);
    if (rc) return rc;
    if (v < 1 || v > 1u << 20) return cli_error(opt, "'%s' must be an integer in [1, 2^20]", s);
    *out = (int)v;
    return 0;
}

int cli_elastic_parse_pos_size(const char *opt, const char *s, size_t *out)
{
    int rc = cli_parse_size(opt, s, out);
    if (!rc && (*out < 1 || *out > (size_t)1 << 30)) rc = cli_error(opt, "'%s' must be an integer in [1, 2^30]", s);
    return rc;
}

double cli_elastic_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *cli_elastic_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "?";
}


static int resist(int argc, char **argv)
{
    enum { R_DATA = 256, R_RUN, R_SEEDS, R_PRE, R_LAYERS, R_DIM, R_HEADS, R_CONTEXT, R_SFT, R_SAMPLES, R_STOK, R_PROMPT,
           R_QUICK, R_THREADS, R_JSON, R_CSV, R_CURVES, R_HELP };
    static const struct option opts[] = {
        {"data", required_argument, 0, R_DATA},        {"run", required_argument, 0, R_RUN},
        {"seeds", required_argument, 0, R_SEEDS},      {"pretrain-tokens", required_argument, 0, R_PRE},
        {"layers", required_argument, 0, R_LAYERS},    {"dim", required_argument, 0, R_DIM},
        {"heads", required_argument, 0, R_HEADS},      {"context", required_argument, 0, R_CONTEXT},
        {"sft-docs", required_argument, 0, R_SFT},     {"samples", required_argument, 0, R_SAMPLES},
        {"sample-tokens", required_argument, 0, R_STOK}, {"prompt-bytes", required_argument, 0, R_PROMPT},
        {"quick", no_argument, 0, R_QUICK},            {"threads", required_argument, 0, R_THREADS},
        {"json", no_argument, 0, R_JSON},              {"csv", required_argument, 0, R_CSV},
        {"curves", required_argument, 0, R_CURVES},    {"help", no_argument, 0, R_HELP},
        {0, 0, 0, 0}};
    alim_resist_config cfg;
    alim_resist_config_default(&cfg);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) alim_resist_config_quick(&cfg);
    int json = 0, rc = 0, c, sample_tokens_given = 0;
    const char *csv = NULL, *curves = NULL;
    uint64_t u;
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case R_DATA: cfg.data_dir = optarg; break;
        case R_RUN: cfg.run_dir = optarg; break;
        case R_SEEDS: rc = cli_elastic_parse_pos_size("--seeds", optarg, &cfg.n_seeds); if (!rc && cfg.n_seeds > 1000) rc = cli_error("--seeds", "at most 1000"); break;
        case R_PRE: rc = cli_parse_u64("--pretrain-tokens", optarg, &u); if (!rc && u < 1) rc = cli_error("--pretrain-tokens", "must be >= 1"); cfg.pretrain_tokens = u; break;
        case R_LAYERS: rc = cli_elastic_parse_pos_int("--layers", optarg, &cfg.n_layer); break;
        case R_DIM: rc = cli_elastic_parse_pos_int("--dim", optarg, &cfg.n_embd); break;
        case R_HEADS: rc = cli_elastic_parse_pos_int("--heads", optarg, &cfg.n_head); break;
        case R_CONTEXT: rc = cli_elastic_parse_pos_int("--context", optarg, &cfg.context); break;
        case R_SFT: rc = cli_elastic_parse_pos_size("--sft-docs", optarg, &cfg.sft_docs); break;
        case R_SAMPLES: rc = cli_elastic_parse_pos_size("--samples", optarg, &cfg.n_samples); break;
        case R_STOK: rc = cli_elastic_parse_pos_size("--sample-tokens", optarg, &cfg.sample_tokens); sample_tokens_given = 1; break;
        case R_PROMPT: rc = cli_elastic_parse_pos_size("--prompt-bytes", optarg, &cfg.prompt_bytes); break;
        case R_QUICK: break;
        case R_THREADS: rc = cli_lm_set_threads(optarg); break;
        case R_JSON: json = 1; break;
        case R_CSV: csv = optarg; break;
        case R_CURVES: curves = optarg; break;
        case R_HELP: return cli_print_help("elastic");
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && !cfg.data_dir) rc = cli_usage_error("elastic", "resist needs --data DIR (from 'alim data synthetic --out DIR')");
    if (!rc && !cfg.run_dir) rc = cli_usage_error("elastic", "resist needs --run DIR (the run directory, created or resumed)");
    /* a shorter context shortens the generated documents unless they were given */
    if (!rc && !sample_tokens_given && cfg.sample_tokens > (size_t)cfg.context) cfg.sample_tokens = (size_t)cfg.context;
    if (rc) return rc;

    alim_progress pg = cli_progress();
    alim_resist_result res;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_resist_run(&cfg, &pg, cli_elastic_note, NULL, &res, &err);
    cli_progress_done();
    if (st) return cli_fail(&err);
    char path[4200];
    if (csv) {
        snprintf(path, sizeof path, "%s/summary.csv", cfg.run_dir);
        if ((rc = cli_elastic_copy_file(path, csv))) return alim_resist_result_free(&res), rc;
    }
    if (curves) {
        snprintf(path, sizeof path, "%s/curves.csv", cfg.run_dir);
        if ((rc = cli_elastic_copy_file(path, curves))) return alim_resist_result_free(&res), rc;
    }
    if (json) {
        cJSON *s = res.summary;
        res.summary = NULL;
        return cli_print_json(s);
    }
    const cJSON *sm = res.summary;
    const alim_resist_verdict *v = &res.verdict;
    printf("E1 resistance: %s source (%s), %zu seed(s), %.0f parameters; run directory %s\n",
           cJSON_GetObjectItemCaseSensitive(sm, "source")->valuestring, cfg.data_dir, cfg.n_seeds,
           cJSON_GetObjectItemCaseSensitive(sm, "num_params")->valuedouble, cfg.run_dir);
    printf("cells: %zu total, %zu run now, %zu reused; %.1f s", res.cells_total, res.cells_run, res.cells_reused, res.wall_s);
    if (res.train_tokens_per_s > 0) printf("; training %.0f tokens/s\n", res.train_tokens_per_s);
    else printf("; nothing trained now\n");
    printf("losses in nats per scored token; mean = mean training loss over the epoch; excess = mean - H(target set)\n\n");
    printf("%-5s %4s  %8s %8s %8s %8s  %8s %8s %8s %8s  %8s %8s  %s\n", "pair", "seed", "fwd init", "fwd mean", "fwd fin",
           "fwd exc", "inv init", "inv mean", "inv fin", "inv exc", "gap", "gap corr", "inverse<forward");
    const cJSON *pj;
    cJSON_ArrayForEach(pj, cJSON_GetObjectItemCaseSensitive(sm, "pairs")) {
        const cJSON *fw = cJSON_GetObjectItemCaseSensitive(pj, "forward"), *iv = cJSON_GetObjectItemCaseSensitive(pj, "inverse");
#define N(o, k) cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble
        printf("%-5s %4.0f  %8.4f %8.4f %8.4f %8.4f  %8.4f %8.4f %8.4f %8.4f  %8.4f %8.4f  %s / %s\n",
               cJSON_GetObjectItemCaseSensitive(pj, "pair")->valuestring, N(pj, "seed"), N(fw, "initial_nats"), N(fw, "mean_nats"),
               N(fw, "final_nats"), N(fw, "excess_nats"), N(iv, "initial_nats"), N(iv, "mean_nats"), N(iv, "final_nats"),
               N(iv, "excess_nats"), N(pj, "gap_nats"), N(pj, "gap_corrected_nats"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower")) ? "yes" : "no",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower_corrected")) ? "yes" : "no");
#undef N
    }
    printf("\nsign test (one-sided, exact): inverse lower in %zu of %zu, p = %.4g; after the entropy correction %zu of %zu, p = %.4g\n",
           v->count_raw, v->n, v->p_raw, v->count_corrected, v->n, v->p_corrected);
    printf("mean gap (forward - inverse) %.4f nats (SE %.4f); corrected %.4f nats (SE %.4f)\n", v->mean_raw, v->se_raw,
           v->mean_corrected, v->se_corrected);
    printf("criteria: all inverse lower %s, p <= 0.05 %s, gap >= 2 SE %s; corrected: all %s, p <= 0.05 %s, gap >= 2 SE %s\n",
           v->all_raw ? "PASS" : "FAIL", v->sig_raw ? "PASS" : "FAIL", v->gap2se_raw ? "PASS" : "FAIL",
           v->all_corrected ? "PASS" : "FAIL", v->sig_corrected ? "PASS" : "FAIL", v->gap2se_corrected ? "PASS" : "FAIL");
    printf("verdict: %s (%s)\n", v->verdict, v->reason);
    printf("files: %s/curves.csv, %s/summary.csv, %s/summary.json\n", cfg.run_dir, cfg.run_dir, cfg.run_dir);
    alim_resist_result_free(&res);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

/* ---- rebound (E2) ---------------------------------------------------------------------- */

int cli_elastic_parse_grid(const char *opt, const char *s, size_t *out, size_t *n)
{
    double *v = NULL;
    size_t k = 0;
    int rc = cli_parse_double_list(opt, s, &v, &k);
    if (rc) return rc;
    if (k < 1 || k > ALIM_REBOUND_MAX_GRID) rc = cli_error(opt, "needs 1..%d values", ALIM_REBOUND_MAX_GRID);
    for (size_t i = 0; i < k && !rc; i++) {
        if (!(v[i] >= 0 && v[i] <= 1e9 && v[i] == floor(v[i]))) rc = cli_error(opt, "'%s': values must be whole numbers >= 0", s);
        else out[i] = (size_t)v[i];
    }
    free(v);
    if (!rc) *n = k;
    return rc;
}


static int rebound(int argc, char **argv)
{
    enum { B_DATA = 256, B_RUN, B_SEEDS, B_PRE, B_LAYERS, B_DIM, B_HEADS, B_CONTEXT, B_NPOS, B_NNEG, B_SAMPLES, B_STOK, B_EPS,
           B_CONTROL, B_CRUN, B_QUICK, B_THREADS, B_JSON, B_CSV, B_THETA0, B_HELP };
    static const struct option opts[] = {
        {"data", required_argument, 0, B_DATA},        {"run", required_argument, 0, B_RUN},
        {"seeds", required_argument, 0, B_SEEDS},      {"pretrain-tokens", required_argument, 0, B_PRE},
        {"layers", required_argument, 0, B_LAYERS},    {"dim", required_argument, 0, B_DIM},
        {"heads", required_argument, 0, B_HEADS},      {"context", required_argument, 0, B_CONTEXT},
        {"n-pos", required_argument, 0, B_NPOS},       {"n-neg", required_argument, 0, B_NNEG},
        {"samples", required_argument, 0, B_SAMPLES},  {"sample-tokens", required_argument, 0, B_STOK},
        {"epsilon", required_argument, 0, B_EPS},      {"control", no_argument, 0, B_CONTROL},
        {"control-run", required_argument, 0, B_CRUN}, {"quick", no_argument, 0, B_QUICK},
        {"threads", required_argument, 0, B_THREADS},  {"json", no_argument, 0, B_JSON},
        {"csv", required_argument, 0, B_CSV},          {"theta0", required_argument, 0, B_THETA0},
        {"help", no_argument, 0, B_HELP},
        {0, 0, 0, 0}};
    alim_rebound_config cfg;
    alim_rebound_config_default(&cfg);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) alim_rebound_config_quick(&cfg);
    int json = 0, rc = 0, c, sample_tokens_given = 0, shape_given = 0, context_given = 0;
    const char *theta0 = NULL, **theta0_dirs = NULL;
    char origin[600];
    const char *csv = NULL;
    uint64_t u;
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case B_DATA: cfg.data_dir = optarg; break;
        case B_RUN: cfg.run_dir = optarg; break;
        case B_SEEDS: rc = cli_elastic_parse_pos_size("--seeds", optarg, &cfg.n_seeds); if (!rc && cfg.n_seeds > 1000) rc = cli_error("--seeds", "at most 1000"); break;
        case B_PRE: rc = cli_parse_u64("--pretrain-tokens", optarg, &u); if (!rc && u < 1) rc = cli_error("--pretrain-tokens", "must be >= 1"); cfg.pretrain_tokens = u; break;
        case B_LAYERS: rc = cli_elastic_parse_pos_int("--layers", optarg, &cfg.n_layer); shape_given = 1; break;
        case B_DIM: rc = cli_elastic_parse_pos_int("--dim", optarg, &cfg.n_embd); shape_given = 1; break;
        case B_HEADS: rc = cli_elastic_parse_pos_int("--heads", optarg, &cfg.n_head); shape_given = 1; break;
        case B_CONTEXT: rc = cli_elastic_parse_pos_int("--context", optarg, &cfg.context); context_given = 1; break;
        case B_THETA0: theta0 = optarg; break;
        case B_NPOS: rc = cli_elastic_parse_grid("--n-pos", optarg, cfg.n_pos, &cfg.n_pos_count); break;
        case B_NNEG: rc = cli_elastic_parse_grid("--n-neg", optarg, cfg.n_neg, &cfg.n_neg_count); break;
        case B_SAMPLES: rc = cli_elastic_parse_pos_size("--samples", optarg, &cfg.n_samples); break;
        case B_STOK: rc = cli_elastic_parse_pos_size("--sample-tokens", optarg, &cfg.sample_tokens); sample_tokens_given = 1; break;
        case B_EPS: rc = cli_parse_double("--epsilon", optarg, &cfg.epsilon_nats); if (!rc && !(cfg.epsilon_nats > 0)) rc = cli_error("--epsilon", "must be > 0"); break;
        case B_CONTROL: cfg.control = 1; break;
        case B_CRUN: cfg.control_run = optarg; break;
        case B_QUICK: break;
        case B_THREADS: rc = cli_lm_set_threads(optarg); break;
        case B_JSON: json = 1; break;
        case B_CSV: csv = optarg; break;
        case B_HELP: return cli_print_help("elastic");
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && !cfg.data_dir) rc = cli_usage_error("elastic", "rebound needs --data DIR (from 'alim data synthetic --out DIR')");
    if (!rc && !cfg.run_dir) rc = cli_usage_error("elastic", "rebound needs --run DIR (the run directory, created or resumed)");
    if (!rc && cfg.control && cfg.control_run) rc = cli_usage_error("elastic", "--control-run goes with the main run, not with --control");
    if (!rc && theta0 && shape_given) rc = cli_usage_error("elastic", "--theta0 gives the model shape: drop --layers/--dim/--heads");
    if (!rc && theta0 && cfg.control) rc = cli_usage_error("elastic", "--theta0 with --control: the control needs a theta0 pretrained without C3");
    if (!rc && !sample_tokens_given && cfg.sample_tokens > (size_t)cfg.context) cfg.sample_tokens = (size_t)cfg.context;
    if (!rc && theta0) rc = cli_elastic_use_theta0(&cfg, theta0, context_given, &theta0_dirs, origin, sizeof origin);
    if (rc) return free(theta0_dirs), rc;

    alim_progress pg = cli_progress();
    alim_rebound_result res;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_rebound_run(&cfg, &pg, cli_elastic_note, NULL, &res, &err);
    cli_progress_done();
    free(theta0_dirs);
    if (st) return cli_fail(&err);
    char path[4200];
    if (csv) {
        snprintf(path, sizeof path, "%s/grid.csv", cfg.run_dir);
        if ((rc = cli_elastic_copy_file(path, csv))) return alim_rebound_result_free(&res), rc;
    }
    if (json) {
        cJSON *s = res.summary;
        res.summary = NULL;
        return cli_print_json(s);
    }
    const cJSON *sm = res.summary;
#define GN(o, k) cli_elastic_num(o, k)
    printf("E2 rebound%s: %s source (%s), %zu seed(s), %.0f parameters; run directory %s\n", cfg.control ? " (control)" : "",
           cJSON_GetObjectItemCaseSensitive(sm, "source")->valuestring, cfg.data_dir, cfg.n_seeds, GN(sm, "num_params"), cfg.run_dir);
    printf("cells: %zu total, %zu run now, %zu reused; %.1f s", res.cells_total, res.cells_run, res.cells_reused, res.wall_s);
    if (res.train_tokens_per_s > 0) printf("; training %.0f tokens/s\n", res.train_tokens_per_s);
    else printf("; nothing trained now\n");
    printf("labels: %s", cJSON_GetObjectItemCaseSensitive(sm, "labels")->valuestring);
    if (cJSON_GetObjectItemCaseSensitive(sm, "classifier_accuracy")) printf(" (accuracy %.4f on clean test windows)", GN(sm, "classifier_accuracy"));
    printf("\nscore = positive rate - negative rate (mean +- SE over seeds); gamma in bits/token; KL(model || theta0) in nats\n\n");
    printf("%-7s %6s %6s %6s  %16s %8s %8s  %8s %8s %8s %8s  %9s\n", "row", "n_pos", "n_neg", "steps", "score", "pos", "neg",
           "g_C1", "g_C2", "g_C3", "g_mix", "KL");
    const cJSON *r;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(sm, "baseline");
    cJSON *rows = cJSON_CreateArray();
    cJSON_AddItemReferenceToArray(rows, (cJSON *)b);
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sm, "grid")) cJSON_AddItemReferenceToArray(rows, (cJSON *)r);
    cJSON_ArrayForEach(r, rows) {
        printf("%-7s %6.0f %6.0f %6.1f  %+8.4f +- %-6.4f %8.4f %8.4f  %8.4f %8.4f %8.4f %8.4f  %9.5f\n",
               cJSON_GetObjectItemCaseSensitive(r, "row")->valuestring, GN(r, "n_pos"), GN(r, "n_neg"), GN(r, "steps"),
               GN(r, "score_mean"), GN(r, "score_se"), GN(r, "positive_rate_mean"), GN(r, "negative_rate_mean"), GN(r, "gamma_c1_bits_mean"),
               GN(r, "gamma_c2_bits_mean"), GN(r, "gamma_c3_bits_mean"), GN(r, "gamma_mix_bits_mean"), GN(r, "kl_to_base_nats_mean"));
    }
    cJSON_Delete(rows);
    printf("\nn*(eps = %g nats), smallest n_neg with KL < eps (interpolated):", cfg.epsilon_nats);
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sm, "n_star")) {
        double v = GN(r, "n_star");
        if (isnan(v)) printf("  n_pos %.0f: not reached", GN(r, "n_pos"));
        else printf("  n_pos %.0f: %.1f", GN(r, "n_pos"), v);
    }
    printf("\ncriteria (spec §4.6, on seed means):\n");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sm, "criteria"))
        printf("  (%c) %-4s %s\n", r->string[0], cJSON_GetObjectItemCaseSensitive(r, "result")->valuestring,
               cJSON_GetObjectItemCaseSensitive(r, "why")->valuestring);
    printf("verdict: %s\n", cJSON_GetObjectItemCaseSensitive(sm, "verdict")->valuestring);
    printf("files: %s/grid.csv, %s/summary.json\n", cfg.run_dir, cfg.run_dir);
#undef GN
    alim_rebound_result_free(&res);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

int cmd_elastic(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("elastic", "missing subcommand (available: oracle, resist, rebound, scale, coefficient)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) return cli_print_help("elastic");
    if (!strcmp(argv[1], "oracle")) return oracle(argc - 1, argv + 1);
    if (!strcmp(argv[1], "resist")) return resist(argc - 1, argv + 1);
    if (!strcmp(argv[1], "rebound")) return rebound(argc - 1, argv + 1);
    if (!strcmp(argv[1], "scale")) return cli_elastic_scale(argc - 1, argv + 1);
    if (!strcmp(argv[1], "coefficient")) return cli_elastic_coefficient(argc - 1, argv + 1);
    return cli_usage_error("elastic", "unknown subcommand '%s' (available: oracle, resist, rebound, scale, coefficient)", argv[1]);
}
