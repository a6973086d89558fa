# SPDX-License-Identifier: BSD-3-Clause
"""LSTM, GRU, LSTMCell and GRUCell with torch.nn's signatures, parameter names, order,
shapes and initialisation. A forward is one call of kiln's C++ layer (torch's _VF.lstm
counterpart): the time loop, the gates and their autograd run there, whatever the length."""
import math
import numbers
import warnings

from .. import _C
from . import init
from .modules import Module, Parameter, _check_device


def _check_sizes(name, input_size, hidden_size):
    for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{name}: {what} should be of type int, got: {type(v).__name__}")
        if v <= 0:
            raise ValueError(f"{name}: {what} must be greater than zero, got {v}")


def _check_input(name, input):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{name}: expected input to be a kiln.Tensor, got {type(input).__name__} "
                        "(packed sequences are not supported)")


def _check_state(name, hx):
    if hx is not None and not isinstance(hx, _C.Tensor):
        raise TypeError(f"{name}: expected hx to be a kiln.Tensor or None, got "
                        f"{type(hx).__name__}")


def _state_pair(name, hx, what):
    """An LSTM's (h, c) as the list the C++ call takes (empty for zeros)."""
    if hx is None:
        return []
    if (isinstance(hx, (tuple, list)) and len(hx) == 2
            and all(isinstance(t, _C.Tensor) for t in hx)):
        return list(hx)
    raise TypeError(f"{name}: expected hx to be a tuple {what} of tensors or None, got "
                    f"{type(hx).__name__}")


class RNNBase(Module):
    """What LSTM and GRU share (torch.nn.RNNBase): for layer k and direction d,
    weight_ih_l{k}[_reverse] [G * H, H_in of layer k], weight_hh_l{k} [G * H, H],
    bias_ih_l{k} and bias_hh_l{k} [G * H], registered layer by layer, the forward
    direction first; every one ~ U(-1/sqrt(H), 1/sqrt(H)). G = 4 (LSTM) or 3 (GRU)."""

    _GATES = {"LSTM": 4, "GRU": 3}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        _check_device(device)
        _check_sizes(mode, input_size, hidden_size)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if not isinstance(num_layers, numbers.Integral) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive int, got {num_layers}")
        if proj_size != 0:
            if mode != "LSTM":
                raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
            raise ValueError("kiln's LSTM does not support proj_size (LSTM with projections)")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), 0
        dtype = dtype or _C.float32
        dirs = 2 if bidirectional else 1
        gate_size = self._GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for d in range(dirs):
                layer_input = input_size if layer == 0 else hidden_size * dirs
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = ["weight_ih" + sfx, "weight_hh" + sfx]
                shapes = [(gate_size, layer_input), (gate_size, hidden_size)]
                if bias:
                    names += ["bias_ih" + sfx, "bias_hh" + sfx]
                    shapes += [(gate_size,), (gate_size,)]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(_C.empty(*shape, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self):
        # Read on every call: to(dtype) and load_state_dict may have replaced them.
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _run(self, fn, input, hx):
        _check_input(self.mode, input)
        return fn(input, hx, self._flat_weights, self.bias, self.num_layers, self.dropout,
                  self.training, self.bidirectional, self.batch_first)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class LSTM(RNNBase):
    """torch.nn.LSTM: input [L, N, H_in] ([N, L, H_in] with batch_first, or unbatched
    [L, H_in]); hx = (h_0, c_0), each [num_layers * D, N, H] ([.., H] unbatched), zeros
    when None. Returns output [L, N, D * H] and (h_n, c_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def forward(self, input, hx=None):
        state = _state_pair("LSTM", hx, "(h_0, c_0)")
        output, h_n, c_n = self._run(_C._lstm, input, state)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """torch.nn.GRU: shapes as LSTM's, with the hidden state h_0 alone. Returns output
    and h_n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def forward(self, input, hx=None):
        _check_state("GRU", hx)
        return self._run(_C._gru, input, hx)


class RNNCellBase(Module):
    """What LSTMCell and GRUCell share: weight_ih [G * H, H_in], weight_hh [G * H, H],
    bias_ih and bias_hh [G * H] (None without bias), all ~ U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, name, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        _check_device(device)
        _check_sizes(name, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dtype = dtype or _C.float32
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(_C.empty(g, input_size, dtype=dtype))
        self.weight_hh = Parameter(_C.empty(g, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_C.empty(g, dtype=dtype))
            self.bias_hh = Parameter(_C.empty(g, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        return s


class LSTMCell(RNNCellBase):
    """torch.nn.LSTMCell: one step; input [N, H_in] or [H_in], hx = (h, c) of [N, H] or [H]
    (zeros when None); returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTMCell", input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        _check_input("LSTMCell", input)
        state = _state_pair("LSTMCell", hx, "(h, c)")
        return _C._lstm_cell(input, state, self.weight_ih, self.weight_hh, self.bias_ih,
                             self.bias_hh)


class GRUCell(RNNCellBase):
    """torch.nn.GRUCell: one step; input [N, H_in] or [H_in], hx [N, H] or [H] (zeros when
    None); returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRUCell", input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        _check_input("GRUCell", input)
        _check_state("GRUCell", hx)
        return _C._gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
