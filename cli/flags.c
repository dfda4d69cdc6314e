/* flags.c — from the library's parameter names back to the command line's flags.
 *
 * A library call that refuses an argument names, in the error's `where`, the C parameter or
 * options field concerned ("n_max", "soft_lambda", "adamw.beta1": what a C or Python caller
 * knows), and its message speaks of parameters too. A user of `alim` typed flags, so cli_fail
 * prints the flag that sets the parameter and puts back the flag hints the messages had when
 * the library spoke of flags: the command line's messages stay what they were.
 *
 * Only the names listed are mapped (a file name in `where` may look like a parameter name),
 * and every name has one flag in all commands: where two flags set fields of one name, the
 * library names them more specifically (check_mc, not samples, which bon-samples uses for its
 * input). Adding a check to the library with a new parameter name means adding it here. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *lib, *cli;
} cli_flag_pair;

/* parameter name -> flag, sorted by name */
static const cli_flag_pair cli_flags[] = {
    {"a_docs", "--a-docs"}, {"adamw.beta1", "--beta1"}, {"adamw.beta2", "--beta2"},
    {"adamw.weight_decay", "--weight-decay"}, {"alpha", "--alpha"}, {"base", "--base"},
    {"batch", "--batch"}, {"bootstrap", "--bootstrap"}, {"branching", "--branching"},
    {"budget_lr", "--budget-lr"}, {"budget_model", "--budget-model"}, {"budgets", "--budgets"},
    {"c", "--c"}, {"chat_template", "--template"}, {"check_mc", "--check-mc"},
    {"classifier_alpha", "--classifier-alpha"}, {"classifier_docs", "--classifier-docs"},
    {"classifier_eval_docs", "--classifier-eval-docs"}, {"classifier_order", "--classifier-order"},
    {"clip", "--clip"}, {"context", "--context"}, {"control_run", "--control-run"},
    {"d0_records", "--d0-records"}, {"data_dir", "--data"}, {"depth", "--depth"},
    {"do_size", "--part"}, {"doc_len", "--doc-len"}, {"epochs", "--epochs"},
    {"epsilon_nats", "--epsilon"}, {"extra_name", "--extra-class"}, {"from_run", "--from-rebound"},
    {"grad_accum", "--grad-accum"}, {"in_order", "--in-order"}, {"k", "--k"}, {"kl", "--kl"},
    {"kl_per_token", "--kl-per-token"}, {"l", "--l"}, {"lambda", "--lambda"},
    {"lattice_step", "--lattice-step"}, {"length", "--length"}, {"level", "--level"},
    {"log_n", "--n"}, {"logistic.l2", "--logistic-l2"},
    {"logistic.learning_rate", "--logistic-rate"}, {"logistic.steps", "--logistic-steps"},
    {"lr", "--lr"}, {"m", "--m"}, {"m_values", "--m"}, {"max_iter", "--max-iter"},
    {"max_l_neg", "--max-l-neg"}, {"method", "--method"}, {"min_lr", "--min-lr"},
    {"model.n_embd", "--dim"}, {"model.n_head", "--heads"}, {"model.n_layer", "--layers"},
    {"model.n_positions", "--context"}, {"model.vocab_size", "--vocab"}, {"mu", "--poisson"},
    {"n", "--n"}, {"n_components", "--components"}, {"n_data", "--data"},
    {"n_decision", "--decision"}, {"n_max", "--n-max"}, {"n_neg", "--n-neg"}, {"n_pos", "--n-pos"},
    {"n_samples", "--samples"}, {"n_seeds", "--seeds"}, {"n_sizes", "--sizes"},
    {"n_symbols", "--symbols"}, {"order", "--order"}, {"out_dir", "--out"},
    {"pool_docs", "--pool-docs"}, {"precision", "--precision"}, {"pretrain_batch", "--batch"},
    {"pretrain_size", "--pretrain-tokens"}, {"pretrain_tokens", "--pretrain-tokens"},
    {"prompt_bytes", "--prompt-bytes"}, {"replicates", "--replicates"}, {"resume", "--resume"},
    {"reward", "--reward"}, {"run_dir", "--run"}, {"sample_tokens", "--sample-tokens"},
    {"seed", "--seed"}, {"sft_batch", "--batch"}, {"sft_docs", "--sft-docs"}, {"sft_lr", "--lr"},
    {"shards", "--shards"}, {"shares", "--shares"}, {"size_n_neg", "--size-n-neg"},
    {"size_n_pos", "--size-n-pos"}, {"smoothing", "--smoothing"}, {"soft_lambda", "--soft"},
    {"system", "--system"}, {"temperature", "--temperature"}, {"test_docs", "--test-docs"},
    {"test_items", "--test-items"}, {"test_records", "--test-records"},
    {"theta0_model", "--theta0"}, {"threads", "--threads"}, {"tok_n_neg", "--tok-n-neg"},
    {"tok_n_pos", "--tok-n-pos"}, {"tol", "--tol"}, {"vocab_size", "--vocab"},
    {"window", "--window"}, {"x", "--x"}, {"zipf_s", "--zipf"},
};

/* a fragment of a library message -> the command line's words for it (each applied once) */
static const cli_flag_pair cli_hints[] = {
    {"best-of-N (soft_lambda = inf)",
     "best-of-N (--soft inf)"},
    {"in the header, or give reward_col",
     "in the header, or use --reward COL"},
    {"; normalize rescales)",
     "; use --normalize to rescale)"},
    {"round them with a lattice_step > 0",
     "round them with --lattice-step H"},
    {"a coarser lattice_step rounds the rewards",
     "a coarser --lattice-step H rounds the rewards"},
    {"not 1 (normalize rescales rows)",
     "not 1 (use --normalize to rescale rows)"},
    {"(raise max_class_log2)",
     "(raise it with --max-class-log2)"},
    {"exists and is not empty (choose a new directory)",
     "exists and is not empty (choose a new --out)"},
    {"a chat_template of chatml, llama3 or none overrides",
     "--template chatml|llama3|none overrides"},
    {"manifest.json; make one with alim_datadir_synthetic)",
     "manifest.json; make one with 'alim data synthetic --out DIR')"},
    {"needs the chat data of alim_behaviours_build",
     "needs the chat data of 'alim data behaviours --out DIR'"},
    {"control needs a data directory without C3",
     "--control needs a data directory without C3"},
    {"; make one with alim_datadir_synthetic and shares 0.95,0.05,0",
     "; make one with 'alim data synthetic --shares 0.95,0.05,0 --out DIR'"},
    {"this is a control data directory (set control)",
     "this is a control data directory (use --control)"},
    {"need one (classifier_docs > 0 when made)",
     "need one (alim data text --classifier-docs N)"},
    {"(make the data with a larger pool_docs)",
     "(use a larger --pool-docs)"},
    {"is not a control run (made without control)",
     "is not a control run (made without --control)"},
    {"pretrained theta0 model: set theta0_model (the coefficient does not take them yet)",
     "pretrained theta0 model: 'alim elastic rebound --theta0 MODEL' (elastic coefficient does not take them yet)"},
    {"pretrained theta0 model: set theta0_model",
     "pretrained theta0 model: 'alim elastic resist --theta0 MODEL'"},
    {"(a smaller sft_docs, or data made with a larger pool_docs)",
     "(use --sft-docs or a larger --pool-docs)"},
    {"prompts needed (n_samples)",
     "prompts needed (--samples)"},
    {"bytes, fewer than prompt_bytes = ",
     "bytes, fewer than --prompt-bytes "},
    {"no continuation of sample_tokens = ",
     "no continuation of --sample-tokens "},
    {"(a smaller context or more data)",
     "(use a smaller --context or more data)"},
    {": choose a new or empty out_dir",
     ": choose a new or empty --out"},
    {"); a smaller lr may help",
     "); a smaller --lr may help"},
    {"only with the same count (shards = ",
     "only with the same count (--shards "},
    {"resume it without shards and with",
     "resume it without --shards and with"},
    {"only with the same count (threads = ",
     "only with the same count (--threads "},
    {"in the precision it started in (precision = ",
     "in the precision it started in (--precision "},
    {"from its checkpoint as init_dir)",
     "from its checkpoint with --init)"},
    {"tokens times grad_accum = ",
     "tokens times --grad-accum "},
};

const char *cli_flag_of(const char *where)
{
    if (!where) return where;
    for (size_t i = 0; i < sizeof cli_flags / sizeof *cli_flags; i++)
        if (!strcmp(where, cli_flags[i].lib)) return cli_flags[i].cli;
    return where;
}

void cli_flag_hints(const char *what, char *out, size_t cap)
{
    if (!cap) return;
    snprintf(out, cap, "%s", what);
    char tmp[2 * ALIM_ERROR_WHAT_MAX];
    for (size_t i = 0; i < sizeof cli_hints / sizeof *cli_hints; i++) {
        const char *at = strstr(out, cli_hints[i].lib);
        if (!at) continue;
        snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(at - out), out, cli_hints[i].cli, at + strlen(cli_hints[i].lib));
        snprintf(out, cap, "%s", tmp);
    }
}
