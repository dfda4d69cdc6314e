/* test_lm_chat.c — chat templates: recognition of the known templates (and refusal of the
 * others), rendering against the texts transformers' apply_chat_template gives for them
 * (written out by hand from the templates), template files of a model directory, and the
 * masks of templated JSONL data. The PyPI oracle (tests/pypi/test_chat_template.py)
 * compares token ids with Hugging Face tokenizers. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alim/chat.h"
#include "alim/dataset.h"
#include "alim/tokenizer.h"
#include "check.h"

/* SmolLM2-135M-Instruct's template as its GGUF file holds it (real newlines in the strings). */
static const char SMOLLM2[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\n' }}{% endif %}";

/* A plain ChatML template written with escapes (as tokenizer_config.json's JSON decodes to). */
static const char CHATML_PLAIN[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* Qwen2.5-Instruct's (tools branch shortened), multi-line with whitespace control. */
static const char QWEN25[] =
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\n<tools>{\\\"name\\\": 1}</tools><|im_end|>\\n\" }}\n"
    "{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n"
    "        {{- '\\n<tool_call>\\n{\"name\": \"' }}\n        {{- '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";

/* Meta-Llama-3-8B-Instruct's. */
static const char LLAMA3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/* The Llama 3.1 form (tool branches shortened). */
static const char LLAMA31[] =
    "{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n"
    "{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n"
    "{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n"
    "{#- This block extracts the system message, so we can slot it into the right place. #}\n"
    "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n\n"
    "{#- System message + builtin tools #}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{%- if builtin_tools is defined or tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{{- system_message }}\n{{- \"<|eot_id|>\" }}\n\n{%- for message in messages %}\n"
    "    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}\n"
    "        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n"
    "    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n";

static void render_is(const alim_chat_template *t, const char *sys, const char *user, const char *resp,
                      const char *want, size_t want_start, const char *name)
{
    alim_chat_text ct;
    alim_error err;
    alim_status st = alim_chat_render(t, sys, user, resp, &ct, &err);
    CHECK(st == ALIM_OK, "%s: %s", name, err.what);
    if (st) return;
    CHECK(ct.len == strlen(want) && !strcmp(ct.text, want), "%s:\n got [%s]\nwant [%s]", name, ct.text, want);
    CHECK(ct.response_start == want_start, "%s: response_start %zu, want %zu", name, ct.response_start, want_start);
    alim_chat_text_free(&ct);
}

static void detect_ok(const char *text, alim_chat_kind kind, const char *name, alim_chat_template *t)
{
    alim_error err;
    alim_status st = alim_chat_template_detect(t, text, strlen(text), name, &err);
    CHECK(st == ALIM_OK && t->kind == kind, "%s: status %d kind %d: %s", name, st, t->kind, err.what);
}

static void detect_refused(const char *text, const char *why, const char *name)
{
    alim_chat_template t;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_chat_template_detect(&t, text, strlen(text), "tpl", &err);
    CHECK(st == ALIM_EINVAL && t.kind == ALIM_CHAT_UNRECOGNISED, "%s: status %d kind %d", name, st, t.kind);
    CHECK(strstr(err.what, why) != NULL && !strchr(err.what, '\n') && !strcmp(err.where, "tpl"), "%s: %s", name, err.what);
    /* rendering reports the same error */
    alim_chat_text ct;
    alim_error e2;
    CHECK(alim_chat_render(&t, NULL, "u", "r", &ct, &e2) == ALIM_EINVAL && !strcmp(e2.what, err.what), "%s: render", name);
    alim_chat_template_free(&t);
}

static void test_templates(void)
{
    alim_chat_template t;
    static const char SM_SYS[] = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n";
    detect_ok(SMOLLM2, ALIM_CHAT_CHATML, "smollm2", &t);
    CHECK(t.default_system && !strcmp(t.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face"), "default system");
    {
        char want[512];
        snprintf(want, sizeof want, "%s<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", SM_SYS);
        render_is(&t, NULL, "Hi", NULL, want, strlen(want), "smollm2 generation prompt");
        size_t start = strlen(want);
        snprintf(want + start, sizeof want - start, " Hello!<|im_end|>\n");
        render_is(&t, NULL, "Hi", " Hello!", want, start, "smollm2 pair");
        render_is(&t, "Be brief.", "Hi", "Yo",
                  "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n",
                  strlen("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), "smollm2 system");
        render_is(&t, "", "Hi", NULL, "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                  strlen("<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), "empty system is a system");
    }
    CHECK(!strcmp(alim_chat_end_of_turn_text(&t), "<|im_end|>"), "end of turn");
    alim_chat_template_free(&t);

    detect_ok(CHATML_PLAIN, ALIM_CHAT_CHATML, "chatml plain", &t);
    CHECK(t.default_system == NULL, "plain ChatML has no default system");
    render_is(&t, NULL, "  a \n", "b", "<|im_start|>user\n  a \n<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n",
              strlen("<|im_start|>user\n  a \n<|im_end|>\n<|im_start|>assistant\n"), "chatml contents are not trimmed");
    alim_chat_template_free(&t);

    detect_ok(QWEN25, ALIM_CHAT_CHATML, "qwen2.5", &t);
    CHECK(t.default_system && !strcmp(t.default_system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
          "qwen2.5 default system: %s", t.default_system ? t.default_system : "(none)");
    alim_chat_template_free(&t);

    detect_ok(LLAMA3, ALIM_CHAT_LLAMA3, "llama3", &t);
    CHECK(t.knowledge == NULL, "llama 3.0 form");
    t.bos = strdup("<|begin_of_text|>");
    render_is(&t, NULL, " Hi \n", NULL,
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
              strlen("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
              "llama3 trims");
    /* Python's strip() also takes U+00A0, U+3000 and \x1c; not U+200B */
    static const char L3_SYS[] = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                                 "<|start_header_id|>user<|end_header_id|>\n\nx\xe2\x80\x8b<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    char want[512];
    snprintf(want, sizeof want, "%sy<|eot_id|>", L3_SYS);
    render_is(&t, "\xc2\xa0S\x1c", "x\xe2\x80\x8b\xe3\x80\x80", "\ny\t", want, strlen(L3_SYS), "llama3 system, unicode trim");
    CHECK(!strcmp(alim_chat_end_of_turn_text(&t), "<|eot_id|>"), "llama3 end of turn");
    alim_chat_template_free(&t);

    detect_ok(LLAMA31, ALIM_CHAT_LLAMA3, "llama3.1", &t);
    CHECK(t.knowledge && !strcmp(t.knowledge, "Cutting Knowledge Date: December 2023\n") && t.date && !strcmp(t.date, "26 Jul 2024"), "llama3.1 block");
    t.bos = strdup("<|begin_of_text|>");
    static const char L31[] = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                              "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
                              "<|start_header_id|>assistant<|end_header_id|>\n\n";
    snprintf(want, sizeof want, "%sA<|eot_id|>", L31);
    render_is(&t, NULL, "Q", "A ", want, strlen(L31), "llama3.1 without system");
    alim_chat_template_free(&t);

    /* refused, each with its reason */
    detect_refused("{%- for m in messages %}{{- '[INST] ' + m['content'] + ' [/INST]' }}{%- endfor %}", "no ChatML or Llama 3 markers", "mistral-like");
    detect_refused("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}",
                   "writes text outside its tags", "chatml as raw text");
    detect_refused("{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
                   "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}",
                   "reasoning blocks", "qwen3-like");
    detect_refused("{{ '<|im_start|>' + message['content'] | trim }}", "ChatML markers but not its per-message form", "other chatml");
    detect_refused("{{- bos_token }}{%- set date_string = strftime_now('%d %b %Y') %}{{- '<|start_header_id|>' + message['role'] + "
                   "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{% if add_generation_prompt %}"
                   "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
                   "strftime_now", "llama3.2-like");
    detect_refused("{{ 'a' ", "does not end", "unterminated");
    /* the error quotes 60 characters on one line */
    alim_chat_template u;
    alim_error err;
    const char *long_tpl = "line one\nline two {{ x }} and a great deal more text to go past sixty characters";
    alim_chat_template_detect(&u, long_tpl, strlen(long_tpl), "tpl", &err);
    CHECK(strstr(err.what, "\"line one\\nline two {{ x }} and a great deal more text to go p...\"") != NULL, "excerpt: %s", err.what);
    alim_chat_template_free(&u);

    /* whitespace rules: trim_blocks eats the newline after a block tag, lstrip_blocks the
     * indentation before one; a newline after {{ }} is output */
    detect_ok("{% if add_generation_prompt %}\n  {% endif %}\n{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
              "{{ '<|im_start|>assistant\\n' }}\n",
              ALIM_CHAT_CHATML, "trim_blocks/lstrip_blocks", &t);
    alim_chat_template_free(&t);
    detect_refused("{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}\n"
                   "{{ '<|im_start|>assistant\\n' }}{{ add_generation_prompt }}",
                   "writes text outside its tags", "newline after an expression");

    /* names */
    CHECK(alim_chat_kind_parse("chatml") == ALIM_CHAT_CHATML && alim_chat_kind_parse("llama3") == ALIM_CHAT_LLAMA3 &&
          alim_chat_kind_parse("none") == ALIM_CHAT_NONE && alim_chat_kind_parse("auto") == ALIM_CHAT_AUTO &&
          alim_chat_kind_parse("jinja") == -1, "parse");
    alim_chat_template none = {.kind = ALIM_CHAT_NONE};
    render_is(&none, NULL, "Q: ", "A", "Q: A", 3, "none");
    alim_chat_text ct;
    CHECK(alim_chat_render(&none, "sys", "Q", NULL, &ct, &err) == ALIM_EINVAL, "none refuses a system message");
}

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

static void test_files_and_data(void)
{
    snprintf(dir, sizeof dir, "/tmp/alim-test-chat-%d", (int)getpid());
    char cmd[256], path[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    CHECK(system(cmd) == 0, "mkdir");
    alim_chat_template t;
    alim_error err;
    alim_tokenizer tk;
    CHECK(alim_tokenizer_init_bytes(&tk, &err) == ALIM_OK, "byte tokenizer");

    /* no template: auto is none, an explicit family its plain form */
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_AUTO, &tk, &err) == ALIM_OK && t.kind == ALIM_CHAT_NONE, "no template");
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_CHATML, &tk, &err) == ALIM_OK && t.kind == ALIM_CHAT_CHATML && !t.default_system, "chatml asked");
    alim_chat_template_free(&t);
    CHECK(alim_chat_template_resolve(&t, NULL, ALIM_CHAT_LLAMA3, NULL, &err) == ALIM_OK && t.bos && !strcmp(t.bos, "<|begin_of_text|>"), "llama3 bos");
    alim_chat_template_free(&t);

    /* tokenizer_config.json: a string, then a list of named templates */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "chat_template", SMOLLM2);
    char *s = cJSON_Print(j);
    put("tokenizer_config.json", s);
    free(s);
    cJSON_Delete(j);
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_AUTO, &tk, &err) == ALIM_OK && t.kind == ALIM_CHAT_CHATML && t.default_system, "from tokenizer_config.json");
    alim_chat_template_free(&t);
    /* the family asked for is the model's: its variant is kept; another family: the plain form */
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_CHATML, &tk, &err) == ALIM_OK && t.default_system, "chatml keeps the default system");
    alim_chat_template_free(&t);
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_NONE, &tk, &err) == ALIM_OK && t.kind == ALIM_CHAT_NONE, "none");
    put("tokenizer_config.json", "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}, {\"name\": \"default\", \"template\": \"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\\\n\\\\n'+ message['content'] | trim + '<|eot_id|>' }}{{ bos_token }}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\\\n\\\\n' }}{% endif %}\"}]}");
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_AUTO, &tk, &err) == ALIM_OK && t.kind == ALIM_CHAT_LLAMA3, "named default: %s", err.what);
    alim_chat_template_free(&t);
    put("tokenizer_config.json", "{\"chat_template\": 7}");
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_AUTO, &tk, &err) == ALIM_EFORMAT && strstr(err.where, "tokenizer_config.json"), "not a string");
    /* chat_template.jinja wins over tokenizer_config.json; an unrecognised one fails on use */
    put("chat_template.jinja", "{% for m in messages %}[INST]{% endfor %}");
    CHECK(alim_chat_template_resolve(&t, dir, ALIM_CHAT_AUTO, &tk, &err) == ALIM_OK && t.kind == ALIM_CHAT_UNRECOGNISED, "unrecognised is lazy");
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    CHECK(!strcmp(t.unrecognised.where, path) && strstr(t.unrecognised.what, "[INST]"), "names the file: %s", t.unrecognised.where);

    /* data: text files need no template; a JSONL record does */
    put("a.txt", "plain text");
    put("d.jsonl", "{\"prompt\": \"Hi\", \"response\": \"Yo\"}\n{\"prompt\": \"2+2?\", \"response\": \"4\"}\n");
    const char *pt[1] = {0}, *pj[1] = {0};
    char pa[128], pd[128];
    snprintf(pa, sizeof pa, "%s/a.txt", dir);
    snprintf(pd, sizeof pd, "%s/d.jsonl", dir);
    pt[0] = pa;
    pj[0] = pd;
    alim_token_stream ds;
    CHECK(alim_dataset_load_chat(&ds, pt, 1, ALIM_DATA_AUTO, NULL, &tk, &t, &err) == ALIM_OK && ds.n == 12, "text data ignores the template");
    alim_dataset_free(&ds);
    CHECK(alim_dataset_load_chat(&ds, pj, 1, ALIM_DATA_AUTO, NULL, &tk, &t, &err) == ALIM_EINVAL && !strcmp(err.where, path), "JSONL needs it: %s", err.where);
    alim_chat_template_free(&t);

    /* masks: ChatML with the byte tokenizer; each conversation's prompt part (with the
     * generation prompt) is masked, the response, <|im_end|> and "\n" count, the separating
     * EOT does not */
    CHECK(alim_chat_template_resolve(&t, NULL, ALIM_CHAT_CHATML, &tk, &err) == ALIM_OK, "chatml");
    CHECK(alim_dataset_load_chat(&ds, pj, 1, ALIM_DATA_AUTO, NULL, &tk, &t, &err) == ALIM_OK, "%s", err.what);
    const char *conv[2][2] = {{"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "Yo<|im_end|>\n"},
                              {"<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", "4<|im_end|>\n"}};
    size_t n = 1 + strlen(conv[0][0]) + strlen(conv[0][1]) + 1 + strlen(conv[1][0]) + strlen(conv[1][1]) + 1;
    CHECK(ds.n == n && ds.n_docs == 2, "stream length %zu, want %zu", ds.n, n);
    if (ds.n == n) {
        size_t i = 0, bad = 0;
        CHECK(ds.tokens[i] == tk.eot && ds.mask[i] == 0, "leading EOT");
        i++;
        for (int d = 0; d < 2; d++) {
            for (const char *c = conv[d][0]; *c; c++, i++) bad += ds.tokens[i] != (unsigned char)*c || ds.mask[i] != 0;
            for (const char *c = conv[d][1]; *c; c++, i++) bad += ds.tokens[i] != (unsigned char)*c || ds.mask[i] != 1;
            bad += ds.tokens[i] != tk.eot || ds.mask[i] != 0;
            i++;
        }
        CHECK(bad == 0, "%zu tokens with a wrong id or mask", bad);
        CHECK(ds.n_counted == strlen(conv[0][1]) + strlen(conv[1][1]), "counted %zu", ds.n_counted);
    }
    alim_dataset_free(&ds);
    alim_chat_template_free(&t);
    /* none: today's stream (prompt masked, response and its EOT counted) */
    alim_chat_template nt = {.kind = ALIM_CHAT_NONE};
    alim_token_stream d0, d1;
    CHECK(alim_dataset_load_chat(&d0, pj, 1, ALIM_DATA_AUTO, NULL, &tk, &nt, &err) == ALIM_OK &&
          alim_dataset_load(&d1, pj, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_OK && d0.n == d1.n && d0.n_counted == d1.n_counted &&
          !memcmp(d0.tokens, d1.tokens, d0.n * sizeof(int32_t)) && !memcmp(d0.mask, d1.mask, d0.n),
          "none = no template");
    CHECK(d1.n_counted == 2 + 1 + 1 + 1, "old masks: %zu", d1.n_counted);
    alim_dataset_free(&d0);
    alim_dataset_free(&d1);
    alim_tokenizer_free(&tk);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(int argc, char **argv)
{
    (void)argc;
    test_templates();
    test_files_and_data();
    return check_summary(argv[0]);
}
