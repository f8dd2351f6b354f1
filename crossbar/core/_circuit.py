"""The crossbar as a circuit: wire resistance (IR drop), non-linear cells, current limits.

Geometry (DESIGN.md): `G[i, j]`, row `i` an input (word line), column `j` an output (bit
line). Row `i`'s driver sits at the column-0 end and holds `v_i`; column `j`'s sense amplifier,
a virtual ground, sits past the last row. Every wire segment has the resistance `r_wire`: driver
to the first cell, cell to cell, last cell to the amplifier. The far ends (past the last
column of a row, before the first row of a column) are open.

Units: conductances in uS, voltages in V, currents in uA (uS x V).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from devices.checks import check_int, check_positive

#: aihwkit's ratio of wire conductance to the largest cell conductance (`ir_drop_g_ratio`).
AIHWKIT_G_RATIO = 1.0 / 0.35 / 5e-6  # aihwkit's `ir_drop_g_ratio`, computed as it does


class IRDrop(eqx.Module):
    """Wire resistance of the crossbar, for `Tile(ir_drop=...)`.

    **Arguments:**

    - `r_wire`: resistance of every wire segment, ohms (`"exact"`).
    - `method`: `"exact"` (default): the node voltages of the resistive grid solved for every
      input vector (`solve_ir_drop`); `"aihwkit"`: IBM aihwkit's fast approximation of the
      drop on the tile's normalised weights (`ir_drop_aihwkit`), scaled by `scale` (aihwkit's
      `ir_drop`) with `g_ratio` (aihwkit's `ir_drop_g_ratio`, default `1 / 0.35 / 5e-6`,
      571428.57).
    - `rtol`: relative tolerance of the exact solve (default 1e-6, preconditioned residual);
      `max_iter`: its iteration limit (default 200); `newton_steps`: Newton steps for cells
      with a non-linear I-V curve (default 4).
    """

    r_wire: float | Array = 1.0
    method: Literal["exact", "aihwkit"] = eqx.field(static=True, default="exact")
    scale: float | Array = 1.0
    g_ratio: float | Array = AIHWKIT_G_RATIO
    rtol: float | Array = 1e-6
    max_iter: int = eqx.field(static=True, default=200)
    newton_steps: int = eqx.field(static=True, default=4)

    def __check_init__(self):
        if self.method not in ("exact", "aihwkit"):
            raise ValueError(f'IRDrop: `method` must be "exact" or "aihwkit"; got {self.method!r}.')
        for name in ("r_wire", "scale", "g_ratio", "rtol"):
            check_positive("IRDrop", name, getattr(self, name))
        check_int("IRDrop", "max_iter", self.max_iter)
        check_int("IRDrop", "newton_steps", self.newton_steps)


def _check_grid(g: Array, v: Array, r_wire) -> None:
    if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
        raise ValueError(
            f"solve_ir_drop: `g` must be a non-empty (rows, cols) array of conductances in uS; "
            f"got shape {g.shape}."
        )
    if v.shape != (g.shape[0],):
        raise ValueError(
            f"solve_ir_drop: `v` must be (rows,) = ({g.shape[0]},) voltages; got shape {v.shape}."
        )
    if isinstance(r_wire, (int, float)):
        check_positive("solve_ir_drop", "r_wire", r_wire)


def _lap_rows(u: Array, gw) -> Array:
    """Wire Laplacian along each row (last axis): driver end held (deviation 0), far end open."""
    d = u - jnp.pad(u[..., :-1], [(0, 0)] * (u.ndim - 1) + [(1, 0)])  # u_j - u_{j-1}
    return gw * (d - jnp.pad(d[..., 1:], [(0, 0)] * (u.ndim - 1) + [(0, 1)]))


def _lap_cols(w: Array, gw) -> Array:
    """Wire Laplacian along each column (axis -2): top open, bottom to the virtual ground."""
    pad = [(0, 0)] * (w.ndim - 2)
    e = w - jnp.pad(w[..., 1:, :], pad + [(0, 1), (0, 0)])  # w_i - w_{i+1}, w_R = 0
    return gw * (e - jnp.pad(e[..., :-1, :], pad + [(1, 0), (0, 0)]))


def _factor(dl: Array, d: Array, du: Array) -> tuple[Array, Array]:
    """LU factors of tridiagonal chains along axis 0 (the Thomas algorithm): the multipliers
    `l` and the pivots `dp`. The chains are diagonally dominant, so no pivoting is needed."""

    def step(d_prev, x):
        a, dj, c_prev = x
        lj = a / d_prev
        dn = dj - lj * c_prev
        return dn, (lj, dn)

    _, (lj, dp) = jax.lax.scan(step, d[0], (dl[1:], d[1:], du[:-1]))
    return jnp.concatenate([jnp.zeros_like(d[:1]), lj]), jnp.concatenate([d[:1], dp])


def _substitute(lj: Array, dp: Array, du: Array, b: Array) -> Array:
    """Solve factored chains (along axis 0) for `b`: forward, then back substitution."""

    def forward(y, x):
        l_j, b_j = x
        y = b_j - l_j * y
        return y, y

    _, y = jax.lax.scan(forward, jnp.zeros_like(b[0]), (lj, b))

    def back(x_next, x):
        y_j, c_j, d_j = x
        x_j = (y_j - c_j * x_next) / d_j
        return x_j, x_j

    _, x = jax.lax.scan(back, jnp.zeros_like(b[0]), (y, du, dp), reverse=True)
    return x


def _chain_solver(gd: Array, gw) -> Callable[[tuple[Array, Array]], tuple[Array, Array]]:
    """The block-diagonal preconditioner: every row wire and every column wire solved exactly
    on its own (tridiagonal chains, factored once), the coupling through the cells left out.
    `gd`: the cells' (small-signal) conductances `(rows, cols)`."""
    gw = jnp.asarray(gw, gd.dtype)

    def chains(gt: Array, open_end: int):
        # Chains along axis 0 of `gt`: 2 gw + G, gw + G at the open end; -gw off the diagonal.
        d = (2 * gw + gt).at[open_end].add(-gw)
        off = jnp.full(gt.shape, -gw, gd.dtype)
        du = off.at[-1].set(0.0)
        return (*_factor(off.at[0].set(0.0), d, du), du)

    rows_f = chains(gd.T, -1)  # row wires, along the columns; open past the last column
    cols_f = chains(gd, 0)  # column wires, along the rows; open above the first row

    def apply(r):
        ru, rw = r
        return _substitute(*rows_f, ru.T).T, _substitute(*cols_f, rw)

    return apply


def _dot(a, b) -> Array:
    return jnp.sum(a[0] * b[0]) + jnp.sum(a[1] * b[1])


def _pcg(matvec, precond, b, rtol: float, max_iter: int):
    """Preconditioned conjugate gradients from zero, stopped when the preconditioned residual
    norm falls below `rtol` of its start."""
    x = jax.tree.map(jnp.zeros_like, b)
    z = precond(b)
    rz = _dot(b, z)
    stop = (rtol**2) * rz

    def cond(c):
        _, _, _, rz, k = c
        return (rz > stop) & (k < max_iter)

    def body(c):
        x, r, p, rz, k = c
        ap = matvec(p)
        alpha = rz / _dot(p, ap)
        x = jax.tree.map(lambda x, p: x + alpha * p, x, p)
        r = jax.tree.map(lambda r, ap: r - alpha * ap, r, ap)
        z = precond(r)
        rz_new = _dot(r, z)
        p = jax.tree.map(lambda z, p: z + (rz_new / rz) * p, z, p)
        return x, r, p, rz_new, k + 1

    x, *_ = jax.lax.while_loop(cond, body, (x, b, z, rz, jnp.asarray(0)))
    return x


def _linear_solve(gd: Array, gw, b, rtol: float, max_iter: int):
    """Solve `[[L_r + Gd, Gd], [Gd, L_c + Gd]] (u, w) = b`: symmetric positive definite,
    differentiable (implicit: the adjoint is another solve)."""

    def matvec(x):
        u, w = x
        s = gd * (u + w)
        return _lap_rows(u, gw) + s, _lap_cols(w, gw) + s

    precond = _chain_solver(jax.lax.stop_gradient(gd), jax.lax.stop_gradient(gw))
    return jax.lax.custom_linear_solve(
        matvec, b, lambda mv, b: _pcg(mv, precond, b, rtol, max_iter), symmetric=True
    )


def solve_ir_drop(
    g: ArrayLike,
    v: ArrayLike,
    r_wire,
    *,
    current: Callable[[Array, Array], Array] | None = None,
    rtol: float | Array = 1e-6,
    max_iter: int = 200,
    newton_steps: int = 4,
) -> Array:
    r"""Column currents of a crossbar with resistive wires: the exact nodal solution.

    **Arguments:**

    - `g`: cell conductances `(rows, cols)`, uS.
    - `v`: the row drivers' voltages `(rows,)`, V.
    - `r_wire`: resistance of every wire segment, ohms (> 0).
    - `current`: the cells' I-V curve `current(g, v) -> uA` (e.g. `device.current` of
      `devices.RRAMMilo2021`); None for Ohm's law.
    - `rtol`, `max_iter`: the tolerance and iteration limit of the linear solves;
      `newton_steps`: Newton steps for a non-linear `current`.

    **Returns:** the currents `(cols,)` into the column amplifiers, uA.

    The unknowns are the drop along each row from its driver, $u_{ij} = v_i - U_{ij}$, and the
    column-wire voltages $W_{ij}$. Kirchhoff's current law at every node reads $L_r u = f$ and
    $L_c W = f$ with $f_{ij} = I(G_{ij}, v_i - u_{ij} - W_{ij})$ the cell currents and $L_r,
    L_c$ the wire Laplacians of the rows and columns ($1/r_\mathrm{wire}$ per segment). For
    Ohm's law this is one symmetric positive-definite system, solved by conjugate gradients
    preconditioned with the exact solution of every row wire and every column wire on its own
    (tridiagonal solves, O(rows x cols) each): a few tens of iterations at tens of percent of
    IR drop, never a dense solve. A non-linear I-V curve takes Newton steps on the same
    structure (the cells' small-signal conductances in place of G). The column current is
    the current through the last segment, $W_{R-1, j} / r_\mathrm{wire}$. Differentiable with
    respect to `g` and `v` (the linear solves by implicit differentiation); `vmap` for
    batches of inputs (conductances shared, the factorisation is reused).
    """
    g, v = jnp.asarray(g), jnp.asarray(v)
    _check_grid(g, v, r_wire)
    if not jnp.issubdtype(g.dtype, jnp.floating):
        g = g.astype(float)
    v = v.astype(g.dtype)
    # Compiled as one program (op by op, the Newton steps compiled kernel after kernel: 4.6 s
    # for a first non-linear solve of 128 x 64); r_wire as an array, so a new value is no
    # new program.
    return _solve(g, v, jnp.asarray(r_wire, g.dtype), current, rtol, max_iter, newton_steps)


@eqx.filter_jit
def _solve(g, v, r_wire, current, rtol: float, max_iter: int, newton_steps: int) -> Array:
    gw = 1e6 / r_wire  # uS per segment
    vb = jnp.broadcast_to(v[:, None], g.shape)
    b = g * vb
    u, w = _linear_solve(g, gw, (b, b), rtol, max_iter)
    if current is not None:
        for _ in range(newton_steps):
            volts = vb - u - w
            f, df = jax.jvp(lambda vv: current(g, vv), (volts,), (jnp.ones_like(volts),))
            res_u = _lap_rows(u, gw) - f
            res_w = _lap_cols(w, gw) - f
            du, dw = _linear_solve(df, gw, (-res_u, -res_w), rtol, max_iter)
            u, w = u + du, w + dw
    return gw * w[-1]


def ideal_currents(g: ArrayLike, v: ArrayLike, current=None) -> Array:
    """Column currents `(cols,)` in uA without wire resistance: `sum_i I(G_ij, v_i)`."""
    g, v = jnp.asarray(g), jnp.asarray(v)
    if current is None:
        return v @ g
    return jnp.sum(current(g, jnp.broadcast_to(v[:, None], g.shape)), axis=0)


def ir_drop_aihwkit(w: Array, x: Array, scale: float, g_ratio: float = AIHWKIT_G_RATIO) -> Array:
    r"""IBM aihwkit's fast IR-drop approximation (`applyIrDrop` of its C++ forward pass).

    For normalised weights `w (rows, cols)` (|w| <= 1 at g_max) and inputs `x (rows,)`, the
    output correction `(cols,)` to subtract from `x @ w`: $a_j = (n / g_{ratio}) \sum_i
    |w_{ij}| |x_i|$, $c_j = a_j (a_j (0.05 a_j - 0.2) + 0.5)$, $x'_i = x_i (1 - (1 - i/n)^2)$,
    correction $= \mathrm{scale}\; c_j \sum_i w_{ij} x'_i$, with $n$ the number of rows.
    """
    n = x.shape[-1]
    a = (n / g_ratio) * (jnp.abs(x) @ jnp.abs(w))
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    p = 1.0 - jnp.arange(n, dtype=x.dtype) / n
    return scale * c * ((x * (1.0 - p * p)) @ w)
