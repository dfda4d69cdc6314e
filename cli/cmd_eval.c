/* cmd_eval.c — `alim eval`: bits per token and per byte of a model on data, KL to a base. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/chat.h"
#include "alim/checkpoint.h"
#include "alim/info.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/safetensors.h"
#include "cli.h"


const char cmd_eval_help[] =
    "usage: alim eval --model DIR --data FILE... [--base DIR] [options]\n"
    "\n"
    "Scores data with a checkpoint: the total code length -log2 p of the data under the\n"
    "model, per token and per byte of text. The data is read as for training (a stream\n"
    "that starts with <|endoftext|> and has one after every document) and cut into\n"
    "consecutive windows of --context tokens, so each token is predicted exactly once. For\n"
    "JSONL prompt/response data only the response tokens (and their end) are scored;\n"
    "a model with a chat template (ChatML or Llama 3) gets each record rendered with it\n"
    "(see --template), as 'alim train' does.\n"
    "With --base, also the mean over scored positions of KL(model || base), the divergence\n"
    "of the model's next-token distribution from the base model's (same vocabulary).\n"
    "\n"
    "options:\n"
    "  --model DIR          checkpoint to score (from 'alim train')\n"
    "  --data FILE          data file (repeat, or list files after it)\n"
    "  --base DIR           reference checkpoint for the KL\n"
    "  --format F           auto|text|lines|jsonl (default auto, as in 'alim train')\n"
    "  --delimiter S        document separator of text files (default <|endoftext|>)\n"
    "  --template T         JSONL records as chats: auto (the model's own chat template, or\n"
    "                       plain prompt + response if it has none), chatml, llama3, none\n"
    "                       (default auto)\n"
    "  --dump-tokens FILE   write the data as the model sees it, JSON {\"tokens\": [...],\n"
    "                       \"mask\": [...]} (mask 1 = scored), and score nothing\n"
    "  --context N          window length (default: the model's n_positions)\n"
    "  --batch N            windows per forward pass (default 8)\n"
    "  --dump-logprobs FILE write the log-probabilities of every scored position as\n"
    "                       a (n_tokens, vocab) F32 tensor \"logprobs\" in safetensors\n"
    "  --threads N          OpenMP and BLAS threads (default: all cores)\n"
    CLI_PRECISION_HELP
    "  --json               one JSON object: total_bits, n_tokens, n_bytes, bits_per_token,\n"
    "                       bits_per_byte (and kl_nats, kl_bits with --base)\n"
    "\n"
    "example:\n"
    "  alim eval --model run1-sft --base run1 --data held.jsonl --json\n";

enum { O_MODEL = 256, O_DATA, O_BASE, O_FORMAT, O_DELIM, O_CONTEXT, O_BATCH, O_DUMP, O_THREADS, O_JSON, O_TEMPLATE, O_DUMP_TOKENS, O_PRECISION };

/* --dump-tokens: the stream and its mask, for checking what is scored. */
static alim_status dump_tokens(const char *path, const alim_token_stream *ds, alim_error *err)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *t = cJSON_AddArrayToObject(j, "tokens"), *m = cJSON_AddArrayToObject(j, "mask");
    for (size_t i = 0; t && m && i < ds->n; i++) {
        cJSON_AddItemToArray(t, cJSON_CreateNumber(ds->tokens[i]));
        cJSON_AddItemToArray(m, cJSON_CreateNumber(ds->mask[i]));
    }
    char *s = alim_json_print(j, 0);
    cJSON_Delete(j);
    if (!s) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    alim_status st = alim_file_write_atomic(path, s, strlen(s), err);
    free(s);
    return st;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"data", required_argument, 0, O_DATA},
        {"base", required_argument, 0, O_BASE}, {"format", required_argument, 0, O_FORMAT},
        {"delimiter", required_argument, 0, O_DELIM}, {"context", required_argument, 0, O_CONTEXT},
        {"batch", required_argument, 0, O_BATCH}, {"dump-logprobs", required_argument, 0, O_DUMP},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"template", required_argument, 0, O_TEMPLATE}, {"dump-tokens", required_argument, 0, O_DUMP_TOKENS},
        {"precision", required_argument, 0, O_PRECISION}, {0, 0, 0, 0}};
    const char *model = NULL, *base = NULL, *delim = NULL, *dump = NULL, *dump_tokens_path = NULL;
    alim_chat_kind want = ALIM_CHAT_AUTO;
    const char **data = calloc((size_t)argc + 1, sizeof *data);
    if (!data) return cli_error("eval", "out of memory");
    size_t nd = 0, ctx = 0, batch = 8;
    int json = 0, rc = 0, c, prec_given = 0;
    alim_precision prec = ALIM_PRECISION_AUTO;
    alim_data_format fmt = ALIM_DATA_AUTO;
    opterr = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_DATA: data[nd++] = optarg; break;
        case O_BASE: base = optarg; break;
        case O_FORMAT: {
            int f = alim_data_format_parse(optarg);
            if (f < 0) rc = cli_error("--format", "'%s' is not auto, text, lines or jsonl", optarg);
            else fmt = (alim_data_format)f;
            break;
        }
        case O_DELIM: delim = optarg; break;
        case O_CONTEXT: rc = cli_parse_size("--context", optarg, &ctx); if (!rc && (ctx < 1 || ctx > 1u << 24)) rc = cli_error("--context", "must be >= 1"); break;
        case O_BATCH: rc = cli_parse_size("--batch", optarg, &batch); if (!rc && (batch < 1 || batch > 1u << 20)) rc = cli_error("--batch", "must be >= 1"); break;
        case O_DUMP: dump = optarg; break;
        case O_THREADS: rc = cli_lm_set_threads(optarg); break;
        case O_JSON: json = 1; break;
        case O_TEMPLATE: {
            int k = alim_chat_kind_parse(optarg);
            if (k < 0) rc = cli_error("--template", "'%s' is not auto, chatml, llama3 or none", optarg);
            else want = (alim_chat_kind)k;
            break;
        }
        case O_DUMP_TOKENS: dump_tokens_path = optarg; break;
        case O_PRECISION: rc = cli_parse_precision(optarg, &prec); prec_given = 1; break;
        case ':': rc = cli_usage_error("eval", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && !prec_given) rc = cli_parse_precision(NULL, &prec);
    for (int i = optind; !rc && i < argc; i++) data[nd++] = argv[i];
    if (!rc && !model) rc = cli_usage_error("eval", "no model (--model DIR)");
    if (!rc && !nd) rc = cli_usage_error("eval", "no data (--data FILE)");
    if (rc) return free(data), rc;

    alim_gpt m = {0}, b = {0};
    alim_tokenizer tk = {0};
    alim_token_stream ds = {0};
    alim_error err;
    alim_error_clear(&err);
    float *lp = NULL;
    alim_eval_result r;
    alim_chat_template tpl = {0};
    alim_status st = alim_checkpoint_load(model, &m, &tk, NULL, &err);
    if (!st && base) st = alim_checkpoint_load(base, &b, NULL, NULL, &err);
    if (!st) st = alim_gpt_set_precision(&m, prec, &err);
    if (!st && base) st = alim_gpt_set_precision(&b, prec, &err);
    if (!st) st = alim_chat_template_resolve(&tpl, model, want, &tk, &err);
    if (!st) st = alim_dataset_load_chat(&ds, data, nd, fmt, delim, &tk, &tpl, &err);
    alim_chat_template_free(&tpl);
    if (!st && dump_tokens_path) {
        st = dump_tokens(dump_tokens_path, &ds, &err);
        free(data);
        alim_dataset_free(&ds);
        alim_tokenizer_free(&tk);
        alim_gpt_free(&m);
        alim_gpt_free(&b);
        return st ? cli_fail(&err) : CLI_EXIT_OK;
    }
    int T = ctx ? (int)ctx : m.config.n_positions;
    if (!st && T > m.config.n_positions)
        st = alim_error_set(&err, ALIM_EINVAL, "--context", "%d is longer than the model's context (n_positions = %d)", T, m.config.n_positions);
    if (!st && dump) {
        lp = malloc((ds.n_counted ? ds.n_counted : 1) * (size_t)m.config.vocab_size * sizeof(float));
        if (!lp) st = alim_error_set(&err, ALIM_ENOMEM, "--dump-logprobs", "out of memory");
    }
    alim_progress pg = cli_progress();
    if (!st) st = alim_lm_evaluate(&m, base ? &b : NULL, &ds, &tk, T, (int)batch, lp, &pg, &r, &err);
    cli_progress_done();
    if (!st && dump) {
        alim_st_entry e = {"logprobs", lp, 2, {(int64_t)r.n_tokens, m.config.vocab_size}};
        st = alim_safetensors_write(dump, &e, 1, NULL, &err);
    }
    free(lp);
    free(data);
    alim_dataset_free(&ds);
    alim_tokenizer_free(&tk);
    const alim_precision prec_used = m.precision;
    alim_gpt_free(&m);
    alim_gpt_free(&b);
    if (st) return cli_fail(&err);
    const double bits = alim_bits(r.total_nats);
    const double bpt = r.n_tokens ? bits / (double)r.n_tokens : NAN;
    const double bpb = r.n_bytes ? bits / (double)r.n_bytes : NAN;
    const double kl = r.n_tokens ? r.kl_nats_sum / (double)r.n_tokens : NAN;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cli_json_add_number(j, "total_bits", bits);
        cJSON_AddNumberToObject(j, "n_tokens", (double)r.n_tokens);
        cJSON_AddNumberToObject(j, "n_bytes", (double)r.n_bytes);
        cli_json_add_number(j, "bits_per_token", bpt);
        cli_json_add_number(j, "bits_per_byte", bpb);
        cli_json_add_number(j, "loss_nats", r.n_tokens ? r.total_nats / (double)r.n_tokens : NAN);
        cJSON_AddStringToObject(j, "precision", alim_precision_name(prec_used));
        if (base) {
            cli_json_add_number(j, "kl_nats", kl);
            cli_json_add_number(j, "kl_bits", alim_bits(kl));
        }
        return cli_print_json(j);
    }
    printf("total        %.6g bits over %zu tokens (%zu bytes)\n", bits, r.n_tokens, r.n_bytes);
    printf("per token    %.6f bits (%.6f nats)\n", bpt, r.n_tokens ? r.total_nats / (double)r.n_tokens : NAN);
    printf("per byte     %.6f bits\n", bpb);
    if (base) printf("KL(model||base) %.6g nats = %.6g bits per position\n", kl, alim_bits(kl));
    printf("precision    %s\n", alim_precision_name(prec_used));
    return CLI_EXIT_OK;
}
