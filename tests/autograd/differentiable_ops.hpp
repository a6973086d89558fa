// SPDX-License-Identifier: BSD-3-Clause
// Every differentiable public op. Each must have a gradcheck case in the registry; an op
// missing one fails test_gradcheck_table.cpp by name.
#pragma once

namespace kiln::test {

inline constexpr const char* kDifferentiableOps[] = {
    // elementwise (fused nodes; tests/autograd/test_gradcheck_elementwise.cpp)
    "neg", "abs", "square", "sqrt", "rsqrt", "reciprocal", "exp", "exp2", "expm1", "log",
    "log2", "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "erf", "sigmoid", "relu", "silu", "gelu", "gelu_tanh", "leaky_relu", "elu", "softplus",
    "clamp", "add", "sub", "mul", "div", "pow", "atan2", "remainder", "floor_divide", "maximum",
    "minimum", "where", "cast",
    // views and copies (test_gradcheck_views.cpp)
    "slice", "select", "narrow", "transpose", "t", "permute", "view", "reshape", "flatten",
    "expand", "squeeze", "unsqueeze", "clone", "contiguous",
    // reductions
    "sum", "mean",
    // reductions, softmax, scans, sorting, dropout (test_gradcheck_reduce.cpp)
    "prod", "amax", "amin", "max", "min", "var", "std", "logsumexp", "norm", "softmax",
    "log_softmax", "cumsum", "cumprod", "sort", "topk", "dropout",
    // indexing, masks, joins, reordering, triangles, padding (test_gradcheck_index.cpp,
    // test_gradcheck_shape.cpp)
    "index_select", "gather", "scatter", "scatter_add", "index_add", "take_along_dim", "index",
    "index_put",
    "embedding", "masked_fill", "masked_select", "masked_scatter", "cat", "stack", "split",
    "chunk", "unbind", "flip", "roll", "repeat", "tile", "tril", "triu", "diag", "diagonal",
    "pad",
    // matrix products, convolutions, pooling (test_gradcheck_matmul.cpp, test_gradcheck_conv.cpp)
    "matmul", "mm", "bmm", "mv", "dot", "outer", "addmm", "baddbmm", "linear", "conv1d", "conv2d",
    "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    // linalg (test_gradcheck_linalg.cpp)
    "linalg.solve", "linalg.inv", "linalg.det", "linalg.slogdet", "linalg.cholesky",
    "linalg.matrix_power", "linalg.qr", "linalg.eigh", "linalg.eigvalsh", "linalg.svd",
    "linalg.svdvals", "linalg.vector_norm", "linalg.matrix_norm", "linalg.norm",
};

}  // namespace kiln::test
