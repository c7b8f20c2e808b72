"""Every bijector: round trips, log-det against the Jacobian, jit == no-jit, batched == per-example.

Each case builds a small bijector, initialises it on data (normalizing direction), perturbs its
parameters away from the identity-at-init (so the checks see a non-trivial map), and runs the
shared checks in float32. A subset repeats the round trip in float64.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import bijectors as B
from genjax.bijectors.transforms import Additive, Affine, RationalQuadraticSpline

HIDDEN = (16,)


def _perturb(variables, scale=0.3):
    """Moves every float parameter (not the constants) so zero-initialised layers are not the identity.

    The offsets are a fixed quasi-random pattern (sines of the element index) rather than draws
    from ``jax.random``: same effect, far less to compile.
    """
    if "params" not in variables:
        return variables
    leaves, tree = jax.tree_util.tree_flatten(variables["params"])
    leaves = [
        p + scale * jnp.reshape(jnp.sin(1.7 * jnp.arange(p.size, dtype=p.dtype) + i), p.shape)
        for i, p in enumerate(leaves)
    ]
    return {**variables, "params": jax.tree_util.tree_unflatten(tree, leaves)}


def init_variables(bij, x, cond=None, seed=0, perturb=0.3, method="inverse_and_log_det"):
    """Variables initialised on ``x`` (normalizing direction unless ``method`` says otherwise)."""
    def init(x, cond):
        v = bij.init({"params": jax.random.key(seed), "logdet": jax.random.key(seed + 1)}, x, cond, method=method)
        return _perturb(v, perturb) if perturb else v

    return jax.jit(init)(x, cond)  # one program: op-by-op initialisation costs more


def _apply(bij, v, x, method, cond=None):
    return bij.apply(v, x, cond, method=method)


def _all_maps(bij, x, cond, examples, v=None, perturb=0.3):
    """Everything the checks compare, computed in one compiled program."""
    if v is None:  # shape-changing bijectors (no parameters) are initialised on the base side
        method = "inverse_and_log_det" if _keeps_shape(bij, x, cond) else "forward_and_log_det"
        v = init_variables(bij, x, cond, method=method, perturb=perturb)
    y, ld_f = _apply(bij, v, x, "forward_and_log_det", cond)
    x_back, ld_i = _apply(bij, v, y, "inverse_and_log_det", cond)
    out = {"v": v, "y": y, "ld_f": ld_f, "x_back": x_back, "ld_i": ld_i}
    if cond is not None:  # a conditional bijector must depend on its condition
        out["y_other_cond"] = _apply(bij, v, x, "forward", cond + 1.0)
    if y.shape == x.shape:  # inverse first, then forward
        out["x_again"] = _apply(bij, v, _apply(bij, v, x, "inverse", cond), "forward", cond)
    n, d = min(examples, x.shape[0]), math.prod(x.shape[1:])
    xs, cs = x[:n], (None if cond is None else cond[:n])

    def one(xi, ci):
        ci = None if ci is None else ci[None]
        yi, ldi = _apply(bij, v, xi[None], "forward_and_log_det", ci)
        return yi[0], ldi[0]

    def flat_forward(flat, ci):
        return jnp.reshape(one(jnp.reshape(flat, x.shape[1:]), ci)[0], (d,))

    out["per_y"], out["per_ld"] = jax.vmap(one)(xs, cs)
    out["jac"] = jax.vmap(jax.jacfwd(flat_forward))(jnp.reshape(xs, (n, d)), cs)
    return out


def _keeps_shape(bij, x, cond):
    out = jax.eval_shape(lambda: bij.init_with_output(jax.random.key(0), x, cond, method="forward_and_log_det"))
    return out[0][0].shape == x.shape


def check_bijector(bij, x, cond=None, *, v=None, perturb=0.3, roundtrip_tol=1e-5, logdet_tol=1e-4, examples=3):
    """Round trips, log-det vs ``slogdet(jacfwd(forward))``, jit == no-jit, batched == per-example.

    Returns the variables used."""
    r = jax.jit(lambda x, c, v: _all_maps(bij, x, c, examples, v, perturb))(x, cond, v)
    v, y, ld_f = r["v"], r["y"], r["ld_f"]
    assert y.shape[0] == x.shape[0] and y.size == x.size and ld_f.shape == x.shape[:1]
    assert np.all(np.isfinite(np.asarray(y))) and np.all(np.isfinite(np.asarray(ld_f)))
    scale = max(1.0, float(jnp.max(jnp.abs(x))))
    assert float(jnp.max(jnp.abs(r["x_back"] - x))) < roundtrip_tol * scale, "inverse(forward(x)) != x"
    np.testing.assert_allclose(r["ld_i"], -ld_f, atol=logdet_tol, rtol=logdet_tol)
    if "y_other_cond" in r:
        assert float(jnp.max(jnp.abs(r["y_other_cond"] - y))) > 1e-3, "the output ignores cond"
    if "x_again" in r:
        assert float(jnp.max(jnp.abs(r["x_again"] - x))) < roundtrip_tol * scale, "forward(inverse(y)) != y"
    n = r["per_y"].shape[0]
    np.testing.assert_allclose(r["per_y"], y[:n], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(r["per_ld"], ld_f[:n], atol=1e-4, rtol=1e-5)
    expected = jnp.linalg.slogdet(r["jac"])[1]
    np.testing.assert_allclose(ld_f[:n], expected, atol=logdet_tol, rtol=logdet_tol)
    # jit == no-jit
    y_eager, ld_eager = _apply(bij, v, x, "forward_and_log_det", cond)
    np.testing.assert_allclose(y, y_eager, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ld_f, ld_eager, atol=1e-4, rtol=1e-5)
    return v


def _vec(n=8, d=4, seed=0):
    return jax.random.normal(jax.random.key(seed), (n, d))


def _img(n=4, shape=(4, 4, 2), seed=0):
    return jax.random.normal(jax.random.key(seed), (n, *shape))


def mlp(*hidden):
    return B.MLPConditioner(hidden or HIDDEN)


CASES = {
    "reverse": lambda: (B.Reverse(), _vec()),
    "permute": lambda: (B.Permute((2, 0, 3, 1)), _vec()),
    "random_permutation": lambda: (B.RandomPermutation(), _vec()),
    "elementwise_affine": lambda: (B.ElementwiseAffine(), _vec()),
    "nice_scaling": lambda: (B.ElementwiseAffine(shift=False), _vec()),
    "actnorm": lambda: (B.ActNorm(), 3.0 * _vec() + 1.0),
    "actnorm_image": lambda: (B.ActNorm(), _img()),
    "fixed_affine": lambda: (B.FixedAffine(scale=2.0, shift=-1.0), _vec()),
    "sigmoid": lambda: (B.Sigmoid(0.05), jax.random.uniform(jax.random.key(0), (8, 4))),
    "additive_coupling": lambda: (B.Coupling(mlp(), Additive()), _vec()),
    "affine_coupling_half": lambda: (B.Coupling(mlp(), Affine(), mask="half", parity=1), _vec(d=5)),
    "affine_coupling_alternate": lambda: (B.Coupling(mlp(), Affine(), mask="alternate"), _vec()),
    "affine_coupling_checkerboard": lambda: (B.Coupling(B.ConvConditioner(8), Affine(), mask="checkerboard"), _img()),
    "affine_coupling_channel": lambda: (B.Coupling(B.ConvConditioner(8, "resnet", 1), Affine(), mask="channel", parity=1), _img()),
    # Splines with large random parameters have nearly flat bins whose float32 inverse is
    # ill-conditioned (error ~ eps / slope); moderate parameters here, large ones in float64.
    "spline_coupling": lambda: (B.Coupling(mlp(), RationalQuadraticSpline(5, 2.0)), 1.5 * _vec(), {"perturb": 0.1}),
    "conv1x1": lambda: (B.Conv1x1(), _img()),
    "conv1x1_lu": lambda: (B.Conv1x1LU(), _img(shape=(2, 2, 4))),
    "linear_lu_vector": lambda: (B.Conv1x1LU(), _vec()),
    "squeeze": lambda: (B.Squeeze(), _img()),
    "factor_out": lambda: (B.FactorOut(B.Coupling(mlp(), Affine())), _img(shape=(2, 2, 4))),
    "maf_affine": lambda: (B.MAF(HIDDEN, Affine()), _vec()),
    "maf_spline": lambda: (B.MAF(HIDDEN, RationalQuadraticSpline(4, 3.0)), _vec()),
    "iaf_affine": lambda: (B.IAF(HIDDEN, Affine()), _vec()),
    "residual_block": lambda: (B.ResidualBlock((16,)), _vec()),
    "chain": lambda: (B.Chain((B.ActNorm(), B.Coupling(mlp(), Affine()), B.Reverse())), _vec()),
    "invert": lambda: (B.Invert(B.Coupling(mlp(), Affine())), _vec()),
    "repeat": lambda: (B.Repeat(B.Chain((B.Coupling(mlp(), Affine()), B.RandomPermutation(), B.ActNorm())), 3), _vec()),
    "reshape": lambda: (B.Reshape((4,), (2, 2)), _vec()),
    # conditional bijectors: cond [batch, 3]
    "conditional_coupling": lambda: (B.Coupling(mlp(), Affine()), _vec(), {"cond": _vec(d=3, seed=5)}),
    "conditional_affine": lambda: (B.ConditionalAffine((16,)), _vec(), {"cond": _vec(d=3, seed=5)}),
    "conditional_maf_spline": lambda: (B.MAF(HIDDEN, RationalQuadraticSpline(4, 3.0)), _vec(), {"cond": _vec(d=3, seed=5)}),
    "conditional_conv_coupling": lambda: (
        B.Coupling(B.ConvConditioner(8), Affine(), mask="checkerboard"), _img(), {"cond": _vec(4, 3, seed=5)}),
    "conditional_repeat": lambda: (
        B.Repeat(B.Chain((B.ConditionalAffine((8,)), B.Coupling(mlp(), Affine()), B.Reverse())), 2), _vec(),
        {"cond": _vec(d=3, seed=5)}),
}


# Variants of classes the default tier already checks (one case per class there); they run in
# the slow tier, which keeps the default tier's compile time within its budget.
SLOW_CASES = {"actnorm_image", "affine_coupling_alternate", "affine_coupling_channel", "chain", "conv1x1_lu",
              "linear_lu_vector", "maf_spline", "conditional_maf_spline", "conditional_conv_coupling",
              "conditional_repeat"}


def _params(names, slow):
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


@pytest.mark.parametrize("name", _params(sorted(CASES), SLOW_CASES))
def test_bijector_contract(name):
    bij, x, *options = CASES[name]()
    check_bijector(bij, x, **(options[0] if options else {}))


# ---------------------------------------------------------------------------------------------
# float64: the same round trips, much tighter


FLOAT64_CASES = ["spline_coupling", "maf_affine", "iaf_affine", "conv1x1_lu", "residual_block", "repeat"]


@pytest.mark.parametrize("name", _params(FLOAT64_CASES, {"maf_affine", "iaf_affine", "conv1x1_lu", "residual_block", "repeat"}))
def test_roundtrip_float64(name):
    with jax.enable_x64(True):
        bij, x, *_ = CASES[name]()
        x = x.astype(jnp.float64)
        if name == "residual_block":
            bij = B.ResidualBlock((16,), inverse_tol=1e-13, inverse_iters=1000)

        @jax.jit
        def run(x):
            v = init_variables(bij, x)
            y, ld_f = bij.apply(v, x, method="forward_and_log_det")
            x_back, ld_i = bij.apply(v, y, method="inverse_and_log_det")
            return x_back, ld_f, ld_i

        x_back, ld_f, ld_i = run(x)
        assert x_back.dtype == jnp.float64
        assert float(jnp.max(jnp.abs(x_back - x))) < 1e-10
        assert float(jnp.max(jnp.abs(ld_f + ld_i))) < 1e-9


# ---------------------------------------------------------------------------------------------
# rational-quadratic spline


def test_spline_identity_at_zero_params_and_exact_derivative():
    spline = RationalQuadraticSpline(num_bins=6, bound=2.0)
    forward = jax.jit(spline.forward)
    x = jnp.linspace(-3.0, 3.0, 101)
    y, ld = forward(x, jnp.zeros((101, spline.num_params)))
    np.testing.assert_allclose(y, x, atol=1e-6)
    np.testing.assert_allclose(ld, 0.0, atol=1e-6)
    with jax.enable_x64(True):
        p = 0.8 * jax.random.normal(jax.random.key(0), (101, spline.num_params), jnp.float64)
        x = jnp.linspace(-3.0, 3.0, 101, dtype=jnp.float64)
        y, ld = forward(x, p)
        dydx = jax.jit(jax.vmap(jax.grad(lambda xi, pi: spline.forward(xi, pi)[0])))(x, p)
        np.testing.assert_allclose(ld, jnp.log(dydx), atol=1e-10)
        assert np.all(np.asarray(dydx) > 0)
        # monotone and onto [-B, B], identity outside
        pi = jnp.broadcast_to(p[0], (2001, spline.num_params))
        grid = jnp.linspace(-2.0, 2.0, 2001, dtype=jnp.float64)
        ys = forward(grid, pi)[0]
        assert np.all(np.diff(np.asarray(ys)) > 0)
        np.testing.assert_allclose([ys[0], ys[-1]], [-2.0, 2.0], atol=1e-12)
        outside = jnp.array([-2.5, 2.5], jnp.float64)
        np.testing.assert_allclose(forward(outside, p[:2])[0], outside)


# ---------------------------------------------------------------------------------------------
# ActNorm: data-dependent initialisation in the normalizing direction


@pytest.mark.parametrize("shape", [(6,), (4, 4, 3)])
def test_actnorm_init_normalizes_the_data_side_input(shape):
    x = 2.5 * jax.random.normal(jax.random.key(0), (64, *shape)) + jnp.arange(shape[-1]) - 1.0
    bij = B.ActNorm()
    v = bij.init(jax.random.key(1), x)  # __call__ = normalizing direction
    z, _ = bij.apply(v, x, method="inverse_and_log_det")
    axes = tuple(range(z.ndim - 1))
    np.testing.assert_allclose(jnp.mean(z, axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.std(z, axes), 1.0, atol=1e-4)
    np.testing.assert_allclose(v["params"]["shift"], jnp.mean(x, axes), atol=1e-5)
    # initialised in the forward direction, it normalizes the forward output instead
    v_f = bij.init(jax.random.key(1), x, method="forward_and_log_det")
    y = bij.apply(v_f, x, method="forward")
    np.testing.assert_allclose(jnp.std(y, axes), 1.0, atol=1e-4)
    # afterwards the parameters are ordinary: another batch is not normalized
    z2, _ = bij.apply(v, 3.0 * x, method="inverse_and_log_det")
    assert float(jnp.std(z2)) > 2.0


def test_actnorm_init_inside_a_stack_is_sequential_from_the_data_side():
    """Every ActNorm of a Repeat sees the data after the layers on its data side."""
    bij = B.Repeat(B.Chain((B.ElementwiseAffine(), B.Coupling(mlp(), Affine()), B.ActNorm())), 3)
    x = 4.0 * jax.random.normal(jax.random.key(0), (128, 4)) + 2.0
    v = init_variables(bij, x, perturb=0.0)
    # Walk the stack by hand from the data side: copy 2, then 1, then 0.
    h = x
    for i in reversed(range(3)):
        vi = jax.tree_util.tree_map(lambda a, i=i: a[i], v)
        layer = B.Chain((B.ElementwiseAffine(), B.Coupling(mlp(), Affine()), B.ActNorm()))
        vi = {k: c["layer"] for k, c in vi.items()}
        an_v = {"params": vi["params"]["layers_2"]}
        h_an, _ = B.ActNorm().apply(an_v, h, method="inverse_and_log_det")
        np.testing.assert_allclose(jnp.std(h_an, 0), 1.0, atol=1e-4)
        h, _ = layer.apply(vi, h, method="inverse_and_log_det")


# ---------------------------------------------------------------------------------------------
# invertible 1x1 convolutions


def test_lu_conv_weight_is_p_l_u_plus_diag_s():
    x = _img(shape=(3, 3, 5))
    bij = B.Conv1x1LU()
    v = init_variables(bij, x)  # perturbed away from the init
    p = v["params"]
    perm = np.argsort(np.asarray(v["constants"]["perm_keys"]))
    P = np.eye(5)[perm]
    L = np.tril(np.asarray(p["lower"]), -1) + np.eye(5)
    s = np.sign(np.asarray(v["constants"]["sign"])) * np.exp(np.asarray(p["log_s"]))
    U = np.triu(np.asarray(p["upper"]), 1) + np.diag(s)
    W = P @ L @ U
    np.testing.assert_allclose(bij.apply(v, 5, method="weight"), W, atol=1e-5)
    y, ld = bij.apply(v, x, method="forward_and_log_det")
    np.testing.assert_allclose(y, np.einsum("ij,bhwj->bhwi", W, np.asarray(x)), atol=1e-5)
    np.testing.assert_allclose(ld, 9 * np.linalg.slogdet(W)[1], atol=1e-4)
    # at initialisation W is a rotation and its factors reproduce it
    v0 = jax.jit(bij.init)(jax.random.key(3), x)
    W0 = np.asarray(bij.apply(v0, 5, method="weight"))
    np.testing.assert_allclose(W0 @ W0.T, np.eye(5), atol=1e-5)


@pytest.mark.slow
def test_full_conv_init_is_a_rotation():
    v = jax.jit(B.Conv1x1().init)(jax.random.key(0), _img(shape=(2, 2, 6)))
    w = np.asarray(v["params"]["weight"])
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)


@pytest.mark.slow
def test_constants_survive_optimizer_steps():
    """Permutations and signs get zero gradient and Adam / weight decay leave their meaning intact."""
    import optax

    bij = B.Chain((B.Conv1x1LU(), B.RandomPermutation(), B.Coupling(mlp(), Affine())))
    x = _vec(32, 5)
    v = bij.init(jax.random.key(0), x)
    tx = optax.adamw(1e-2, weight_decay=0.1)
    state = tx.init(v)

    def loss(v):
        z, ld = bij.apply(v, x, method="inverse_and_log_det")
        return jnp.mean(jnp.sum(z**2, -1) / 2 - ld)

    @jax.jit
    def step(v, state):
        grads = jax.grad(loss)(v)
        updates, state = tx.update(grads, state, v)
        return optax.apply_updates(v, updates), state, grads

    new = v
    for i in range(3):
        new, state, grads = step(new, state)
        assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in jax.tree_util.tree_leaves(grads["constants"])), i
    for old, now in zip(jax.tree_util.tree_leaves(v["constants"]), jax.tree_util.tree_leaves(new["constants"])):
        np.testing.assert_array_equal(np.argsort(old), np.argsort(now))
        np.testing.assert_array_equal(np.sign(old), np.sign(now))
    assert float(jnp.max(jnp.abs(new["params"]["layers_2"]["conditioner"]["MLP_0"]["Dense_1"]["kernel"]))) > 0


# ---------------------------------------------------------------------------------------------
# MADE, MAF / IAF


def test_made_is_autoregressive_in_its_order():
    from genjax.nn import MADE

    order = (3, 1, 4, 2)
    net = MADE((16, 16), num_params=2, order=order, zero_init_last=False)
    x = _vec(1, 4)
    v = net.init(jax.random.key(0), x)
    jac = jax.jit(jax.jacfwd(lambda xi: net.apply(v, xi[None])[0]))(x[0])  # [dim, params, dim]
    depends = np.asarray(jnp.any(jac != 0, axis=1))  # [out i, in j]
    allowed = np.asarray(order)[None, :] < np.asarray(order)[:, None]
    assert not np.any(depends & ~allowed)
    assert np.any(depends)  # not trivially zero


def test_maf_and_iaf_are_one_pass_in_their_fast_direction():
    """MAF's density and IAF's sampling read the conditioner once; the other direction sweeps."""
    x = _vec(4, 3)
    for cls, fast in ((B.MAF, "inverse_and_log_det"), (B.IAF, "forward_and_log_det")):
        bij = cls(HIDDEN, Affine())
        v = bij.init(jax.random.key(0), x)
        for method in ("forward_and_log_det", "inverse_and_log_det"):
            jaxpr = jax.make_jaxpr(lambda x, m=method: bij.apply(v, x, method=m))(x)
            has_loop = any(e.primitive.name == "scan" for e in jaxpr.jaxpr.eqns)
            assert has_loop == (method != fast), (cls.__name__, method)


# ---------------------------------------------------------------------------------------------
# Repeat: one copy of the layer in the program whatever the depth


def test_repeat_program_size_does_not_grow_with_depth():
    x = _vec(8, 4)

    def size(num):
        bij = B.Repeat(B.Chain((B.Coupling(mlp(), RationalQuadraticSpline(4)), B.Reverse())), num)
        v = jax.eval_shape(lambda: bij.init(jax.random.key(0), x))

        def loss(v):
            z, ld = bij.apply(v, x, method="inverse_and_log_det")
            return jnp.mean(z**2) - jnp.mean(ld)

        return len(jax.make_jaxpr(jax.grad(loss))(v).jaxpr.eqns)

    assert size(2) == size(16)


def test_chain_and_invert_compose():
    a, b = B.Coupling(mlp(), Affine()), B.RandomPermutation()
    x = _vec()
    chain = B.Chain((a, b))
    v = init_variables(chain, x)
    y, ld = chain.apply(v, x, method="forward_and_log_det")
    y_a, ld_a = a.apply({"params": v["params"]["layers_0"]}, x, method="forward_and_log_det")
    y_b, _ = b.apply({"constants": v["constants"]["layers_1"]}, y_a, method="forward_and_log_det")
    np.testing.assert_allclose(y, y_b, atol=1e-6)
    np.testing.assert_allclose(ld, ld_a, atol=1e-6)
    inv = B.Invert(chain)
    v_inv = {k: {"bijector": c} for k, c in v.items()}
    np.testing.assert_allclose(inv.apply(v_inv, y, method="forward"), x, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# residual blocks


@functools.cache  # shared by the residual tests: one compilation of the initialiser
def _residual_block_and_variables(dim=4, lipschitz=0.9):
    bij = B.ResidualBlock((32, 32), lipschitz=lipschitz, power_iters=20)
    x = _vec(16, dim)
    v = jax.jit(bij.init)(jax.random.key(0), x)  # eager, the power iterations cost seconds
    # Make the raw weights large, so the normalisation has work to do.
    v = {**v, "params": jax.tree_util.tree_map(lambda p: 3.0 * p + 0.1, v["params"])}
    return bij, v, x


def test_residual_block_is_a_contraction_after_normalisation():
    bij, v, x = _residual_block_and_variables()
    layers = jax.jit(lambda v: bij.apply(v, 4, method="layers"))(v)
    norms = [float(np.linalg.norm(np.asarray(w), 2)) for w, _ in layers]
    raw = [float(np.linalg.norm(np.asarray(v["params"][f"kernel_{i}"]), 2)) for i in range(3)]
    assert max(raw) > 1.5  # the raw weights are not contractions
    assert max(norms) < 0.9 * 1.01 and np.prod(norms) < 1.0
    # empirical Lipschitz constant of g on random pairs
    a, b = jax.random.normal(jax.random.key(1), (2, 4096, 4))

    @jax.jit
    def max_ratio(a, b):
        ga, gb = bij.apply(v, a, method="residual"), bij.apply(v, b, method="residual")
        return jnp.max(jnp.linalg.norm(ga - gb, axis=-1) / jnp.linalg.norm(a - b, axis=-1))

    assert float(max_ratio(a, b)) < 1.0


def test_residual_fixed_point_inverse_converges_geometrically():
    bij, v, x = _residual_block_and_variables()
    g = lambda y: bij.apply(v, y, method="residual")  # noqa: E731
    target = x + g(x)  # the explicit (normalizing) map; its inverse is x
    solve = jax.jit(lambda n: jnp.max(jnp.abs(B.fixed_point_inverse(g, target, n, 0.0) - x)))
    errors = [float(solve(n)) for n in (2, 4, 8, 16, 32)]
    assert errors[-1] < 1e-5
    assert all(b < a for a, b in zip(errors, errors[1:]) if a > 1e-6)
    lip = 0.9**3
    assert errors[2] <= errors[0] * lip**6 * 10  # at least the contraction rate


def _exact_and_estimates(estimator, num_probes, **kw):
    bij, v, x = _residual_block_and_variables(dim=3, lipschitz=0.7)
    layers = jax.jit(lambda v: bij.apply(v, 3, method="layers"))(v)
    from genjax.bijectors.residual import mlp_apply

    g = lambda y: mlp_apply(layers, y)  # noqa: E731
    xb = x[:4]
    exact = jax.jit(lambda xb: B.logdet_exact(g, xb))(xb)
    keys = jax.random.split(jax.random.key(7), num_probes)
    est = jax.jit(jax.vmap(lambda k: estimator(g, xb, k, **kw)))(keys)  # [probes, 4]
    return np.asarray(exact), np.asarray(est)


@pytest.mark.parametrize("kind", ["series", pytest.param("roulette", marks=pytest.mark.slow)])
def test_hutchinson_logdet_is_unbiased(kind):
    if kind == "series":
        exact, est = _exact_and_estimates(lambda g, x, k: B.logdet_series(g, x, k, terms=30), 4000)
    else:
        exact, est = _exact_and_estimates(
            lambda g, x, k: B.logdet_roulette(g, x, k, terms=30, p=0.5, exact_terms=2), 4000
        )
    mean = est.mean(0)
    stderr = est.std(0) / np.sqrt(est.shape[0])
    assert np.all(stderr > 0)
    assert np.all(np.abs(mean - exact) < 3 * stderr + 1e-4), (mean, exact, stderr)
    assert np.any(np.abs(exact) > 10 * stderr)  # a non-trivial log-det, resolved by the test
