/* elastic_resist.c — `alim elastic resist`: E1, resistance (forward versus inverse
 * fine-tuning between the slices of an alignment). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alim/io.h"
#include "alim/resist.h"
#include "cli.h"
#include "elastic.h"

const char cli_elastic_resist_help[] =
    "usage: alim elastic resist --data DIR --run DIR [--seeds N] [--pretrain-tokens N]\n"
    "                           [--layers N --dim N --heads N --context N] [--quick]\n"
    "                           [--json] [--csv FILE] [--curves FILE]\n"
    "       alim elastic resist --data BEH --theta0 MODEL --run DIR [--lr X] [--seeds N]\n"
    "                           [--precision P] [--quick] [--json]\n"
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
    "  --sft-docs N           documents per SFT slice (default 200; pretrained: records per\n"
    "                         stop, 100)\n"
    "  --samples N            documents per D_k (default 300; pretrained: replies, 100)\n"
    "  --sample-tokens N      tokens per generated document, prompt included (default 128;\n"
    "                         pretrained: new tokens per reply, 64)\n"
    "  --prompt-bytes N       prompt length, natural/text sources (default 16)\n"
    "  --theta0 MODEL         with --data from 'alim data behaviours': E1 on a real pretrained\n"
    "                         model (docs/elastic.md \"E1 on a real pretrained model\"), a GGUF\n"
    "                         file or Hugging Face directory (e.g. scripts/fetch-smollm2.sh's\n"
    "                         SmolLM2), theta0 of every seed with its own tokenizer and chat\n"
    "                         template: no pretraining; theta1-3 = one SFT pass over records\n"
    "                         1..300 of the seed's slice of the positive pool (seed s: records\n"
    "                         600(s-1)+1..600s; stops after 100, 200, 300 records, by their\n"
    "                         tokens) in the chat template, loss on the responses, batch 8, in\n"
    "                         order, lr 1e-5 constant; D_k = theta_k's replies to the first 100\n"
    "                         lines of prompts.txt (T = 1, <= 64 new tokens, ending at the end\n"
    "                         of turn) as chat records; the fine-tuning runs train on them the\n"
    "                         same way and keep only their losses; context 128. --quick: stops\n"
    "                         at 2, 4, 6 records, batch 4, context 64, 3 replies of <= 8\n"
    "                         tokens, 1 seed. --layers/--dim/--heads/--pretrain-tokens/\n"
    "                         --prompt-bytes are refused with it\n"
    "  --lr X                 the SFT learning rate (constant; default 3e-4, pretrained 1e-5)\n"
    "  --precision P          fp32, bf16 or auto (default: ALIM_PRECISION, else auto: bf16\n"
    "                         where the CPU has it); a run directory keeps one precision\n"
    "  --quick                a tiny configuration for tests (seconds): 1 x 16 x 2, context 32,\n"
    "                         16384 pretraining tokens, 3 x 20 SFT documents, 24 samples of\n"
    "                         32 tokens, 2 seeds; options given with it override it\n"
    "  --threads N            OpenMP and BLAS threads (default: all cores)\n"
    CLI_ELASTIC_JOBS_HELP
    "  --json                 print the summary (RUN/summary.json) on stdout\n"
    "  --csv FILE             also write the per pair and seed summary CSV to FILE\n"
    "  --curves FILE          also write the per-step loss curves CSV to FILE\n"
    "\n"
    "example:\n"
    "  alim data synthetic --out syn\n"
    "  alim elastic resist --data syn --run e1-syn --seeds 3\n"
    "  alim data behaviours --out beh\n"
    "  alim elastic resist --data beh --theta0 \"$(scripts/fetch-smollm2.sh)\" --run e1-real\n";

int cli_elastic_resist(int argc, char **argv)
{
    enum { R_DATA = 256, R_RUN, R_SEEDS, R_PRE, R_LAYERS, R_DIM, R_HEADS, R_CONTEXT, R_SFT, R_SAMPLES, R_STOK, R_PROMPT,
           R_QUICK, R_THREADS, R_JOBS, R_JSON, R_CSV, R_CURVES, R_HELP, R_PRECISION, R_THETA0, R_LR };
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
        {"jobs", required_argument, 0, R_JOBS},        {"precision", required_argument, 0, R_PRECISION},
        {"theta0", required_argument, 0, R_THETA0},    {"lr", required_argument, 0, R_LR},
        {0, 0, 0, 0}};
    alim_resist_config cfg;
    alim_resist_config_default(&cfg);
    /* behaviour data (a pretrained theta0) have defaults of their own: found before the options */
    int quick = 0;
    const int real = cli_elastic_prescan(argc, argv, &quick);
    if (real) quick ? alim_resist_config_real_quick(&cfg) : alim_resist_config_real(&cfg);
    else if (quick) alim_resist_config_quick(&cfg);
    int json = 0, rc = cli_parse_precision(NULL, &cfg.precision), c, sample_tokens_given = 0, byte_only_given = 0;
    const char *theta0 = NULL;
    const char *csv = NULL, *curves = NULL;
    uint64_t u;
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case R_DATA: cfg.data_dir = optarg; break;
        case R_RUN: cfg.run_dir = optarg; break;
        case R_SEEDS: rc = cli_elastic_parse_pos_size("--seeds", optarg, &cfg.n_seeds); if (!rc && cfg.n_seeds > 1000) rc = cli_error("--seeds", "at most 1000"); break;
        case R_PRE: rc = cli_parse_u64("--pretrain-tokens", optarg, &u); if (!rc && u < 1) rc = cli_error("--pretrain-tokens", "must be >= 1"); cfg.pretrain_tokens = u; byte_only_given = 1; break;
        case R_LAYERS: rc = cli_elastic_parse_pos_int("--layers", optarg, &cfg.n_layer); byte_only_given = 1; break;
        case R_DIM: rc = cli_elastic_parse_pos_int("--dim", optarg, &cfg.n_embd); byte_only_given = 1; break;
        case R_HEADS: rc = cli_elastic_parse_pos_int("--heads", optarg, &cfg.n_head); byte_only_given = 1; break;
        case R_CONTEXT: rc = cli_elastic_parse_pos_int("--context", optarg, &cfg.context); break;
        case R_SFT: rc = cli_elastic_parse_pos_size("--sft-docs", optarg, &cfg.sft_docs); break;
        case R_SAMPLES: rc = cli_elastic_parse_pos_size("--samples", optarg, &cfg.n_samples); break;
        case R_STOK: rc = cli_elastic_parse_pos_size("--sample-tokens", optarg, &cfg.sample_tokens); sample_tokens_given = 1; break;
        case R_PROMPT: rc = cli_elastic_parse_pos_size("--prompt-bytes", optarg, &cfg.prompt_bytes); byte_only_given = 1; break;
        case R_THETA0: theta0 = optarg; break;
        case R_LR: rc = cli_parse_double("--lr", optarg, &cfg.sft_lr); if (!rc && !(cfg.sft_lr > 0 && cfg.sft_lr < 1)) rc = cli_error("--lr", "must be in (0, 1)"); break;
        case R_QUICK: break;
        case R_THREADS: rc = cli_lm_set_threads(optarg); break;
        case R_JOBS: rc = cli_parse_jobs(optarg, &cfg.jobs); break;
        case R_PRECISION: rc = cli_parse_precision(optarg, &cfg.precision); break;
        case R_JSON: json = 1; break;
        case R_CSV: csv = optarg; break;
        case R_CURVES: curves = optarg; break;
        case R_HELP: return CLI_ELASTIC_SHOW_HELP;
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && !cfg.data_dir) rc = cli_usage_error("elastic", "resist needs --data DIR (from 'alim data synthetic --out DIR')");
    if (!rc && !cfg.run_dir) rc = cli_usage_error("elastic", "resist needs --run DIR (the run directory, created or resumed)");
    if (!rc && real && !theta0) rc = cli_usage_error("elastic", "behaviour data need a pretrained theta0: --theta0 MODEL.gguf or a Hugging Face directory");
    if (!rc && theta0 && byte_only_given)
        rc = cli_usage_error("elastic", "--theta0 gives the model and its pretraining: drop --layers/--dim/--heads/--pretrain-tokens/--prompt-bytes");
    /* byte-level data with --theta0: the library refuses it, after naming a missing data directory */
    if (!rc) cfg.theta0_model = theta0;
    /* a shorter context shortens the generated documents unless they were given (byte-level:
     * a document is a window; a reply's new tokens are not bounded by the training context) */
    if (!rc && !real && !sample_tokens_given && cfg.sample_tokens > (size_t)cfg.context) cfg.sample_tokens = (size_t)cfg.context;
    if (rc) return rc;

    alim_progress pg = cli_progress();
    alim_resist_result res;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_resist_run(&cfg, &pg, cli_elastic_note, NULL, &res, &err);
    cli_progress_done();
    if (st) return cli_fail(&err);
    if (!res.summary) return CLI_EXIT_OK; /* under MPI a rank other than 0: the summary is rank 0's */
    char path[4200];
    if (csv) {
        snprintf(path, sizeof path, "%s/summary.csv", cfg.run_dir);
        if ((rc = cli_elastic_copy_file(path, csv))) return alim_resist_result_free(&res), rc;
    }
    if (curves) {
        snprintf(path, sizeof path, "%s/curves.csv", cfg.run_dir);
        if ((rc = cli_elastic_copy_file(path, curves))) return alim_resist_result_free(&res), rc;
    }
    if (json) { /* cli_print_json prints and frees the summary; the typed rest goes here */
        cJSON *s = res.summary;
        res.summary = NULL;
        alim_resist_result_free(&res);
        return cli_print_json(s);
    }
    const alim_resist_verdict *v = &res.verdict;
    printf("E1 resistance: %s source (%s), %zu seed(s), %.0f parameters; run directory %s\n", res.source, cfg.data_dir, cfg.n_seeds,
           res.num_params, cfg.run_dir);
    if (cfg.theta0_model) printf("theta0: %s (pretrained; SFT on the positive pool's records, D_k = replies to prompts.txt)\n", cfg.theta0_model);
    printf("cells: %zu total, %zu run now, %zu reused; %.1f s", res.cells_total, res.cells_run, res.cells_reused, res.wall_s);
    if (res.train_tokens_per_s > 0) printf("; training %.0f tokens/s\n", res.train_tokens_per_s);
    else printf("; nothing trained now\n");
    printf("losses in nats per scored token; mean = mean training loss over the epoch; excess = mean - H(target set)\n\n");
    printf("%-5s %4s  %8s %8s %8s %8s  %8s %8s %8s %8s  %8s %8s  %s\n", "pair", "seed", "fwd init", "fwd mean", "fwd fin",
           "fwd exc", "inv init", "inv mean", "inv fin", "inv exc", "gap", "gap corr", "inverse<forward");
    for (size_t q = 0; q < res.n_cases; q++) {
        const alim_resist_case *cs = &res.cases[q];
        const alim_resist_finetune *fw = &cs->forward, *iv = &cs->inverse;
        /* excess = mean - H(target), as summary.json's "excess_nats" */
        printf("%-5s %4zu  %8.4f %8.4f %8.4f %8.4f  %8.4f %8.4f %8.4f %8.4f  %8.4f %8.4f  %s / %s\n", cs->pair, cs->seed, fw->initial_nats,
               fw->mean_nats, fw->final_nats, fw->mean_nats - fw->target_entropy_nats, iv->initial_nats, iv->mean_nats, iv->final_nats,
               iv->mean_nats - iv->target_entropy_nats, cs->gap_nats, cs->gap_corrected_nats, cs->inverse_lower ? "yes" : "no",
               cs->inverse_lower_corrected ? "yes" : "no");
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
