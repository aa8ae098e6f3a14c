"""The rule catalogue: one module per rule."""
from __future__ import annotations

from .base import Options, Rule
from .ini001_constant_weight import ConstantHiddenWeight
from .ini002_xavier_before_relu import XavierBeforeRelu
from .ini003_missing_he_init import MissingHeInit
from .ini004_kaiming_mismatch import KaimingMismatch
from .ini005_unscaled_random import UnscaledRandomInit
from .ini101_bias_init_without_bias import BiasInitWithoutBias
from .ini102_weight_init_on_bias import WeightInitOnBias
from .ini103_default_bias_kept import DefaultBiasKept
from .ini104_bias_before_norm import BiasBeforeNorm
from .ini105_negative_bias_before_relu import NegativeBiasBeforeRelu
from .ini106_bias_truth_test import BiasTruthTest
from .ini107_invalid_init_arguments import InvalidInitArguments
from .ini201_init_in_forward import InitInForward
from .ini202_init_before_layers import InitBeforeLayers
from .ini203_deprecated_init import DeprecatedInit
from .ini204_module_helper_on_tensor import ModuleHelperOnTensor
from .ini901_unused_noqa import UnusedNoqa

ALL_RULES: tuple[Rule, ...] = (
    ConstantHiddenWeight(), XavierBeforeRelu(), MissingHeInit(), KaimingMismatch(), UnscaledRandomInit(),
    BiasInitWithoutBias(), WeightInitOnBias(), DefaultBiasKept(), BiasBeforeNorm(),
    NegativeBiasBeforeRelu(), BiasTruthTest(), InvalidInitArguments(), InitInForward(), InitBeforeLayers(),
    DeprecatedInit(), ModuleHelperOnTensor(), UnusedNoqa(),
)
RULES_BY_CODE = {rule.code: rule for rule in ALL_RULES}
RULES_BY_NAME = {rule.name: rule for rule in ALL_RULES}
PARSE_ERROR_CODE = "INI900"
UNUSED_NOQA_CODE = "INI901"


def find_rule(code_or_name: str):
    return RULES_BY_CODE.get(code_or_name.upper()) or RULES_BY_NAME.get(code_or_name.lower())


__all__ = ["ALL_RULES", "RULES_BY_CODE", "RULES_BY_NAME", "Options", "Rule", "find_rule", "PARSE_ERROR_CODE"]
