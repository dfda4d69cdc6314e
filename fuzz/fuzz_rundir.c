/* fuzz_rundir.c — run directories of the elasticity experiments: a manifest.json (opened for
 * an experiment and configuration, alim_rundir_open) and a cell's result.json
 * (alim_rundir_cell_result). The input is the manifest, a line "%%RESULT%%", then the
 * result. */
#include "fuzz.h"

#include "alim/rundir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t man_len, res_len;
    const uint8_t *res;
    fuzz_split(data, size, "\n%%RESULT%%\n", &man_len, &res, &res_len);
    fuzz_write("run/manifest.json", data, man_len);
    fuzz_write("run/cells/c1/result.json", res, res_len);
    cJSON *config = cJSON_Parse("{\"seeds\": 2, \"model\": {\"layers\": 1, \"dim\": 16}}");
    alim_error err;
    alim_error_clear(&err);
    alim_rundir *rd = NULL;
    alim_status st = alim_rundir_open(fuzz_path("run"), "elastic-resist", config, &rd, &err);
    fuzz_check_error(st, &err);
    if (!st) {
        alim_error_clear(&err);
        cJSON *r = alim_rundir_cell_result(rd, "c1", &err);
        if (!r && (err.status == ALIM_OK || !err.what[0])) abort();
        cJSON_Delete(r);
        alim_rundir_close(rd);
    }
    cJSON_Delete(config);
    return 0;
}
