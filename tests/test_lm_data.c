/* test_lm_data.c — tokenizers (byte, BPE load/train/save, round trips, unknown bytes),
 * datasets (text, lines, JSONL masks, errors) and the batch loader. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/dataset.h"
#include "alim/rng.h"
#include "alim/tokenizer.h"
#include "check.h"

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *path_of(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static int roundtrip(const alim_tokenizer *tk, const char *text, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    alim_error err;
    if (alim_tokenizer_encode(tk, text, len, &ids, &n, &cap, "t", &err)) return 0;
    char *out = malloc(len + 1);
    size_t k = 0;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        size_t bl;
        const char *s = alim_tokenizer_decode(tk, ids[i], &bl);
        if (!s || k + bl > len) ok = 0;
        else memcpy(out + k, s, bl), k += bl;
    }
    ok = ok && k == len && !memcmp(out, text, len);
    free(out);
    free(ids);
    return ok;
}

static void test_tokenizers(void)
{
    alim_tokenizer tk, tk2, bpe;
    alim_error err;
    CHECK(alim_tokenizer_init_bytes(&tk, &err) == ALIM_OK, "bytes");
    CHECK(tk.vocab_size == 257 && tk.eot == 256, "byte vocab");
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    CHECK(roundtrip(&tk, all, 256), "byte round trip of all 256 bytes");
    /* save/load keeps the byte ids (vocab.json maps GPT-2's alphabet to 0..255) */
    CHECK(alim_tokenizer_save(&tk, dir, &err) == ALIM_OK, "save: %s", err.what);
    CHECK(alim_tokenizer_load(&tk2, dir, &err) == ALIM_OK, "load: %s %s", err.where, err.what);
    CHECK(tk2.vocab_size == 257 && tk2.eot == 256 && tk2.n_merges == 0, "reloaded byte tokenizer");
    int same = 1;
    for (int b = 0; b < 256; b++) same &= tk2.byte_id[b] == b;
    CHECK(same, "byte ids survive save/load");
    alim_tokenizer_free(&tk2);

    /* BPE training: frequent pairs become tokens, round trips hold, save/load is stable */
    const char *text = "the cat and the hat, the bat and the mat; that's the thing they'll see.\n"
                       "123 456 and 7890   spaces\ttabs\nnewlines\n\n  end";
    const char *texts[1] = {text};
    size_t lens[1] = {strlen(text)};
    CHECK(alim_tokenizer_train(&bpe, texts, lens, 1, 300, NULL, &err) == ALIM_OK, "train: %s", err.what);
    CHECK(bpe.n_merges > 5 && bpe.vocab_size == 257 + (int)bpe.n_merges && bpe.eot == bpe.vocab_size - 1, "merges %zu", bpe.n_merges);
    CHECK(bpe.token_len[256] == 2, "first merge has 2 bytes");
    CHECK(roundtrip(&bpe, text, strlen(text)), "BPE round trip of the training text");
    const char *other = "unseen words: zebra quokka 42! \xc3\xa9t\xc3\xa9 'quoted'";
    CHECK(roundtrip(&bpe, other, strlen(other)), "BPE round trip of other text (UTF-8)");
    int32_t *ids = NULL, *ids2 = NULL;
    size_t n = 0, cap = 0, n2 = 0, cap2 = 0;
    alim_tokenizer_encode(&bpe, text, strlen(text), &ids, &n, &cap, "t", &err);
    CHECK(n < strlen(text) * 2 / 3, "BPE compresses: %zu tokens for %zu bytes", n, strlen(text));
    CHECK(alim_tokenizer_save(&bpe, dir, &err) == ALIM_OK, "save bpe: %s", err.what);
    CHECK(alim_tokenizer_load(&tk2, dir, &err) == ALIM_OK, "load bpe: %s %s", err.where, err.what);
    alim_tokenizer_encode(&tk2, text, strlen(text), &ids2, &n2, &cap2, "t", &err);
    CHECK(n == n2 && !memcmp(ids, ids2, n * sizeof *ids), "same ids after save/load");
    free(ids);
    free(ids2);
    alim_tokenizer_free(&tk2);
    alim_tokenizer_free(&bpe);

    /* a hand-written vocabulary: merges apply by rank; a byte without a token is an error */
    put("vocab.json", "{\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4, \"<|endoftext|>\": 5}");
    put("merges.txt", "#version: 0.2\na b\nab c\n");
    CHECK(alim_tokenizer_load(&tk2, dir, &err) == ALIM_OK, "load small: %s %s", err.where, err.what);
    ids = NULL, n = 0, cap = 0;
    CHECK(alim_tokenizer_encode(&tk2, "abcab", 5, &ids, &n, &cap, "t", &err) == ALIM_OK && n == 2 && ids[0] == 4 && ids[1] == 3, "abcab -> [4 3], n=%zu", n);
    CHECK(alim_tokenizer_encode(&tk2, "abz", 3, &ids, &n, &cap, "input.txt", &err) == ALIM_EINVAL && !strcmp(err.where, "input.txt") && strstr(err.what, "unknown token"), "unknown byte: %s", err.what);
    free(ids);
    alim_tokenizer_free(&tk2);
    put("merges.txt", "#version: 0.2\na q\n");
    CHECK(alim_tokenizer_load(&tk2, dir, &err) == ALIM_EFORMAT && strstr(err.where, "merges.txt:2"), "bad merge: %s", err.where);
    put("vocab.json", "{\"a\": 0, \"c\": 2}");
    CHECK(alim_tokenizer_load(&tk2, dir, &err) == ALIM_EFORMAT && strstr(err.what, "missing"), "gap in ids: %s", err.what);
    put("vocab.json", "[1,2]");
    CHECK(alim_tokenizer_load(&tk2, dir, &err) == ALIM_EFORMAT, "not an object");
    alim_tokenizer_free(&tk);
}

static void test_datasets(void)
{
    alim_tokenizer tk;
    alim_error err;
    alim_token_stream ds;
    alim_tokenizer_init_bytes(&tk, &err);
    put("a.txt", "ab<|endoftext|>c\n<|endoftext|>  \n");
    const char *p[2] = {path_of("a.txt"), NULL};
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_OK, "%s", err.what);
    /* EOT a b EOT c \n EOT  (the blank third document is skipped) */
    const int32_t want[] = {256, 'a', 'b', 256, 'c', '\n', 256};
    CHECK(ds.n == 7 && ds.n_docs == 2 && !memcmp(ds.tokens, want, sizeof want), "text stream n=%zu docs=%zu", ds.n, ds.n_docs);
    CHECK(ds.n_counted == 6 && ds.mask[0] == 0, "all but the first token count");
    alim_dataset_free(&ds);

    put("b.txt", "one\n\ntwo\n");
    p[0] = path_of("b.txt");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_LINES, NULL, &tk, &err) == ALIM_OK, "%s", err.what);
    CHECK(ds.n_docs == 2 && ds.n == 1 + 4 + 4, "lines: docs=%zu n=%zu", ds.n_docs, ds.n);
    alim_dataset_free(&ds);
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_TEXT, "\n\n", &tk, &err) == ALIM_OK && ds.n_docs == 2, "custom delimiter");
    alim_dataset_free(&ds);

    put("c.jsonl", "{\"prompt\": \"Q\", \"response\": \"AB\"}\n\n{\"prompt\": \"\", \"response\": \"C\"}\n");
    p[0] = path_of("c.jsonl");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_OK, "%s", err.what);
    /* EOT Q A B EOT C EOT: prompt tokens do not count, response and its EOT do */
    const int32_t wj[] = {256, 'Q', 'A', 'B', 256, 'C', 256};
    const uint8_t wm[] = {0, 0, 1, 1, 1, 1, 1};
    CHECK(ds.n == 7 && !memcmp(ds.tokens, wj, sizeof wj) && !memcmp(ds.mask, wm, sizeof wm), "JSONL stream and mask");
    CHECK(ds.n_counted == 5, "counted %zu", ds.n_counted);
    alim_dataset_free(&ds);

    put("d.jsonl", "{\"prompt\": \"Q\", \"response\": \"AB\"}\n{\"prompt\": 3}\n");
    p[0] = path_of("d.jsonl");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_EFORMAT && strstr(err.where, "d.jsonl:2"), "bad JSONL: %s", err.where);
    put("e.jsonl", "not json\n");
    p[0] = path_of("e.jsonl");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_EFORMAT && strstr(err.where, "e.jsonl:1"), "not JSON: %s", err.where);
    put("empty.txt", "");
    p[0] = path_of("empty.txt");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_EINVAL && strstr(err.what, "no documents"), "empty: %s", err.what);
    p[0] = path_of("missing.txt");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) != ALIM_OK && strstr(err.where, "missing.txt"), "missing file");

    /* loader: every window once per epoch, deterministic, seekable */
    char big[200];
    alim_rng r;
    alim_rng_seed(&r, 1, 2);
    for (int i = 0; i < 199; i++) big[i] = (char)('a' + alim_rng_below(&r, 26));
    big[199] = 0;
    put("big.txt", big);
    p[0] = path_of("big.txt");
    CHECK(alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err) == ALIM_OK, "%s", err.what);
    alim_loader ld, ld2;
    CHECK(alim_loader_init(&ld, &ds, 2, 10, 5, &err) == ALIM_OK, "loader");
    CHECK(ld.n_windows == 20, "windows %zu", ld.n_windows);
    int seen[20] = {0};
    for (int k = 0; k < 10; k++) {
        alim_loader_next(&ld);
        for (int b = 0; b < 2; b++) {
            int start = -1;
            for (int w = 0; w < 20; w++)
                if (!memcmp(ld.inputs + b * 10, ds.tokens + w * 10, 10 * sizeof(int32_t))) start = w;
            if (start >= 0) seen[start]++;
            CHECK(ld.targets[b * 10] == (start >= 0 ? ds.tokens[start * 10 + 1] : -2), "targets are inputs shifted by one");
        }
    }
    int all1 = 1;
    for (int w = 0; w < 20; w++) all1 &= seen[w] == 1;
    CHECK(all1, "each window once per epoch");
    alim_loader_next(&ld);
    int32_t after[20];
    memcpy(after, ld.inputs, sizeof after);
    CHECK(ld.epoch == 1 && ld.pos == 2, "epoch %llu pos %zu", (unsigned long long)ld.epoch, ld.pos);
    alim_loader_init(&ld2, &ds, 2, 10, 5, &err);
    alim_loader_seek(&ld2, 1, 0);
    alim_loader_next(&ld2);
    CHECK(!memcmp(after, ld2.inputs, sizeof after), "seek reproduces the batch");
    alim_loader_free(&ld);
    alim_loader_free(&ld2);
    /* in order: windows 0, 1, 2, ... in every epoch (nested prefixes), seekable */
    alim_loader_init(&ld, &ds, 2, 10, 5, &err);
    alim_loader_set_order(&ld, 1);
    int in_order = 1;
    for (int k = 0; k < 12; k++) {
        alim_loader_next(&ld);
        for (int b = 0; b < 2; b++) {
            const int w = (2 * k + b) % 20;
            in_order &= !memcmp(ld.inputs + b * 10, ds.tokens + w * 10, 10 * sizeof(int32_t));
        }
    }
    CHECK(in_order, "in-order windows 0..19, then again from 0");
    alim_loader_init(&ld2, &ds, 2, 10, 5, &err);
    alim_loader_set_order(&ld2, 1);
    alim_loader_seek(&ld2, 1, 4);
    alim_loader_next(&ld2);
    CHECK(!memcmp(ld2.inputs, ds.tokens + 40, 20 * sizeof(int32_t)), "in-order seek");
    alim_loader_free(&ld);
    alim_loader_free(&ld2);
    alim_dataset_free(&ds);
    /* 25 tokens, T = 10: windows start at 0, 10 and 14, so every target is covered */
    put("tail.txt", "abcdefghijklmnopqrstuvw");
    p[0] = path_of("tail.txt");
    alim_dataset_load(&ds, p, 1, ALIM_DATA_AUTO, NULL, &tk, &err);
    CHECK(ds.n == 25, "n %zu", ds.n);
    alim_loader_init(&ld, &ds, 3, 10, 1, &err);
    CHECK(ld.n_windows == 3, "tail windows %zu", ld.n_windows);
    alim_loader_next(&ld);
    int covered[25] = {0};
    for (int b = 0; b < 3; b++)
        for (int t = 0; t < 10; t++) {
            int32_t y = ld.targets[b * 10 + t];
            for (int i = 1; i < 25; i++)
                if (ds.tokens[i] == y && (i == 24 || ds.tokens[i - 1] == ld.inputs[b * 10 + t])) covered[i] = 1;
        }
    int all = 1;
    for (int i = 1; i < 25; i++) all &= covered[i];
    CHECK(all, "every target is in some window");
    alim_loader_free(&ld);
    CHECK(alim_loader_init(&ld, &ds, 2, 300, 5, &err) == ALIM_EINVAL && strstr(err.what, "fewer than context"), "context too long: %s", err.what);
    alim_dataset_free(&ds);
    alim_tokenizer_free(&tk);
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(dir, sizeof dir, "/tmp/alim-test-lmdata-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_tokenizers();
    test_datasets();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_summary(argv[0]);
}
