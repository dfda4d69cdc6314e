/* fuzz_report_config.c — report configurations (alim report --config FILE): the JSON reader
 * then the schema check alim_report_check_config (nothing is run). */
#include "fuzz.h"

#include "alim/io.h"
#include "alim/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("report.json", data, size);
    alim_error err;
    alim_error_clear(&err);
    cJSON *j = NULL;
    alim_status st = alim_json_read_file(path, &j, &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    alim_error_clear(&err);
    st = alim_report_check_config(j, path, &err);
    fuzz_check_error(st, &err);
    cJSON_Delete(j);
    return 0;
}
