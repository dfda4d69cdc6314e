/* fuzz_dist_csv.c — reward distributions "probability,reward" from CSV (alim tilt, bon, seq,
 * budget, rate, frontier): alim_rdist_read_csv, strict and normalised. */
#include "fuzz.h"

#include "alim/rdist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("dist.csv", data, size);
    for (int normalize = 0; normalize < 2; normalize++) {
        alim_error err;
        alim_error_clear(&err);
        alim_rdist d;
        alim_status st = alim_rdist_read_csv(&d, path, 0, normalize, &err);
        fuzz_check_error(st, &err);
        if (!st) alim_rdist_free(&d);
    }
    return 0;
}
