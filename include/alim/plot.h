/* alim/plot.h — line and point figures rendered to PNG and SVG with PLplot's cairo drivers.
 *
 * A figure is a value (title, axis labels with units, linear or log axes, series, a legend)
 * that alim_plot_write renders twice: PNG for the browser and SVG for print. Files are
 * written to a temporary name and renamed into place. PLplot keeps global state and is not
 * thread-safe: call from one thread.
 */
#ifndef ALIM_PLOT_H
#define ALIM_PLOT_H

#include <stddef.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ALIM_PLOT_LINE = 0,   /* solid line */
    ALIM_PLOT_DASHED,     /* dashed line (bounds, references) */
    ALIM_PLOT_POINTS,     /* markers only */
    ALIM_PLOT_LINE_POINTS /* line with markers */
} alim_plot_style;

typedef struct {
    const double *x, *y; /* n points; non-finite points are skipped (and, on log axes, values <= 0) */
    size_t n;
    const char *label;   /* legend text; NULL = not in the legend */
    alim_plot_style style;
    int color;           /* palette index 0..9 (tab10-like colours) */
} alim_plot_series;

typedef struct {
    const char *title;
    const char *xlabel, *ylabel; /* include the unit, e.g. "labels m", "risk (0-1 loss)" */
    int logx, logy;              /* base-10 log axes */
    double xmin, xmax, ymin, ymax; /* NAN = from the data (with a margin) */
    const alim_plot_series *series;
    size_t n_series;
    int legend_corner;           /* 0 top right, 1 top left, 2 bottom right, 3 bottom left,
                                    4 outside, right of the plot (the image is then wider) */
    int width, height;           /* pixels of the PNG; 0 = 900 x 600 (1200 x 600 with the legend outside) */
} alim_plot;

/* Renders the figure to png_path and svg_path (either may be NULL). Errors: ALIM_EINVAL for a
 * figure with no drawable point, ALIM_EIO when a file cannot be written. */
alim_status alim_plot_write(const alim_plot *p, const char *png_path, const char *svg_path, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
