"""The public names of each kernel family, shared by the two backends.

``kernels/cpu/<family>.py`` and ``kernels/cuda/<family>.py`` both export these names with the
same signatures and result shapes (the CPU modules add a few CPU-only helpers), which is what lets
``kernels_for(array)`` pick a backend without the op knowing which (tests/test_cuda_dispatch.py
checks it).
"""

ACTIVATION = ("ACTIVATIONS", "FROM_OUTPUT", "forward", "backward", "backward_from_output")
CONV = ("conv_out_size", "conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight")
POOL = ("pool_output_size", "max_pool2d_forward", "scatter_add_planes", "gather_planes",
        "avg_pool2d_forward", "avg_pool2d_backward", "adaptive_avg_pool2d_forward",
        "adaptive_avg_pool2d_backward", "adaptive_max_pool2d_forward")
SOFTMAX = ("softmax_forward", "log_softmax_forward", "softmax_backward", "log_softmax_backward",
           "cross_entropy_forward", "cross_entropy_backward", "cross_entropy_total",
           "cross_entropy_coefficients")
NORM = ("batch_stats", "batch_norm_forward", "batch_norm_backward", "layer_norm_forward",
        "layer_norm_backward", "group_norm_forward", "group_norm_backward")
DROPOUT = ("scaled_mask",)
SCATTER = ("scatter_add", "index_add", "gather")
EMBEDDING = ("gather_rows", "scatter_add_rows")
UPSAMPLE = ("resample_forward", "resample_backward")
FOLD = ("fold_blocks", "unfold", "fold")
EINSUM = ("contract", "diagonal_sum", "diagonal_embed")

# issue 15, sequence models (h15b)
ATTENTION = ("sdpa_forward", "sdpa_backward")
RNN = ("lstm_gates_forward", "lstm_gates_backward", "gru_cell_forward", "gru_cell_backward",
       "times_transposed", "transposed_copy")
# issue 17, fused layer + ReLU (h17c)
FUSED = ("relu_", "bias_relu_", "relu_max_pool2d")

FAMILIES = {"activation": ACTIVATION, "conv": CONV, "pool": POOL, "softmax": SOFTMAX,
            "norm": NORM, "dropout": DROPOUT, "upsample": UPSAMPLE, "fold": FOLD,
            "embedding": EMBEDDING, "scatter": SCATTER, "attention": ATTENTION, "rnn": RNN,
            "einsum": EINSUM, "fused": FUSED}
