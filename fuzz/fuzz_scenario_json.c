/* fuzz_scenario_json.c — performance-interval scenarios (alim interval SCEN.json):
 * alim_scenario_read. */
#include "fuzz.h"

#include "alim/interval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("scen.json", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_scenario s;
    memset(&s, 0, sizeof s);
    alim_status st = alim_scenario_read(path, &s, &err);
    fuzz_check_error(st, &err);
    if (!st) alim_scenario_free(&s);
    return 0;
}
