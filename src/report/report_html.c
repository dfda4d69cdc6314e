/* report_html.c — the report's writers shared by every section: the growing HTML string and its
 * text helpers (escaping, lists, numbers), figures (PNG + SVG + <figure>), the CSV tables and
 * files copied from the run directories, and the checked reads of the experiments' JSON
 * (see report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"

/* ---- a growing string for the HTML ---------------------------------------------------- */

void sb_printf(strbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

void sb_html_escaped(strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '&': sb_printf(b, "&amp;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s); break;
        }
    }
}

void sb_size_list(strbuf *b, const size_t *v, size_t n)
{
    sb_printf(b, "{");
    for (size_t i = 0; i < n; i++) sb_printf(b, "%s%zu", i ? ", " : "", v[i]);
    sb_printf(b, "}");
}

void sb_num_or_dash(strbuf *b, const char *fmt, double v)
{
    if (isfinite(v)) sb_printf(b, fmt, v);
    else sb_printf(b, "&ndash;");
}

void sb_model(strbuf *b, int layers, int dim, int heads, int context, uint64_t tokens)
{
    sb_printf(b, "GPT %d&times;%d&times;%d, context %d, &theta;<sub>0</sub> pretrained on %llu tokens", layers, dim,
              heads, context, (unsigned long long)tokens);
}

/* ---- files of the report directory ------------------------------------------------------- */

char *report_path(const report *r, const char *name)
{
    size_t n = strlen(r->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", r->dir, name);
    return p;
}

alim_status report_draw(report *r, const char *name, const alim_plot *p)
{
    char png[256], svg[256];
    snprintf(png, sizeof png, "%s.png", name);
    snprintf(svg, sizeof svg, "%s.svg", name);
    char *pp = report_path(r, png), *sp = report_path(r, svg);
    alim_status st = (pp && sp) ? alim_plot_write(p, pp, sp, r->err)
                                : alim_error_set(r->err, ALIM_ENOMEM, name, "out of memory");
    free(pp);
    free(sp);
    return st;
}

alim_status report_add_figure_csv(report *r, const char *name, const char *csv, const alim_plot *p,
                                  const char *caption)
{
    alim_status st = report_draw(r, name, p);
    if (st) return st;
    r->n_fig++;
    sb_printf(&r->html,
              "<figure><a href=\"%s.svg\"><img src=\"%s.png\" alt=\"%s\"></a>"
              "<figcaption><b>Figure %d.</b> %s <a href=\"%s.svg\">SVG</a>, <a href=\"%s.csv\">data (CSV)</a>.</figcaption></figure>\n",
              name, name, p->title ? p->title : name, r->n_fig, caption, name, csv ? csv : name);
    return ALIM_OK;
}

alim_status report_add_figure(report *r, const char *name, const alim_plot *p, const char *caption)
{
    return report_add_figure_csv(r, name, NULL, p, caption);
}

void report_csv_num(FILE *fp, double v)
{
    /* printf spells a NaN with its sign bit as "-nan": one spelling whatever made the NaN */
    if (isnan(v)) fputs("nan", fp);
    else fprintf(fp, "%.17g", v);
}

alim_status report_write_csv(report *r, const char *name, const char *header, const double *data, size_t rows,
                             size_t cols)
{
    char file[256];
    snprintf(file, sizeof file, "%s.csv", name);
    char *p = report_path(r, file);
    if (!p) return alim_error_set(r->err, ALIM_ENOMEM, name, "out of memory");
    alim_atomic_file f;
    alim_status st = alim_atomic_open(&f, p, r->err);
    free(p);
    if (st) return st;
    fprintf(f.fp, "%s\n", header);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            report_csv_num(f.fp, data[i * cols + j]);
            fputc(j + 1 < cols ? ',' : '\n', f.fp);
        }
    st = alim_atomic_commit(&f, r->err);
    if (!st) r->n_tab++;
    return st;
}

alim_status report_copy_file(report *r, const char *from, const char *name)
{
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(from, &buf, &len, r->err);
    if (st) return st;
    char *to = report_path(r, name);
    st = to ? alim_file_write_atomic(to, buf, len, r->err) : alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    free(to);
    free(buf);
    if (!st) r->n_tab++;
    return st;
}

/* ---- the experiments' criteria -------------------------------------------------------------- */

void report_criterion_text(strbuf *b, int first, const char *name, const char *result, const char *why)
{
    sb_printf(b, "%s", first ? "" : "; ");
    sb_html_escaped(b, name);
    sb_printf(b, " %s", result);
    if (why) {
        sb_printf(b, " (");
        sb_html_escaped(b, why);
        sb_printf(b, ")");
    }
}
