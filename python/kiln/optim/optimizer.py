# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim.Optimizer: parameter groups, per-parameter state and torch's state_dict
layout. The subclasses' step() calls one C++ update per parameter (kiln._C._adam_step...):
the rule's whole arithmetic is one fused pass over the parameter and its state
(Note [Fused optimizer updates] in include/kiln/optim/fused_update.hpp)."""
from collections import defaultdict

import kiln as _kiln

_C = _kiln._C


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """torch.optim.Optimizer: `params` is an iterable of tensors or of dicts (parameter
    groups, each with "params" and its own options; options a group leaves out come from
    `defaults`). `state[p]` holds parameter p's state."""

    def __init__(self, params, defaults):
        if isinstance(params, _C.Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {g[k]}" for k in sorted(g) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group):
        """Adds a group (a dict with "params" and optional options) to param_groups."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, _C.Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        group["params"] = params = list(params)
        for p in params:
            if not isinstance(p, _C.Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Drops every parameter's gradient (set_to_none, torch 2's default) or zeroes it."""
        for g in self.param_groups:
            for p in g["params"]:
                p._zero_grad(set_to_none)

    def step(self, closure=None):
        raise NotImplementedError

    def _with_grads(self, group):
        """(parameter, gradient, state) for each parameter of `group` that has a gradient."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.grad, self.state[p]

    @staticmethod
    def _evaluate(closure):
        if closure is None:
            return None
        with _kiln.enable_grad():
            return closure()

    def state_dict(self):
        """torch's layout: {"state": {index: {name: value}}, "param_groups": [{options...,
        "params": [index, ...]}]}, parameters numbered across groups in order. The state's
        tensors are the live ones (as torch's); load_state_dict copies them."""
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restores a state_dict of an optimizer of the same class over parameters of the
        same shapes (in the same groups): hyper-parameters, step counts and state tensors
        (copied, floating ones cast to their parameter's dtype)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"])
               for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = {}
        for s, g in zip(saved_groups, self.param_groups):
            by_index.update(zip(s["params"], g["params"]))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            # kiln.load gives back the int keys; a JSON round trip elsewhere may not.
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            p = by_index.get(key)
            if p is None:
                state[k] = _copy(None, v)
                continue
            for name, t in v.items():
                if isinstance(t, _C.Tensor) and name != "step" and tuple(t.shape) != p.shape:
                    raise ValueError(f"loaded state of parameter {key}: '{name}' has shape "
                                     f"{tuple(t.shape)}, the parameter {tuple(p.shape)}")
            state[p] = {name: _copy(p, t, name) for name, t in v.items()}
        groups = []
        for s, g in zip(saved_groups, self.param_groups):
            new = {k: _copy(None, v) for k, v in s.items() if k != "params"}
            new["params"] = g["params"]
            groups.append(new)
        self.state, self.param_groups = state, groups


def _copy(param, value, key=None):
    # A deep copy; floating tensors take the parameter's dtype, a tensor step count (torch's
    # layout) becomes kiln's int.
    if isinstance(value, _C.Tensor):
        if key == "step":
            return int(value.item())
        value = value.detach()
        if param is not None and value.is_floating_point() and value.dtype != param.dtype:
            return value.to(param.dtype)
        return value.clone()
    if isinstance(value, dict):
        return {k: _copy(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(param, v) for v in value)
    return value
