/* status.c — the error record (see alim/status.h). */
#include "alim/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

alim_status alim_error_set(alim_error *err, alim_status status, const char *where,
                           const char *fmt, ...)
{
    if (err) {
        err->status = status;
        snprintf(err->where, sizeof err->where, "%s", where ? where : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->what, sizeof err->what, fmt, ap);
        va_end(ap);
    }
    return status;
}

void alim_error_clear(alim_error *err)
{
    if (err) {
        err->status = ALIM_OK;
        err->where[0] = '\0';
        err->what[0] = '\0';
    }
}

const char *alim_status_name(alim_status status)
{
    switch (status) {
    case ALIM_OK: return "ok";
    case ALIM_EINVAL: return "invalid input";
    case ALIM_EFORMAT: return "malformed file";
    case ALIM_EIO: return "input/output error";
    case ALIM_ENOMEM: return "out of memory";
    case ALIM_ENOCONV: return "no convergence";
    case ALIM_ERANGE: return "out of range";
    case ALIM_EINTERNAL: return "internal error";
    }
    return "unknown status";
}

int alim_status_is_user_error(alim_status status)
{
    return status == ALIM_EINVAL || status == ALIM_EFORMAT;
}
