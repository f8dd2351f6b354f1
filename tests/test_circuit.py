"""The crossbar as a circuit: exact IR drop against independent nodal solvers, non-linear
cells, aihwkit's approximation, and the circuit inside a tile."""

import logging

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import crossbar
import devices


def nodal_reference(g, v, r_wire, current=None, newton=8):
    """An independent solve of the same grid in float64: every node voltage unknown (row
    nodes, then column nodes), Kirchhoff's law at each, the drivers and the virtual grounds
    as sources; Newton's method with a numerical derivative for a non-linear cell; a dense
    solve, or scipy's sparse LU when scipy is there. Returns the column currents in uA."""
    g = np.asarray(g, np.float64)
    v = np.asarray(v, np.float64)
    rows, cols = g.shape
    n = rows * cols
    gw = 1e6 / r_wire
    U = np.arange(n).reshape(rows, cols)
    W = U + n
    ent = []  # (row, col, value) of the wire part
    b = np.zeros(2 * n)

    def add(i, j, val):
        ent.append((i, j, val))

    for i in range(rows):
        for j in range(cols):
            add(U[i, j], U[i, j], gw)  # segment towards the driver
            if j == 0:
                b[U[i, j]] += gw * v[i]
            else:
                add(U[i, j], U[i, j - 1], -gw)
            if j < cols - 1:
                add(U[i, j], U[i, j], gw)
                add(U[i, j], U[i, j + 1], -gw)
            add(W[i, j], W[i, j], gw)  # segment towards the amplifier
            if i < rows - 1:
                add(W[i, j], W[i + 1, j], -gw)
            if i > 0:
                add(W[i, j], W[i, j], gw)
                add(W[i, j], W[i - 1, j], -gw)
    r_, c_, val = map(np.array, zip(*ent))
    try:
        import scipy.sparse as sps
        import scipy.sparse.linalg as spl

        wires = sps.csr_matrix((val, (r_, c_)), shape=(2 * n, 2 * n))

        def solve(gd):
            cells = sps.csr_matrix(
                (
                    np.concatenate([gd.ravel(), gd.ravel(), -gd.ravel(), -gd.ravel()]),
                    (
                        np.concatenate([U.ravel(), W.ravel(), U.ravel(), W.ravel()]),
                        np.concatenate([U.ravel(), W.ravel(), W.ravel(), U.ravel()]),
                    ),
                ),
                shape=(2 * n, 2 * n),
            )
            return lambda rhs: spl.spsolve((wires + cells).tocsc(), rhs)

    except ImportError:
        wires = np.zeros((2 * n, 2 * n))
        np.add.at(wires, (r_, c_), val)

        def solve(gd):
            a = wires.copy()
            a[U.ravel(), U.ravel()] += gd.ravel()
            a[W.ravel(), W.ravel()] += gd.ravel()
            a[U.ravel(), W.ravel()] -= gd.ravel()
            a[W.ravel(), U.ravel()] -= gd.ravel()
            return lambda rhs: np.linalg.solve(a, rhs)

    x = solve(g)(b)
    if current is not None:
        for _ in range(newton):
            uu, ww = x[:n].reshape(rows, cols), x[n:].reshape(rows, cols)
            dv = uu - ww
            f = current(g, dv)
            h = 1e-6
            df = (current(g, dv + h) - current(g, dv - h)) / (2 * h)
            wire = np.zeros(2 * n)
            np.add.at(wire, r_, val * x[c_])
            res = wire - b
            res[U.ravel()] += f.ravel()
            res[W.ravel()] -= f.ravel()
            x = x - solve(df)(res)
    return gw * x[W[-1]]


def milo_current_numpy(g, v):
    """Milo et al. (IRPS 2021) as CrossSim writes it, G0 in mS and currents in mA, in uA."""
    x = np.log10(np.maximum(g, 1e-6) * 1e-3)
    nl2 = np.polyval([1.388e-4, 1.541e-3, 5.711e-3, 7.063e-3], x)
    nl3 = np.polyval([8.871e-5, 6.7919e-4, 1.2968e-3], x)
    return g * v + 1e3 * (nl2 * v * np.abs(v) + nl3 * v**3)


def grid(rows, cols, seed, g_lo=1.0, g_hi=25.0, signed=False):
    rng = np.random.default_rng(seed)
    g = rng.uniform(g_lo, g_hi, (rows, cols))
    v = rng.uniform(-0.2 if signed else 0.0, 0.2, rows)
    return g, v


def rel_err(out, ref):
    return float(np.max(np.abs(np.asarray(out) - ref)) / np.max(np.abs(ref)))


def ir_effect(g, v, ref):
    return float(np.max(np.abs(v @ g - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize(
    "rows, cols, r_wire, signed",
    [(12, 9, 100.0, False), (40, 24, 30.0, True), (96, 64, 5.0, False)],
)
def test_exact_ir_drop_equals_a_nodal_solve(rows, cols, r_wire, signed):
    g, v = grid(rows, cols, rows, signed=signed)
    ref = nodal_reference(g, v, r_wire)
    out = jax.jit(crossbar.solve_ir_drop, static_argnums=2)(
        jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32), r_wire
    )
    assert rel_err(out, ref) < 1e-4
    if not signed:
        assert ir_effect(g, v, ref) > 0.05  # the wires matter here


def test_exact_ir_drop_at_256_by_256_with_tens_of_percent():
    pytest.importorskip("scipy")
    g, v = grid(256, 256, 0)
    ref = nodal_reference(g, v, 1.0)
    assert 0.2 < ir_effect(g, v, ref) < 0.9  # tens of percent
    out = crossbar.solve_ir_drop(jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32), 1.0)
    assert rel_err(out, ref) < 1e-4


@pytest.mark.filterwarnings("ignore::ImportWarning")
def test_against_badcrossbar():
    """The open badcrossbar package (PyPI), where installed: the same geometry."""
    badcrossbar = pytest.importorskip("badcrossbar")
    if not hasattr(badcrossbar, "compute"):
        pytest.skip("badcrossbar imported without its solver")
    logging.disable(logging.INFO)
    for rows, cols, r_wire in [(64, 48, 2.0), (256, 256, 1.0)]:
        g, v = grid(rows, cols, rows + 1)
        sol = badcrossbar.compute(
            v[:, None], 1e6 / g, r_wire, node_voltages=False, all_currents=False
        )
        ref = np.asarray(sol.currents.output).ravel() * 1e6  # A -> uA
        out = crossbar.solve_ir_drop(
            jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32), r_wire
        )
        assert rel_err(out, ref) < 1e-4


def test_nonlinear_cells_with_and_without_wires():
    device = devices.RRAMMilo2021()
    g, v = grid(20, 16, 3, g_lo=45.0, g_hi=225.0)
    v = v * 2.5  # up to 0.5 V, where the curve bends by about 2 %
    ref = nodal_reference(g, v, 3.0, current=milo_current_numpy)
    gj, vj = jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32)
    out = crossbar.solve_ir_drop(gj, vj, 3.0, current=device.current)
    assert rel_err(out, ref) < 1e-4
    linear = nodal_reference(g, v, 3.0)
    assert rel_err(linear, ref) > 5e-3  # the non-linearity is visible
    # Without wires: the sum of the cell currents.
    ideal = milo_current_numpy(g, v[:, None]).sum(0)
    tile = crossbar.Tile(device=device, nonlinear_iv=True)
    from crossbar.core._circuit import ideal_currents

    assert rel_err(ideal_currents(gj, vj, tile.device.current), ideal) < 1e-5


def test_gradients_and_vmap():
    g, v = grid(16, 12, 5)
    gj, vj = jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32)
    # The Jacobian with respect to the voltages: the system is linear, so each column of the
    # reference is the solve for a unit input.
    jac = jax.jacobian(crossbar.solve_ir_drop, argnums=1)(gj, vj, 2.0)
    ref = np.stack([nodal_reference(g, np.eye(16)[i], 2.0) for i in range(16)], axis=1)
    assert rel_err(jac, ref) < 1e-4
    # With respect to the conductances: central differences of the float64 reference.
    grad = jax.grad(lambda g: crossbar.solve_ir_drop(g, vj, 2.0)[3])(gj)
    h = 1e-3
    for i, j in [(0, 0), (7, 3), (15, 11)]:
        gp, gm = g.copy(), g.copy()
        gp[i, j] += h
        gm[i, j] -= h
        fd = (nodal_reference(gp, v, 2.0)[3] - nodal_reference(gm, v, 2.0)[3]) / (2 * h)
        assert float(grad[i, j]) == pytest.approx(fd, rel=1e-3, abs=1e-6)
    vs = jr.uniform(jr.PRNGKey(0), (5, 16), maxval=0.2)
    batched = jax.vmap(crossbar.solve_ir_drop, (None, 0, None))(gj, vs, 2.0)
    looped = jnp.stack([crossbar.solve_ir_drop(gj, x, 2.0) for x in vs])
    np.testing.assert_allclose(batched, looped, rtol=1e-5)


def test_aihwkit_approximation():
    """The formula of aihwkit's `applyIrDrop`, written out in numpy."""
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (64, 10))
    x = rng.uniform(-1, 1, 64)
    n = 64
    a = n / (1 / 0.35 / 5e-6) * (np.abs(x) @ np.abs(w))
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    xp = x * (1 - (1 - np.arange(n) / n) ** 2)
    ref = 2.0 * c * (xp @ w)
    out = crossbar.ir_drop_aihwkit(jnp.asarray(w, jnp.float32), jnp.asarray(x, jnp.float32), 2.0)
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def tile_layer(key=jr.PRNGKey(0), **tile_kwargs):
    tile = crossbar.Tile(
        rows=32, cols=16, dac=crossbar.DAC(bits=None), adc=crossbar.ADC(bits=None), **tile_kwargs
    )
    return crossbar.AnalogLinear(48, 20, tile=tile, key=key)


def test_circuit_tile_equals_the_per_array_solve():
    layer = tile_layer(ir_drop=crossbar.IRDrop(r_wire=20.0), drift_compensation="none")
    chip = crossbar.at_time(crossbar.program(layer, jr.PRNGKey(1)), 1.0, jr.PRNGKey(2))
    x = jr.uniform(jr.PRNGKey(3), (48,))
    y = chip(x)
    # By hand: each tile's two arrays solved, (I+ - I-) / (v_read (g_max - g_min)).
    g = chip.state.g  # (2, T_r, T_c, 16, 32)
    xs = jnp.pad(x, (0, 16)).reshape(2, 32)
    alpha = jnp.max(jnp.abs(xs), axis=1)  # the DAC's input scale per row tile
    out = jnp.zeros(32)
    for tr in range(2):
        cols = []
        for tc in range(2):
            v = 0.2 * xs[tr] / alpha[tr]
            i = [crossbar.solve_ir_drop(g[a, tr, tc].T, v, 20.0) for a in range(2)]
            cols.append((i[0] - i[1]) / (0.2 * 25.0) * alpha[tr])  # Ideal: 0 to 25 uS
        out = out + jnp.concatenate(cols)
    ref = out[:20] * chip.state.w_scale + chip.bias
    np.testing.assert_allclose(y, ref, rtol=2e-5, atol=2e-6)
    ideal = crossbar.at_time(
        crossbar.program(
            layer.with_tile(eqx.tree_at(lambda t: t.ir_drop, layer.tile, None)), jr.PRNGKey(1)
        ),
        1.0,
        jr.PRNGKey(2),
    )
    assert float(jnp.max(jnp.abs(ideal(x) - y))) > 1e-3  # 20 ohm wires change the outputs


def test_current_limit_and_adc_errors():
    base = tile_layer()
    x = jnp.ones(48)
    # Ideal wires through the circuit path equal the einsum path.
    circuit = base.with_tile(
        eqx.tree_at(lambda t: t.i_max, base.tile, 1e9, is_leaf=lambda v: v is None)
    )
    c0 = crossbar.at_time(crossbar.program(base, jr.PRNGKey(1)), 1.0, jr.PRNGKey(2))
    c1 = crossbar.at_time(crossbar.program(circuit, jr.PRNGKey(1)), 1.0, jr.PRNGKey(2))
    np.testing.assert_allclose(c0(x), c1(x), rtol=1e-5, atol=1e-6)
    # A low limit saturates: outputs bounded by i_max / (v_read (g_max - g_min)) per tile.
    low = base.with_tile(
        eqx.tree_at(lambda t: t.i_max, base.tile, 5.0, is_leaf=lambda v: v is None)
    )
    c2 = crossbar.at_time(crossbar.program(low, jr.PRNGKey(1)), 1.0, jr.PRNGKey(2))
    bound = 2 * (2 * 5.0 / (0.2 * 25.0)) * c2.state.w_scale  # two row tiles, I+ and I- apart
    assert float(jnp.max(jnp.abs(c2(x) - c2.bias))) <= bound * (1 + 1e-5)
    assert float(jnp.max(jnp.abs(c0(x) - c0.bias))) > bound
    # ADC gain and offset: drawn once per chip, from the programming key.
    noisy = base.with_tile(
        eqx.tree_at(lambda t: (t.adc_gain, t.adc_offset), base.tile, (0.05, 0.02))
    )
    a = crossbar.program(noisy, jr.PRNGKey(1)).state.adc_errors
    b = crossbar.program(noisy, jr.PRNGKey(1)).state.adc_errors
    c = crossbar.program(noisy, jr.PRNGKey(9)).state.adc_errors
    assert a[0].shape == (1, 2, 2, 16)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], c[0])
    assert float(jnp.std(a[0])) == pytest.approx(0.05, rel=0.3)
    assert float(jnp.std(a[1])) == pytest.approx(0.02, rel=0.3)
    chip = crossbar.at_time(crossbar.program(noisy, jr.PRNGKey(1)), 1.0, jr.PRNGKey(2))
    assert not np.allclose(chip(x), c0(x))


def test_bad_input():
    g = jnp.ones((4, 3))
    with pytest.raises(ValueError, match="r_wire"):
        crossbar.solve_ir_drop(g, jnp.ones(4), 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        crossbar.solve_ir_drop(jnp.ones((0, 3)), jnp.ones(0), 1.0)
    with pytest.raises(ValueError, match=r"\(rows,\) = \(4,\)"):
        crossbar.solve_ir_drop(g, jnp.ones(5), 1.0)
    for kwargs, match in [
        (dict(r_wire=-1.0), "r_wire"),
        (dict(method="spice"), "method"),
        (dict(max_iter=0), "max_iter"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            crossbar.IRDrop(**kwargs)
    for kwargs, match in [
        (dict(i_max=0.0), "i_max"),
        (dict(adc_gain=-0.1), "adc_gain"),
        (dict(ir_drop=2.0), "ir_drop"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            crossbar.Tile(**kwargs)
