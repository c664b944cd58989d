"""Action masking by a large negative *finite* logit.

A finite value (not -inf) keeps softmax, log-softmax and the entropy term p*log(p) free of
NaN, while exp() of it underflows so an illegal action's probability is exactly 0.
"""

from __future__ import annotations

import torch


def mask_value(dtype: torch.dtype) -> float:
    """The logit given to illegal actions: half the dtype's most negative finite number."""
    return torch.finfo(dtype).min / 2


def apply_mask(logits: torch.Tensor, action_mask: torch.Tensor | None) -> torch.Tensor:
    """Replace logits (or Q-values) of actions where `action_mask` is 0 by `mask_value`."""
    if action_mask is None:
        return logits
    return logits.masked_fill(action_mask == 0, mask_value(logits.dtype))
