/* cmd_tokenizer.c — `alim tokenizer train|encode|decode`: byte-level BPE tokenizers
 * (GPT-2 files, Hugging Face tokenizer.json directories). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/tokenizer.h"
#include "cli.h"

const char cmd_tokenizer_help[] =
    "usage: alim tokenizer train --vocab N --out DIR FILE...\n"
    "       alim tokenizer encode [--tokenizer DIR] [--text TEXT | FILE]\n"
    "       alim tokenizer decode [--tokenizer DIR] ID...\n"
    "       alim tokenizer save [--tokenizer DIR] --out DIR\n"
    "\n"
    "Byte-level BPE tokenizers in the GPT-2 file format (vocab.json + merges.txt, readable\n"
    "by Hugging Face's GPT2Tokenizer and tokenizers) or Hugging Face tokenizer.json (Llama 3,\n"
    "Qwen2, SmolLM2, GPT-2; docs/tokenizers.md). 'train' learns a GPT-2-format one with N ids\n"
    "from text files: the 256 bytes, N-257 merges of the most frequent adjacent pairs inside\n"
    "GPT-2's pre-tokenised pieces (words, numbers, punctuation runs, spaces), and\n"
    "<|endoftext|> last. 'encode' prints the ids of a text (or file), one line; special tokens\n"
    "of a tokenizer.json written in the text are encoded as their ids, and a BOS id is never\n"
    "added (--json tells whether the model expects one). 'decode' prints the text of ids.\n"
    "'save' writes the tokenizer again into --out (tokenizer.json stays tokenizer.json).\n"
    "Without --tokenizer, the byte tokenizer (256 bytes + <|endoftext|> = 256) is used.\n"
    "\n"
    "options:\n"
    "  --vocab N            train: vocabulary size, >= 257 (default 512)\n"
    "  --out DIR            train/save: directory to write the tokenizer into (created)\n"
    "  --tokenizer DIR      encode/decode: directory with tokenizer.json, or vocab.json and\n"
    "                       merges.txt, or a GGUF model file (its tokenizer.ggml.* keys);\n"
    "                       --model is the same: a model directory or .gguf file\n"
    "  --text TEXT          encode: the text (default: the FILE argument, or stdin)\n"
    "  --json               print JSON ({\"vocab_size\", \"merges\"}, {\"ids\", \"bos_id\",\n"
    "                       \"eos_id\", \"add_bos\"} or {\"text\"})\n"
    "\n"
    "example:\n"
    "  alim tokenizer train --vocab 1000 --out tok corpus.txt\n"
    "  alim tokenizer encode --tokenizer tok --text 'hello world'\n"
    "  alim train --data corpus.txt --tokenizer tok --out run1\n";

enum { O_VOCAB = 256, O_OUT, O_TOK, O_TEXT, O_JSON };

static int load_tok(const char *dir, alim_tokenizer *tk)
{
    alim_error err;
    alim_error_clear(&err);
    alim_status st = dir ? alim_checkpoint_load_tokenizer(dir, tk, &err) : alim_tokenizer_init_bytes(tk, &err);
    return st ? cli_fail(&err) : 0;
}

int cmd_tokenizer(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("tokenizer", "needs a verb: train, encode, decode or save");
    const char *verb = argv[1];
    if (strcmp(verb, "train") && strcmp(verb, "encode") && strcmp(verb, "decode") && strcmp(verb, "save"))
        return cli_usage_error("tokenizer", "unknown verb '%s' (train, encode, decode or save)", verb);
    static const struct option opts[] = {
        {"vocab", required_argument, 0, O_VOCAB}, {"out", required_argument, 0, O_OUT},
        {"tokenizer", required_argument, 0, O_TOK}, {"model", required_argument, 0, O_TOK},
        {"text", required_argument, 0, O_TEXT},
        {"json", no_argument, 0, O_JSON}, {0, 0, 0, 0}};
    size_t vocab = 512;
    const char *out = NULL, *tokdir = NULL, *text = NULL;
    int json = 0, rc = 0, c;
    opterr = 0;
    optind = 1;
    argc--;
    argv++;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_VOCAB: rc = cli_parse_size("--vocab", optarg, &vocab); if (!rc && (vocab < 257 || vocab > 1u << 20)) rc = cli_error("--vocab", "must be in [257, 2^20]"); break;
        case O_OUT: out = optarg; break;
        case O_TOK: tokdir = optarg; break;
        case O_TEXT: text = optarg; break;
        case O_JSON: json = 1; break;
        case ':': rc = cli_usage_error("tokenizer", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("tokenizer", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (rc) return rc;
    alim_error err;
    alim_error_clear(&err);
    alim_tokenizer tk = {0};
    if (!strcmp(verb, "train")) {
        if (!out) return cli_usage_error("tokenizer", "train needs --out DIR");
        if (optind >= argc) return cli_usage_error("tokenizer", "train needs text files");
        size_t nf = (size_t)(argc - optind);
        char **bufs = calloc(nf, sizeof *bufs);
        size_t *lens = calloc(nf, sizeof *lens);
        if (!bufs || !lens) return free(bufs), free(lens), cli_error("tokenizer", "out of memory");
        alim_status st = ALIM_OK;
        for (size_t i = 0; i < nf && !st; i++) st = alim_file_read_all(argv[optind + (int)i], &bufs[i], &lens[i], &err);
        size_t total = 0;
        for (size_t i = 0; i < nf; i++) total += lens[i];
        if (!st && total == 0) st = alim_error_set(&err, ALIM_EINVAL, argv[optind], "no text to learn from (empty files)");
        alim_progress pg = cli_progress();
        if (!st) st = alim_tokenizer_train(&tk, (const char *const *)bufs, lens, nf, (int)vocab, &pg, &err);
        cli_progress_done();
        for (size_t i = 0; i < nf; i++) free(bufs[i]);
        free(bufs);
        free(lens);
        if (!st && mkdir(out, 0777) != 0 && errno != EEXIST) st = alim_error_set(&err, ALIM_EIO, out, "cannot create directory: %s", strerror(errno));
        if (!st) st = alim_tokenizer_save(&tk, out, &err);
        if (st) return alim_tokenizer_free(&tk), cli_fail(&err);
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "vocab_size", tk.vocab_size);
            cJSON_AddNumberToObject(j, "merges", (double)tk.n_merges);
            cJSON_AddStringToObject(j, "out", out);
            alim_tokenizer_free(&tk);
            return cli_print_json(j);
        }
        printf("wrote %s/vocab.json and merges.txt: %d ids (%zu merges)\n", out, tk.vocab_size, tk.n_merges);
        alim_tokenizer_free(&tk);
        return CLI_EXIT_OK;
    }
    if (!strcmp(verb, "save") && !out) return cli_usage_error("tokenizer", "save needs --out DIR");
    if ((rc = load_tok(tokdir, &tk))) return rc;
    if (!strcmp(verb, "save")) {
        alim_status st = ALIM_OK;
        if (mkdir(out, 0777) != 0 && errno != EEXIST) st = alim_error_set(&err, ALIM_EIO, out, "cannot create directory: %s", strerror(errno));
        if (!st) st = alim_tokenizer_save(&tk, out, &err);
        const int V = tk.vocab_size;
        const size_t nm = tk.n_merges;
        const char *file = tk.hf ? "tokenizer.json" : "vocab.json and merges.txt";
        alim_tokenizer_free(&tk);
        if (st) return cli_fail(&err);
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "vocab_size", V);
            cJSON_AddNumberToObject(j, "merges", (double)nm);
            cJSON_AddStringToObject(j, "out", out);
            return cli_print_json(j);
        }
        printf("wrote %s/%s: %d ids (%zu merges)\n", out, file, V, nm);
        return CLI_EXIT_OK;
    }
    if (!strcmp(verb, "encode")) {
        char *buf = NULL;
        size_t len = 0;
        alim_status st = ALIM_OK;
        const char *where = "--text";
        if (text) len = strlen(text);
        else {
            where = optind < argc ? argv[optind] : "-";
            st = alim_file_read_all(where, &buf, &len, &err);
        }
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        if (!st) st = alim_tokenizer_encode(&tk, text ? text : buf, len, &ids, &n, &cap, where, &err);
        const int bos_id = tk.bos_id, eos_id = tk.eos_id, add_bos = tk.add_bos;
        free(buf);
        alim_tokenizer_free(&tk);
        if (st) return free(ids), cli_fail(&err);
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON *a = cJSON_AddArrayToObject(j, "ids");
            for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
            cJSON_AddNumberToObject(j, "bos_id", bos_id);
            cJSON_AddNumberToObject(j, "eos_id", eos_id);
            cJSON_AddBoolToObject(j, "add_bos", add_bos);
            free(ids);
            return cli_print_json(j);
        }
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
        free(ids);
        return CLI_EXIT_OK;
    }
    /* decode */
    size_t cap = 1024, tl = 0;
    char *s = malloc(cap);
    for (int i = optind; s && i < argc; i++) {
        uint64_t id;
        if (cli_parse_u64("id", argv[i], &id)) return free(s), alim_tokenizer_free(&tk), CLI_EXIT_USAGE;
        size_t bl;
        const char *b = id < (uint64_t)tk.vocab_size ? alim_tokenizer_decode(&tk, (int32_t)id, &bl) : NULL;
        if (!b) {
            const int V = tk.vocab_size; /* read before the free clears it */
            free(s);
            alim_tokenizer_free(&tk);
            return cli_error(argv[i], "unknown token id (the vocabulary has %d ids)", V);
        }
        if (bl == 0) bl = strlen(b); /* GPT-2 files' <|endoftext|>: no bytes of text, shown by name */
        if (tl + bl + 1 > cap) {
            cap = (tl + bl + 1) * 2;
            char *ns = realloc(s, cap);
            if (!ns) break;
            s = ns;
        }
        memcpy(s + tl, b, bl);
        tl += bl;
    }
    alim_tokenizer_free(&tk);
    if (!s) return cli_error("tokenizer", "out of memory");
    s[tl] = '\0';
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "text", s);
        free(s);
        return cli_print_json(j);
    }
    fwrite(s, 1, tl, stdout);
    putchar('\n');
    free(s);
    return CLI_EXIT_OK;
}
