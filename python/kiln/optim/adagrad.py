# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim.Adagrad: torch's rule, one fused C++ pass per parameter."""
import kiln as _kiln

from .optimizer import Optimizer, _C


class Adagrad(Optimizer):
    """torch.optim.Adagrad: at step t, sum += g²; p -= lr / (1 + (t - 1) lr_decay) g /
    (sqrt(sum) + eps), sum starting at initial_accumulator_value."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, foreach=None, *, maximize=False):
        for name, v in (("learning rate", lr), ("lr_decay value", lr_decay),
                        ("weight_decay value", weight_decay),
                        ("initial_accumulator_value value", initial_accumulator_value),
                        ("epsilon value", eps)):
            if not 0.0 <= v:
                raise ValueError(f"Invalid {name}: {v}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      foreach=foreach, maximize=maximize))

    def add_param_group(self, param_group):
        # torch makes Adagrad's state up front, the accumulators filled with the group's
        # initial_accumulator_value.
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p] = {"step": 0,
                             "sum": _kiln.full_like(p, group["initial_accumulator_value"])}

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            options = dict(lr=group["lr"], lr_decay=group["lr_decay"],
                           weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=group["maximize"])
            for p, grad, state in self._with_grads(group):
                state["step"] += 1
                _C._adagrad_step(p, grad, state["sum"], state["step"], **options)
        return loss
