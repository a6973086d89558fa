# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim.Adam and AdamW: torch's rules (with amsgrad), one fused C++ pass per
parameter."""
import kiln as _kiln

from .optimizer import Optimizer, _C


class Adam(Optimizer):
    """torch.optim.Adam: weight_decay is an L2 term added to the gradient. Per parameter
    at step t: m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g²;
    v_max = max(v_max, v) with amsgrad; p -= lr / (1 - beta1^t) m / (sqrt(v or v_max) /
    sqrt(1 - beta2^t) + eps)."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach))

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]
            options = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                           weight_decay=group["weight_decay"], decoupled=self._decoupled,
                           maximize=group["maximize"])
            for p, grad, state in self._with_grads(group):
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = _kiln.zeros_like(p)
                    state["exp_avg_sq"] = _kiln.zeros_like(p)
                if amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = _kiln.zeros_like(p)
                state["step"] += 1
                _C._adam_step(p, grad, state["exp_avg"], state["exp_avg_sq"],
                              state["max_exp_avg_sq"] if amsgrad else None, state["step"],
                              **options)
        return loss


class AdamW(Adam):
    """torch.optim.AdamW: decoupled weight decay, p *= 1 - lr weight_decay before Adam's
    step (default weight_decay 0.01)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, foreach=None, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize)
