/* textsrc.h — readers of the Debian packages' text shared by the data builders (private to
 * src/data/: datadir.c defines them, behaviours.c uses them too). */
#ifndef ALIM_DATA_TEXTSRC_H
#define ALIM_DATA_TEXTSRC_H

#include <stddef.h>

#include "alim/status.h"

/* A file as zcat -f reads it (gzip, one or more members, or plain), malloc'd and
 * NUL-terminated. EIO: cannot open; EFORMAT: damaged or truncated gzip data. */
alim_status data_read_gz(const char *path, char **text, size_t *len, alim_error *err);

/* All fortune files of dir (sorted; not .dat, not .u8, regular files) concatenated, each
 * closed by a "%" line. 0; -1: no directory or no files; -2: out of memory. */
int data_read_fortunes(const char *dir, char **text, size_t *len, size_t *n_files);

#endif
