# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim.RMSprop: torch's rule, one fused C++ pass per parameter."""
import kiln as _kiln

from .optimizer import Optimizer, _C


class RMSprop(Optimizer):
    """torch.optim.RMSprop: s = alpha s + (1 - alpha) g²; centered: a = alpha a +
    (1 - alpha) g and avg = sqrt(s - a²) + eps, else sqrt(s) + eps; with momentum
    buf = momentum buf + g / avg and p -= lr buf, else p -= lr g / avg."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            momentum, centered = group["momentum"], group["centered"]
            options = dict(lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                           weight_decay=group["weight_decay"], momentum=momentum,
                           maximize=group["maximize"])
            for p, grad, state in self._with_grads(group):
                if not state:
                    state["step"] = 0
                    state["square_avg"] = _kiln.zeros_like(p)
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = _kiln.zeros_like(p)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = _kiln.zeros_like(p)
                state["step"] += 1
                _C._rmsprop_step(p, grad, state["square_avg"],
                                 state["grad_avg"] if centered else None,
                                 state["momentum_buffer"] if momentum > 0 else None, **options)
        return loss
