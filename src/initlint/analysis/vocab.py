"""What torch names mean to initlint: layer kinds, activations, norms, init functions, gains."""
from __future__ import annotations

import math
from typing import Optional

LAYER_KINDS = {
    "Linear": "Linear", "LazyLinear": "Linear",
    "Conv1d": "Conv1d", "Conv2d": "Conv2d", "Conv3d": "Conv3d",
    "LazyConv1d": "Conv1d", "LazyConv2d": "Conv2d", "LazyConv3d": "Conv3d",
    "ConvTranspose1d": "ConvTranspose1d", "ConvTranspose2d": "ConvTranspose2d",
    "ConvTranspose3d": "ConvTranspose3d", "LazyConvTranspose1d": "ConvTranspose1d",
    "LazyConvTranspose2d": "ConvTranspose2d", "LazyConvTranspose3d": "ConvTranspose3d",
}
# Abstract bases that ``isinstance`` checks use: the kinds each one covers.
ABSTRACT_LAYER_BASES = {
    "_ConvNd": {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"},
    "_ConvTransposeNd": {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"},
    "_ConvTransposeMixin": {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"},
}
ALL_KINDS = frozenset(LAYER_KINDS.values())

# Position of ``bias`` when passed positionally, per kind.
BIAS_POSITION = {"Linear": 2, "Conv1d": 7, "Conv2d": 7, "Conv3d": 7,
                 "ConvTranspose1d": 7, "ConvTranspose2d": 7, "ConvTranspose3d": 7}

RELU_FAMILY = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu"})

# nn module class -> (activation name, default negative slope)
ACTIVATION_MODULES = {
    "ReLU": ("relu", None), "ReLU6": ("relu6", None), "LeakyReLU": ("leaky_relu", 0.01),
    "PReLU": ("prelu", 0.25), "RReLU": ("rrelu", (1 / 8 + 1 / 3) / 2), "ELU": ("elu", None),
    "SELU": ("selu", None), "CELU": ("celu", None), "GELU": ("gelu", None), "SiLU": ("silu", None),
    "Mish": ("mish", None), "Tanh": ("tanh", None), "Sigmoid": ("sigmoid", None),
    "Softmax": ("softmax", None), "LogSoftmax": ("softmax", None), "Hardswish": ("hardswish", None),
    "Hardtanh": ("hardtanh", None), "Softplus": ("softplus", None), "Hardsigmoid": ("hardsigmoid", None),
    "GLU": ("glu", None), "Tanhshrink": ("tanhshrink", None),
}
# functional / torch-level activation functions -> activation name
ACTIVATION_FUNCTIONS = {
    "torch.nn.functional.relu": "relu", "torch.nn.functional.relu_": "relu",
    "torch.nn.functional.relu6": "relu6", "torch.nn.functional.leaky_relu": "leaky_relu",
    "torch.nn.functional.leaky_relu_": "leaky_relu", "torch.nn.functional.prelu": "prelu",
    "torch.nn.functional.rrelu": "rrelu", "torch.nn.functional.elu": "elu",
    "torch.nn.functional.selu": "selu", "torch.nn.functional.celu": "celu",
    "torch.nn.functional.gelu": "gelu", "torch.nn.functional.silu": "silu",
    "torch.nn.functional.mish": "mish", "torch.nn.functional.tanh": "tanh",
    "torch.nn.functional.sigmoid": "sigmoid", "torch.nn.functional.softmax": "softmax",
    "torch.nn.functional.log_softmax": "softmax", "torch.nn.functional.hardswish": "hardswish",
    "torch.nn.functional.glu": "glu", "torch.nn.functional.softplus": "softplus",
    "torch.relu": "relu", "torch.relu_": "relu", "torch.tanh": "tanh", "torch.sigmoid": "sigmoid",
    "torch.softmax": "softmax", "torch.log_softmax": "softmax", "torch.selu": "selu",
    "torch.nn.functional.hardtanh": "hardtanh",
}
ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "tanh": "tanh", "tanh_": "tanh",
                      "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "softmax": "softmax",
                      "log_softmax": "softmax"}

NORM_MODULES = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
                          "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm",
                          "LayerNorm", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
                          "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
                          "RMSNorm", "LocalResponseNorm"})
# Norms that subtract a per-channel mean, cancelling a preceding per-channel bias.
BIAS_CANCELLING_NORMS = frozenset(n for n in NORM_MODULES if "BatchNorm" in n or "InstanceNorm" in n)
NORM_FUNCTIONS = {"torch.nn.functional.batch_norm": "BatchNorm",
                  "torch.nn.functional.instance_norm": "InstanceNorm",
                  "torch.nn.functional.layer_norm": "LayerNorm",
                  "torch.nn.functional.group_norm": "GroupNorm"}

PASS_THROUGH_MODULES = frozenset({
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Flatten", "Unflatten", "Identity", "Upsample",
    "PixelShuffle", "PixelUnshuffle", "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d",
    "ReplicationPad2d"})
PASS_THROUGH_FUNCTIONS = frozenset({
    "torch.nn.functional.dropout", "torch.nn.functional.dropout1d", "torch.nn.functional.dropout2d",
    "torch.nn.functional.dropout3d", "torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d",
    "torch.nn.functional.max_pool3d", "torch.nn.functional.avg_pool1d", "torch.nn.functional.avg_pool2d",
    "torch.nn.functional.avg_pool3d", "torch.nn.functional.adaptive_avg_pool1d",
    "torch.nn.functional.adaptive_avg_pool2d", "torch.nn.functional.adaptive_max_pool2d",
    "torch.nn.functional.interpolate", "torch.nn.functional.pad", "torch.flatten",
    "torch.reshape", "torch.nn.functional.pixel_shuffle"})
# Functions joining several tensors: each input goes on to what consumes the result.
JOIN_FUNCTIONS = frozenset({"torch.cat", "torch.concat", "torch.concatenate", "torch.stack"})
PASS_THROUGH_METHODS = frozenset({"view", "reshape", "flatten", "permute", "transpose", "contiguous",
                                  "squeeze", "unsqueeze", "view_as", "reshape_as", "mean"})

CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})

INIT_MODULE = "torch.nn.init"
# Canonical (underscore) torch.nn.init functions.
INIT_FUNCTIONS = frozenset({"zeros_", "ones_", "constant_", "eye_", "dirac_", "uniform_", "normal_",
                            "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                            "kaiming_normal_", "orthogonal_", "sparse_"})
DEPRECATED_INIT_FUNCTIONS = {"uniform": "uniform_", "normal": "normal_", "constant": "constant_",
                             "xavier_uniform": "xavier_uniform_", "xavier_normal": "xavier_normal_",
                             "kaiming_uniform": "kaiming_uniform_", "kaiming_normal": "kaiming_normal_",
                             "orthogonal": "orthogonal_", "sparse": "sparse_", "eye": "eye_",
                             "dirac": "dirac_"}
# In-place tensor methods that initialise a parameter.
TENSOR_INIT_METHODS = frozenset({"zero_", "fill_", "normal_", "uniform_", "copy_", "constant_",
                                 "trunc_normal_"})
WEIGHT_STYLE_INITS = frozenset({"xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                "kaiming_normal_", "orthogonal_", "dirac_", "eye_", "sparse_"})

# Helpers from mmcv/mmengine/fvcore that take a module and do nothing when handed a tensor.
MODULE_INIT_HELPERS = frozenset({"constant_init", "normal_init", "kaiming_init", "xavier_init",
                                 "uniform_init", "trunc_normal_init", "caffe2_xavier_init",
                                 "bias_init_with_prob", "c2_msra_fill", "c2_xavier_fill"})
MODULE_INIT_HELPER_PACKAGES = ("mmcv", "mmengine", "fvcore", "mmdet", "detectron2")

# What each module helper does to the module's weight: its parameters after the module (name, default
# or None where torch's own default is the same), and the torch.nn.init call it makes ({name}: the
# argument's code; {distribution}: its string). The bias is set to the ``bias`` argument (default 0).
MODULE_HELPER_INITS = {
    "constant_init": ((("val", None), ("bias", "0")), "constant_(w, val={val})"),
    "normal_init": ((("mean", None), ("std", None), ("bias", "0")), "normal_(w{mean}{std})"),
    "trunc_normal_init": ((("mean", None), ("std", None), ("a", None), ("b", None), ("bias", "0")),
                          "trunc_normal_(w{mean}{std}{a}{b})"),
    "uniform_init": ((("a", None), ("b", None), ("bias", "0")), "uniform_(w{a}{b})"),
    "xavier_init": ((("gain", None), ("bias", "0"), ("distribution", '"normal"')), "xavier_{distribution}_(w{gain})"),
    "kaiming_init": ((("a", "0"), ("mode", '"fan_out"'), ("nonlinearity", '"relu"'), ("bias", "0"),
                      ("distribution", '"normal"')),
                     "kaiming_{distribution}_(w, a={a}, mode={mode}, nonlinearity={nonlinearity})"),
    "caffe2_xavier_init": ((("bias", "0"),), 'kaiming_uniform_(w, a=1, mode="fan_in", nonlinearity="leaky_relu")'),
    "c2_msra_fill": ((), 'kaiming_normal_(w, mode="fan_out", nonlinearity="relu")'),
    "c2_xavier_fill": ((), "kaiming_uniform_(w, a=1)"),
}


def activation_gain(name: Optional[str], slope: Optional[float] = None) -> Optional[float]:
    """The gain an init should use before this activation (None where there is no agreed one).

    SELU and softmax want unit gain: PyTorch's docs use ``nonlinearity="linear"`` for
    self-normalising networks.
    """
    if name in ("relu", "relu6"):
        return math.sqrt(2.0)
    if name in ("leaky_relu", "prelu", "rrelu"):
        slope = 0.01 if slope is None else slope
        return math.sqrt(2.0 / (1 + slope ** 2))
    if name == "tanh":
        return 5.0 / 3
    if name in ("sigmoid", "softmax", "selu", "linear"):
        return 1.0
    return None


def kaiming_gain(nonlinearity: str, a: float) -> Optional[float]:
    """The gain ``torch.nn.init.kaiming_*_`` uses for its ``nonlinearity``/``a`` arguments."""
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a ** 2))
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity in ("linear", "sigmoid", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d"):
        return 1.0
    return None


def nonlinearity_for(name: str) -> tuple[str, Optional[float]]:
    """The ``nonlinearity`` (and ``a``) a kaiming init should be given before this activation."""
    if name in ("relu", "relu6"):
        return "relu", None
    if name in ("leaky_relu", "prelu", "rrelu"):
        return "leaky_relu", None
    if name in ("selu", "softmax"):
        return "linear", None
    return name, None


# Pass-through ops that keep a per-channel constant a per-channel constant (max pooling, resizing).
PER_CHANNEL_PRESERVING = frozenset({
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "Identity", "Upsample", "ReflectionPad2d", "ReplicationPad2d", "contiguous",
    "torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d", "torch.nn.functional.max_pool3d",
    "torch.nn.functional.adaptive_max_pool2d", "torch.nn.functional.interpolate"})
