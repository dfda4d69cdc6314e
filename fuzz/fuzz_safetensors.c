/* fuzz_safetensors.c — safetensors files (model.safetensors, optimizer.safetensors):
 * alim_safetensors_read, then every tensor found copied out as F32 when its shape allows. */
#include "fuzz.h"

#include "alim/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("model.safetensors", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_safetensors sf;
    alim_status st = alim_safetensors_read(path, &sf, &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    /* a 1-D view of small tensors: exercises the copy path and its dtype/shape checks */
    static const char *const names[] = {"wte.weight", "adamw.m", "adamw.v", "x", "a", NULL};
    for (const char *const *n = names; *n; n++) {
        if (!alim_safetensors_find(&sf, *n)) continue;
        for (int64_t len = 1; len <= 64; len *= 4) {
            float buf[64];
            int64_t shape[1] = {len};
            alim_error_clear(&err);
            st = alim_safetensors_copy_f32(&sf, *n, 1, shape, buf, &err);
            fuzz_check_error(st, &err);
        }
    }
    alim_safetensors_free(&sf);
    return 0;
}
