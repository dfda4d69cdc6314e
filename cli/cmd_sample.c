/* cmd_sample.c — `alim sample`: generate text from a checkpoint. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/chat.h"
#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "cli.h"


const char cmd_sample_help[] =
    "usage: alim sample --model DIR [--prompt TEXT] [--n K] [--tokens T] [options]\n"
    "\n"
    "Draws K continuations of a prompt from a checkpoint. The context starts with\n"
    "<|endoftext|> (a document boundary) followed by the prompt's tokens; each sample stops\n"
    "after T new tokens or at the end-of-text token. The text (prompt included) is printed,\n"
    "samples separated by a line '---'.\n"
    "With --chat the prompt is a user message: the conversation is rendered with the model's\n"
    "chat template (ChatML or Llama 3, from tokenizer_config.json, chat_template.jinja or the\n"
    "GGUF metadata; see --template) followed by the assistant's turn header, generation\n"
    "stops at the template's end-of-turn token or at end-of-text, and only the reply is\n"
    "printed.\n"
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
    CLI_PRECISION_HELP
    "  --chat               the prompt is a user message of a chat (see above)\n"
    "  --system TEXT        with --chat: a system message (default: the template's own, if any)\n"
    "  --template T         with --chat: auto (the model's template), chatml, llama3, or none\n"
    "                       (the prompt as plain text after <|endoftext|>) (default auto)\n"
    "  --dump-prompt        with --chat: print the rendered prompt as JSON {\"template\",\n"
    "                       \"text\", \"ids\", \"stop_ids\"} and sample nothing\n"
    "  --json               one JSON object {\"samples\": [{\"text\", \"tokens\"}...]}\n"
    "  --prompts FILE       with --chat: one reply to each non-empty line of FILE (a user\n"
    "                       message), written as JSONL chat records {\"prompt\", \"response\"}\n"
    "                       (the data format of 'alim train' and 'alim data behaviours --extra-\n"
    "                       class'); prompts of equal token length are sampled together, reply i\n"
    "                       from stream i of --seed; --top-k is not available here\n"
    "  --out FILE           with --prompts: write the records to FILE (atomically) instead of\n"
    "                       stdout\n"
    "\n"
    "example:\n"
    "  alim sample --model run1 --prompt 'Once upon a time' --n 3 --tokens 50 --top-k 40\n"
    "  alim sample --model SmolLM2-135M-Instruct.Q4_1.gguf --chat --prompt 'What is 2+2?' \\\n"
    "              --temperature 0\n"
    "  alim sample --model SmolLM2-135M-Instruct.Q4_1.gguf --chat --prompts beh/prompts.txt \\\n"
    "              --tokens 64 --out replies.jsonl\n";

enum { O_MODEL = 256, O_PROMPT, O_N, O_TOKENS, O_TEMP, O_TOPK, O_SEED, O_THREADS, O_JSON, O_CHAT, O_SYSTEM, O_TEMPLATE, O_DUMP, O_PRECISION, O_PROMPTS, O_OUT };

/* The chat prompt's ids: the rendered conversation (template none: <|endoftext|> and the
 * prompt, as without --chat), and the ids that end the reply. */
static alim_status chat_prompt(const char *model, const alim_tokenizer *tk, alim_chat_kind want, const char *system,
                               const char *prompt, alim_chat_template *tpl, alim_chat_text *ct, int32_t **ids,
                               size_t *n, size_t *cap, int32_t stops[2], int *n_stops, alim_error *err)
{
    alim_status st = alim_chat_template_resolve(tpl, model, want, tk, err);
    if (!st && want == ALIM_CHAT_AUTO && tpl->kind == ALIM_CHAT_NONE)
        st = alim_error_set(err, ALIM_EINVAL, model, "has no chat template (give --template chatml or llama3, or none for a plain prompt)");
    if (!st) st = alim_chat_render(tpl, system, prompt, NULL, ct, err);
    if (st) return st;
    if (tpl->kind == ALIM_CHAT_NONE) {
        *ids = malloc(sizeof(int32_t));
        if (!*ids) return alim_error_set(err, ALIM_ENOMEM, "sample", "out of memory");
        (*ids)[0] = tk->eot;
        *n = *cap = 1;
    }
    st = alim_tokenizer_encode(tk, ct->text, ct->len, ids, n, cap, "--prompt", err);
    if (!st && *n == 0) st = alim_error_set(err, ALIM_EINVAL, "--prompt", "the rendered prompt has no tokens");
    *n_stops = 0;
    const int eot_turn = alim_chat_end_of_turn_id(tpl, tk);
    if (eot_turn >= 0) stops[(*n_stops)++] = eot_turn;
    if (tk->eos_id >= 0 && tk->eos_id != eot_turn) stops[(*n_stops)++] = tk->eos_id;
    return st;
}

/* --prompts FILE: a reply to every line, batched (alim_chat_sample_replies), as JSONL. */
static int sample_prompts(const char *model, alim_chat_kind want, const char *system, const char *file, const char *out,
                          size_t ntok, double temp, uint64_t seed, alim_precision prec)
{
    alim_error err;
    alim_error_clear(&err);
    char *buf = NULL, *o = NULL;
    size_t len = 0, n = 0, olen = 0, ocap = 0;
    const char **lines = NULL;
    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_chat_template tpl = {0};
    alim_chat_replies r = {0};
    alim_status st = alim_file_read_all(file, &buf, &len, &err);
    if (!st && memchr(buf, 0, len)) st = alim_error_set(&err, ALIM_EFORMAT, file, "holds a NUL byte (not a text file)");
    if (!st) { /* the non-empty lines, cut in place */
        lines = malloc((len / 2 + 2) * sizeof *lines);
        if (!lines) st = alim_error_set(&err, ALIM_ENOMEM, file, "out of memory");
        for (char *q = buf; !st && q < buf + len;) {
            char *e = memchr(q, '\n', (size_t)(buf + len - q));
            if (!e) e = buf + len;
            *e = 0;
            if (e > q && e[-1] == '\r') e[-1] = 0;
            if (*q) lines[n++] = q;
            q = e + 1;
        }
        if (!st && n == 0) st = alim_error_set(&err, ALIM_EFORMAT, file, "has no prompt (no non-empty line)");
    }
    if (!st) st = alim_checkpoint_load(model, &m, &tk, NULL, &err);
    if (!st) st = alim_gpt_set_precision(&m, prec, &err);
    if (!st) st = alim_chat_template_resolve(&tpl, model, want, &tk, &err);
    if (!st && tpl.kind == ALIM_CHAT_NONE) st = alim_error_set(&err, ALIM_EINVAL, model, "has no chat template (give --template chatml or llama3)");
    const alim_progress pr = cli_progress();
    if (!st) st = alim_chat_sample_replies(&m, &tk, &tpl, system, lines, n, ntok, temp, seed, 0, &pr, &r, &err);
    cli_progress_done();
    for (size_t i = 0; !st && i < n; i++) {
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "prompt", lines[i]);
        /* a reply cut at --tokens can end inside a character: the record stays valid UTF-8 */
        char *v = alim_utf8_valid_copy(r.text[i], r.bytes[i], NULL);
        cJSON_AddStringToObject(rec, "response", v ? v : "");
        free(v);
        char *line = alim_json_print(rec, 0);
        cJSON_Delete(rec);
        const size_t k = line ? strlen(line) : 0;
        if (line && olen + k + 1 > ocap) {
            size_t c2 = ocap ? 2 * ocap : 65536;
            while (c2 < olen + k + 1) c2 *= 2;
            char *g = realloc(o, c2);
            if (g) o = g, ocap = c2;
            else free(line), line = NULL;
        }
        if (!line) {
            st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
            break;
        }
        memcpy(o + olen, line, k);
        olen += k;
        o[olen++] = '\n';
        free(line);
    }
    if (!st && out) st = alim_file_write_atomic(out, o, olen, &err);
    else if (!st && olen && fwrite(o, 1, olen, stdout) != olen) st = alim_error_set(&err, ALIM_EIO, "stdout", "write error");
    if (!st)
        fprintf(stderr, "sample: %zu replies, %zu tokens in %.1f s (%.0f tokens/s)\n", n, r.generated, r.seconds,
                r.seconds > 0 ? (double)r.generated / r.seconds : 0.0);
    alim_chat_replies_free(&r);
    alim_chat_template_free(&tpl);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    free(lines), free(buf), free(o);
    if (st) return cli_fail(&err);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

int cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"prompt", required_argument, 0, O_PROMPT},
        {"n", required_argument, 0, O_N}, {"tokens", required_argument, 0, O_TOKENS},
        {"temperature", required_argument, 0, O_TEMP}, {"top-k", required_argument, 0, O_TOPK},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON}, {"chat", no_argument, 0, O_CHAT},
        {"system", required_argument, 0, O_SYSTEM}, {"template", required_argument, 0, O_TEMPLATE},
        {"dump-prompt", no_argument, 0, O_DUMP}, {"precision", required_argument, 0, O_PRECISION},
        {"prompts", required_argument, 0, O_PROMPTS}, {"out", required_argument, 0, O_OUT}, {0, 0, 0, 0}};
    const char *model = NULL, *prompt = "", *system = NULL, *tpl_opt = NULL, *prompts_file = NULL, *out_file = NULL;
    int n_given = 0, topk_given = 0, prompt_given = 0;
    int chat = 0, dump = 0;
    alim_chat_kind want = ALIM_CHAT_AUTO;
    size_t n = 1, ntok = 100, topk = 0;
    double temp = 1.0;
    uint64_t seed = 1;
    int json = 0, rc = 0, c, prec_given = 0;
    alim_precision prec = ALIM_PRECISION_AUTO;
    opterr = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_PROMPT: prompt = optarg; prompt_given = 1; break;
        case O_PROMPTS: prompts_file = optarg; break;
        case O_OUT: out_file = optarg; break;
        case O_N: n_given = 1; rc = cli_parse_size("--n", optarg, &n); if (!rc && (n < 1 || n > 100000)) rc = cli_error("--n", "must be in [1, 100000]"); break;
        case O_TOKENS: rc = cli_parse_size("--tokens", optarg, &ntok); if (!rc && ntok > 1u << 20) rc = cli_error("--tokens", "must be at most 2^20"); break;
        case O_TEMP: rc = cli_parse_double("--temperature", optarg, &temp); if (!rc && !(temp >= 0 && temp < 1e6)) rc = cli_error("--temperature", "must be >= 0"); break;
        case O_TOPK: topk_given = 1; rc = cli_parse_size("--top-k", optarg, &topk); if (!rc && topk > 1u << 24) rc = cli_error("--top-k", "too large"); break;
        case O_SEED: rc = cli_parse_u64("--seed", optarg, &seed); break;
        case O_THREADS: rc = cli_lm_set_threads(optarg); break;
        case O_JSON: json = 1; break;
        case O_CHAT: chat = 1; break;
        case O_SYSTEM: system = optarg; break;
        case O_TEMPLATE: {
            int k = alim_chat_kind_parse(optarg);
            tpl_opt = "--template";
            if (k < 0) rc = cli_error("--template", "'%s' is not auto, chatml, llama3 or none", optarg);
            else want = (alim_chat_kind)k;
            break;
        }
        case O_DUMP: dump = 1; break;
        case O_PRECISION: rc = cli_parse_precision(optarg, &prec); prec_given = 1; break;
        case ':': rc = cli_usage_error("sample", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("sample", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && !prec_given) rc = cli_parse_precision(NULL, &prec);
    if (!rc && optind < argc) rc = cli_usage_error("sample", "unexpected argument '%s'", argv[optind]);
    if (!rc && !model) rc = cli_usage_error("sample", "no model (--model DIR)");
    if (!rc && !chat && (system || tpl_opt || dump))
        rc = cli_usage_error("sample", "%s needs --chat", system ? "--system" : tpl_opt ? "--template" : "--dump-prompt");
    if (!rc && out_file && !prompts_file) rc = cli_usage_error("sample", "--out goes with --prompts");
    if (!rc && prompts_file && !chat) rc = cli_usage_error("sample", "--prompts needs --chat (the lines are user messages)");
    if (!rc && prompts_file && (prompt_given || n_given || topk_given || json || dump))
        rc = cli_usage_error("sample", "--prompts replaces %s", prompt_given ? "--prompt" : n_given ? "--n (one reply per line)" : topk_given ? "--top-k (whole vocabulary only)" : json ? "--json (the output is JSONL)" : "--dump-prompt");
    if (rc) return rc;
    if (prompts_file) return sample_prompts(model, want, system, prompts_file, out_file, ntok, temp, seed, prec);

    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_error err;
    alim_error_clear(&err);
    int32_t *prompt_ids = NULL, *ids = NULL, stops[2];
    int n_stops = 0;
    size_t np = 0, pcap = 0;
    alim_chat_template tpl = {0};
    alim_chat_text ct = {0};
    alim_status st = alim_checkpoint_load(model, &m, &tk, NULL, &err);
    if (!st && tk.eot < 0) st = alim_error_set(&err, ALIM_EINVAL, model, "the tokenizer has no <|endoftext|> token");
    if (!st) st = alim_gpt_set_precision(&m, prec, &err);
    if (!st && chat) {
        st = chat_prompt(model, &tk, want, system, prompt, &tpl, &ct, &prompt_ids, &np, &pcap, stops, &n_stops, &err);
        if (!st && dump) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "template", alim_chat_kind_name(tpl.kind));
            cJSON_AddStringToObject(d, "text", ct.text);
            cJSON *a = cJSON_AddArrayToObject(d, "ids"), *sa = cJSON_AddArrayToObject(d, "stop_ids");
            for (size_t k = 0; k < np; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(prompt_ids[k]));
            for (int k = 0; k < n_stops; k++) cJSON_AddItemToArray(sa, cJSON_CreateNumber(stops[k]));
            free(prompt_ids);
            alim_chat_text_free(&ct);
            alim_chat_template_free(&tpl);
            alim_tokenizer_free(&tk);
            alim_gpt_free(&m);
            return cli_print_json(d);
        }
    } else if (!st) {
        prompt_ids = malloc(sizeof(int32_t));
        pcap = 1;
        if (!prompt_ids) st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
        else prompt_ids[np++] = tk.eot;
    }
    if (!st && !chat) st = alim_tokenizer_encode(&tk, prompt, strlen(prompt), &prompt_ids, &np, &pcap, "--prompt", &err);
    if (!st) {
        ids = malloc((np + ntok) * sizeof(int32_t));
        if (!ids) st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
    }
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    cJSON *arr = json ? cJSON_AddArrayToObject(j, "samples") : NULL;
    alim_sample_options so = {(int)ntok, temp, (int)topk, 1, tk.eot, tk.vocab_size};
    const char *end_turn = chat ? alim_chat_end_of_turn_text(&tpl) : NULL;
    for (size_t i = 0; i < n && !st; i++) {
        alim_rng rng;
        alim_rng_seed(&rng, seed, i);
        memcpy(ids, prompt_ids, np * sizeof(int32_t));
        size_t len;
        st = alim_lm_sample_until(&m, ids, np, &so, stops, n_stops, &rng, &len, &err);
        if (st) break;
        /* text from the prompt on (the leading <|endoftext|> and a final one are not shown);
         * with --chat the reply alone, without the token that ended it */
        const size_t first = chat ? np : 1;
        size_t cap = 64, tl = 0;
        for (size_t k = first; k < len; k++) {
            size_t bl;
            alim_tokenizer_decode(&tk, ids[k], &bl);
            cap += bl;
        }
        char *text = malloc(cap);
        if (!text) {
            st = alim_error_set(&err, ALIM_ENOMEM, "sample", "out of memory");
            break;
        }
        for (size_t k = first; k < len; k++) {
            int stop = ids[k] == tk.eot;
            for (int q = 0; q < n_stops; q++) stop |= ids[k] == stops[q];
            if (stop) continue;
            size_t bl;
            const char *s = alim_tokenizer_decode(&tk, ids[k], &bl);
            if (s) memcpy(text + tl, s, bl), tl += bl;
        }
        text[tl] = '\0';
        /* a tokenizer without the end-of-turn token writes it as text: the reply ends there */
        char *cut = end_turn ? strstr(text, end_turn) : NULL;
        if (cut) *cut = '\0', tl = (size_t)(cut - text);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            char *v = alim_utf8_valid_copy(text, tl, NULL); /* --json: valid UTF-8 (a sample can end inside a character) */
            cJSON_AddStringToObject(o, "text", v ? v : "");
            free(v);
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
    alim_chat_text_free(&ct);
    alim_chat_template_free(&tpl);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    if (st) {
        cJSON_Delete(j);
        return cli_fail(&err);
    }
    if (json) return cli_print_json(j);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
