"""alim_build.py — cffi (API mode, out of line) builder of alim._alim, the binding to libalim.

The declarations below are compiled against alim's own headers (set_source includes them), so
the C compiler checks every signature and struct field named here against the headers: a
declaration that drifts from include/alim/*.h breaks the build instead of miscalling. Structs
end with "...;" where only some fields are used, and the compiler supplies their layout.

Where the library is found, first match wins:
  ALIM_BUILD_DIR=DIR   an uninstalled build (DIR holds libalim.so, e.g. the checkout's build/;
                       headers from ALIM_INCLUDE_DIR, default the checkout's include/)
  pkg-config alim      an installed alim (`make install`; PKG_CONFIG_PATH for a prefix
                       that pkg-config does not search)
The extension links the shared library with its directory as run path, so the module finds
libalim.so.0 without LD_LIBRARY_PATH.
"""
import os
import shlex
import subprocess

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

CDEF = r"""
typedef enum { ALIM_OK = 0, ALIM_EINVAL = 1, ALIM_EFORMAT = 2, ALIM_EIO = 3, ALIM_ENOMEM = 4,
               ALIM_ENOCONV = 5, ALIM_ERANGE = 6, ALIM_EINTERNAL = 7 } alim_status;
typedef struct { alim_status status; char where[256]; char what[512]; } alim_error;
void alim_error_clear(alim_error *err);
alim_status alim_error_set(alim_error *err, alim_status status, const char *where, const char *fmt, ...);
const char *alim_status_name(alim_status status);
int alim_status_is_user_error(alim_status status);

typedef int (*alim_progress_fn)(void *ctx, const char *stage, double done, double total);
typedef struct { alim_progress_fn fn; void *ctx; } alim_progress;
extern "Python" int alim_py_progress(void *ctx, const char *stage, double done, double total);

void *malloc(size_t);
void free(void *);
typedef struct cJSON cJSON;
cJSON *cJSON_Parse(const char *value);
void cJSON_Delete(cJSON *item);

/* channel.h */
typedef struct { size_t nx, ny; double *w; } alim_channel;
alim_status alim_channel_from_matrix(alim_channel *c, const double *w, size_t nx, size_t ny,
                                     double tol, int normalize, const char *where, alim_error *err);
void alim_channel_free(alim_channel *c);
alim_status alim_channel_compose(const alim_channel *a, const alim_channel *b, alim_channel *out, alim_error *err);
typedef struct { double tol; size_t max_iter; } alim_capacity_options;
typedef struct { double lower_nats, upper_nats; double *input; size_t nx; size_t iterations; int converged; } alim_capacity;
alim_status alim_channel_capacity(const alim_channel *c, const alim_capacity_options *opt, alim_capacity *out, alim_error *err);
void alim_capacity_free(alim_capacity *r);

/* bounds.h */
double alim_fano_weak(double log_m, double info_nats);
double alim_fano_strong(double log_m, double info_nats);
double alim_fano_required_weak(double log_m, double eps);
double alim_fano_required_strong(double log_m, double eps);
double alim_kl_inverse_upper(double q, double c);
double alim_kl_inverse_lower(double q, double c);
double alim_pacbayes_xi(double m);
typedef enum { ALIM_PB_KL_XI = 0, ALIM_PB_KL_2SQRTM, ALIM_PB_PINSKER, ALIM_PB_CATONI } alim_pacbayes_form;
double alim_pacbayes_bound(alim_pacbayes_form form, double emp_risk, double kl_nats, double m, double delta, double catoni_c);
const char *alim_pacbayes_form_name(alim_pacbayes_form form);

/* interval.h */
typedef struct {
    double log_m; double loss_gap; double m; double delta, eta;
    alim_pacbayes_form form; alim_capacity_options ba; ...;
} alim_scenario;
typedef struct {
    double weight; double cog_lower, cog_upper; double art_lower, art_upper; double casc_lower, casc_upper;
    double tot_lower, tot_upper; double info_nats; double bayes_risk; int binding_stage; int closed_form;
} alim_context_result;
typedef struct {
    size_t n_contexts; alim_context_result *contexts;
    double c_tot_lower, c_tot_upper; double c_casc_lower, c_casc_upper; double info_nats; double bayes_risk;
    double lb_weak_tot, lb_strong_tot, lb_weak_casc, lb_strong_casc, lb_weak_info, lb_strong_info;
    double lower_bound; double empirical_risk; int empirical_is_bayes; double budget_nats;
    double ub_high_prob; double ub_forms[4]; double ub_expectation; double ub_measured; double upper_bound;
} alim_interval;
alim_status alim_scenario_from_json(const cJSON *json, const char *where, alim_scenario *out, alim_error *err);
alim_status alim_scenario_read(const char *path, alim_scenario *out, alim_error *err);
void alim_scenario_free(alim_scenario *s);
alim_status alim_interval_compute(const alim_scenario *s, alim_interval *out, alim_error *err);
void alim_interval_upper_at(const alim_scenario *s, const alim_interval *iv, double m, double *ub_high_prob,
                            double *ub_expectation, double *ub_measured);
void alim_interval_free(alim_interval *iv);

/* rdist.h */
typedef struct {
    size_t n; double *p, *r; size_t support; double r_min, r_max; double p_top, p_bottom;
    double gap_top; double gap_bottom; double mean; ...;
} alim_rdist;
typedef struct { double mean, lo, hi; } alim_mc_estimate;
alim_status alim_rdist_from_arrays(alim_rdist *d, const double *p, const double *r, size_t n,
                                   double tol, int normalize, const char *where, alim_error *err);
alim_status alim_rdist_read_csv(alim_rdist *d, const char *path, double tol, int normalize, alim_error *err);
void alim_rdist_free(alim_rdist *d);

/* tilt.h */
typedef struct {
    double lambda; double log_partition; double mean; double var; double cumulant3; double kl_nats;
    double kl_gap_nats; double mean_gap;
} alim_tilt_point;
typedef struct { alim_tilt_point pt; int saturated; int iterations; } alim_tilt_solution;
void alim_tilt_eval(const alim_rdist *d, double lambda, alim_tilt_point *out);
double alim_tilt_kl_max(const alim_rdist *d);
alim_status alim_tilt_solve_kl(const alim_rdist *d, double kl_nats, alim_tilt_solution *out, alim_error *err);
void alim_tilt_policy(const alim_rdist *d, double lambda, double *phi);
double alim_tilt_kl_from(const alim_tilt_point *pt, double kl_phi_p_nats, double mean_phi);
double alim_rate_cramer(const alim_rdist *d, double x, double *t);
double alim_rate_tilted(const alim_rdist *d, double lambda, double x);
double alim_tilt_renyi_cross_entropy(const alim_rdist *d, double lambda, double alpha);
alim_status alim_tilt_mc(const alim_rdist *d, double lambda, size_t samples, uint64_t seed,
                         alim_mc_estimate *reward, alim_mc_estimate *kl_nats, alim_error *err);
double alim_tilt_log_softmax_norm(const alim_rdist *d);

/* bon.h */
typedef struct { size_t n; double *v; double *log_q; double *log_tail; double *log_cdf; ...; } alim_levels;
alim_status alim_levels_from_rdist(const alim_rdist *d, alim_levels *out, alim_error *err);
alim_status alim_levels_from_rdist_nomap(const alim_rdist *d, alim_levels *out, alim_error *err);
alim_status alim_levels_ordered(const alim_rdist *d, const alim_levels *merged, alim_levels *out, alim_error *err);
void alim_levels_free(alim_levels *lv);
typedef struct { double n, log_n; } alim_bon_size;
alim_status alim_bon_size_from_n(double n, alim_bon_size *out, alim_error *err);
alim_status alim_bon_size_from_log(double log_n, alim_bon_size *out, alim_error *err);
typedef enum { ALIM_TIES_RANDOM = 0, ALIM_TIES_ORDERED = 1 } alim_ties;
typedef struct {
    double kl_nats; double kl_bound_nats; double reward; double win_rate; double win_rate_strict;
    double top_prob; double kl_one_atom_nats;
} alim_bon_result;
void alim_bon_eval(const alim_levels *lv, alim_bon_size N, alim_bon_result *out);
double alim_bon_kl(const alim_levels *lv, alim_bon_size N);
alim_status alim_bon_policy(const alim_rdist *d, const alim_levels *merged, const alim_levels *ordered,
                            alim_bon_size N, alim_ties ties, double *pi, alim_error *err);
typedef struct { size_t samples; alim_mc_estimate reward, kl_nats, win_rate, win_rate_strict; } alim_bon_mc_result;
alim_status alim_bon_mc(const alim_levels *lv, alim_bon_size N, size_t samples, uint64_t seed, int direct,
                        alim_bon_mc_result *out, alim_error *err);

/* seqpmf.h */
typedef enum { ALIM_SEQPMF_AUTO = 0, ALIM_SEQPMF_LATTICE = 1, ALIM_SEQPMF_TYPES = 2 } alim_seqpmf_method;
typedef struct {
    alim_seqpmf_method method; double lattice_tol; double lattice_step; size_t max_lattice; double merge_tol;
    double max_types; double theta; double window_floor;
} alim_seqpmf_options;
typedef struct {
    int lattice; double a, h; size_t kmax; int rounded; double theta; double floor; size_t levels; int lumped;
    double lump_log_mass; double log_top_dropped; double types;
} alim_seqpmf_info;
typedef struct {
    size_t n; alim_bon_size N; double delta_nats; alim_tilt_solution rl; alim_bon_result bon;
    double bon_kl_to_rl_nats; alim_seqpmf_info pmf;
} alim_seq_result;
alim_status alim_seq_compare(const alim_rdist *token, size_t n, double delta_nats, alim_bon_size N,
                             const alim_seqpmf_options *opt, alim_seq_result *out, const alim_progress *prog,
                             alim_error *err);
typedef struct {
    size_t samples; alim_mc_estimate reward_per_token; alim_mc_estimate win_rate; alim_mc_estimate kl_nats;
    alim_mc_estimate kl_to_rl_nats;
} alim_seq_mc_result;
alim_status alim_seq_mc(const alim_rdist *token, size_t n, double N, double delta_nats, size_t samples,
                        uint64_t seed, alim_seq_mc_result *out, alim_error *err);

/* rng.h, tokenizer.h, gpt.h, checkpoint.h, chat.h, dataset.h, lm_eval.h */
typedef struct { uint64_t s[4]; } alim_rng;
void alim_rng_seed(alim_rng *r, uint64_t seed, uint64_t stream);
typedef struct { int vocab_size; int eot; int bos_id, eos_id; ...; } alim_tokenizer;
void alim_tokenizer_free(alim_tokenizer *tk);
alim_status alim_tokenizer_encode(const alim_tokenizer *tk, const char *text, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap, const char *where, alim_error *err);
const char *alim_tokenizer_decode(const alim_tokenizer *tk, int32_t id, size_t *len);
typedef struct { int n_layer; int n_embd; int n_head; int n_positions; int vocab_size; ...; } alim_gpt_config;
typedef struct { alim_gpt_config config; ...; } alim_gpt;
void alim_gpt_free(alim_gpt *m);
alim_status alim_checkpoint_load(const char *dir, alim_gpt *m, alim_tokenizer *tk, uint64_t *step, alim_error *err);
typedef enum { ALIM_CHAT_AUTO = 0, ALIM_CHAT_NONE, ALIM_CHAT_CHATML, ALIM_CHAT_LLAMA3, ALIM_CHAT_UNRECOGNISED } alim_chat_kind;
int alim_chat_kind_parse(const char *s);
const char *alim_chat_kind_name(alim_chat_kind k);
typedef struct { alim_chat_kind kind; ...; } alim_chat_template;
void alim_chat_template_free(alim_chat_template *t);
alim_status alim_chat_template_resolve(alim_chat_template *t, const char *model, alim_chat_kind want,
                                       const alim_tokenizer *tk, alim_error *err);
typedef struct { char *text; size_t len; size_t response_start; } alim_chat_text;
void alim_chat_text_free(alim_chat_text *c);
alim_status alim_chat_render(const alim_chat_template *t, const char *system, const char *user,
                             const char *response, alim_chat_text *out, alim_error *err);
const char *alim_chat_end_of_turn_text(const alim_chat_template *t);
int alim_chat_end_of_turn_id(const alim_chat_template *t, const alim_tokenizer *tk);
typedef enum { ALIM_DATA_AUTO, ALIM_DATA_TEXT, ALIM_DATA_LINES, ALIM_DATA_JSONL } alim_data_format;
int alim_data_format_parse(const char *s);
typedef struct { int32_t *tokens; uint8_t *mask; size_t n; size_t n_docs; size_t n_counted; } alim_token_stream;
alim_status alim_dataset_load_chat(alim_token_stream *ds, const char *const *paths, size_t n_paths,
                                   alim_data_format format, const char *delimiter, const alim_tokenizer *tk,
                                   const alim_chat_template *chat, alim_error *err);
void alim_dataset_free(alim_token_stream *ds);
typedef struct { double total_nats; size_t n_tokens; size_t n_bytes; double kl_nats_sum; } alim_eval_result;
alim_status alim_lm_evaluate(alim_gpt *m, alim_gpt *base, const alim_token_stream *ds, const alim_tokenizer *tk,
                             int T, int B, float *logprobs, const alim_progress *progress, alim_eval_result *res,
                             alim_error *err);
typedef struct { int max_new; double temperature; int top_k; int stop_at_eot; int eot; int vocab_limit; } alim_sample_options;
alim_status alim_lm_sample_until(alim_gpt *m, int32_t *ids, size_t n_prompt, const alim_sample_options *o,
                                 const int32_t *stop_ids, int n_stop, alim_rng *rng, size_t *n_out, alim_error *err);
"""

SOURCE = r"""
#include <stdlib.h>
#include <cjson/cJSON.h>
#include "alim/status.h"
#include "alim/progress.h"
#include "alim/channel.h"
#include "alim/bounds.h"
#include "alim/interval.h"
#include "alim/rdist.h"
#include "alim/tilt.h"
#include "alim/bon.h"
#include "alim/seqpmf.h"
#include "alim/rng.h"
#include "alim/tokenizer.h"
#include "alim/gpt.h"
#include "alim/checkpoint.h"
#include "alim/chat.h"
#include "alim/dataset.h"
#include "alim/lm_eval.h"
"""


def _pkg_config(*args):
    out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True).stdout
    return shlex.split(out)


def _library_flags():
    """include_dirs, library_dirs, libraries, extra_compile_args of the alim to build against."""
    build = os.environ.get("ALIM_BUILD_DIR")
    cjson = _pkg_config("--cflags", "libcjson")
    if build:
        build = os.path.abspath(build)
        inc = os.path.abspath(os.environ.get("ALIM_INCLUDE_DIR", os.path.join(HERE, "..", "include")))
        if not os.path.exists(os.path.join(build, "libalim.so")):
            raise RuntimeError(f"ALIM_BUILD_DIR={build} has no libalim.so (run `make BUILD={build} shared`)")
        return [inc], [build], ["alim", "cjson"], cjson
    try:
        cflags = _pkg_config("--cflags", "alim")
        libs = _pkg_config("--libs", "alim")
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError("alim not found: install it (make install) so that `pkg-config alim` works, "
                           "or set ALIM_BUILD_DIR to a build directory holding libalim.so") from e
    inc = [f[2:] for f in cflags if f.startswith("-I")]
    other = [f for f in cflags if not f.startswith("-I")]
    libdirs = [f[2:] for f in libs if f.startswith("-L")]
    libnames = [f[2:] for f in libs if f.startswith("-l")]
    if "cjson" not in libnames:
        libnames.append("cjson")
    return inc, libdirs, libnames, other


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
_inc, _libdirs, _libs, _cflags = _library_flags()
ffibuilder.set_source(
    "alim._alim",
    SOURCE,
    include_dirs=_inc,
    library_dirs=_libdirs,
    runtime_library_dirs=_libdirs,
    libraries=_libs,
    extra_compile_args=["-std=gnu11", "-Wall", "-Werror=incompatible-pointer-types", "-Werror=int-conversion"]
    + _cflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
