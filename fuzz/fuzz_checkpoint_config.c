/* fuzz_checkpoint_config.c — a checkpoint's config.json: alim_checkpoint_read_config on a
 * directory holding the fuzzed file (GPT2Config keys, and the Hugging Face Llama family's:
 * llama, mistral, qwen2, incl. rope_scaling objects), then alim_gpt_config_check on what
 * was read, which every model creation runs before sizing anything from it. */
#include "fuzz.h"

#include "alim/checkpoint.h"
#include "alim/gpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("ckpt/config.json", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_gpt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    alim_status st = alim_checkpoint_read_config(fuzz_path("ckpt"), &cfg, &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    alim_error_clear(&err);
    st = alim_gpt_config_check(&cfg, &err);
    fuzz_check_error(st, &err);
    return 0;
}
