/* cmd_elastic.c — `alim elastic`: the elasticity lab. The dispatcher and the overview; each
 * subcommand, with its help, is in cli/elastic_<name>.c (see elastic.h). */
#include <stdio.h>
#include <string.h>

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
    "The usage and options of each follow.\n";

/* The help of each subcommand, in the order of the overview; then examples that chain them. */
static const char *const SUBCOMMAND_HELP[] = {cli_elastic_oracle_help, cli_elastic_resist_help, cli_elastic_rebound_help,
                                              cli_elastic_scale_help, cli_elastic_coefficient_help};
static const char EXAMPLES[] =
    "example (E2 then E4 from its cells, then E3):\n"
    "  alim elastic rebound --data syn --run e2\n"
    "  alim elastic coefficient --from-rebound e2 --run e4\n"
    "  alim elastic scale --data syn --run e3\n";

void cli_elastic_print_subcommand_help(void)
{
    for (size_t i = 0; i < sizeof SUBCOMMAND_HELP / sizeof *SUBCOMMAND_HELP; i++) {
        fputs("\n", stdout);
        fputs(SUBCOMMAND_HELP[i], stdout);
    }
    fputs("\n", stdout);
    fputs(EXAMPLES, stdout);
}

static int print_help(void)
{
    fputs(cmd_elastic_help, stdout);
    cli_elastic_print_subcommand_help();
    return CLI_EXIT_OK;
}

static int rc_or_help(int rc) { return rc == CLI_ELASTIC_SHOW_HELP ? print_help() : rc; }

int cmd_elastic(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("elastic", "missing subcommand (available: oracle, resist, rebound, scale, coefficient)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) return print_help();
    int (*run)(int, char **) = NULL;
    if (!strcmp(sub, "oracle")) return (rc_or_help(cli_elastic_oracle(argc - 1, argv + 1)));
    else if (!strcmp(sub, "resist")) run = cli_elastic_resist;
    else if (!strcmp(sub, "rebound")) run = cli_elastic_rebound;
    else if (!strcmp(sub, "scale")) run = cli_elastic_scale;
    else if (!strcmp(sub, "coefficient")) run = cli_elastic_coefficient;
    else return cli_usage_error("elastic", "unknown subcommand '%s' (available: oracle, resist, rebound, scale, coefficient)", sub);
    /* Under mpirun/srun every rank runs the subcommand: the ranks share the run directory's
     * cells (alim/runner.h), rank 0 prints. */
    return cli_with_dist(run, argc - 1, argv + 1, rc_or_help);
}
