# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim.SGD: torch.optim.SGD's rule, one fused C++ pass per parameter."""
from .optimizer import Optimizer, _C


class SGD(Optimizer):
    """torch.optim.SGD: momentum, dampening, Nesterov momentum, weight_decay (an L2 term
    added to the gradient) and maximize. Per parameter p with gradient g:
    d = g + weight_decay p; buf = d on the first step, else momentum buf + (1 - dampening) d;
    p -= lr (d + momentum buf if nesterov else buf)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach))

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            options = dict(lr=group["lr"], momentum=group["momentum"],
                           dampening=group["dampening"], weight_decay=group["weight_decay"],
                           nesterov=group["nesterov"], maximize=group["maximize"])
            for p, grad, state in self._with_grads(group):
                # torch keeps momentum_buffer=None for a parameter stepped without momentum.
                state["momentum_buffer"] = _C._sgd_step(p, grad, state.get("momentum_buffer"),
                                                        **options)
        return loss
