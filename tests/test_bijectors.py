"""Every bijector: round trips, log-det against the Jacobian, jit == no-jit, batched == per-example.

Each case builds a small bijector, initialises it on data (normalizing direction), perturbs its
parameters away from the identity-at-init (so the checks see a non-trivial map), and runs the
shared checks in float32. A subset repeats the round trip in float64.
"""

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
    v = bij.init({"params": jax.random.key(seed), "logdet": jax.random.key(seed + 1)}, x, cond, method=method)
    return _perturb(v, perturb) if perturb else v


def _apply(bij, v, x, method, cond=None):
    return bij.apply(v, x, cond, method=method)


def _all_maps(bij, x, cond, examples, v=None):
    """Everything the checks compare, computed in one compiled program."""
    if v is None:  # shape-changing bijectors (no parameters) are initialised on the base side
        method = "inverse_and_log_det" if _keeps_shape(bij, x, cond) else "forward_and_log_det"
        v = init_variables(bij, x, cond, method=method)
    y, ld_f = _apply(bij, v, x, "forward_and_log_det", cond)
    x_back, ld_i = _apply(bij, v, y, "inverse_and_log_det", cond)
    out = {"v": v, "y": y, "ld_f": ld_f, "x_back": x_back, "ld_i": ld_i}
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


def check_bijector(bij, x, cond=None, *, v=None, roundtrip_tol=1e-5, logdet_tol=1e-4, examples=3):
    """Round trips, log-det vs ``slogdet(jacfwd(forward))``, jit == no-jit, batched == per-example.

    Returns the variables used."""
    r = jax.jit(lambda x, c, v: _all_maps(bij, x, c, examples, v))(x, cond, v)
    v, y, ld_f = r["v"], r["y"], r["ld_f"]
    assert y.shape[0] == x.shape[0] and y.size == x.size and ld_f.shape == x.shape[:1]
    assert np.all(np.isfinite(np.asarray(y))) and np.all(np.isfinite(np.asarray(ld_f)))
    scale = max(1.0, float(jnp.max(jnp.abs(x))))
    assert float(jnp.max(jnp.abs(r["x_back"] - x))) < roundtrip_tol * scale, "inverse(forward(x)) != x"
    np.testing.assert_allclose(r["ld_i"], -ld_f, atol=logdet_tol, rtol=logdet_tol)
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
    "spline_coupling": lambda: (B.Coupling(mlp(), RationalQuadraticSpline(5, 2.0)), 1.5 * _vec()),
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
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bijector_contract(name):
    bij, x = CASES[name]()
    check_bijector(bij, x)
