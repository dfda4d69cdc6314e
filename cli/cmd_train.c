/* cmd_train.c — `alim train`: train or fine-tune a GPT-2-style model. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "alim/dist.h"
#include "alim/lm_train.h"
#include "cli.h"

const char cmd_train_help[] =
    "usage: alim train --data FILE... --out DIR [options]\n"
    "\n"
    "Trains a GPT-2-style transformer (token + position embeddings, pre-LayerNorm blocks of\n"
    "causal self-attention and a tanh-GELU MLP, output tied to the token embedding) on text,\n"
    "or fine-tunes one (--init). The model, its tokenizer and the optimizer state are saved\n"
    "in DIR as a Hugging Face GPT-2 checkpoint (model.safetensors, config.json, vocab.json,\n"
    "merges.txt) plus optimizer.safetensors; every step is logged to DIR/log.csv.\n"
    "One step = --grad-accum micro-batches of --batch windows of --context tokens, then one\n"
    "AdamW update. A progress line (loss, tokens/s, ETA) is drawn on stderr when it is a\n"
    "terminal or ALIM_PROGRESS=1.\n"
    "\n"
    "data:\n"
    "  --data FILE          training file (repeat the option, or list files after it)\n"
    "  --format F           auto|text|lines|jsonl (default auto: .jsonl files are JSONL,\n"
    "                       others text). text: documents separated by --delimiter; lines:\n"
    "                       one document per line; jsonl: {\"prompt\",\"response\"} per line,\n"
    "                       loss only on the response tokens (fine-tuning)\n"
    "  --delimiter S        document separator of text files (default <|endoftext|>)\n"
    "  --template T         JSONL records as chats: auto (the chat template of --init's model,\n"
    "                       ChatML or Llama 3; plain prompt + response if it has none), chatml,\n"
    "                       llama3, none (default auto; see docs/lm.md 'Chat templates')\n"
    "  --eval-data FILE     held-out file(s), evaluated every --eval-every steps and at the end\n"
    "model (new models; with --init or --resume the checkpoint's shape is used):\n"
    "  --layers N           blocks, at most 1000 (default 2)\n"
    "  --dim N              width C, at most 65536 (default 64)\n"
    "  --heads N            attention heads, dividing --dim (default 4)\n"
    "  --context N          tokens per training window, at most 2^20 (default 128; with\n"
    "                       --init: the model's)\n"
    "  --tokenizer T        byte (default: 256 bytes + <|endoftext|>) or a directory with\n"
    "                       vocab.json and merges.txt (see 'alim tokenizer train')\n"
    "  --vocab N            model vocabulary size, >= the tokenizer's and at most 2^24\n"
    "                       (default: the tokenizer's)\n"
    "  --init DIR           start from this checkpoint (fine-tuning); fresh optimizer\n"
    "  --resume             continue the run saved in --out (same options and --threads),\n"
    "                       bit for bit; log rows after the checkpoint are cut\n"
    "length (the first given wins):\n"
    "  --steps N            updates\n"
    "  --tokens N           training tokens\n"
    "  --epochs X           passes over the training windows (default 1)\n"
    "optimisation:\n"
    "  --batch N            windows per micro-batch (default 16)\n"
    "  --grad-accum N       micro-batches per update (default 1)\n"
    "  --lr X               peak learning rate (default 3e-4)\n"
    "  --schedule S         constant|cosine (default constant)\n"
    "  --min-lr X           end of the cosine (default lr/10)\n"
    "  --warmup N           linear warm-up updates (default 0)\n"
    "  --beta1 X --beta2 X  AdamW moments (default 0.9, 0.95)\n"
    "  --eps X              AdamW epsilon (default 1e-8)\n"
    "  --weight-decay X     decoupled weight decay of matrices and embeddings (default 0.1)\n"
    "  --clip X             max global gradient norm, 0 = off (default 1)\n"
    "  --seed N             initialisation and data order (default 1)\n"
    "  --in-order           visit the windows in file order every epoch instead of a\n"
    "                       shuffled order (then the first k updates see exactly the first\n"
    "                       k*batch windows: checkpoints at nested prefixes of the data)\n"
    "output:\n"
    "  --out DIR            checkpoint directory: new, empty, or a checkpoint to overwrite\n"
    "                       (locked while training: a second writer is refused)\n"
    "  --save-every N       also save every N updates (default: only at the end)\n"
    "  --eval-every N       evaluate every N updates (default: only at the end)\n"
    "  --log FILE           per-step log, CSV or JSON Lines if FILE ends in .jsonl\n"
    "                       (default DIR/log.csv)\n"
    "  --stop-at N          stop after update N as if interrupted (to test --resume)\n"
    "  --threads N          OpenMP and BLAS threads (default: all cores; per rank under MPI)\n"
    CLI_PRECISION_HELP
    "                       (a --resume continues in the run's own precision)\n"
    "  --shards N           split every micro-batch into N data-parallel shards, summed in\n"
    "                       shard order: the bits then depend on N alone, not on threads or\n"
    "                       ranks (default: chosen from the threads, see docs/lm.md)\n"
    "  --json               print the summary as one JSON object\n"
    "\n"
    "MPI (docs/mpi.md): under mpirun/srun the ranks split every micro-batch's shards between\n"
    "them and sum the gradients in shard order: the checkpoint is bit for bit the one process's\n"
    "with the same shards. Rank 0 alone locks --out, writes the checkpoint and log, prints.\n"
    "\n"
    "example:\n"
    "  alim train --data corpus.txt --out run1 --layers 4 --dim 128 --heads 4 --context 128 \\\n"
    "             --steps 2000 --lr 1e-3 --schedule cosine --warmup 100 --eval-data held.txt\n"
    "  alim train --data sft.jsonl --init run1 --out run1-sft --epochs 3 --lr 1e-4\n";

enum {
    O_DATA = 256, O_OUT, O_INIT, O_RESUME, O_LAYERS, O_DIM, O_HEADS, O_CONTEXT, O_VOCAB,
    O_TOKENIZER, O_STEPS, O_EPOCHS, O_TOKENS, O_BATCH, O_ACCUM, O_LR, O_MINLR, O_SCHEDULE,
    O_WARMUP, O_BETA1, O_BETA2, O_EPS, O_WD, O_CLIP, O_SEED, O_IN_ORDER, O_EVAL, O_EVAL_EVERY,
    O_SAVE_EVERY, O_LOG, O_FORMAT, O_DELIM, O_STOP, O_THREADS, O_JSON, O_TEMPLATE, O_SHARDS,
    O_PRECISION
};

/* hi is the library's own limit where it has one (alim_gpt_config_check: 1000 layers,
 * width 65536, 2^20 positions, 2^24 ids), so the message names the option and its range
 * instead of a later, indirect complaint (--dim 65537 used to blame divisibility). */
static int parse_int(const char *opt, const char *s, int lo, int hi, const char *hi_text, int *out)
{
    uint64_t v;
    int rc = cli_parse_u64(opt, s, &v);
    if (rc) return rc;
    if (v < (uint64_t)lo || v > (uint64_t)hi) return cli_error(opt, "'%s' must be an integer in [%d, %s]", s, lo, hi_text);
    *out = (int)v;
    return 0;
}

static int parse_float(const char *opt, const char *s, float *out)
{
    double d;
    int rc = cli_parse_double(opt, s, &d);
    if (!rc) *out = (float)d;
    return rc;
}

/* Sets the OpenMP and OpenBLAS thread counts (--threads). */

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA}, {"out", required_argument, 0, O_OUT},
        {"init", required_argument, 0, O_INIT}, {"resume", no_argument, 0, O_RESUME},
        {"layers", required_argument, 0, O_LAYERS}, {"dim", required_argument, 0, O_DIM},
        {"heads", required_argument, 0, O_HEADS}, {"context", required_argument, 0, O_CONTEXT},
        {"vocab", required_argument, 0, O_VOCAB}, {"tokenizer", required_argument, 0, O_TOKENIZER},
        {"steps", required_argument, 0, O_STEPS}, {"epochs", required_argument, 0, O_EPOCHS},
        {"tokens", required_argument, 0, O_TOKENS}, {"batch", required_argument, 0, O_BATCH},
        {"grad-accum", required_argument, 0, O_ACCUM}, {"lr", required_argument, 0, O_LR},
        {"min-lr", required_argument, 0, O_MINLR}, {"schedule", required_argument, 0, O_SCHEDULE},
        {"warmup", required_argument, 0, O_WARMUP}, {"beta1", required_argument, 0, O_BETA1},
        {"beta2", required_argument, 0, O_BETA2}, {"eps", required_argument, 0, O_EPS},
        {"weight-decay", required_argument, 0, O_WD}, {"clip", required_argument, 0, O_CLIP},
        {"seed", required_argument, 0, O_SEED}, {"in-order", no_argument, 0, O_IN_ORDER}, {"eval-data", required_argument, 0, O_EVAL},
        {"eval-every", required_argument, 0, O_EVAL_EVERY}, {"save-every", required_argument, 0, O_SAVE_EVERY},
        {"log", required_argument, 0, O_LOG}, {"format", required_argument, 0, O_FORMAT},
        {"delimiter", required_argument, 0, O_DELIM}, {"stop-at", required_argument, 0, O_STOP},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"template", required_argument, 0, O_TEMPLATE}, {"shards", required_argument, 0, O_SHARDS},
        {"precision", required_argument, 0, O_PRECISION}, {0, 0, 0, 0}};
    alim_train_options o;
    alim_train_options_default(&o);
    const char **data = calloc((size_t)argc + 1, sizeof *data), **evd = calloc((size_t)argc + 1, sizeof *evd);
    if (!data || !evd) return free(data), free(evd), cli_error("train", "out of memory");
    size_t nd = 0, ne = 0;
    int json = 0, rc = 0, c, ctx_given = 0, precision_given = 0;
    uint64_t u;
    double d;
    opterr = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data[nd++] = optarg; break;
        case O_EVAL: evd[ne++] = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_INIT: o.init_dir = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_LAYERS: rc = parse_int("--layers", optarg, 1, 1000, "1000", &o.model.n_layer); break;
        case O_DIM: rc = parse_int("--dim", optarg, 1, 65536, "65536", &o.model.n_embd); break;
        case O_HEADS: rc = parse_int("--heads", optarg, 1, 65536, "65536", &o.model.n_head); break;
        case O_CONTEXT: rc = parse_int("--context", optarg, 1, 1 << 20, "2^20", &o.context); ctx_given = 1; break;
        case O_VOCAB: rc = parse_int("--vocab", optarg, 1, 1 << 24, "2^24", &o.model.vocab_size); break;
        case O_TOKENIZER: o.tokenizer = optarg; break;
        case O_STEPS: rc = cli_parse_u64("--steps", optarg, &o.steps); if (!rc && !o.steps) rc = cli_error("--steps", "must be >= 1"); break;
        case O_TOKENS: rc = cli_parse_u64("--tokens", optarg, &o.tokens); break;
        case O_EPOCHS: rc = cli_parse_double("--epochs", optarg, &o.epochs); if (!rc && !(o.epochs > 0 && isfinite(o.epochs))) rc = cli_error("--epochs", "must be a positive number"); break;
        case O_STOP: rc = cli_parse_u64("--stop-at", optarg, &o.stop_at); break;
        case O_BATCH: rc = parse_int("--batch", optarg, 1, 1 << 30, "2^30", &o.batch); break;
        case O_ACCUM: rc = parse_int("--grad-accum", optarg, 1, 1 << 30, "2^30", &o.grad_accum); break;
        case O_LR: rc = cli_parse_double("--lr", optarg, &o.lr); break;
        case O_MINLR: rc = cli_parse_double("--min-lr", optarg, &o.min_lr); break;
        case O_SCHEDULE:
            if (!strcmp(optarg, "constant")) o.schedule = ALIM_LR_CONSTANT;
            else if (!strcmp(optarg, "cosine")) o.schedule = ALIM_LR_COSINE;
            else rc = cli_error("--schedule", "'%s' is not constant or cosine", optarg);
            break;
        case O_WARMUP: rc = cli_parse_u64("--warmup", optarg, &o.warmup); break;
        case O_BETA1: rc = parse_float("--beta1", optarg, &o.adamw.beta1); break;
        case O_BETA2: rc = parse_float("--beta2", optarg, &o.adamw.beta2); break;
        case O_EPS: rc = parse_float("--eps", optarg, &o.adamw.eps); break;
        case O_WD: rc = parse_float("--weight-decay", optarg, &o.adamw.weight_decay); break;
        case O_CLIP: rc = cli_parse_double("--clip", optarg, &o.clip); break;
        case O_SEED: rc = cli_parse_u64("--seed", optarg, &o.seed); break;
        case O_IN_ORDER: o.in_order = 1; break;
        case O_EVAL_EVERY: rc = cli_parse_u64("--eval-every", optarg, &o.eval_every); break;
        case O_SAVE_EVERY: rc = cli_parse_u64("--save-every", optarg, &o.save_every); break;
        case O_LOG: o.log_path = optarg; break;
        case O_FORMAT: {
            int f = alim_data_format_parse(optarg);
            if (f < 0) rc = cli_error("--format", "'%s' is not auto, text, lines or jsonl", optarg);
            else o.format = (alim_data_format)f;
            break;
        }
        case O_DELIM: o.delimiter = optarg; if (!*optarg) rc = cli_error("--delimiter", "must not be empty"); break;
        case O_THREADS: rc = cli_lm_set_threads(optarg); break;
        case O_SHARDS: rc = parse_int("--shards", optarg, 1, 1 << 30, "2^30", &o.shards); break;
        case O_JSON: json = 1; break;
        case O_PRECISION: rc = cli_parse_precision(optarg, &o.precision); precision_given = 1; break;
        case O_TEMPLATE: {
            int k = alim_chat_kind_parse(optarg);
            if (k < 0) rc = cli_error("--template", "'%s' is not auto, chatml, llama3 or none", optarg);
            else o.chat_template = (alim_chat_kind)k;
            break;
        }
        case ':': rc = cli_usage_error("train", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("train", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    (void)u;
    (void)d;
    (void)ctx_given;
    if (!rc && !precision_given) rc = cli_parse_precision(NULL, &o.precision);
    for (int i = optind; !rc && i < argc; i++) data[nd++] = argv[i];
    if (!rc && nd == 0) rc = cli_usage_error("train", "no training data (--data FILE)");
    if (!rc && !o.out_dir) rc = cli_usage_error("train", "no output directory (--out DIR)");
    if (!rc && o.init_dir && o.resume) rc = cli_error("--init", "cannot be combined with --resume (which continues --out)");
    if (rc) {
        free(data);
        free(evd);
        return rc;
    }
    if (!o.context && !o.init_dir && !o.resume) o.context = o.model.n_positions;
    o.model.n_positions = o.context ? o.context : o.model.n_positions;
    o.refuse_foreign_out = 1;
    o.data_parallel = 1; /* under mpirun the ranks train one model together */
    o.data = data;
    o.n_data = nd;
    o.eval_data = evd;
    o.n_eval = ne;
    alim_train_result r;
    alim_error err;
    alim_error_clear(&err);
    /* under a launcher every rank runs this; rank 0 alone draws progress and prints */
    alim_status st = alim_dist_init(&err);
    if (st) {
        free(data);
        free(evd);
        return cli_fail(&err);
    }
    const int root = alim_dist_rank() == 0;
    alim_progress pg = root ? cli_progress() : (alim_progress){0};
    st = alim_train(&o, &pg, &r, &err);
    if (root) cli_progress_done();
    free(data);
    free(evd);
    /* all ranks hold the same error: rank 0 prints it, and the others wait for that before
     * they exit, since mpirun kills the job when its first process exits non-zero */
    int rc_fail = 0;
    if (st) rc_fail = root ? cli_fail(&err) : (alim_status_is_user_error(st) ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME);
    alim_error ferr;
    alim_error_clear(&ferr);
    alim_status fst = st ? alim_dist_barrier(&ferr) : ALIM_OK;
    const alim_status fin = alim_dist_finalize(&ferr);
    if (!fst) fst = fin;
    if (st) return rc_fail;
    if (fst) return cli_fail(&ferr);
    if (!root) return CLI_EXIT_OK;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out", o.out_dir);
        cJSON_AddNumberToObject(j, "num_params", (double)r.num_params);
        cJSON_AddNumberToObject(j, "train_tokens", (double)r.train_tokens);
        cJSON_AddNumberToObject(j, "first_step", (double)r.first_step);
        cJSON_AddNumberToObject(j, "last_step", (double)r.last_step);
        cJSON_AddNumberToObject(j, "total_steps", (double)r.total_steps);
        cli_json_add_number(j, "loss_nats", r.last_loss);
        if (isnan(r.last_eval_loss)) cJSON_AddNullToObject(j, "eval_loss_nats");
        else cli_json_add_number(j, "eval_loss_nats", r.last_eval_loss);
        cJSON_AddNumberToObject(j, "tokens_per_s", r.tokens_per_s);
        cJSON_AddNumberToObject(j, "elapsed_s", r.elapsed_s);
        cJSON_AddNumberToObject(j, "data_parallel_shards", r.shards);
        cJSON_AddBoolToObject(j, "shards_set", r.shards_set);
        cJSON_AddNumberToObject(j, "mpi_ranks", r.ranks);
        cJSON_AddStringToObject(j, "precision", alim_precision_name(r.precision));
        if (r.precision == ALIM_PRECISION_BF16) cJSON_AddStringToObject(j, "bf16_isa", alim_bf16_isa());
        return cli_print_json(j);
    }
    printf("trained %s: steps %llu..%llu of %llu, %zu parameters, %zu training tokens\n", o.out_dir,
           (unsigned long long)r.first_step, (unsigned long long)r.last_step, (unsigned long long)r.total_steps,
           r.num_params, r.train_tokens);
    printf("last loss  %.4f nats/token%s", r.last_loss, isnan(r.last_eval_loss) ? "\n" : "");
    if (!isnan(r.last_eval_loss)) printf(", eval loss %.4f\n", r.last_eval_loss);
    printf("speed      %.0f tokens/s (%.1f s)", r.tokens_per_s, r.elapsed_s);
    if (r.shards > 1) printf(", %d data-parallel shards", r.shards);
    if (r.ranks > 1) printf(" over %d MPI ranks", r.ranks);
    printf(", %s", alim_precision_name(r.precision));
    if (r.precision == ALIM_PRECISION_BF16) printf(" (%s)", alim_bf16_isa());
    printf("\n");
    return CLI_EXIT_OK;
}
