# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim: SGD and Adam with torch's update rules and parameter groups. Each update
is a few kiln ops per parameter, written in place without recording history (the C++
optimizers' one-pass fused updates are to be bound here next)."""
import math

from . import _C, no_grad


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        seen = set()
        for g in groups:
            g = dict(g)
            g["params"] = list(g["params"])
            for p in g["params"]:
                if id(p) in seen:
                    raise ValueError("some parameters appear in more than one parameter group")
                seen.add(id(p))
            for k, v in defaults.items():
                g.setdefault(k, v)
            g.setdefault("initial_lr", g["lr"])
            self.param_groups.append(g)

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                p._zero_grad(set_to_none)


class SGD(Optimizer):
    """torch.optim.SGD: momentum, dampening, nesterov and weight_decay."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"invalid SGD hyper-parameters: lr={lr}, momentum={momentum}, "
                             f"weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self):
        with no_grad():
            for g in self.param_groups:
                for p in g["params"]:
                    d = p.grad
                    if d is None:
                        continue
                    if g["weight_decay"]:
                        d = d + g["weight_decay"] * p
                    if g["momentum"]:
                        buf = self.state.get(id(p))
                        if buf is None:
                            buf = self.state[id(p)] = d.clone()
                        else:
                            buf *= g["momentum"]
                            buf += (1 - g["dampening"]) * d
                        d = d + g["momentum"] * buf if g["nesterov"] else buf
                    p -= g["lr"] * d


class Adam(Optimizer):
    """torch.optim.Adam (and AdamW's decoupled weight decay with `decoupled=True`)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled=False):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid Adam hyper-parameters: lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled=decoupled))

    def step(self):
        with no_grad():
            for g in self.param_groups:
                b1, b2 = g["betas"]
                for p in g["params"]:
                    d = p.grad
                    if d is None:
                        continue
                    st = self.state.setdefault(id(p), {"step": 0, "m": _C.zeros(p.shape, dtype=p.dtype),
                                                       "v": _C.zeros(p.shape, dtype=p.dtype)})
                    st["step"] += 1
                    if g["weight_decay"]:
                        if g["decoupled"]:
                            p *= 1 - g["lr"] * g["weight_decay"]
                        else:
                            d = d + g["weight_decay"] * p
                    m, v = st["m"], st["v"]
                    m *= b1
                    m += (1 - b1) * d
                    v *= b2
                    v += (1 - b2) * d * d
                    c1 = 1 - b1 ** st["step"]
                    c2 = 1 - b2 ** st["step"]
                    p -= (g["lr"] / c1) * m / ((v / c2).sqrt() + g["eps"])


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 0.01)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay, decoupled=True)




class _LRScheduler:
    """Sets each group's lr from the epoch count in closed form, from the group's
    initial_lr (torch's semantics for these schedulers)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.last_epoch = 0
        self._apply()

    def step(self):
        self.last_epoch += 1
        self._apply()

    def _apply(self):
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr_at(g["initial_lr"], self.last_epoch)

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]


class StepLR(_LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base, epoch):
        return base * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(_LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0):  # noqa: N803  (torch's name)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base, epoch):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


# torch spells them torch.optim.lr_scheduler.StepLR.
lr_scheduler = type("lr_scheduler", (), {"StepLR": StepLR, "CosineAnnealingLR": CosineAnnealingLR})
