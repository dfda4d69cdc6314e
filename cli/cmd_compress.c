/* cmd_compress.c — `alim compress`: the compression protocol of Def 3.3 / Thm 3.4 on counts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/corpus.h"
#include "alim/treecode.h"
#include "cli.h"

const char cmd_compress_help[] =
    "usage: alim compress --data FILE [--protocol tree] [--depth D] [--json]\n"
    "\n"
    "The compression protocol of the elasticity paper (Def 3.3 / Thm 3.4), model-free: the\n"
    "token tree of depth D is built from the counts of the data itself, its leaves are\n"
    "Huffman-coded, and every document is coded as ceil(|x|/D) chunks (the last one shorter:\n"
    "an EOS leaf). Tokens are bytes. Printed per token: the Shannon bound H(leaves)/D, the\n"
    "Huffman code length, Thm 3.4 with the chunk ceiling only and with both ceilings, and a\n"
    "real arithmetic code of the chunk sequence under the same counts (decoded again; its\n"
    "size is within 2 bits of the Shannon total). The code table is not charged.\n"
    "\n"
    "FILE is a data file of `alim data` (documents each followed by <|endoftext|>); a file\n"
    "without the delimiter is one document.\n"
    "\n"
    "options:\n"
    "  --data FILE       the data (required)\n"
    "  --protocol tree   the protocol (only 'tree' so far; the model-based one comes with the\n"
    "                    LM engine)\n"
    "  --depth D         tree depth, 1..16 (default 4)\n"
    "  --json            one JSON object on stdout\n";

int cmd_compress(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},  {"protocol", required_argument, 0, 'p'},
                                         {"depth", required_argument, 0, 'D'}, {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *data = NULL, *protocol = "tree";
    size_t depth = 4;
    int json = 0, rc = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'p': protocol = optarg; break;
        case 'D': rc = cli_parse_size("--depth", optarg, &depth); break;
        case 'j': json = 1; break;
        case 'h': return cli_print_help("compress");
        case ':': return cli_usage_error("compress", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("compress", "unknown option '%s'", argv[optind - 1]);
        }
        if (rc) return rc;
    }
    if (optind < argc) return cli_usage_error("compress", "unexpected argument '%s'", argv[optind]);
    if (!data) return cli_usage_error("compress", "--data FILE is required");
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
    return CLI_EXIT_OK;
}
