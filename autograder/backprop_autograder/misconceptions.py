"""Wrong answers students really write, one mistake each.

Each entry: (lesson topic, exercise, wrong source of the whole function, the
key of the mistake in backprop_course.checking.MISTAKES that the visible check
must name). The tests inject each one into a solved notebook, and the demo
class of `make demo-grading` has one student per entry of its lesson.
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
        "softmax",
        "def softmax(z):\n    e = np.exp(z)\n    return e / np.sum(e, axis=0, keepdims=True)\n",
        "unstable_softmax",
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
        "backward",
        # micrograd's way: node.grad is the running sum, and it is passed on whole, with
        # whatever an earlier call left there: a second call does not exactly double.
        "def backward(root):\n"
        "    root.grad += 1.0\n"
        "    for node in reversed(topological_order(root)):\n"
        "        for parent, local in zip(node.parents, node.local_grads):\n"
        "            parent.grad += local * node.grad\n",
        "backward_not_additive",
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
    Misconception(
        "jacobians",
        "linear_vjp_weights",
        "def linear_vjp_weights(v, a):\n    return a @ v.T\n",
        "transposed",
    ),
    Misconception(
        "jacobians",
        "elementwise_vjp",
        "def elementwise_vjp(v, sigma_prime, z):\n    return v\n",
        "missing_sigma_prime",
    ),
    Misconception(
        "matrix_form",
        "output_error",
        "def output_error(a_L, y, z_L, activation, loss):\n"
        "    return LOSSES[loss].gradient(a_L, y) * DERIVATIVES[activation](a_L)\n",
        "sigma_prime_of_a",
    ),
    Misconception(
        "matrix_form",
        "hidden_error",
        "def hidden_error(W_next, delta_next, z, activation):\n    return W_next.T @ delta_next\n",
        "missing_sigma_prime",
    ),
    Misconception(
        "matrix_form",
        "weight_gradient",
        "def weight_gradient(delta, a_prev):\n    return delta * a_prev\n",
        "elementwise_for_matmul",
    ),
    Misconception(
        "matrix_form",
        "gradient_descent_update",
        "def gradient_descent_update(params, grads, eta):\n"
        "    return {\n"
        "        k: v + eta * grads[k] if k in grads else v.copy() for k, v in params.items()\n"
        "    }\n",
        "flipped_sign",
    ),
    Misconception(
        "matrix_form",
        "gradient_descent_update",
        "def gradient_descent_update(params, grads, eta):\n"
        "    for key in grads:\n"
        "        params[key] -= eta * grads[key]\n"
        "    return dict(params)\n",
        "mutated_input",
    ),
    Misconception(
        "matrix_form",
        "backprop",
        "def backprop(x, y, params, activations, loss):\n"
        "    a_L, caches = forward(x, params, activations)\n"
        "    grads = {}\n"
        "    delta = output_error(a_L, y, caches[-1].z, activations[-1], loss)\n"
        "    for l in range(len(caches), 0, -1):\n"
        "        cache = caches[l - 1]\n"
        "        grads[f'W{l}'] = weight_gradient(delta, cache.a)\n"
        "        grads[f'b{l}'] = bias_gradient(delta)\n"
        "        if l > 1:\n"
        "            delta = hidden_error(cache.W, delta, caches[l - 2].z, activations[l - 2])\n"
        "    return grads, LOSSES[loss].cost(a_L, y)\n",
        "a_l_for_a_prev",
    ),
    Misconception(
        "mini_batch",
        "batch_weight_gradient",
        "def batch_weight_gradient(Delta, A_prev):\n    return Delta @ A_prev.T\n",
        "missing_1_over_m",
    ),
    Misconception(
        "mini_batch",
        "batch_weight_gradient",
        "def batch_weight_gradient(Delta, A_prev):\n"
        "    m = Delta.shape[1]\n"
        "    return (Delta / m) @ A_prev.T / m\n",
        "doubled_1_over_m",
    ),
    Misconception(
        "mini_batch",
        "batch_bias_gradient",
        "def batch_bias_gradient(Delta):\n    return Delta.mean(axis=0, keepdims=True)\n",
        "bias_wrong_axis",
    ),
    Misconception(
        "mini_batch",
        "batch_bias_gradient",
        "def batch_bias_gradient(Delta):\n    return Delta.mean(axis=1)\n",
        "broadcast_n_n",
    ),
    Misconception(
        "mini_batch",
        "sgd",
        "def sgd(params, X, Y, activations, loss, *, epochs, batch_size, eta, momentum=0.0,\n"
        "        seed=0, callback=None):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    params = {k: v.copy() for k, v in params.items()}\n"
        "    history = []\n"
        "    for epoch in range(1, epochs + 1):\n"
        "        order = rng.permutation(X.shape[1])\n"
        "        total = 0.0\n"
        "        for start in range(0, X.shape[1], batch_size):\n"
        "            batch = order[start:start + batch_size]\n"
        "            grads, cost = backprop_batch(\n"
        "                X[:, batch], Y[:, batch], params, activations, loss\n"
        "            )\n"
        "            for k in grads:\n"
        "                params[k] = params[k] - eta * grads[k]\n"
        "            total += cost * len(batch)\n"
        "        history.append(EpochRecord(epoch, total / X.shape[1]))\n"
        "        if callback is not None:\n"
        "            callback(epoch, params)\n"
        "    return params, history\n",
        "missing_momentum",
    ),
]
