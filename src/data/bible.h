/* bible.h — the KJV text of Debian's bible-kjv-text, read from its data file (private to
 * src/data/; the natural data directory's C2, see alim/datadir.h).
 *
 * The package's /usr/lib/bible.data is a "Text Storage Library" file of the Bible Retrieval
 * System: a header ("EC", version "02", an 80-byte description, then big-endian 32-bit window
 * size, window count and the file offset of every window plus the end), followed by windows
 * of the text each compressed on its own with the LZW code of Unix `compress` (block mode,
 * 9..16-bit codes, no per-window header). Its text is one line of title, then one line per
 * verse exactly as `bible -f 'Gen1:1-Rev22:21'` prints it ("Ge1:1 In the beginning ...").
 * Reading it here is what lets the library build the natural source without running a
 * program.
 */
#ifndef ALIM_DATA_BIBLE_H
#define ALIM_DATA_BIBLE_H

#include <stddef.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The verses of the data file at path (malloc'd, NUL-terminated, *len bytes without the NUL):
 * the decompressed text without its first (title) line, byte for byte what
 * `bible -f 'Gen1:1-Rev22:21'` prints. A file that is not such a data file, or is damaged,
 * is EFORMAT with where = path; an unreadable one EIO. */
alim_status alim_bible_read(const char *path, char **text, size_t *len, alim_error *err);

/* The same from the file's bytes already in memory (what alim_bible_read does after reading
 * it; where = name in errors). */
alim_status alim_bible_decode(const unsigned char *data, size_t size, const char *name, char **text, size_t *len,
                              alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
