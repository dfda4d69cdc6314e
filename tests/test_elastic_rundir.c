/* test_elastic_rundir.c — resumable run directories: canonical config hashing, refusing a
 * different configuration (naming the key), cells finishing atomically, resuming. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alim/rundir.h"
#include "check.h"

int main(int argc, char **argv)
{
    (void)argc;
    char tmpl[] = "/tmp/alim-rundir-XXXXXX";
    char *base = mkdtemp(tmpl);
    CHECK(base != NULL, "mkdtemp");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/run", base);
    alim_error e;

    /* canonical JSON: key order does not matter, values do */
    cJSON *a = cJSON_Parse("{\"b\": 1, \"a\": {\"y\": [1, 2], \"x\": \"s\"}}");
    cJSON *b = cJSON_Parse("{\"a\": {\"x\": \"s\", \"y\": [1, 2]}, \"b\": 1}");
    cJSON *c = cJSON_Parse("{\"a\": {\"x\": \"s\", \"y\": [1, 3]}, \"b\": 1}");
    char *ca = alim_json_canonical(a);
    CHECK(ca && !strcmp(ca, "{\"a\":{\"x\":\"s\",\"y\":[1,2]},\"b\":1}"), "canonical text: %s", ca ? ca : "(null)");
    free(ca);
    char ha[17], hb[17], hc[17];
    alim_json_hash(a, ha);
    alim_json_hash(b, hb);
    alim_json_hash(c, hc);
    CHECK(!strcmp(ha, hb) && strcmp(ha, hc), "hash: order-free, value-sensitive (%s %s %s)", ha, hb, hc);

    /* create, finish a cell, reopen with the same config (key order changed) */
    alim_rundir *rd;
    CHECK(alim_rundir_open(dir, "resist", a, &rd, &e) == ALIM_OK, "create: %s", e.what);
    CHECK(!alim_rundir_cell_done(rd, "theta0"), "fresh cell not done");
    char cd[1024];
    CHECK(alim_rundir_cell_dir(rd, "theta0", cd, sizeof cd, &e) == ALIM_OK, "cell dir");
    struct stat sb;
    CHECK(stat(cd, &sb) == 0 && S_ISDIR(sb.st_mode), "cell dir exists");
    cJSON *res = cJSON_Parse("{\"loss\": 1.25, \"steps\": 10}");
    CHECK(alim_rundir_cell_finish(rd, "theta0", res, &e) == ALIM_OK, "finish");
    CHECK(alim_rundir_cell_done(rd, "theta0"), "done after finish");
    alim_rundir_close(rd);
    CHECK(alim_rundir_open(dir, "resist", b, &rd, &e) == ALIM_OK, "reopen with the same config: %s", e.what);
    CHECK(alim_rundir_cell_done(rd, "theta0"), "finished cell survives reopening");
    cJSON *got = alim_rundir_cell_result(rd, "theta0", &e);
    CHECK(got && cJSON_GetObjectItem(got, "loss")->valuedouble == 1.25, "result read back");
    cJSON_Delete(got);
    CHECK(alim_rundir_cell_result(rd, "theta1", &e) == NULL, "unfinished cell has no result");
    /* an interrupted cell (scratch files, no result) is not done */
    CHECK(alim_rundir_cell_dir(rd, "theta1", cd, sizeof cd, &e) == ALIM_OK, "cell dir 2");
    char junk[1100];
    snprintf(junk, sizeof junk, "%s/partial.bin", cd);
    FILE *f = fopen(junk, "w");
    if (f) fputs("x", f), fclose(f);
    CHECK(!alim_rundir_cell_done(rd, "theta1"), "interrupted cell is not done");
    CHECK(alim_rundir_cell_dir(rd, "../evil", cd, sizeof cd, &e) == ALIM_EINVAL, "path traversal refused");
    CHECK(alim_rundir_cell_dir(rd, "", cd, sizeof cd, &e) == ALIM_EINVAL, "empty cell name refused");
    alim_rundir_close(rd);

    /* a different configuration or experiment is refused, naming the key, and nothing changes */
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    char before[4096] = "", after[4096] = "";
    f = fopen(mpath, "r");
    if (f) before[fread(before, 1, sizeof before - 1, f)] = '\0', fclose(f);
    alim_error_clear(&e);
    CHECK(alim_rundir_open(dir, "resist", c, &rd, &e) == ALIM_EINVAL && strstr(e.what, "a.y"),
          "different config refused with the key: %s", e.what);
    CHECK(alim_rundir_open(dir, "rebound", a, &rd, &e) == ALIM_EINVAL && strstr(e.what, "resist"),
          "different experiment refused: %s", e.what);
    cJSON *d = cJSON_Parse("{\"a\": {\"x\": \"s\", \"y\": [1, 2]}, \"b\": 1, \"extra\": true}");
    CHECK(alim_rundir_open(dir, "resist", d, &rd, &e) == ALIM_EINVAL && strstr(e.what, "extra"),
          "added key named: %s", e.what);
    f = fopen(mpath, "r");
    if (f) after[fread(after, 1, sizeof after - 1, f)] = '\0', fclose(f);
    CHECK(before[0] && !strcmp(before, after), "manifest untouched");

    /* a non-empty directory without a manifest is not taken over */
    char other[512];
    snprintf(other, sizeof other, "%s/other", base);
    mkdir(other, 0777);
    snprintf(junk, sizeof junk, "%s/notes.txt", other);
    f = fopen(junk, "w");
    if (f) fputs("mine", f), fclose(f);
    CHECK(alim_rundir_open(other, "resist", a, &rd, &e) == ALIM_EINVAL && strstr(e.what, "not empty"),
          "foreign directory refused: %s", e.what);

    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(d);
    cJSON_Delete(res);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return check_summary(argv[0]);
}
