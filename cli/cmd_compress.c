/* cmd_compress.c — `alim compress`: the compression protocol of Def 3.3 / Thm 3.4 on counts,
 * and (with --model) the model's Shannon code length next to a real arithmetic code. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/corpus.h"
#include "alim/dataset.h"
#include "alim/info.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/lmcode.h"
#include "alim/treecode.h"
#include "cli.h"

const char cmd_compress_help[] =
    "usage: alim compress --data FILE [--protocol tree] [--depth D] [--json]\n"
    "       alim compress --model DIR --data FILE [--context T] [--code OUT] [--depth D] [--json]\n"
    "\n"
    "The compression protocol of the elasticity paper (Def 3.3 / Thm 3.4), model-free: the\n"
    "token tree of depth D is built from the counts of the data itself, its leaves are\n"
    "Huffman-coded, and every document is coded as ceil(|x|/D) chunks (the last one shorter:\n"
    "an EOS leaf). Tokens are bytes. Printed per token: the Shannon bound H(leaves)/D, the\n"
    "Huffman code length, Thm 3.4 with the chunk ceiling only and with both ceilings, and a\n"
    "real arithmetic code of the chunk sequence under the same counts (decoded again; its\n"
    "size is within 2 bits of the Shannon total). The code table is not charged.\n"
    "\n"
    "With --model DIR (a checkpoint of `alim train`, or a GPT-2 checkpoint directory), the\n"
    "data is also tokenized with the model's tokenizer and compressed with the model:\n"
    "  total_bits     -sum log2 p(token | context) over the scored tokens, exactly as\n"
    "                 `alim eval` computes it (windows of T+1 tokens overlapping by one)\n"
    "  arithmetic     a real arithmetic code of the whole token stream under the model (first\n"
    "                 token uniform over the vocabulary, then each token given its window),\n"
    "                 computed one token at a time with the key/value cache and decoded\n"
    "                 again token for token; its length is printed next to the Shannon length\n"
    "                 of the same probabilities (they differ by < 2 bits plus quantisation)\n"
    "The tree protocol of the same bytes is printed next to it. The stream length and the\n"
    "model are side information (not charged).\n"
    "\n"
    "FILE is a data file of `alim data` (documents each followed by <|endoftext|>); a file\n"
    "without the delimiter is one document.\n"
    "\n"
    "options:\n"
    "  --data FILE       the data (required)\n"
    "  --protocol tree   the model-free protocol (the only one; default)\n"
    "  --depth D         tree depth, 1..16 (default 4)\n"
    "  --model DIR       also code the data with this model\n"
    "  --context T       window length for the model (default: its n_positions)\n"
    "  --code OUT        write the model's arithmetic code to OUT (atomically)\n"
    "  --threads N       OpenMP and BLAS threads (default: all cores)\n"
    "  --precision P     the model's matrix products: fp32, bf16 or auto (default; as in\n"
    "                    'alim eval', whose total_bits this matches)\n"
    "  --json            one JSON object on stdout\n";

/* The model part: eval's total_bits and the arithmetic code; adds keys to o (JSON) or prints. */
static int compress_with_model(const char *model, const char *data, size_t ctx, const char *code_out,
                               alim_precision prec, cJSON *o)
{
    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_token_stream ds = {0};
    alim_error err;
    alim_error_clear(&err);
    alim_eval_result er;
    alim_lmcode_result lr;
    uint8_t *code = NULL;
    size_t code_len = 0;
    const char *paths[1] = {data};
    alim_status st = alim_checkpoint_load(model, &m, &tk, NULL, &err);
    if (!st) st = alim_gpt_set_precision(&m, prec, &err);
    if (!st) st = alim_dataset_load(&ds, paths, 1, ALIM_DATA_TEXT, NULL, &tk, &err);
    const int T = ctx ? (int)ctx : m.config.n_positions;
    if (!st && T > m.config.n_positions)
        st = alim_error_set(&err, ALIM_EINVAL, "--context", "%d is longer than the model's context (n_positions = %d)", T, m.config.n_positions);
    if (!st && ds.n < 2) st = alim_error_set(&err, ALIM_EINVAL, data, "has fewer than 2 tokens");
    alim_progress pg = cli_progress();
    if (!st) st = alim_lm_evaluate(&m, NULL, &ds, &tk, T, 8, NULL, &pg, &er, &err);
    if (!st) st = alim_lmcode_run(&m, &ds, T, &pg, &lr, &code, &code_len, &err);
    cli_progress_done();
    if (!st && !lr.round_trip) st = alim_error_set(&err, ALIM_EINTERNAL, data, "the model's arithmetic code did not decode to the input");
    if (!st && code_out) st = alim_file_write_atomic(code_out, code, code_len, &err);
    free(code);
    const int V = m.config.vocab_size;
    alim_dataset_free(&ds);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    if (st) return cli_fail(&err);
    const double bits = alim_bits(er.total_nats);
    if (o) {
        cJSON *j = cJSON_AddObjectToObject(o, "model");
        cJSON_AddStringToObject(j, "dir", model);
        cli_json_add_number(j, "context", T);
        cli_json_add_number(j, "vocab_size", V);
        cli_json_add_number(j, "total_bits", bits);
        cli_json_add_number(j, "n_tokens", (double)er.n_tokens);
        cli_json_add_number(j, "n_bytes", (double)er.n_bytes);
        cli_json_add_number(j, "bits_per_token", er.n_tokens ? bits / (double)er.n_tokens : NAN);
        cli_json_add_number(j, "bits_per_byte", er.n_bytes ? bits / (double)er.n_bytes : NAN);
        cli_json_add_number(j, "compression_ratio", er.n_bytes ? bits / (double)er.n_bytes / 8 : NAN);
        cJSON *a = cJSON_AddObjectToObject(j, "arithmetic");
        cli_json_add_number(a, "stream_tokens", (double)lr.n_tokens);
        cli_json_add_number(a, "shannon_bits", lr.shannon_bits);
        cli_json_add_number(a, "quantised_bits", lr.quantised_bits);
        cli_json_add_number(a, "code_bits", (double)lr.code_bits);
        cli_json_add_number(a, "code_bytes", (double)lr.code_bytes);
        cli_json_add_number(a, "excess_bits", (double)lr.code_bits - lr.shannon_bits);
        cJSON_AddBoolToObject(a, "round_trip", lr.round_trip);
        cli_json_add_number(a, "encode_s", lr.encode_s);
        cli_json_add_number(a, "decode_s", lr.decode_s);
        return 0;
    }
    printf("\nmodel %s (vocabulary %d, context %d):\n", model, V, T);
    printf("  total_bits     %.6g bits over %zu scored tokens (%zu bytes): %.6f bits/token, %.6f bits/byte\n", bits, er.n_tokens,
           er.n_bytes, er.n_tokens ? bits / (double)er.n_tokens : NAN, er.n_bytes ? bits / (double)er.n_bytes : NAN);
    printf("  arithmetic     %llu bits (%zu bytes) for the %zu-token stream; Shannon length of the same\n"
           "                 probabilities %.3f bits (excess %+.3f bits); decoded token for token\n",
           (unsigned long long)lr.code_bits, lr.code_bytes, lr.n_tokens, lr.shannon_bits, (double)lr.code_bits - lr.shannon_bits);
    printf("                 (encode %.2f s, decode %.2f s)\n", lr.encode_s, lr.decode_s);
    if (code_out) printf("  code written to %s\n", code_out);
    return 0;
}

int cmd_compress(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},  {"protocol", required_argument, 0, 'p'},
                                         {"depth", required_argument, 0, 'D'}, {"json", no_argument, 0, 'j'},
                                         {"model", required_argument, 0, 'm'}, {"context", required_argument, 0, 'c'},
                                         {"code", required_argument, 0, 'o'},  {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},        {"precision", required_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *protocol = "tree", *model = NULL, *code_out = NULL;
    size_t ctx = 0;
    size_t depth = 4;
    int json = 0, c;
    alim_precision prec;
    int rc = cli_parse_precision(NULL, &prec);
    if (rc) return rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'p': protocol = optarg; break;
        case 'D': rc = cli_parse_size("--depth", optarg, &depth); break;
        case 'j': json = 1; break;
        case 'm': model = optarg; break;
        case 'c': rc = cli_parse_size("--context", optarg, &ctx); if (!rc && (ctx < 1 || ctx > 1u << 20)) rc = cli_error("--context", "must be in [1, 2^20]"); break;
        case 'o': code_out = optarg; break;
        case 't': rc = cli_lm_set_threads(optarg); break;
        case 'P': rc = cli_parse_precision(optarg, &prec); break;
        case 'h': return cli_print_help("compress");
        case ':': return cli_usage_error("compress", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("compress", "unknown option '%s'", argv[optind - 1]);
        }
        if (rc) return rc;
    }
    if (optind < argc) return cli_usage_error("compress", "unexpected argument '%s'", argv[optind]);
    if (!data) return cli_usage_error("compress", "--data FILE is required");
    if (code_out && !model) return cli_usage_error("compress", "--code needs --model (the tree protocol's code is not written)");
    if (ctx && !model) return cli_usage_error("compress", "--context needs --model");
    if (strcmp(protocol, "tree")) return cli_error("--protocol", "unknown protocol '%s' (available: tree)", protocol);
    if (depth < 1 || depth > ALIM_TREECODE_MAX_DEPTH) return cli_error("--depth", "depth %zu outside 1..%d", depth, ALIM_TREECODE_MAX_DEPTH);
    alim_error err;
    alim_error_clear(&err);
    alim_corpus docs;
    if (alim_corpus_read(&docs, data, &err)) return cli_fail(&err);
    alim_treecode_result r;
    alim_status st = alim_treecode_run(&docs, depth, &r, &err);
    alim_corpus_free(&docs);
    if (st) return cli_fail(&err);
    if (!r.arith_roundtrip_ok) {
        err.status = ALIM_EINTERNAL;
        return cli_error(data, "arithmetic code did not decode to the input (internal error)"), CLI_EXIT_RUNTIME;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "data", data);
        cJSON_AddStringToObject(o, "protocol", "tree");
        cli_json_add_number(o, "depth", (double)r.depth);
        cli_json_add_number(o, "n_docs", (double)r.n_docs);
        cli_json_add_number(o, "n_tokens", (double)r.n_tokens);
        cli_json_add_number(o, "n_chunks", (double)r.n_chunks);
        cli_json_add_number(o, "n_leaves", (double)r.n_leaves);
        cli_json_add_number(o, "vocab", (double)r.vocab);
        cli_json_add_number(o, "order0_bits_per_token", r.order0_bits_per_token);
        cli_json_add_number(o, "entropy_bits_per_chunk", r.entropy_bits_per_chunk);
        cli_json_add_number(o, "huffman_bits_per_chunk", r.huffman_bits_per_chunk);
        cli_json_add_number(o, "shannon_bits_per_token", r.shannon_bits_per_token);
        cli_json_add_number(o, "huffman_bits_per_token", r.huffman_bits_per_token);
        cli_json_add_number(o, "ceil_chunks_bits_per_token", r.ceil_chunks_bits_per_token);
        cli_json_add_number(o, "thm34_bits_per_token", r.thm34_bits_per_token);
        cli_json_add_number(o, "shannon_total_bits", r.ideal_total_bits);
        cli_json_add_number(o, "arith_total_bits", r.arith_total_bits);
        cli_json_add_number(o, "arith_bytes", (double)r.arith_bytes);
        cli_json_add_number(o, "arith_bits_per_token", r.arith_bits_per_token);
        cli_json_add_number(o, "arith_excess_bits", r.arith_total_bits - r.ideal_total_bits);
        cJSON_AddBoolToObject(o, "arith_roundtrip_ok", r.arith_roundtrip_ok);
        if (model && (rc = compress_with_model(model, data, ctx, code_out, prec, o))) return cJSON_Delete(o), rc;
        return cli_print_json(o);
    }
    printf("data %s: %zu documents, %zu tokens (bytes), vocabulary %zu\n", data, r.n_docs, r.n_tokens, r.vocab);
    printf("depth-%zu tree: %zu chunks, %zu distinct leaves\n\n", r.depth, r.n_chunks, r.n_leaves);
    printf("%-40s %12s\n", "", "bits/token");
    printf("%-40s %12.5f\n", "order-0 entropy (unigram, for reference)", r.order0_bits_per_token);
    printf("%-40s %12.5f\n", "Shannon bound H(leaves)/token", r.shannon_bits_per_token);
    printf("%-40s %12.5f\n", "arithmetic code (real, round-tripped)", r.arith_bits_per_token);
    printf("%-40s %12.5f\n", "Huffman code of the leaves", r.huffman_bits_per_token);
    printf("%-40s %12.5f\n", "Thm 3.4, ceil(|x|/d) only", r.ceil_chunks_bits_per_token);
    printf("%-40s %12.5f\n", "Thm 3.4, both ceilings", r.thm34_bits_per_token);
    printf("\narithmetic code: %.0f bits (%zu bytes), Shannon total %.3f bits, excess %.3f bits\n", r.arith_total_bits,
           r.arith_bytes, r.ideal_total_bits, r.arith_total_bits - r.ideal_total_bits);
    if (model && (rc = compress_with_model(model, data, ctx, code_out, prec, NULL))) return rc;
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
