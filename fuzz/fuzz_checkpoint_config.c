/* fuzz_checkpoint_config.c — a checkpoint's config.json (GPT2Config keys):
 * alim_checkpoint_read_config. */
#include "fuzz.h"

#include "alim/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("ckpt/config.json", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_gpt_config cfg;
    alim_status st = alim_checkpoint_read_config(fuzz_path("ckpt"), &cfg, &err);
    fuzz_check_error(st, &err);
    return 0;
}
