/* alim/chat.h — chat templates: recognising a model's template and rendering a conversation.
 *
 * Instruction-tuned models expect their conversations in the exact text their chat template
 * (a Jinja program shipped with the model) produces. alim does not interpret Jinja: it
 * recognises the templates of the families in use by their markers and renders them in C.
 *
 *   ChatML  (SmolLM2, Qwen2, Qwen2.5)   <|im_start|>system\nS<|im_end|>\n
 *                                       <|im_start|>user\nP<|im_end|>\n
 *                                       <|im_start|>assistant\nR<|im_end|>\n
 *           A template that inserts a default system message when the conversation has none
 *           (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
 *           Qwen2.5: "You are Qwen, created by Alibaba Cloud. ...") keeps doing so: the text is
 *           read from the template.
 *   Llama 3                             BOS<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>
 *                                       <|start_header_id|>user<|end_header_id|>\n\nP<|eot_id|>
 *                                       <|start_header_id|>assistant<|end_header_id|>\n\nR<|eot_id|>
 *           Contents are trimmed (Jinja's trim = Python's str.strip()). The Llama 3.1 form
 *           (always a system block starting "Cutting Knowledge Date: ...\nToday Date: D\n\n",
 *           D the template's fixed date_string) is recognised too; a template that takes the
 *           date from the clock (strftime_now, Llama 3.2) is refused, as its rendering would
 *           change from day to day.
 *
 * Recognition: the template text is lexed as Jinja (with Hugging Face's trim_blocks and
 * lstrip_blocks), and must (1) write no raw text outside its tags, (2) contain the family's
 * per-message expression, generation prompt and markers, (3) not use features alim does not
 * render (reasoning blocks: <think>, reasoning_content, enable_thinking). Anything else is
 * "not recognised", an error that quotes the template's first 60 characters.
 *
 * Rendering a prompt/response pair gives the text and the byte offset where the response
 * starts; the text before that offset is exactly the rendering of the prompt alone with the
 * generation prompt (add_generation_prompt), which is what a supervised fine-tuning data
 * path (TRL's prompt-completion rule) masks.
 */
#ifndef ALIM_CHAT_H
#define ALIM_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"
#include "alim/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ALIM_CHAT_AUTO = 0,       /* a request only: the model's own template, none if it has none */
    ALIM_CHAT_NONE,           /* no template: prompt and response as plain text                */
    ALIM_CHAT_CHATML,
    ALIM_CHAT_LLAMA3,
    ALIM_CHAT_UNRECOGNISED    /* the model has a template alim cannot render (error on use)    */
} alim_chat_kind;

/* Parses "auto", "none", "chatml" or "llama3"; -1 for anything else. */
int alim_chat_kind_parse(const char *s);
/* "auto", "none", "chatml", "llama3", "unrecognised". */
const char *alim_chat_kind_name(alim_chat_kind k);

typedef struct {
    alim_chat_kind kind;       /* NONE, CHATML, LLAMA3 or UNRECOGNISED                         */
    char *default_system;      /* ChatML: system message inserted when none is given; NULL = none */
    char *knowledge;           /* Llama 3.1: the system block's first line ("Cutting Knowledge
                                  Date: December 2023\n"); NULL = the Llama 3.0 form              */
    char *date;                /* Llama 3.1: the template's date_string                        */
    char *bos;                 /* Llama 3: text of the BOS token the rendering starts with      */
    alim_error unrecognised;   /* UNRECOGNISED: the error rendering reports                     */
} alim_chat_template;

void alim_chat_template_free(alim_chat_template *t);

/* Recognises template text[0..len). where names its source in errors (e.g.
 * "model.gguf: tokenizer.chat_template"). Not recognised: ALIM_EINVAL, *t of kind
 * UNRECOGNISED holding that same error. */
alim_status alim_chat_template_detect(alim_chat_template *t, const char *text, size_t len,
                                      const char *where, alim_error *err);

/* Reads the chat template text that comes with a model: for a GGUF file (alim/checkpoint.h's
 * alim_checkpoint_is_gguf) its tokenizer.chat_template key; for a directory
 * dir/chat_template.jinja, else dir/tokenizer_config.json's "chat_template" (a string, or a
 * list of {"name", "template"} of which "default" is taken). *text is malloc'ed and
 * NUL-ended, or NULL when the model has no template; where (where_size bytes) gets the
 * source. Errors: unreadable or malformed files, a chat_template of another JSON type. */
alim_status alim_chat_template_read(const char *model, char **text, size_t *len, char *where,
                                    size_t where_size, alim_error *err);

/* The template to use for `want`:
 *   AUTO    the model's own (alim_chat_template_read + detect); NONE if it has none; a template
 *           that is not recognised gives kind UNRECOGNISED and ALIM_OK, so that the error
 *           comes only when something is rendered (text data never needs a template)
 *   NONE    NONE
 *   CHATML, LLAMA3   that family; the model's variant (default system, Llama 3.1 block) when
 *           its own template is of the same family, else the plain form
 * model may be NULL (no model files: AUTO is NONE). tk (may be NULL) gives the BOS text of
 * Llama 3 ("<|begin_of_text|>" without it). */
/* Writes the model's template text (as alim_chat_template_read finds it) to
 * dir/chat_template.jinja, atomically, so that a checkpoint made from the model keeps it.
 * Nothing when the model has no template or model is dir itself. */
alim_status alim_chat_template_copy(const char *model, const char *dir, alim_error *err);

alim_status alim_chat_template_resolve(alim_chat_template *t, const char *model,
                                       alim_chat_kind want, const alim_tokenizer *tk,
                                       alim_error *err);

typedef struct {
    char *text;              /* malloc'ed, NUL-ended */
    size_t len;
    size_t response_start;   /* text[0..response_start) = the prompt with the generation prompt */
} alim_chat_text;

void alim_chat_text_free(alim_chat_text *c);

/* Renders the conversation [system (NULL = none), user, assistant response] with the
 * template. response NULL: the prompt and the generation prompt only (for sampling);
 * response_start = len then. Kind NONE: user followed by response, no system allowed.
 * Errors: an UNRECOGNISED template (its stored error), a system message with NONE
 * (ALIM_EINVAL), out of memory. */
alim_status alim_chat_render(const alim_chat_template *t, const char *system, const char *user,
                             const char *response, alim_chat_text *out, alim_error *err);

/* The marker closing a turn: "<|im_end|>" (ChatML), "<|eot_id|>" (Llama 3); NULL otherwise. */
const char *alim_chat_end_of_turn_text(const alim_chat_template *t);
/* Its id when the tokenizer encodes it as one token (an added token), else -1. */
int alim_chat_end_of_turn_id(const alim_chat_template *t, const alim_tokenizer *tk);

#ifdef __cplusplus
}
#endif
#endif
