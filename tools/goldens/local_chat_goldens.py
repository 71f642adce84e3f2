#!/usr/bin/env python3
"""Chat-template renderings with plain jinja2 set up as transformers' apply_chat_template sets it up
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson / raise_exception /
strftime_now), for the CPU machine where transformers is not installed. make_tokenizer_goldens.py on the GPU
machine renders the same conversations with transformers itself.

    python3 tools/goldens/local_chat_goldens.py OUT_JSON NAME=MODEL_DIR [NAME=MODEL_DIR ...]

MODEL_DIR holds chat_template.jinja or tokenizer_config.json with "chat_template"; bos/eos come from
tokenizer_config.json.
"""
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_goldens import CONVERSATIONS  # noqa: E402


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def token_text(v):
    return v.get("content") if isinstance(v, dict) else v


def main():
    out_path = sys.argv[1]
    renders = []
    env = environment()
    for arg in sys.argv[2:]:
        name, folder = arg.split("=", 1)
        cfg_path = os.path.join(folder, "tokenizer_config.json")
        cfg = json.load(open(cfg_path, encoding="utf-8")) if os.path.exists(cfg_path) else {}
        jinja_path = os.path.join(folder, "chat_template.jinja")
        template = open(jinja_path, encoding="utf-8").read() if os.path.exists(jinja_path) else cfg["chat_template"]
        compiled = env.from_string(template)
        specials = {k: token_text(cfg[k]) for k in ("bos_token", "eos_token", "unk_token", "pad_token") if cfg.get(k)}
        for conv_name, messages in CONVERSATIONS:
            for gen in (False, True):
                try:
                    text, error = compiled.render(messages=messages, add_generation_prompt=gen, **specials), None
                except jinja2.exceptions.TemplateError as e:
                    text, error = None, str(e)
                renders.append({"template": name, "conversation": conv_name, "messages": messages,
                                "add_generation_prompt": gen, "rendered": text, "error": error})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"source": "jinja2 " + jinja2.__version__ + " set up like transformers", "renders": renders}, f,
                  ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
