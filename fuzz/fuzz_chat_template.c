/* fuzz_chat_template.c — chat templates (alim/chat.h): alim_chat_template_detect on a
 * fuzzed Jinja template (the lexer with trim_blocks/lstrip_blocks, the family markers, the
 * default system message and Llama 3.1 date read from the template), then alim_chat_render
 * of a conversation with and without a system message and a response. The input is the
 * template, optionally followed by "%%USER%%" and a user message (NUL bytes cut it), and
 * a rendering's response_start must lie within its text. */
#include "fuzz.h"

#include "alim/chat.h"

static void render(const alim_chat_template *t, const char *system, const char *user, const char *response)
{
    alim_chat_text out;
    memset(&out, 0, sizeof out);
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_chat_render(t, system, user, response, &out, &err);
    fuzz_check_error(st, &err);
    if (!st) {
        if (!out.text || out.response_start > out.len || strlen(out.text) != out.len) abort();
        if (!response && out.response_start != out.len) abort();
        alim_chat_text_free(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t tl, ul;
    const uint8_t *user;
    fuzz_split(data, size, "%%USER%%", &tl, &user, &ul);
    char *u = malloc(ul + 1);
    if (!u) return 0;
    memcpy(u, user, ul);
    u[ul] = '\0';
    const char *um = ul ? u : "What is 2+2?";

    alim_chat_template t;
    memset(&t, 0, sizeof t);
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_chat_template_detect(&t, (const char *)data, tl, "fuzz: chat_template", &err);
    fuzz_check_error(st, &err);
    if (t.kind == ALIM_CHAT_UNRECOGNISED && t.unrecognised.what[0] == '\0') abort();
    /* rendering works (or reports the stored error) whatever detect returned */
    render(&t, NULL, um, "4");
    render(&t, NULL, um, NULL);
    render(&t, "  You are terse.\n", um, " four ");
    (void)alim_chat_end_of_turn_text(&t);
    alim_chat_template_free(&t);
    free(u);
    return 0;
}
