#!/usr/bin/env bash
# test_install.sh — `make install` into a temporary DESTDIR, then use the installed tree as
# a user would: pkg-config finds alim, a C program links against the shared library and
# against the static one and runs, a C++ file includes every public header and calls the
# library, the man page lists every command, the shared library exports only alim_*, and
# `make uninstall` removes every installed file. The build directory is that of $ALIM.
source "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$ALIM")" && pwd)
stage="$TMP/stage"
prefix=/usr/local
version=$("$ALIM" --version | awk '{print $2}')

expect_exit 0 "make install" -- make --no-print-directory -s -C "$root" BUILD="$build" PREFIX=$prefix DESTDIR="$stage" install
P="$stage$prefix"
for f in bin/alim lib/libalim.a "lib/libalim.so.$version" lib/pkgconfig/alim.pc share/man/man1/alim.1; do
  if [ -f "$P/$f" ]; then ok; else bad "not installed: $f"; fi
done
if [ "$(readlink "$P/lib/libalim.so.0")" = "libalim.so.$version" ] && [ "$(readlink "$P/lib/libalim.so")" = libalim.so.0 ]; then ok
else bad "symlinks libalim.so -> libalim.so.0 -> libalim.so.$version"; fi
nh_src=$(ls "$root"/include/alim/*.h | wc -l); nh_inst=$(ls "$P"/include/alim/*.h 2>/dev/null | wc -l)
if [ "$nh_src" -eq "$nh_inst" ] && [ "$nh_src" -gt 0 ]; then ok; else bad "headers: $nh_inst installed of $nh_src"; fi
expect_exit 0 "installed alim runs" -- "$P/bin/alim" --version
if grep -q "^alim $version\$" "$TMP/stdout"; then ok; else bad "installed alim --version: $(cat "$TMP/stdout")"; fi

# the shared library: soname, and only the public prefix exported
if readelf -d "$P/lib/libalim.so.$version" | grep -q 'SONAME.*\[libalim\.so\.0\]'; then ok; else bad "soname is not libalim.so.0"; fi
nm -D --defined-only "$P/lib/libalim.so.$version" | awk '{print $NF}' | grep -v '^_' >"$TMP/syms"
n_alim=$(grep -c '^alim_' "$TMP/syms"); n_other=$(grep -vc '^alim_' "$TMP/syms")
if [ "$n_alim" -gt 100 ] && [ "$n_other" -eq 0 ]; then ok; else bad "exports: $n_alim alim_, $n_other others: $(grep -v '^alim_' "$TMP/syms" | head -5 | tr '\n' ' ')"; fi
# every extern function of the static library's public prefix is exported (none lost)
nm -g --defined-only "$P/lib/libalim.a" 2>/dev/null | awk 'NF==3 && $2=="T" && $3 ~ /^alim_/ {print $3}' | sort -u >"$TMP/static_syms"
missing=$(comm -23 "$TMP/static_syms" <(sort -u "$TMP/syms") | head -5)
if [ -z "$missing" ]; then ok; else bad "alim_ functions of libalim.a not exported: $missing"; fi
if ! grep -q '^lm_' "$TMP/syms"; then ok; else bad "internal lm_* symbols exported"; fi

# pkg-config on the staged tree: alim.pc with its prefix moved to the stage (its other paths
# are relative to ${prefix}; --define-variable would move the system packages' prefixes too)
mkdir -p "$TMP/pc"
sed "s|^prefix=.*|prefix=$P|" "$P/lib/pkgconfig/alim.pc" >"$TMP/pc/alim.pc"
pc() { PKG_CONFIG_PATH="$TMP/pc" pkg-config "$@"; }
if [ "$(pc --modversion alim)" = "$version" ]; then ok; else bad "pkg-config --modversion alim: $(pc --modversion alim 2>&1)"; fi
if pc --cflags alim | grep -q -- "-I$P/include"; then ok; else bad "pkg-config --cflags alim: $(pc --cflags alim 2>&1)"; fi

cat >"$TMP/prog.c" <<'C'
/* capacity of the binary symmetric channel with p = 0.1 is 1 - h2(0.1) bits; a bad p is an error */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <alim/channel.h>
#include <alim/info.h>
#include <alim/status.h>
int main(void)
{
    alim_channel c;
    alim_capacity cap;
    alim_error err;
    if (alim_channel_bsc(&c, 0.1, &err) || alim_channel_capacity(&c, NULL, &cap, &err)) {
        fprintf(stderr, "%s: %s\n", err.where, err.what);
        return 1;
    }
    double want = 1 + 0.1 * log2(0.1) + 0.9 * log2(0.9);
    printf("%.15f %.15f\n", alim_bits(cap.lower_nats), want);
    int ok = fabs(alim_bits(cap.lower_nats) - want) < 1e-12 && cap.converged;
    alim_capacity_free(&cap);
    alim_channel_free(&c);
    alim_status st = alim_channel_bsc(&c, 1.5, &err);
    ok = ok && st == ALIM_EINVAL && strlen(err.what) > 0 && alim_status_is_user_error(st);
    puts(ok ? "ok" : "wrong");
    return ok ? 0 : 1;
}
C
# shared
# shellcheck disable=SC2046
expect_exit 0 "C program links with pkg-config --cflags --libs alim" -- \
  gcc -std=c11 -Wall -Wextra -o "$TMP/prog_shared" "$TMP/prog.c" $(pc --cflags --libs alim) -lm
if readelf -d "$TMP/prog_shared" 2>/dev/null | grep -q 'NEEDED.*\[libalim\.so\.0\]'; then ok; else bad "shared program does not need libalim.so.0"; fi
expect_exit 0 "shared program runs" -- env LD_LIBRARY_PATH="$P/lib" "$TMP/prog_shared"
if tail -n 1 "$TMP/stdout" | grep -qx ok; then ok; else bad "shared program: $(cat "$TMP/stdout")"; fi
# static: the same flags with --static, the archive chosen by name
static_libs=$(pc --static --libs alim | sed 's/-lalim\b/-l:libalim.a/')
# shellcheck disable=SC2086
expect_exit 0 "C program links statically with pkg-config --static --libs alim" -- \
  gcc -std=c11 -Wall -Wextra -o "$TMP/prog_static" "$TMP/prog.c" $(pc --cflags alim) $static_libs -lm
if ! readelf -d "$TMP/prog_static" 2>/dev/null | grep -q 'libalim'; then ok; else bad "static program still needs libalim.so"; fi
expect_exit 0 "static program runs" -- "$TMP/prog_static"
if tail -n 1 "$TMP/stdout" | grep -qx ok; then ok; else bad "static program: $(cat "$TMP/stdout")"; fi

# C++: every public header, then a call through the C linkage
{
  for h in "$P"/include/alim/*.h; do echo "#include <alim/$(basename "$h")>"; done
  cat <<'CPP'
#include <cstdio>
int main()
{
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_error_set(&err, ALIM_EINVAL, "here", "value %d", 42);
    std::printf("%s|%s|%s\n", alim_status_name(st), err.where, err.what);
    return st == ALIM_EINVAL ? 0 : 1;
}
CPP
} >"$TMP/all.cpp"
# shellcheck disable=SC2046
expect_exit 0 "C++ includes every public header (g++ -Wall -Wextra -Werror)" -- \
  g++ -std=c++17 -Wall -Wextra -Werror -o "$TMP/cpp" "$TMP/all.cpp" $(pc --cflags --libs alim)
expect_exit 0 "C++ program runs" -- env LD_LIBRARY_PATH="$P/lib" "$TMP/cpp"
if grep -q '|here|value 42$' "$TMP/stdout"; then ok; else bad "C++ program: $(cat "$TMP/stdout")"; fi

# the man page: every command's --help text is in it
man1="$P/share/man/man1/alim.1"
for c in $(sed -n 's/^ALIM_CLI_COMMAND(\([a-z0-9_]*\),.*/\1/p' "$root/cli/commands.def" | tr _ -); do
  if grep -q "^\.SS \"alim $c\"" "$man1"; then ok; else bad "man page lacks alim $c"; fi
done
if grep -q 'Blahut-Arimoto' "$man1" && grep -q '^\.TH ALIM "1"' "$man1"; then ok; else bad "man page content"; fi
if command -v groff >/dev/null; then
  if groff -man -Tutf8 -ww "$man1" 2>"$TMP/groff.err" >/dev/null && [ ! -s "$TMP/groff.err" ]; then ok
  else bad "groff warnings: $(head -c 300 "$TMP/groff.err")"; fi
fi

expect_exit 0 "make uninstall" -- make --no-print-directory -s -C "$root" BUILD="$build" PREFIX=$prefix DESTDIR="$stage" uninstall
left=$(find "$stage" -type f -o -type l | head -5)
if [ -z "$left" ]; then ok; else bad "left after uninstall: $left"; fi
finish
