#!/usr/bin/env python3
"""Audit stock library models as their libraries build them and list every finding.

    pip install --no-deps timm transformers regex safetensors tokenizers huggingface_hub
    .venv/bin/python benchmarks/runtime_false_alarms.py [--timm resnet50,nf_resnet26] [--hf bert,gpt2]
                                                        [--small 64] [--skip-default] [--jsonl out.jsonl]

A stock, correctly initialised model should get no finding: each one is a false
alarm unless the library's init really is wrong (read the layers' numbers before
deciding).  timm models are audited at ``--small`` (their ``img_size`` set to it
where they take one) and at their default input size; transformers models are
built from tiny configs (random weights, as ``Model(config)`` initialises them).
Batch 4, one thread, seed 0.  Nothing is downloaded: no pretrained weights.

timm imports torchvision for a few names (FrozenBatchNorm2d, transforms, datasets)
that building a model does not use, and PyPI's torchvision does not import beside
torch 2.13; when it is missing, this script puts stand-ins for those names in
``sys.modules`` (this process only) so timm imports.  Asserts nothing.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import types

import torch

from initlint.runtime import audit

TIMM_MODELS = (
    "resnet18 resnet50 resnet26d seresnet50 resnext26ts resnetv2_50 wide_resnet50_2 ecaresnet26t "
    "seresnext26d_32x4d resnetrs50 tresnet_m nf_resnet26 nf_resnet50 nf_seresnet26 nf_regnet_b0 nfnet_f0 "
    "dm_nfnet_f0 eca_nfnet_l0 efficientnet_b0 tf_efficientnet_b0 efficientnetv2_rw_t mixnet_s "
    "mobilenetv2_100 mobilenetv3_large_100 mobilenetv4_conv_small mobilenetv4_hybrid_medium ghostnet_100 "
    "repvgg_a0 rexnet_100 mobilevit_xxs fastvit_t8 vit_tiny_patch16_224 deit_tiny_distilled_patch16_224 "
    "eva02_tiny_patch14_224 cait_xxs24_224 swin_tiny_patch4_window7_224 maxvit_nano_rw_256 focalnet_tiny_srf "
    "convnext_atto convnextv2_atto poolformer_s12 mixer_s16_224 regnety_002 densenet121 inception_v3 vgg11 "
    "vgg11_bn dla34 cspdarknet53 darknet53 cs3darknet_s hrnet_w18_small xception41"
).split()
HF_MODELS = "bert gpt2 t5 llama mixtral vit swin clip whisper wav2vec2 mobilevit".split()


def _stand_in_torchvision() -> None:
    """Names timm imports from torchvision at import time, none used to build a model."""
    try:
        import torchvision  # noqa: F401
        return
    except Exception:
        pass

    def module(name: str, **names) -> types.ModuleType:
        made = types.ModuleType(name)
        made.__dict__.update(names)
        sys.modules[name] = made
        return made

    class FrozenBatchNorm2d(torch.nn.Module):
        def __init__(self, num_features: int, eps: float = 1e-5):
            super().__init__()
            self.eps = eps
            for key, value in (("weight", torch.ones(num_features)), ("bias", torch.zeros(num_features)),
                               ("running_mean", torch.zeros(num_features)),
                               ("running_var", torch.ones(num_features))):
                self.register_buffer(key, value)

        def forward(self, x):
            scale = self.weight * (self.running_var + self.eps).rsqrt()
            shift = self.bias - self.running_mean * scale
            return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def unused(name: str) -> type:
        if name.startswith("__"):  # inspect and importlib probe modules' dunders
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *args, **kwargs: None})

    def no_op(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None

    class InterpolationMode:
        NEAREST, NEAREST_EXACT, BILINEAR, BICUBIC, BOX, HAMMING, LANCZOS = (
            "nearest", "nearest-exact", "bilinear", "bicubic", "box", "hamming", "lanczos")

    root = module("torchvision", __version__="0+stand-in")
    root.ops = module("torchvision.ops")
    root.ops.misc = module("torchvision.ops.misc", FrozenBatchNorm2d=FrozenBatchNorm2d)
    transforms = module("torchvision.transforms", InterpolationMode=InterpolationMode)
    transforms.__getattr__ = unused
    functional = module("torchvision.transforms.functional", InterpolationMode=InterpolationMode)
    functional.__getattr__ = no_op
    transforms.functional = functional
    root.transforms = transforms
    root.datasets = module("torchvision.datasets")
    root.datasets.__getattr__ = unused
    root.utils = module("torchvision.utils", save_image=lambda *args, **kwargs: None)


def _record(name: str, size, build) -> dict:
    torch.manual_seed(0)
    try:
        model, inputs = build()
        start = time.perf_counter()
        report = audit(model, inputs, print_table=False)
        return {"model": name, "size": size, "layers": len(report.layers),
                "seconds": round(time.perf_counter() - start, 2),
                "findings": [[f.code, f.layer, f.message] for f in report.findings]}
    except Exception as error:  # a model that does not build or run at this size: say so, go on
        return {"model": name, "size": size, "error": f"{type(error).__name__}: {str(error)[:200]}"}


def timm_runs(names: list, small: int, default: bool):
    _stand_in_torchvision()
    import timm

    def images(size: int) -> torch.Tensor:
        return torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(1))

    for name in names:
        def at_small(name=name):
            try:
                model = timm.create_model(name, img_size=small)
            except Exception:  # takes no img_size: the convolutional ones run at any size
                model = timm.create_model(name)
            return model, images(small)
        yield _record(name, small, at_small)
        if default:
            def at_default(name=name):
                model = timm.create_model(name)
                return model, images(model.pretrained_cfg.get("input_size", (3, 224, 224))[-1])
            yield _record(name, "default", at_default)


def hf_runs(names: list):
    import transformers as T

    def ids(count=16):
        return torch.randint(0, 100, (4, count), generator=torch.Generator().manual_seed(1))

    def pixels(size=32):
        return torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(1))

    text = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=100)
    seq2seq = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                   decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=100)
    vision = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  image_size=32, patch_size=8)
    cases = {
        "bert": lambda: (T.BertModel(T.BertConfig(**text)), {"input_ids": ids()}),
        "gpt2": lambda: (T.GPT2LMHeadModel(T.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=100,
                                                        n_positions=64)), {"input_ids": ids()}),
        "t5": lambda: (T.T5ForConditionalGeneration(T.T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                                               num_heads=4, vocab_size=100)),
                       {"input_ids": ids(), "decoder_input_ids": ids()}),
        "llama": lambda: (T.LlamaForCausalLM(T.LlamaConfig(**text, num_key_value_heads=2)), {"input_ids": ids()}),
        "mixtral": lambda: (T.MixtralForCausalLM(T.MixtralConfig(**text, num_key_value_heads=2, num_local_experts=4,
                                                                 num_experts_per_tok=2)), {"input_ids": ids()}),
        "vit": lambda: (T.ViTModel(T.ViTConfig(**vision)), {"pixel_values": pixels()}),
        "swin": lambda: (T.SwinModel(T.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1],
                                                  num_heads=[2, 2], window_size=4)), {"pixel_values": pixels()}),
        "clip": lambda: (T.CLIPModel(T.CLIPConfig(text_config=dict(text, max_position_embeddings=64),
                                                  vision_config=vision, projection_dim=16)),
                         {"input_ids": ids(), "pixel_values": pixels()}),
        "whisper": lambda: (T.WhisperModel(T.WhisperConfig(**seq2seq, num_mel_bins=16, max_source_positions=16,
                                                           max_target_positions=32, pad_token_id=0,
                                                           bos_token_id=1, eos_token_id=2,
                                                           decoder_start_token_id=1)),
                            {"input_features": torch.randn(4, 16, 32), "decoder_input_ids": ids()}),
        "wav2vec2": lambda: (T.Wav2Vec2Model(T.Wav2Vec2Config(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_dim=(16, 16),
            conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)),
            {"input_values": torch.randn(4, 1600)}),
        "mobilevit": lambda: (T.MobileViTForImageClassification(T.MobileViTConfig(
            image_size=64, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32])),
            {"pixel_values": pixels(64)}),
    }
    for name in names:
        yield _record(name, "tiny config", cases[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timm", default=",".join(TIMM_MODELS), help="comma-separated; empty: none")
    parser.add_argument("--hf", default=",".join(HF_MODELS), help="comma-separated; empty: none")
    parser.add_argument("--small", type=int, default=64, help="the small input size for timm models")
    parser.add_argument("--skip-default", action="store_true", help="timm: only the small input size")
    parser.add_argument("--jsonl", help="also write one JSON line per audit here")
    options = parser.parse_args()
    torch.set_num_threads(1)
    runs = []
    if options.hf:
        import transformers  # noqa: F401  before timm's torchvision stand-in, which it would take for the real one
    if options.timm:
        runs.append(timm_runs(options.timm.split(","), options.small, not options.skip_default))
    if options.hf:
        runs.append(hf_runs(options.hf.split(",")))
    sink = open(options.jsonl, "a") if options.jsonl else None
    audited = found = 0
    for results in runs:
        for result in results:
            if sink:
                print(json.dumps(result), file=sink, flush=True)
            if "error" in result:
                print(f"{result['model']} @ {result['size']}: not run ({result['error']})", flush=True)
                continue
            audited += 1
            found += len(result["findings"])
            print(f"{result['model']} @ {result['size']}: {len(result['findings'])} finding(s)", flush=True)
            for code, layer, message in result["findings"]:
                print(f"    {code} {layer}: {message}", flush=True)
            gc.collect()
    print(f"{audited} audits, {found} findings")


if __name__ == "__main__":
    main()
