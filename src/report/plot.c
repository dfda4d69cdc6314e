/* plot.c — figures through PLplot's pngcairo and svgcairo devices (see alim/plot.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/plot.h"

#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmap0: 0 = white background, 1 = near-black for axes and text, 2.. = the series palette */
static const int palette[12][3] = {{255, 255, 255}, {30, 30, 30},   {31, 119, 180}, {255, 127, 14},
                                   {44, 160, 44},   {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
                                   {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

static int usable(const alim_plot *p, double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) return 0;
    if (p->logx && x <= 0) return 0;
    if (p->logy && y <= 0) return 0;
    return 1;
}

static double tr(double v, int log_axis) { return log_axis ? log10(v) : v; }

/* Axis range from the data, with 4% margins (in log space for log axes). */
static int data_range(const alim_plot *p, int axis, double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++) {
        const alim_plot_series *se = &p->series[s];
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(p, se->x[i], se->y[i])) continue;
            double v = tr(axis ? se->y[i] : se->x[i], axis ? p->logy : p->logx);
            if (v < a) a = v;
            if (v > b) b = v;
        }
    }
    if (!(a <= b)) return -1;
    if (a == b) a -= 0.5, b += 0.5;
    double m = 0.04 * (b - a);
    *lo = a - m;
    *hi = b + m;
    return 0;
}

static alim_status render(const alim_plot *p, const char *dev, const char *path, alim_error *err)
{
    char *tmp = malloc(strlen(path) + 32);
    if (!tmp) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
    double x0, x1, y0, y1;
    if (data_range(p, 0, &x0, &x1) || data_range(p, 1, &y0, &y1)) {
        free(tmp);
        return alim_error_set(err, ALIM_EINVAL, path, "figure \"%s\" has no drawable point", p->title ? p->title : "");
    }
    if (!isnan(p->xmin)) x0 = tr(p->xmin, p->logx);
    if (!isnan(p->xmax)) x1 = tr(p->xmax, p->logx);
    if (!isnan(p->ymin)) y0 = tr(p->ymin, p->logy);
    if (!isnan(p->ymax)) y1 = tr(p->ymax, p->logy);
    char geom[32];
    const int outside = p->legend_corner == 4;
    snprintf(geom, sizeof geom, "%dx%d", p->width ? p->width : (outside ? 1200 : 900), p->height ? p->height : 600);
    PLINT strm;
    plmkstrm(&strm);
    plsdev(dev);
    plsfnam(tmp);
    plsetopt("geometry", geom);
    for (int i = 0; i < 12; i++) plscol0(i, palette[i][0], palette[i][1], palette[i][2]);
    plinit();
    plfontld(1);
    pladv(0);
    plvpor(outside ? 0.08 : 0.11, outside ? 0.6 : 0.97, 0.12, 0.89);
    plwind(x0, x1, y0, y1);
    /* up to 7 digits before PLplot moves a scale factor "(x10^n)" above the axis, where it would
     * collide with a long title (e.g. changes of a few hundredths of a bit) */
    plsyax(7, 0);
    plcol0(1);
    plschr(0, 0.95);
    plwidth(1.0);
    /* a light grid helps reading values off the curves */
    plcol0(9);
    plwidth(0.5);
    plbox(p->logx ? "gl" : "g", 0, 0, p->logy ? "gl" : "g", 0, 0);
    plcol0(1);
    plwidth(1.0);
    plbox(p->logx ? "bcnstl" : "bcnst", 0, 0, p->logy ? "bcnstvl" : "bcnstv", 0, 0);
    pllab(p->xlabel ? p->xlabel : "", p->ylabel ? p->ylabel : "", "");
    plschr(0, 1.15);
    plmtex("t", 2.1, 0.5, 0.5, p->title ? p->title : ""); /* above the axis exponent label */
    plschr(0, 0.95);
    /* series */
    PLINT nleg = 0;
    PLINT opt[32], lcol[32], lsty[32], scol[32], snum[32];
    PLFLT lwid[32], sscale[32];
    const char *text[32], *sym[32];
    PLINT tcol[32];
    for (size_t s = 0; s < p->n_series; s++) {
        const alim_plot_series *se = &p->series[s];
        PLFLT *xs = malloc((se->n ? se->n : 1) * sizeof *xs), *ys = malloc((se->n ? se->n : 1) * sizeof *ys);
        if (!xs || !ys) {
            free(xs);
            free(ys);
            continue;
        }
        PLINT k = 0;
        for (size_t i = 0; i < se->n; i++)
            if (usable(p, se->x[i], se->y[i])) xs[k] = tr(se->x[i], p->logx), ys[k] = tr(se->y[i], p->logy), k++;
        int col = 2 + (se->color % 10 + 10) % 10;
        plcol0(col);
        int line = se->style != ALIM_PLOT_POINTS, pts = se->style == ALIM_PLOT_POINTS || se->style == ALIM_PLOT_LINE_POINTS;
        pllsty(se->style == ALIM_PLOT_DASHED ? 3 : 1);
        plwidth(2.0);
        if (line && k > 1) plline(k, xs, ys);
        pllsty(1);
        if (pts && k > 0) plstring(k, xs, ys, "#(728)"); /* filled circle */
        free(xs);
        free(ys);
        if (se->label && nleg < 32) {
            opt[nleg] = (line ? PL_LEGEND_LINE : 0) | (pts ? PL_LEGEND_SYMBOL : 0);
            lcol[nleg] = col, lsty[nleg] = se->style == ALIM_PLOT_DASHED ? 3 : 1, lwid[nleg] = 2.0;
            scol[nleg] = col, snum[nleg] = 1, sscale[nleg] = 1.0, sym[nleg] = "#(728)";
            text[nleg] = se->label, tcol[nleg] = 1;
            nleg++;
        }
    }
    if (nleg > 0) {
        static const PLINT corner[4] = {PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
                                        PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
        PLFLT lw, lh;
        plwidth(1.0);
        plschr(0, 0.8);
        PLINT pos = outside ? (PL_POSITION_OUTSIDE | PL_POSITION_RIGHT)
                            : corner[(p->legend_corner % 4 + 4) % 4];
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, outside ? 0.03 : 0.02, outside ? 0.0 : 0.02, 0.08, 0, 1, 1, 0, 0, nleg, opt, 1.0, outside ? 0.75 : 0.9, 2.2, 0.0, tcol, text, NULL, NULL, NULL, NULL,
                 lcol, lsty, lwid, scol, sscale, snum, sym);
    }
    plend1();
    FILE *chk = fopen(tmp, "rb");
    long size = -1;
    if (chk) {
        fseek(chk, 0, SEEK_END);
        size = ftell(chk);
        fclose(chk);
    }
    alim_status st = ALIM_OK;
    if (size <= 0) st = alim_error_set(err, ALIM_EIO, path, "the plotting library wrote no output");
    else if (rename(tmp, path) != 0) st = alim_error_set(err, ALIM_EIO, path, "cannot rename into place");
    if (st) remove(tmp);
    free(tmp);
    return st;
}

alim_status alim_plot_write(const alim_plot *p, const char *png_path, const char *svg_path, alim_error *err)
{
    alim_status st = ALIM_OK;
    if (png_path && (st = render(p, "pngcairo", png_path, err))) return st;
    if (svg_path && (st = render(p, "svgcairo", svg_path, err))) return st;
    return ALIM_OK;
}
