"""The contract every device model keeps: jit, vmap, grad, determinism, clipping, bad input."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import tree_allclose, tree_equal

import devices

MODELS = {
    "ideal": devices.Ideal(),
    "pcm": devices.PCM(),
    "hermes": devices.PCM.hermes(),
    "cmo": devices.RRAMCMO(),
    "wan2022": devices.RRAMWan2022(),
    "milo2021": devices.RRAMMilo2021(),
    "quantised": devices.Quantised(devices.PCM(), levels=16),
    "stuck": devices.StuckAt(devices.RRAMCMO(), p_low=0.05, p_high=0.05),
    "variability": devices.Variability(devices.PCM(), sigma=0.1),
}
params = pytest.mark.parametrize("dev", list(MODELS.values()), ids=list(MODELS))


def targets(dev, n=64):
    """Targets across the whole range, both ends included."""
    return jnp.linspace(dev.g_min, dev.g_max, n)


def program_read(dev, key, g, t=3600.0):
    k1, k2 = jr.split(key)
    return dev.read(k2, dev.program(k1, g), t)


@params
def test_same_key_same_bits(dev, getkey):
    key, g = getkey(), targets(dev)
    a, b = program_read(dev, key, g), program_read(dev, key, g)
    assert a.dtype == jnp.float32 and a.shape == g.shape
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert tree_equal(dev.program(key, g), dev.program(key, g))
    if not isinstance(dev, devices.Ideal):
        assert not np.array_equal(np.asarray(a), np.asarray(program_read(dev, getkey(), g)))


@params
def test_jit_matches_eager(dev, getkey):
    key, g = getkey(), targets(dev)
    eager = program_read(dev, key, g)
    jitted = jax.jit(program_read, static_argnums=0)(dev, key, g)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6, atol=1e-6)
    # The device itself can be a jit argument (its numbers become traced leaves).
    filtered = eqx_filter_jit(program_read)(dev, key, g)
    np.testing.assert_allclose(np.asarray(filtered), np.asarray(eager), rtol=1e-6, atol=1e-6)


def eqx_filter_jit(f):
    import equinox as eqx

    return eqx.filter_jit(f)


@params
def test_vmap_over_chips(dev, getkey):
    keys = jr.split(getkey(), 5)
    g = targets(dev)
    chips = jax.vmap(lambda k: program_read(dev, k, g))(keys)
    assert chips.shape == (5,) + g.shape
    loop = jnp.stack([program_read(dev, k, g) for k in keys])
    np.testing.assert_allclose(np.asarray(chips), np.asarray(loop), rtol=1e-6, atol=1e-6)
    states = jax.vmap(lambda k: dev.program(k, g))(keys)
    assert tree_allclose(jax.tree_util.tree_map(lambda x: x[2], states), dev.program(keys[2], g))


@params
def test_grad_is_finite_everywhere(dev, getkey):
    """Including targets at g_min (zero for PCM: the Q_s ~ g^-0.65 pitfall) and at g_max."""
    key, g = getkey(), targets(dev)
    for t in (0.0, 3600.0, 3e7):
        grad = jax.grad(lambda g: program_read(dev, key, g, t).sum())(g)
        assert bool(jnp.all(jnp.isfinite(grad))), t
    # The reparameterised gradient is about one on average (the read tracks the target).
    inner = jnp.linspace(dev.g_min, dev.g_max, 66)[1:-1]
    keys = jr.split(getkey(), 32)
    grads = jax.vmap(lambda k: jax.grad(lambda g: program_read(dev, k, g, 1.0).sum())(inner))(keys)
    if not isinstance(dev, devices.StuckAt):
        assert 0.8 < float(grads.mean()) < 1.2


@params
def test_time_broadcasts(dev, getkey):
    g = targets(dev, 8)
    state = dev.program(getkey(), g)
    out = dev.read(getkey(), state, jnp.array([[1.0], [3600.0], [3e7]]))
    assert out.shape == (3, 8)
    assert dev.read(getkey(), state, 10).shape == (8,)  # an integer time is fine


@params
def test_targets_are_clipped(dev, getkey):
    key = getkey()
    g = jnp.array([dev.g_min - 5.0, dev.g_max + 5.0, 1e6])
    clipped = jnp.clip(g, dev.g_min, dev.g_max)
    np.testing.assert_array_equal(
        np.asarray(program_read(dev, key, g)), np.asarray(program_read(dev, key, clipped))
    )


@params
def test_shapes_are_kept(dev, getkey):
    g = jnp.full((3, 4, 5), (dev.g_min + dev.g_max) / 2)
    assert program_read(dev, getkey(), g).shape == (3, 4, 5)
    assert program_read(dev, getkey(), jnp.asarray(dev.g_max)).shape == ()


@params
def test_integer_targets_become_float(dev, getkey):
    out = program_read(dev, getkey(), jnp.array([50, 60], dtype=jnp.int32))
    assert out.dtype == jnp.float32


@params
def test_non_finite_targets_are_caught_under_jit(dev, getkey):
    f = jax.jit(lambda g: program_read(dev, getkey(), g))
    with pytest.raises(Exception, match="non-finite"):
        f(jnp.array([1.0, jnp.nan])).block_until_ready()
    with pytest.raises(Exception, match="non-finite"):
        dev.program(getkey(), jnp.array([jnp.inf]))


@params
def test_negative_times_are_errors(dev, getkey):
    state = dev.program(getkey(), targets(dev, 4))
    with pytest.raises(ValueError, match="`t`.*>= 0; got -1.0"):
        dev.read(getkey(), state, -1.0)
    with pytest.raises(Exception, match="`t`"):
        jax.jit(lambda t: dev.read(getkey(), state, t))(jnp.array(-5.0)).block_until_ready()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: devices.Ideal(g_max=0.0), "g_max.*> 0; got 0.0"),
        (lambda: devices.Ideal(g_max=-1.0), "g_max"),
        (lambda: devices.Ideal(g_min=30.0, g_max=25.0), "g_min.*below.*g_max"),
        (lambda: devices.Ideal(g_min=-1.0), "g_min.*>= 0"),
        (lambda: devices.PCM(g_max=float("nan")), "g_max.*finite"),
        (lambda: devices.PCM(prog_noise_scale=-0.5), "prog_noise_scale.*>= 0; got -0.5"),
        (lambda: devices.PCM(drift_scale=-1.0), "drift_scale"),
        (lambda: devices.PCM(read_noise_scale=-1.0), "read_noise_scale"),
        (lambda: devices.PCM(t0=-20.0), "t0.*> 0; got -20.0"),
        (lambda: devices.PCM(t0=0.0), "t0"),
        (lambda: devices.PCM(t_read=-1e-9), "t_read"),
        (lambda: devices.PCM(g_min=25.0), "g_min"),
        (lambda: devices.RRAMCMO(g_min=90.0), "g_min"),
        (lambda: devices.RRAMCMO(prog_noise_scale=-1.0), "prog_noise_scale"),
        (lambda: devices.RRAMWan2022(noise_scale=-1.0), "noise_scale"),
        (lambda: devices.RRAMMilo2021(g_max=0.0), "g_max"),
        (lambda: devices.LogLinear(1.0, 0.0, 0.2, 0.1), "lo.*hi"),
        (lambda: devices.Polynomial(()), "coeffs"),
        (lambda: devices.PowerLaw(1.0, -0.65, 1e-3, 0.2), "exponent"),
    ],
)
def test_bad_configuration_names_argument_and_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_every_public_name_is_documented():
    for name in devices.__all__ if hasattr(devices, "__all__") else dir(devices):
        obj = getattr(devices, name)
        if name.startswith("_") or not callable(obj):
            continue
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name


CELLWISE = dict(MODELS, soft_bounds=devices.SoftBounds(), pow_step=devices.PowStep())


@pytest.mark.parametrize("dev", list(CELLWISE.values()), ids=list(CELLWISE))
def test_program_and_read_is_program_then_read_with_the_same_derivatives(dev, getkey):
    """`program_and_read` (a training step's program + read, whose derivative is computed cell
    by cell in the forward pass) against `read(program(...))`: the same conductances, the same
    gradient, forward-mode derivatives and derivatives in `t`; and the property that makes
    the cell-by-cell derivative exact: every device's Jacobian is diagonal."""
    k1, k2 = getkey(), getkey()
    g = jnp.stack([targets(dev), targets(dev)[::-1]])  # (2, 64), both ends included

    def plain(g, t=3600.0):
        return dev.read(k2, dev.program(k1, g, check=False), t, check=False)

    def sample(g, t=3600.0):
        return dev.program_and_read(k1, k2, g, jnp.asarray(t))

    np.testing.assert_array_equal(np.asarray(sample(g)), np.asarray(plain(g)))
    np.testing.assert_allclose(
        np.asarray(jax.jit(sample)(g)), np.asarray(plain(g)), rtol=1e-6, atol=1e-6
    )
    c = jr.normal(getkey(), g.shape)
    for t in (1.0, 3600.0, 3e7):
        grads = [jax.grad(lambda g: jnp.sum(c * f(g, t)))(g) for f in (sample, plain)]
        np.testing.assert_allclose(*map(np.asarray, grads), rtol=1e-5, atol=1e-6)
        jit_grad = jax.jit(jax.grad(lambda g: jnp.sum(c * sample(g, t))))(g)
        np.testing.assert_allclose(np.asarray(jit_grad), np.asarray(grads[1]), rtol=1e-5, atol=1e-6)
    tangent = jr.normal(getkey(), g.shape)
    fwd = [jax.jvp(f, (g,), (tangent,))[1] for f in (sample, plain)]
    np.testing.assert_allclose(*map(np.asarray, fwd), rtol=1e-5, atol=1e-6)
    in_t = [jax.grad(lambda t: jnp.sum(c * f(g, t)))(3600.0) for f in (sample, plain)]
    np.testing.assert_allclose(*map(np.asarray, in_t), rtol=1e-5, atol=1e-8)
    jac = np.asarray(jax.jacrev(lambda g: plain(g).ravel())(g).reshape(g.size, g.size))
    assert np.count_nonzero(jac - np.diag(np.diag(jac))) == 0
