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


# The parts of a whole sgd that its lesson-05 misconceptions share; each differs in its update.
SGD_HEAD = (
    "def sgd(params, X, Y, activations, loss, *, epochs, batch_size, eta, momentum=0.0,\n"
    "        weight_decay=0.0, seed=0, callback=None):\n"
    "    N = X.shape[1]\n"
    "    rng = np.random.default_rng(seed)\n"
    "    params = {k: v.copy() for k, v in params.items()}\n"
    "    v = {k: np.zeros_like(p) for k, p in params.items()}\n"
    "    history = []\n"
    "    for epoch in range(1, epochs + 1):\n"
    "        order = rng.permutation(N)\n"
    "        total = 0.0\n"
    "        for start in range(0, N, batch_size):\n"
    "            batch = order[start:start + batch_size]\n"
    "            grads, cost = backprop_batch(\n"
    "                X[:, batch], Y[:, batch], params, activations, loss\n"
    "            )\n"
)
SGD_TAIL = (
    "            total += cost * len(batch)\n"
    "        history.append(EpochRecord(epoch, total / N))\n"
    "        if callback is not None:\n"
    "            callback(epoch, params)\n"
    "    return params, history\n"
)

# A student's right gradient_check (lesson 04); its misconceptions each change a line or two.
GRADIENT_CHECK = (
    "def gradient_check(cost, params, grads, h=1e-6):\n"
    "    work = {k: v.astype(float) for k, v in params.items()}\n"
    "    report = {}\n"
    "    for key in grads:\n"
    "        numeric = np.zeros(work[key].shape)\n"
    "        for i in np.ndindex(work[key].shape):\n"
    "            old = work[key][i]\n"
    "            work[key][i] = old + h\n"
    "            up = cost(work)\n"
    "            work[key][i] = old - h\n"
    "            down = cost(work)\n"
    "            work[key][i] = old\n"
    "            numeric[i] = (up - down) / (2 * h)\n"
    "        g = grads[key]\n"
    "        size = np.abs(g) + np.abs(numeric)\n"
    "        errors = np.abs(g - numeric) / np.maximum(size, max(size.mean(), 1e-12))\n"
    "        i = np.unravel_index(int(np.argmax(errors)), errors.shape)\n"
    "        where = tuple(int(n) for n in i)\n"
    "        report[key] = GradientCheck(relative_error(g, numeric), where, float(errors.max()))\n"
    "    return report\n"
)


def with_changes(source: str, *changes: tuple[str, str]) -> str:
    """``source`` with each (right, wrong) text replaced; each right text occurs once."""
    for right, wrong in changes:
        assert source.count(right) == 1, right
        source = source.replace(right, wrong)
    return source


def gradient_check_with(*changes: tuple[str, str]) -> str:
    """GRADIENT_CHECK with each (right, wrong) text replaced."""
    return with_changes(GRADIENT_CHECK, *changes)


# A student's right answers of lesson 06; its misconceptions each change a line or two.
RNN_STEP_BACKWARD = (
    "def rnn_step_backward(dh, cache):\n"
    "    x, h_prev, h, W_xh, W_hh = cache\n"
    "    m = dh.shape[1]\n"
    "    delta = dh * (1 - h ** 2)\n"
    "    grads = {'W_xh': delta @ x.T / m, 'W_hh': delta @ h_prev.T / m,\n"
    "             'b_h': np.sum(delta, axis=1, keepdims=True) / m}\n"
    "    return W_xh.T @ delta, W_hh.T @ delta, grads\n"
)
BPTT = (
    "def bptt(X, Y, h0, params, loss):\n"
    "    H, caches = rnn_forward(X, h0, params)\n"
    "    m = X.shape[2]\n"
    "    grads = {'W_hy': np.zeros_like(params['W_hy']), 'b_y': np.zeros_like(params['b_y'])}\n"
    "    dH, cost = np.zeros_like(H), 0.0\n"
    "    for t in range(len(H)):\n"
    "        y = params['W_hy'] @ H[t] + params['b_y']\n"
    "        cost += LOSSES[loss].cost(y, Y[t])\n"
    "        dy = LOSSES[loss].gradient(y, Y[t])\n"
    "        grads['W_hy'] += dy @ H[t].T / m\n"
    "        grads['b_y'] += dy.sum(axis=1, keepdims=True) / m\n"
    "        dH[t] = params['W_hy'].T @ dy\n"
    "    _, _, recurrent = rnn_backward(dH, caches)\n"
    "    grads.update(recurrent)\n"
    "    return grads, cost, H[-1]\n"
)


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
        "def dense_forward(W, b, a_prev):\n    return W * a_prev + b, (a_prev, W)\n",
        "elementwise_for_matmul",
    ),
    Misconception(
        "forward_pass",
        "dense_forward",
        "def dense_forward(W, b, a_prev):\n    return W.T @ a_prev + b, (a_prev, W)\n",
        "transposed",
    ),
    Misconception(
        "forward_pass",
        "dense_forward",
        # CS231n's affine_forward caches (x, w, b); the backward pass here needs no b.
        "def dense_forward(W, b, a_prev):\n    return W @ a_prev + b, (a_prev, W, b)\n",
        "wrong_dense_cache",
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
        "def init_params(sizes, seed=0, scheme='lecun', dtype=np.float64):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    params = {}\n"
        "    for l in range(1, len(sizes)):\n"
        "        n_in, n_out = sizes[l - 1], sizes[l]\n"
        "        variance = {'lecun': 1 / n_in, 'glorot': 2 / (n_in + n_out), 'he': 2 / n_in}\n"
        "        W = rng.standard_normal((n_out, n_in)) * np.sqrt(variance[scheme])\n"
        "        params[f'W{l}'] = W.astype(dtype)\n"
        "        params[f'b{l}'] = np.zeros(n_out, dtype=dtype)\n"
        "    return params\n",
        "broadcast_n_n",
    ),
    Misconception(
        "forward_pass",
        "init_params",
        "def init_params(sizes, seed=0, scheme='lecun', dtype=np.float64):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    params = {}\n"
        "    for l in range(1, len(sizes)):\n"
        "        n_in, n_out = sizes[l - 1], sizes[l]\n"
        "        variance = {'lecun': 1 / n_in, 'glorot': 2 / (n_in + n_out), 'he': 2 / n_in}\n"
        "        W = rng.standard_normal((n_out, n_in)) * variance[scheme]\n"
        "        params[f'W{l}'] = W.astype(dtype)\n"
        "        params[f'b{l}'] = np.zeros((n_out, 1), dtype=dtype)\n"
        "    return params\n",
        "variance_for_std",
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
        "forward_pass",
        "parameter_count",
        "def parameter_count(sizes):\n"
        "    return sum(sizes[l] * sizes[l - 1] for l in range(1, len(sizes)))\n",
        "missing_biases",
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
        "softmax_cross_entropy_gradient",
        "def softmax_cross_entropy_gradient(z, y):\n    return -y / softmax(z)\n",
        "probabilities_not_logits",
    ),
    Misconception(
        "jacobians",
        "softmax_cross_entropy_gradient",
        # right on paper, but -y / s is inf or nan once a probability underflows to 0
        "def softmax_cross_entropy_gradient(z, y):\n    return softmax_vjp(-y / softmax(z), z)\n",
        "divided_by_s",
    ),
    Misconception(
        "jacobians",
        "softmax_cross_entropy_gradient",
        "def softmax_cross_entropy_gradient(z, y):\n    return (softmax(z) - y) / z.shape[1]\n",
        "extra_1_over_m",
    ),
    Misconception(
        "jacobians",
        "count_multiply_adds",
        "def count_multiply_adds(n_out, n_in, m=1):\n"
        "    return MultiplyAdds(m * n_in * n_in * n_out, m * n_out * n_in)\n",
        "swapped_sizes",
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
        "        da, grads[f'W{l}'], grads[f'b{l}'] = dense_backward(delta, (cache.a, cache.W))\n"
        "        if l > 1:\n"
        "            delta = activation_backward(da, caches[l - 2].z, activations[l - 2])\n"
        "    return grads, LOSSES[loss].cost(a_L, y)\n",
        "a_l_for_a_prev",
    ),
    Misconception(
        "matrix_form",
        "output_error",
        "def output_error(a_L, y, z_L, activation, loss):\n"
        "    return LOSSES[loss].gradient(a_L, y) * DERIVATIVES[activation](z_L)\n",
        "bce_uncancelled",
    ),
    Misconception(
        "matrix_form",
        "output_error",
        "def output_error(a_L, y, z_L, activation, loss):\n"
        "    if loss == 'binary_cross_entropy':\n"
        "        return (a_L - y) * DERIVATIVES[activation](z_L)\n"
        "    return LOSSES[loss].gradient(a_L, y) * DERIVATIVES[activation](z_L)\n",
        "bce_sigma_prime_kept",
    ),
    Misconception(
        "matrix_form",
        "activation_backward",
        "def activation_backward(da, z, activation):\n"
        "    return da * DERIVATIVES[activation](ACTIVATIONS[activation](z))\n",
        "sigma_prime_of_a",
    ),
    Misconception(
        "matrix_form",
        "dense_backward",
        "def dense_backward(dz, cache):\n"
        "    a_prev, W = cache\n"
        "    return W.T @ dz, dz @ a_prev.T, dz\n",
        "aliased_result",
    ),
    Misconception(
        "matrix_form",
        "dense_backward",
        "def dense_backward(dz, cache):\n"
        "    a_prev, W = cache\n"
        "    return W.T @ dz, a_prev @ dz.T, dz.copy()\n",
        "transposed",
    ),
    Misconception(
        "matrix_form",
        "gradient_check",
        gradient_check_with(("tuple(int(n) for n in i)", "int(np.argmax(errors))")),
        "worst_index_flat",
    ),
    Misconception(
        "matrix_form",
        "gradient_check",
        gradient_check_with(("np.argmax(errors)), errors.shape", "np.argmax(np.abs(g))), g.shape")),
        "worst_index_of_largest_gradient",
    ),
    Misconception(
        "matrix_form",
        "gradient_check",
        gradient_check_with(("max(size.mean(), 1e-12)", "1e-12")),
        "entry_error_no_floor",
    ),
    Misconception(
        "matrix_form",
        "gradient_check",
        gradient_check_with(
            ("            work[key][i] = old - h\n", "            work[key][i] = old\n"),
            ("(up - down) / (2 * h)", "(up - down) / h"),
        ),
        "one_sided_difference",
    ),
    Misconception(
        "matrix_form",
        "gradient_check",
        gradient_check_with(("            work[key][i] = old\n", "")),
        "perturbation_not_restored",
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
        SGD_HEAD + "            for k in grads:\n"
        "                g = grads[k] + weight_decay / N * params[k] if k[0] == 'W' else grads[k]\n"
        "                params[k] = params[k] - eta * g\n" + SGD_TAIL,
        "missing_momentum",
    ),
    Misconception(
        "mini_batch",
        "sgd",
        SGD_HEAD + "            for k in grads:\n"
        "                g = grads[k] + weight_decay / N * params[k]\n"
        "                v[k] = momentum * v[k] - eta * g\n"
        "                params[k] = params[k] + v[k]\n" + SGD_TAIL,
        "decay_on_biases",
    ),
    Misconception(
        "mini_batch",
        "sgd",
        SGD_HEAD + "            for k in grads:\n"
        "                g = grads[k] + weight_decay * params[k] if k[0] == 'W' else grads[k]\n"
        "                v[k] = momentum * v[k] - eta * g\n"
        "                params[k] = params[k] + v[k]\n" + SGD_TAIL,
        "decay_missing_1_over_n",
    ),
    Misconception(
        "mini_batch",
        "sgd",
        SGD_HEAD + "            for k in grads:\n"
        "                g = grads[k]\n"
        "                if k.startswith('W'):\n"
        "                    g = g + weight_decay / len(batch) * params[k]\n"
        "                v[k] = momentum * v[k] - eta * g\n"
        "                params[k] = params[k] + v[k]\n" + SGD_TAIL,
        "decay_over_batch_size",
    ),
    Misconception(
        "through_time",
        "rnn_forward",
        "def rnn_forward(X, h0, params):\n"
        "    states, caches = [], []\n"
        "    for x in X:\n"
        "        h, cache = rnn_step_forward(x, h0, params)\n"
        "        states.append(h)\n"
        "        caches.append(cache)\n"
        "    return np.stack(states), caches\n",
        "state_not_carried_forward",
    ),
    Misconception(
        "through_time",
        "rnn_forward",
        "def rnn_forward(X, h0, params):\n"
        "    states, caches, h = [], [], h0\n"
        "    for t in range(X.shape[0]):\n"
        "        h, cache = rnn_step_forward(X[t], h, params)\n"
        "        states.append(h)\n"
        "        caches.append(cache)\n"
        "    return np.stack(states, axis=-1), caches\n",
        "time_batch_swapped",
    ),
    Misconception(
        "through_time",
        "rnn_step_backward",
        with_changes(RNN_STEP_BACKWARD, ("delta @ h_prev.T", "delta @ h.T")),
        "h_for_h_prev",
    ),
    Misconception(
        "through_time",
        "rnn_step_backward",
        with_changes(RNN_STEP_BACKWARD, ("(1 - h ** 2)", "(1 - np.tanh(h) ** 2)")),
        "tanh_prime_of_h",
    ),
    Misconception(
        "through_time",
        "rnn_step_backward",
        with_changes(RNN_STEP_BACKWARD, ("    m = dh.shape[1]\n", ""), ("x.T / m", "x.T"),
                     ("h_prev.T / m", "h_prev.T"), ("keepdims=True) / m", "keepdims=True)")),
        "missing_1_over_m",
    ),
    Misconception(
        "through_time",
        "rnn_backward",
        "def rnn_backward(dH, caches):\n"
        "    x, h_prev, _, W_xh, W_hh = caches[0]\n"
        "    grads = {}\n"
        "    dX = np.zeros((len(caches),) + x.shape)\n"
        "    dh_next = np.zeros_like(h_prev)\n"
        "    for t in reversed(range(len(caches))):\n"
        "        dX[t], dh_next, step = rnn_step_backward(dH[t] + dh_next, caches[t])\n"
        "        for key in step:\n"
        "            grads[key] = step[key]\n"
        "    return dX, dh_next, grads\n",
        "not_accumulated_over_time",
    ),
    Misconception(
        "through_time",
        "rnn_backward",
        "def rnn_backward(dH, caches):\n"
        "    x, h_prev, _, W_xh, W_hh = caches[0]\n"
        "    grads = {'W_xh': np.zeros_like(W_xh), 'W_hh': np.zeros_like(W_hh),\n"
        "             'b_h': np.zeros((W_hh.shape[0], 1))}\n"
        "    dX = np.zeros((len(caches),) + x.shape)\n"
        "    dh0 = np.zeros_like(h_prev)\n"
        "    for t in reversed(range(len(caches))):\n"
        "        dX[t], dh0, step = rnn_step_backward(dH[t], caches[t])\n"
        "        for key in grads:\n"
        "            grads[key] += step[key]\n"
        "    return dX, dh0, grads\n",
        "missing_dh_next",
    ),
    Misconception(
        "through_time",
        "bptt",
        with_changes(BPTT, ("grads['W_hy'] +=", "grads['W_hy'] ="),
                     ("grads['b_y'] +=", "grads['b_y'] =")),
        "not_accumulated_over_time",
    ),
    Misconception(
        "through_time",
        "bptt",
        with_changes(BPTT, ("dy @ H[t].T / m", "dy @ H[t].T"),
                     ("keepdims=True) / m", "keepdims=True)")),
        "missing_1_over_m",
    ),
    Misconception(
        "through_time",
        "bptt",
        # dy divided by m before it flows back: the recurrent weights get 1/m twice.
        with_changes(BPTT, ("gradient(y, Y[t])\n", "gradient(y, Y[t]) / m\n"),
                     ("dy @ H[t].T / m", "dy @ H[t].T"),
                     ("keepdims=True) / m", "keepdims=True)")),
        "doubled_1_over_m",
    ),
    Misconception(
        "through_time",
        "bptt",
        with_changes(BPTT, ("m = X.shape[2]", "m = X.shape[0]")),
        "time_batch_swapped",
    ),
    Misconception(
        "through_time",
        "bptt",
        with_changes(BPTT, ("cost(y, Y[t])\n", "cost(y, Y[t]) / len(H)\n"),
                     ("gradient(y, Y[t])\n", "gradient(y, Y[t]) / len(H)\n")),
        "averaged_over_time",
    ),
    Misconception(
        "through_time",
        "truncated_bptt",
        "def truncated_bptt(X, Y, h0, params, loss, k):\n"
        "    grads = {key: np.zeros_like(p) for key, p in params.items()}\n"
        "    cost = 0.0\n"
        "    for start in range(0, X.shape[0], k):\n"
        "        g, c, h = bptt(X[start:start + k], Y[start:start + k], h0, params, loss)\n"
        "        for key in grads:\n"
        "            grads[key] += g[key]\n"
        "        cost += c\n"
        "    return grads, cost, h\n",
        "state_not_carried",
    ),
    Misconception(
        "through_time",
        "truncated_bptt",
        "def truncated_bptt(X, Y, h0, params, loss, k):\n"
        "    h, cost = h0, 0.0\n"
        "    for start in range(0, X.shape[0], k):\n"
        "        grads, c, h = bptt(X[start:start + k], Y[start:start + k], h, params, loss)\n"
        "        cost += c\n"
        "    return grads, cost, h\n",
        "not_accumulated_over_time",
    ),
    Misconception(
        "through_time",
        "truncated_bptt",
        "def truncated_bptt(X, Y, h0, params, loss, k):\n"
        "    grads = {key: np.zeros_like(p) for key, p in params.items()}\n"
        "    cost, h = 0.0, h0\n"
        "    for start in range(0, X.shape[0], k):\n"
        "        stop = start + k + 1\n"
        "        g, c, h = bptt(X[start:stop], Y[start:stop], h, params, loss)\n"
        "        for key in grads:\n"
        "            grads[key] += g[key]\n"
        "        cost += c\n"
        "    return grads, cost, h\n",
        "chunk_off_by_one",
    ),
    Misconception(
        "through_time",
        "clip_by_global_norm",
        "def clip_by_global_norm(grads, max_norm):\n"
        "    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))\n"
        "    return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, norm\n",
        "elementwise_clip",
    ),
    Misconception(
        "through_time",
        "clip_by_global_norm",
        "def clip_by_global_norm(grads, max_norm):\n"
        "    clipped, total = {}, 0.0\n"
        "    for k, g in grads.items():\n"
        "        n = np.linalg.norm(g)\n"
        "        total += n ** 2\n"
        "        clipped[k] = g * max_norm / n if n > max_norm else g.copy()\n"
        "    return clipped, float(np.sqrt(total))\n",
        "per_array_clip",
    ),
    Misconception(
        "through_time",
        "clip_by_global_norm",
        "def clip_by_global_norm(grads, max_norm):\n"
        "    norm = sum(np.sum(g ** 2) for g in grads.values())\n"
        "    scale = min(1.0, max_norm / norm)\n"
        "    return {k: g * scale for k, g in grads.items()}, norm\n",
        "clip_without_sqrt",
    ),
    Misconception(
        "through_time",
        "clip_by_global_norm",
        "def clip_by_global_norm(grads, max_norm):\n"
        "    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))\n"
        "    return {k: g * (max_norm / norm) for k, g in grads.items()}, norm\n",
        "clip_scales_up",
    ),
]
