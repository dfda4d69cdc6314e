/* fuzz_channel_csv.c — channel matrices from CSV (alim capacity/fano/interval inputs):
 * alim_matrix_read_csv then alim_channel_from_matrix, strict and normalised. */
#include "fuzz.h"

#include "alim/channel.h"
#include "alim/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("chan.csv", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_matrix m;
    alim_status st = alim_matrix_read_csv(path, 1, 0, &m, &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    for (int normalize = 0; normalize < 2; normalize++) {
        alim_channel c;
        alim_error_clear(&err);
        st = alim_channel_from_matrix(&c, m.data, m.rows, m.cols, 0, normalize, path, &err);
        fuzz_check_error(st, &err);
        if (!st) alim_channel_free(&c);
    }
    alim_matrix_free(&m);
    return 0;
}
