"""Wrong answers students really write, one mistake each, for the checks' tests.

Each entry: (lesson topic, exercise, wrong source of the whole function, the
key of the mistake in backprop_course.checking.MISTAKES the visible check
must name). The wrong sources run in a namespace holding the lesson's
reference functions, as a student's notebook holds their earlier answers.
"""

from __future__ import annotations

from typing import NamedTuple


class Misconception(NamedTuple):
    topic: str
    exercise: str
    source: str
    mistake: str

    @property
    def id(self) -> str:
        return f"{self.exercise}-{self.mistake}"


MISCONCEPTIONS = [
    Misconception(
        "forward_pass",
        "sigmoid_prime",
        "def sigmoid_prime(z):\n    return z * (1 - z)\n",
        "sigma_prime_of_a",
    ),
    Misconception(
        "forward_pass",
        "dense_forward",
        "def dense_forward(W, b, a_prev):\n    return W * a_prev + b, (a_prev, W, b)\n",
        "elementwise_for_matmul",
    ),
    Misconception(
        "forward_pass",
        "dense_forward",
        "def dense_forward(W, b, a_prev):\n    return W.T @ a_prev + b, (a_prev, W, b)\n",
        "transposed",
    ),
    Misconception(
        "forward_pass",
        "softmax",
        "def softmax(z):\n"
        "    z -= np.max(z, axis=0, keepdims=True)\n"
        "    e = np.exp(z)\n"
        "    return e / np.sum(e, axis=0, keepdims=True)\n",
        "mutated_input",
    ),
    Misconception(
        "forward_pass",
        "softmax",
        "def softmax(z):\n    e = np.exp(z)\n    return e / np.sum(e, axis=1, keepdims=True)\n",
        "softmax_wrong_axis",
    ),
    Misconception(
        "forward_pass",
        "half_squared_error",
        "def half_squared_error(a, y):\n    return float(np.sum(0.5 * (a - y) ** 2))\n",
        "missing_1_over_m",
    ),
    Misconception(
        "forward_pass",
        "init_params",
        "def init_params(sizes, seed=0, scheme='xavier', dtype=np.float64):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    gain = {'xavier': 1.0, 'he': 2.0}[scheme]\n"
        "    params = {}\n"
        "    for l in range(1, len(sizes)):\n"
        "        std = np.sqrt(gain / sizes[l - 1])\n"
        "        W = rng.standard_normal((sizes[l], sizes[l - 1])) * std\n"
        "        params[f'W{l}'] = W.astype(dtype)\n"
        "        params[f'b{l}'] = np.zeros(sizes[l], dtype=dtype)\n"
        "    return params\n",
        "broadcast_n_n",
    ),
    Misconception(
        "forward_pass",
        "layer_forward",
        "def layer_forward(W, b, a_prev, activation):\n"
        "    z, _ = dense_forward(W, b, a_prev)\n"
        "    a = ACTIVATIONS[activation](z)\n"
        "    return a, LayerCache(a, W, z, a, activation)\n",
        "a_l_for_a_prev",
    ),
    Misconception(
        "chain_rule",
        "neuron_gradients",
        "def neuron_gradients(w, b, x, y):\n"
        "    s = 1 / (1 + math.exp(-(w * x + b)))\n"
        "    return (s - y) * x, s - y\n",
        "missing_sigma_prime",
    ),
    Misconception(
        "chain_rule",
        "gradient_descent_step",
        "def gradient_descent_step(leaves, eta):\n"
        "    for leaf in leaves:\n"
        "        leaf.data += eta * leaf.grad\n",
        "flipped_sign",
    ),
    Misconception(
        "chain_rule",
        "backward",
        "def backward(root):\n"
        "    root.grad = 1.0\n"
        "    for node in reversed(topological_order(root)):\n"
        "        for parent, local in zip(node.parents, node.local_grads):\n"
        "            parent.grad = node.grad * local\n",
        "overwritten_gradient",
    ),
    Misconception(
        "chain_rule",
        "numerical_derivative",
        "def numerical_derivative(f, x, h=1e-6):\n    return (f(x + h) - f(x)) / h\n",
        "one_sided_difference",
    ),
    Misconception(
        "chain_rule",
        "mul_rule",
        "def mul_rule(x, y):\n    return x * y, (x, y)\n",
        "swapped_partials",
    ),
]
