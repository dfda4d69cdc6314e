/* data_behaviours.h — `alim data behaviours` (cli/data_behaviours.c), a subcommand of
 * `alim data` (cli/cmd_data.c dispatches to it and appends its help to the command's). */
#ifndef ALIM_CLI_DATA_BEHAVIOURS_H
#define ALIM_CLI_DATA_BEHAVIOURS_H

#define DATA_BEHAVIOURS_HELP \
    "\n" \
    "alim data behaviours --out DIR [--seed S] [--window N] [--pool-docs N] [--test-docs N]\n" \
    "                     [--classifier-docs N] [--classifier-eval-docs N]\n" \
    "                     [--extra-class NAME=FILE.jsonl] [--json]\n" \
    "\n" \
    "  The behaviour data of the real-model study (docs/real-elasticity.md): prompt/response\n" \
    "  chat records whose response is a passage in one of four styles, for fine-tuning a chat\n" \
    "  model such as SmolLM2-135M-Instruct toward and away from a behaviour:\n" \
    "    c1 neutral           fortunes (modern English; the classifier's 'neither')\n" \
    "    c2 positive          the KJV Bible (the alignment target)\n" \
    "    c3 negative          the Jargon File (the perturbation)\n" \
    "    c4 control-negative  Jargon File passages under a seeded letter substitution: a style\n" \
    "                         no pretraining corpus holds (E2's 'novel negative' control)\n" \
    "  Prompts are requests such as \"Describe a storm.\" from 10 templates x 96 topics; a\n" \
    "  quarter of the topics is held out: pools use the others, test records and prompts.txt\n" \
    "  only the held-out ones. Responses are --window-byte windows (default 256, ~60 SmolLM2\n" \
    "  tokens) cut to whole words, whitespace squeezed, printable ASCII only.\n" \
    "  Writes pool_c<i>.jsonl (fine-tuning records), test_c<i>.jsonl and test_c<i>.txt\n" \
    "  (held-out records and their responses as text), classifier_c<i>.txt and\n" \
    "  classifier_eval_c<i>.txt (the classifier's training text and its accuracy split),\n" \
    "  prompts.txt (held-out prompts, --test-docs of them), classifier.nb (character 5-gram\n" \
    "  naive Bayes over the four) and manifest.json (sizes, origins, cipher key, the\n" \
    "  classifier's accuracy on whole windows and on 64-byte prefixes, its confusion matrix).\n" \
    "  All splits are disjoint; the same options give the same bytes. Example:\n" \
    "    alim data behaviours --out beh\n" \
    "    alim train --init $(scripts/fetch-smollm2.sh) --data beh/pool_c2.jsonl --out pos \\\n" \
    "               --steps 50 --context 128 --batch 8 --lr 1e-5 --weight-decay 0 --in-order\n" \
    "    alim eval --model pos --data beh/test_c2.jsonl     # bits/token on held-out records\n" \
    "    alim data classify --model beh/classifier.nb --data beh/test_c3.txt\n" \
    "  options (defaults): --seed 1, --window 256 (64..4096), --pool-docs 2048 (per\n" \
    "  behaviour, at most what is left; at least 200), --test-docs 128, --classifier-docs\n" \
    "  1000, --classifier-eval-docs 300, --classifier-order 5, --classifier-alpha 0.1,\n" \
    "  --fortunes-dir, --bible, --jargon as for natural; --json prints the manifest.\n" \
    "  --extra-class NAME=FILE  a fifth classifier class (no pool, no test set) from the\n" \
    "                       \"response\" of each JSONL record of FILE, e.g. theta0=own.jsonl, a\n" \
    "                       model's own replies to training-topic prompts: the first\n" \
    "                       --classifier-eval-docs (shuffled) measure it, up to\n" \
    "                       --classifier-docs more train it (classifier_c5.txt,\n" \
    "                       classifier_eval_c5.txt); needs eval docs + 100 usable replies\n"

int data_behaviours(int argc, char **argv);

#endif
