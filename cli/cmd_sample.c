/* cmd_sample.c — `alim sample`: generate text from a checkpoint. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/lm_eval.h"
#include "cli.h"


const char cmd_sample_help[] =
    "usage: alim sample --model DIR [--prompt TEXT] [--n K] [--tokens T] [options]\n"
    "\n"
    "Draws K continuations of a prompt from a checkpoint. The context starts with\n"
    "<|endoftext|> (a document boundary) followed by the prompt's tokens; each sample stops\n"
    "after T new tokens or at the end-of-text token. The text (prompt included) is printed,\n"
    "samples separated by a line '---'.\n"
    "\n"
    "options:\n"
    "  --model DIR          checkpoint (from 'alim train')\n"
    "  --prompt TEXT        beginning of the text (default: empty)\n"
    "  --n K                number of samples (default 1)\n"
    "  --tokens T           maximum new tokens per sample (default 100)\n"
    "  --temperature X      divide the logits by X; 0 = always the most likely token (default 1)\n"
    "  --top-k K            draw only among the K most likely tokens, 0 = all (default 0)\n"
    "  --seed N             random seed; sample i uses stream i (default 1)\n"
    "  --threads N          OpenMP and BLAS threads (default: all cores)\n"
    "  --json               one JSON object {\"samples\": [{\"text\", \"tokens\"}...]}\n"
    "\n"
    "example:\n"
    "  alim sample --model run1 --prompt 'Once upon a time' --n 3 --tokens 50 --top-k 40\n";

enum { O_MODEL = 256, O_PROMPT, O_N, O_TOKENS, O_TEMP, O_TOPK, O_SEED, O_THREADS, O_JSON };

int cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"prompt", required_argument, 0, O_PROMPT},
        {"n", required_argument, 0, O_N}, {"tokens", required_argument, 0, O_TOKENS},
        {"temperature", required_argument, 0, O_TEMP}, {"top-k", required_argument, 0, O_TOPK},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON}, {0, 0, 0, 0}};
    const char *model = NULL, *prompt = "";
    size_t n = 1, ntok = 100, topk = 0;
    double temp = 1.0;
    uint64_t seed = 1;
    int json = 0, rc = 0, c;
    opterr = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_PROMPT: prompt = optarg; break;
        case O_N: rc = cli_parse_size("--n", optarg, &n); if (!rc && (n < 1 || n > 100000)) rc = cli_error("--n", "must be in [1, 100000]"); break;
        case O_TOKENS: rc = cli_parse_size("--tokens", optarg, &ntok); if (!rc && ntok > 1u << 20) rc = cli_error("--tokens", "must be at most 2^20"); break;
        case O_TEMP: rc = cli_parse_double("--temperature", optarg, &temp); if (!rc && !(temp >= 0 && temp < 1e6)) rc = cli_error("--temperature", "must be >= 0"); break;
        case O_TOPK: rc = cli_parse_size("--top-k", optarg, &topk); if (!rc && topk > 1u << 24) rc = cli_error("--top-k", "too large"); break;
        case O_SEED: rc = cli_parse_u64("--seed", optarg, &seed); break;
        case O_THREADS: rc = cli_lm_set_threads(optarg); break;
        case O_JSON: json = 1; break;
        case ':': rc = cli_usage_error("sample", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("sample", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && optind < argc) rc = cli_usage_error("sample", "unexpected argument '%s'", argv[optind]);
    if (!rc && !model) rc = cli_usage_error("sample", "no model (--model DIR)");
    if (rc) return rc;

    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_error err;
    alim_error_clear(&err);
    int32_t *prompt_ids = NULL, *ids = NULL;
    size_t np = 0, pcap = 0;
    alim_status st = alim_checkpoint_load(model, &m, &tk, NULL, &err);
    if (!st && tk.eot < 0) st = alim_error_set(&err, ALIM_EINVAL, model, "the tokenizer has no <|endoftext|> token");
    if (!st) {
        prompt_ids = malloc(sizeof(int32_t));
        pcap = 1;
        if (!prompt_ids) st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
        else prompt_ids[np++] = tk.eot;
    }
    if (!st) st = alim_tokenizer_encode(&tk, prompt, strlen(prompt), &prompt_ids, &np, &pcap, "--prompt", &err);
    if (!st) {
        ids = malloc((np + ntok) * sizeof(int32_t));
        if (!ids) st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
    }
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    cJSON *arr = json ? cJSON_AddArrayToObject(j, "samples") : NULL;
    alim_sample_options so = {(int)ntok, temp, (int)topk, 1, tk.eot, tk.vocab_size};
    for (size_t i = 0; i < n && !st; i++) {
        alim_rng rng;
        alim_rng_seed(&rng, seed, i);
        memcpy(ids, prompt_ids, np * sizeof(int32_t));
        size_t len;
        st = alim_lm_sample(&m, ids, np, &so, &rng, &len, &err);
        if (st) break;
        /* text from the prompt on (the leading <|endoftext|> and a final one are not shown) */
        size_t cap = 64, tl = 0;
        for (size_t k = 1; k < len; k++) {
            size_t bl;
            alim_tokenizer_decode(&tk, ids[k], &bl);
            cap += bl;
        }
        char *text = malloc(cap);
        if (!text) {
            st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
            break;
        }
        for (size_t k = 1; k < len; k++) {
            if (ids[k] == tk.eot) continue;
            size_t bl;
            const char *s = alim_tokenizer_decode(&tk, ids[k], &bl);
            if (s) memcpy(text + tl, s, bl), tl += bl;
        }
        text[tl] = '\0';
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "text", text);
            cJSON_AddNumberToObject(o, "tokens", (double)(len - np));
            cJSON_AddItemToArray(arr, o);
        } else {
            if (i) puts("---");
            fwrite(text, 1, tl, stdout);
            putchar('\n');
        }
        free(text);
    }
    free(prompt_ids);
    free(ids);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    if (st) {
        cJSON_Delete(j);
        return cli_fail(&err);
    }
    if (json) return cli_print_json(j);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
