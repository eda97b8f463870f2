"""The registry of experiments: the paper's ten figures and the experiments beyond it.

Each entry is a :class:`~fastbias.experiments.specs.FigureSpec`. The paper's exact data sizes,
seeds and some hyperparameter grids were lost in extraction; the defaults below are ours and
every figure says which (``FigureSpec.notes``). A new experiment is one more builder here.
"""

from __future__ import annotations

from .._validation import shown
from ..models import DiagonalNet
from ..optimizers import (
    GD,
    AdamProxy,
    DetAdam,
    IncAdam,
    IncSignum,
    LossNormalizedGD,
    MirrorDescent,
    Muon,
    NormalizedGD,
    SignGD,
    SpectralDescent,
    SteepestDescent,
)
from ..schedules import Constant
from .specs import Check, Crossing, Curve, DataSpec, FigureSpec, Fit, Panel, short_label

__all__ = ["FIGURES", "PAPER_FIGURES", "figure_names", "get_figure"]

GAUSSIAN = DataSpec.of("gaussian", n=10, d=50, seed=0)
GR = DataSpec.of("gr", n=10, d=50, seed=0)
SHIFTED = DataSpec.of("shifted_diagonal")

_ADAM_SETTING = "Adam (b1, b2) = (0.9, 0.999), no epsilon"
_LR_SETTING = "eta_t = 0.1 (t + 2)^-0.5, exp loss, w0 = 0"
_OURS = "n = 10, d = 50, data seed 0, eta0 = 0.1, power 0.5"
_FULL = 10**7


def _adam_b1_variants(data: DataSpec, full_batch: bool) -> list[Curve]:
    curves = [Curve("Det-Adam (full batch)", data, DetAdam())] if full_batch else []
    curves += [
        Curve("Inc-Adam b=1 (cyclic)", data, IncAdam()),
        Curve("Adam b=1 (reshuffle)", data, IncAdam(sampling="reshuffle")),
        Curve("Adam b=1 (replacement)", data, IncAdam(sampling="replacement")),
    ]
    return curves


def _fig1() -> FigureSpec:
    curves = tuple(_adam_b1_variants(GAUSSIAN, full_batch=True))
    det, *minibatch = (c.label for c in curves)
    checks = [
        Check(f"{det}: cos l_inf > cos l_2", (det, "linf", "cosine"), ">", (det, "l2", "cosine"))
    ]
    checks += [
        Check(f"{lab}: cos l_2 > cos l_inf", (lab, "l2", "cosine"), ">", (lab, "linf", "cosine"))
        for lab in minibatch
    ]
    # the l_inf solution may be non-unique: the margin ratio does not depend on which one
    checks += [
        Check(
            f"l_inf margin ratio: {det} > {lab}",
            (det, "linf", "margin_ratio"),
            ">",
            (lab, "linf", "margin_ratio"),
        )
        for lab in minibatch
    ]
    return FigureSpec(
        name="fig1",
        title="Gaussian data: full-batch Adam vs per-sample Adam (b = 1)",
        setting=f"{GAUSSIAN.describe()}; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=(
            "Full-batch Adam converges to the l_inf max-margin direction; mini-batch Adam "
            "with batch size 1 does not, and ends closer to the l_2 max-margin direction."
        ),
        panels=(
            Panel("l2", "cosine", curves),
            Panel("linf", "cosine", curves),
            Panel("linf", "margin_ratio", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**6,  # Det-Adam's cos l_inf overtakes its cos l_2 after ~2e5 epochs
        checks=tuple(checks),
        notes=_OURS + ".",
    )


def _fig2() -> FigureSpec:
    curves = tuple(_adam_b1_variants(GR, full_batch=True))
    det, *minibatch = (c.label for c in curves)
    checks = [
        Check(f"{det}: cos l_inf > cos l_2", (det, "linf", "cosine"), ">", (det, "l2", "cosine"))
    ]
    checks += [
        Check(f"{lab}: cos l_2 >= 0.99", (lab, "l2", "cosine"), ">=", 0.99) for lab in minibatch
    ]
    return FigureSpec(
        name="fig2",
        title="GR data: per-sample Adam (b = 1) converges to the l_2 max-margin direction",
        setting=f"{GR.describe()}, r_i ~ U[1, 2]; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=(
            "On generalized Rademacher data Inc-Adam converges in direction to the l_2 "
            "max-margin solution (Theorem 3.3), unlike full-batch Adam (l_inf)."
        ),
        panels=(Panel("l2", "cosine", curves), Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=_OURS + ", r_i ~ Uniform[1, 2].",
    )


def _fig3() -> FigureSpec:
    curves = (
        Curve("AdamProxy", GAUSSIAN, AdamProxy()),
        *_adam_b1_variants(GAUSSIAN, full_batch=False),
    )
    checks = tuple(
        Check(f"{c.label}: cos fixed point >= 0.99", (c.label, "fixed_point", "cosine"), ">=", 0.99)
        for c in curves
    )
    return FigureSpec(
        name="fig3",
        title="Gaussian data: AdamProxy and Adam b = 1 go to the fixed point of Algorithm 3",
        setting=f"{GAUSSIAN.describe()}; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=(
            "AdamProxy and mini-batch Adam with b = 1 converge to the direction predicted "
            "by the fixed point of Algorithm 3 (Theorem 4.8), which differs from both the "
            "l_2 and the l_inf max-margin directions."
        ),
        panels=(
            Panel("fixed_point", "cosine", curves),
            Panel("l2", "cosine", curves),
            Panel("linf", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; fixed point with tol = 1e-8 from c0 = 1/n.",
    )


def _fig4() -> FigureSpec:
    curves = (
        Curve("AdamProxy", SHIFTED, AdamProxy()),
        *_adam_b1_variants(SHIFTED, full_batch=False),
    )
    checks = []
    for c in curves:
        checks.append(
            Check(
                f"{c.label}: l_inf margin ratio > l_2 margin ratio",
                (c.label, "linf", "margin_ratio"),
                ">",
                (c.label, "l2", "margin_ratio"),
            )
        )
        checks.append(
            Check(
                f"{c.label}: l_inf margin ratio >= 0.98",
                (c.label, "linf", "margin_ratio"),
                ">=",
                0.98,
            )
        )
    return FigureSpec(
        name="fig4",
        title="Shifted-diagonal data: AdamProxy and Adam b = 1 go to l_inf",
        setting=f"{SHIFTED.describe()}, y = +1; {_ADAM_SETTING}; {_LR_SETTING}",
        claim=(
            "On shifted-diagonal data the fixed point is c = e_j (j = argmin a_i) and its "
            "direction is the l_inf max-margin direction (the all-ones vector), so AdamProxy "
            "and Adam with b = 1 converge to l_inf (Example 4.11)."
        ),
        panels=(
            Panel("linf", "margin_ratio", curves),
            Panel("linf", "cosine", curves),
            Panel("l2", "margin_ratio", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=(
            "a = linspace(1, 2, 10), delta = 0.1, eta0 = 0.1, power 0.5. The l_2 and "
            "l_inf directions are close here (cosine 0.976), so the margin ratio is the "
            "telling metric."
        ),
    )


def _fig5() -> FigureSpec:
    curves = tuple(
        Curve(f"Inc-Signum b={b}", GAUSSIAN, IncSignum(beta=0.99, batch_size=b))
        for b in (1, 2, 5, 10)
    )
    checks = tuple(
        Check(f"{c.label}: cos l_inf >= 0.99", (c.label, "linf", "cosine"), ">=", 0.99)
        for c in curves
    )
    return FigureSpec(
        name="fig5",
        title="Gaussian data: Inc-Signum keeps the l_inf bias for every batch size",
        setting=f"{GAUSSIAN.describe()}; Signum beta = 0.99, cyclic batches; {_LR_SETTING}",
        claim=(
            "Inc-Signum with momentum close to 1 converges to the l_inf max-margin "
            "direction for any batch size (Theorem 5.1)."
        ),
        panels=(
            Panel("linf", "cosine", curves),
            Panel("linf", "margin_ratio", curves),
            Panel("l2", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; batch sizes 1, 2, 5, 10.",
    )


def _fig6() -> FigureSpec:
    sizes = (1, 2, 5, 10)
    curves = tuple(Curve(f"Inc-Adam b={b}", GAUSSIAN, IncAdam(batch_size=b)) for b in sizes)
    checks = []
    for small, large in zip(curves[:-1], curves[1:], strict=True):
        for metric in ("cosine", "margin_ratio"):
            name = short_label("linf", metric)
            checks.append(
                Check(
                    f"{name}: {large.label} > {small.label}",
                    (large.label, "linf", metric),
                    ">",
                    (small.label, "linf", metric),
                )
            )
    return FigureSpec(
        name="fig6",
        title="Gaussian data: larger batches bring Adam closer to l_inf",
        setting=f"{GAUSSIAN.describe()}; {_ADAM_SETTING}, cyclic batches; {_LR_SETTING}",
        claim=(
            "The larger the batch size, the higher the cosine similarity with the l_inf "
            "max-margin direction: mini-batch Adam moves toward the full-batch regime "
            "(Appendix A.1)."
        ),
        panels=(
            Panel("linf", "cosine", curves),
            Panel("linf", "margin_ratio", curves),
            Panel("l2", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=_OURS + "; batch sizes 1, 2, 5, 10 (b = 10 is full-batch Adam).",
    )


def _fig7() -> FigureSpec:
    curves = tuple(
        Curve(f"b1={b1}", GAUSSIAN, IncAdam(beta1=b1, beta2=0.999)) for b1 in (0.0, 0.5, 0.9, 0.99)
    )
    checks = tuple(
        Check(f"{c.label}: cos fixed point >= 0.99", (c.label, "fixed_point", "cosine"), ">=", 0.99)
        for c in curves
    )
    return FigureSpec(
        name="fig7",
        title="Gaussian data: Inc-Adam with b2 = 0.999, sweep of b1",
        setting=f"{GAUSSIAN.describe()}; Inc-Adam b = 1, b2 = 0.999; {_LR_SETTING}",
        claim=(
            "With b2 high, b1 does not change the limit direction: Inc-Adam goes to the "
            "fixed point of Algorithm 3 for every b1 (Proposition 4.1, Appendix A.1)."
        ),
        panels=(
            Panel("fixed_point", "cosine", curves),
            Panel("l2", "cosine", curves),
            Panel("linf", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; b1 in {0, 0.5, 0.9, 0.99}.",
    )


def _fig8() -> FigureSpec:
    betas2 = (0.3, 0.5, 0.7, 0.9, 0.99, 0.999)
    curves = tuple(Curve(f"b2={b2}", GAUSSIAN, IncAdam(beta1=0.5, beta2=b2)) for b2 in betas2)
    checks = tuple(
        [
            Check(
                f"b2={b2}: cos fixed point >= 0.99",
                (f"b2={b2}", "fixed_point", "cosine"),
                ">=",
                0.99,
            )
            for b2 in (0.99, 0.999)
        ]
        + [
            Check(
                f"b2={b2}: cos fixed point < 0.99", (f"b2={b2}", "fixed_point", "cosine"), "<", 0.99
            )
            for b2 in (0.3, 0.5)
        ]
    )
    return FigureSpec(
        name="fig8",
        title="Gaussian data: Inc-Adam with b1 = 0.5, sweep of b2",
        setting=f"{GAUSSIAN.describe()}; Inc-Adam b = 1, b1 = 0.5; {_LR_SETTING}",
        claim=(
            "b2 matters: for high b2 Inc-Adam goes to the fixed point of Algorithm 3; for "
            "low b2 its trajectory leaves the fixed-point direction (Appendix A.1)."
        ),
        panels=(
            Panel("fixed_point", "cosine", curves),
            Panel("l2", "cosine", curves),
            Panel("linf", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=(
            _OURS + "; b1 = 0.5 and b2 in {0.3, 0.5, 0.7, 0.9, 0.99, 0.999} (all with "
            "b1^2 < b2). With b1 = 0.9, b2 = 0.9 still reaches the fixed point."
        ),
    )


def _fig9() -> FigureSpec:
    pairs = ((0.0, 0.5), (0.5, 0.9), (0.9, 0.95), (0.9, 0.999), (0.99, 0.999))
    curves = tuple(
        Curve(f"(b1, b2)=({b1}, {b2})", GR, IncAdam(beta1=b1, beta2=b2)) for b1, b2 in pairs
    )
    checks = tuple(
        Check(f"{c.label}: cos l_2 >= 0.99", (c.label, "l2", "cosine"), ">=", 0.99) for c in curves
    )
    return FigureSpec(
        name="fig9",
        title="GR data: Inc-Adam goes to l_2 for every (b1, b2)",
        setting=f"{GR.describe()}, r_i ~ U[1, 2]; Inc-Adam b = 1, cyclic; {_LR_SETTING}",
        claim=(
            "On GR data the l_2 limit of Theorem 3.3 holds for a broad range of momentum "
            "hyperparameters (Appendix B)."
        ),
        panels=(Panel("l2", "cosine", curves), Panel("linf", "cosine", curves)),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=(
            _OURS + "; the (b1, b2) pairs (all with b1^2 < b2: with b1^2 > b2 the update "
            "m / sqrt(v) grows geometrically and the iterates diverge)."
        ),
    )


_SIGNUM_SIZES = (1, 2, 5, 10)
_SIGNUM_BETAS = (0.0, 0.5, 0.9, 0.99, 0.999)


def _fig10() -> FigureSpec:
    panels = []
    for b in _SIGNUM_SIZES:
        curves = tuple(
            Curve(
                f"b={b}, beta={beta}",
                GAUSSIAN,
                IncSignum(beta=beta, batch_size=b),
                legend=f"beta={beta}",
            )
            for beta in _SIGNUM_BETAS
        )
        panels.append(Panel("linf", "cosine", curves, title=f"batch size {b}: cos with l_inf"))

    def key(b, beta):
        return (f"b={b}, beta={beta}", "linf", "cosine")

    checks = (
        Check("b=10 (full batch), beta=0: cos l_inf >= 0.99", key(10, 0.0), ">=", 0.99),
        Check("b=5, beta=0.9: cos l_inf >= 0.99", key(5, 0.9), ">=", 0.99),
        Check("b=1, beta=0.9: cos l_inf < 0.99", key(1, 0.9), "<", 0.99),
        Check("b=1, beta=0.5: cos l_inf < 0.99", key(1, 0.5), "<", 0.99),
        Check("b=1, beta=0.99: cos l_inf >= 0.99", key(1, 0.99), ">=", 0.99),
        Check("b=2, beta=0.99: cos l_inf >= 0.99", key(2, 0.99), ">=", 0.99),
    )
    return FigureSpec(
        name="fig10",
        title="Gaussian data: Inc-Signum, batch size x momentum",
        setting=f"{GAUSSIAN.describe()}; Inc-Signum, cyclic batches; {_LR_SETTING}",
        claim=(
            "To keep the l_inf bias, Signum's momentum must be closer to 1 the smaller the "
            "batch (Theorem 5.1, Appendix B)."
        ),
        panels=tuple(panels),
        epochs=10**8,  # with beta = 0.999, cos l_inf passes 0.9 only after 8e5 to 4.5e6 epochs
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; batch sizes 1, 2, 5, 10 and beta in {0, 0.5, 0.9, 0.99, 0.999}.",
    )


# --------------------------------------------------------------------------------------------
# Beyond the paper: Adam's epsilon, AdamW
# --------------------------------------------------------------------------------------------

_EPSILONS = (0.0, 1e-8, 1e-4)


def _eps() -> FigureSpec:
    curves = tuple(
        [Curve(f"Inc-Adam eps={eps:g}", GAUSSIAN, IncAdam(eps=eps)) for eps in _EPSILONS]
        + [Curve(f"Det-Adam eps={eps:g}", GAUSSIAN, DetAdam(eps=eps)) for eps in _EPSILONS]
    )

    def key(name, eps, ref):
        return (f"{name} eps={eps:g}", ref, "cosine")

    checks = (
        Check(
            "Det-Adam eps=0: cos l_inf > cos l_2",
            key("Det-Adam", 0.0, "linf"),
            ">",
            key("Det-Adam", 0.0, "l2"),
        ),
        Check(
            "Det-Adam eps=1e-4: cos l_2 > cos l_inf (GD-like)",
            key("Det-Adam", 1e-4, "l2"),
            ">",
            key("Det-Adam", 1e-4, "linf"),
        ),
        Check(
            "Det-Adam: eps=1e-4 ends closer to l_2 than eps=0",
            key("Det-Adam", 1e-4, "l2"),
            ">",
            key("Det-Adam", 0.0, "l2"),
        ),
        Check(
            "Inc-Adam eps=1e-4: cos l_2 > cos l_inf (GD-like)",
            key("Inc-Adam", 1e-4, "l2"),
            ">",
            key("Inc-Adam", 1e-4, "linf"),
        ),
        Check(
            "Inc-Adam eps=0: cos fixed point >= 0.99",
            key("Inc-Adam", 0.0, "fixed_point"),
            ">=",
            0.99,
        ),
        Check(
            "Inc-Adam eps=1e-4: cos fixed point < 0.99",
            key("Inc-Adam", 1e-4, "fixed_point"),
            "<",
            0.99,
        ),
    )
    return FigureSpec(
        name="eps",
        title="Gaussian data: Adam with epsilon turns GD-like once |g| ~ eps",
        setting=f"{GAUSSIAN.describe()}; Adam (0.9, 0.999), eps in {{0, 1e-8, 1e-4}}, no bias "
        f"correction; {_LR_SETTING}",
        claim=(
            "With eps > 0 the denominator sqrt(v) + eps is eps once the gradients are below "
            "eps, i.e. once the margins pass about log(1/eps): Adam then takes GD steps "
            "(rate eta / eps) and its direction drifts from Adam's limit (l_inf for "
            "full batch, the fixed point for b = 1) towards GD's, the l_2 max-margin "
            "direction."
        ),
        panels=(
            Panel("l2", "cosine", curves),
            Panel("linf", "cosine", curves),
            Panel("fixed_point", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; eps in {0, 1e-8, 1e-4} (torch's default is 1e-8).",
    )


_DECAYS = (1e-3, 1e-2)


def _adamw() -> FigureSpec:
    decayed = tuple(Curve(f"AdamW wd={wd:g}", GAUSSIAN, DetAdam(weight_decay=wd)) for wd in _DECAYS)
    plain = Curve("Adam (wd=0)", GAUSSIAN, DetAdam())
    every = (*decayed, plain)

    def key(wd, ref, metric):
        return (f"AdamW wd={wd:g}", ref, metric)

    checks = (
        Check(
            "AdamW wd=0.01: ||w||_inf = 1/wd (within 1%)",
            key(1e-2, "linf", "decay_norm"),
            ">=",
            0.99,
        ),
        Check(
            "AdamW wd=0.01: ||w||_inf <= 1/wd (1.01)", key(1e-2, "linf", "decay_norm"), "<=", 1.01
        ),
        Check(
            "AdamW wd=0.01: l_inf margin ratio >= 0.99",
            key(1e-2, "linf", "margin_ratio"),
            ">=",
            0.99,
        ),
        Check(
            "AdamW wd=0.001: ||w||_inf <= 1/wd (1.01)", key(1e-3, "linf", "decay_norm"), "<=", 1.01
        ),
        Check(
            "Adam (wd=0): l_inf margin ratio >= 0.99",
            ("Adam (wd=0)", "linf", "margin_ratio"),
            ">=",
            0.99,
        ),
    )
    return FigureSpec(
        name="adamw",
        title="Gaussian data: full-batch AdamW stays in the box ||w||_inf <= 1/weight_decay",
        setting=f"{GAUSSIAN.describe()}; Det-Adam (0.9, 0.999), decoupled weight decay "
        f"wd in {{1e-3, 1e-2}}; {_LR_SETTING}",
        claim=(
            "Full-batch AdamW, if it converges (non-increasing rates whose sum diverges), "
            "converges to a KKT point of min L(w) s.t. ||w||_inf <= 1/wd (Xie and Li 2024) "
            "instead of growing without bound; for these separable data that point is near "
            "1/wd times an l_inf max-margin direction."
        ),
        panels=(
            Panel("linf", "decay_norm", decayed, title="||w||_inf x weight decay"),
            Panel("linf", "margin_ratio", every),
            Panel("linf", "cosine", every),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=checks,
        notes=_OURS + "; wd in {1e-3, 1e-2}. The iterate approaches the box at a rate "
        "set by sum_t eta_t wd, about 2 wd sqrt(t).",
    )


# --------------------------------------------------------------------------------------------
# Beyond the paper: multiclass data (Fan et al. 2025) and per-sample versions
# --------------------------------------------------------------------------------------------

MC3 = DataSpec.of("gaussian_multiclass", n=30, d=50, k=3, seed=0)
MC5 = DataSpec.of("gaussian_multiclass", n=30, d=50, k=5, seed=0)
_MC_OURS = (
    "multiclass Gaussian n = 30, d = 50, k = 3 and k = 5, data seed 0, cross-entropy, "
    "eta0 = 0.1, power 0.5"
)


def _mc_adam() -> FigureSpec:
    curves = []
    checks = []
    for data, k in ((MC3, 3), (MC5, 5)):
        adam, sign, ngd = f"Det-Adam k={k}", f"SignGD k={k}", f"NGD k={k}"
        curves += [
            Curve(adam, data, DetAdam()),
            Curve(sign, data, SignGD()),
            Curve(ngd, data, NormalizedGD()),
        ]
        checks += [
            Check(
                f"{adam}: max-norm margin ratio >= 0.99", (adam, "max", "margin_ratio"), ">=", 0.99
            ),
            Check(
                f"{sign}: max-norm margin ratio >= 0.99", (sign, "max", "margin_ratio"), ">=", 0.99
            ),
            Check(
                f"{ngd}: Frobenius margin ratio >= 0.99", (ngd, "fro", "margin_ratio"), ">=", 0.99
            ),
            Check(
                f"{ngd} ends closer to Frobenius than {adam}",
                (ngd, "fro", "margin_ratio"),
                ">",
                (adam, "fro", "margin_ratio"),
            ),
        ]
    curves = tuple(curves)
    return FigureSpec(
        name="mc-adam",
        title="Multiclass data: full-batch Adam and SignGD go to the max-norm max-margin",
        setting=f"{MC3.describe()} and k=5; Det-Adam (0.9, 0.999), SignGD, NGD (Frobenius); "
        f"{_LR_SETTING.replace('exp loss', 'cross-entropy')}",
        claim=(
            "On multiclass separable data with cross-entropy, full-batch SignGD and Adam "
            "converge in direction to the max-norm max-margin classifier and normalized GD "
            "to the Frobenius one (Fan et al. 2025, arXiv 2502.04664)."
        ),
        panels=(
            Panel("max", "margin_ratio", curves),
            Panel("fro", "margin_ratio", curves),
            Panel("spectral", "margin_ratio", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=_MC_OURS + ". Full-batch Adam approaches its limit slowly, as in the binary "
        "case (Figure 1).",
    )


def _mc_muon() -> FigureSpec:
    curves = []
    checks = []
    for data, k in ((MC3, 3), (MC5, 5)):
        sd, mu, ns = f"spectral descent k={k}", f"Muon k={k}", f"Muon NS5 k={k}"
        curves += [
            Curve(sd, data, SpectralDescent()),
            Curve(mu, data, Muon()),
            Curve(ns, data, Muon(ns_steps=5)),
        ]
        checks += [
            Check(
                f"{sd}: spectral margin ratio >= 0.99", (sd, "spectral", "margin_ratio"), ">=", 0.99
            ),
            Check(
                f"{mu}: spectral margin ratio >= 0.99", (mu, "spectral", "margin_ratio"), ">=", 0.99
            ),
            Check(
                f"{mu}: spectral ratio > Frobenius ratio",
                (mu, "spectral", "margin_ratio"),
                ">",
                (mu, "fro", "margin_ratio"),
            ),
        ]
    curves = tuple(curves)
    return FigureSpec(
        name="mc-muon",
        title="Multiclass data: spectral descent and Muon go to the spectral-norm max-margin",
        setting=f"{MC3.describe()} and k=5; spectral descent, Muon (momentum 0.95, exact polar "
        f"factor, and 5 Newton-Schulz steps), full batch; "
        f"{_LR_SETTING.replace('exp loss', 'cross-entropy')}",
        claim=(
            "Spectral descent and Muon converge in direction to the spectral-norm "
            "max-margin classifier (Fan et al. 2025). The Newton-Schulz iteration only "
            "approximates the polar factor: report where it goes."
        ),
        panels=(
            Panel("spectral", "margin_ratio", curves),
            Panel("fro", "margin_ratio", curves),
            Panel("spectral", "cosine", curves),
        ),
        epochs=_FULL,
        quick_epochs=10**5,
        checks=tuple(checks),
        notes=_MC_OURS + "; Muon's momentum 0.95 is the common default.",
    )


def _mc_per_sample() -> FigureSpec:
    adam, signum, muon = "Inc-Adam b=1", "Inc-Signum b=1", "Muon b=1"
    curves = (
        Curve(adam, MC3, IncAdam()),
        Curve(signum, MC3, IncSignum()),
        Curve(muon, MC3, Muon(batch_size=1)),
    )
    checks = (
        Check(
            f"{signum}: max-norm margin ratio >= 0.99 (as Thm 5.1 for binary data)",
            (signum, "max", "margin_ratio"),
            ">=",
            0.99,
        ),
        Check(
            f"{adam}: Frobenius ratio > max-norm ratio (as on binary data: closer to l_2)",
            (adam, "fro", "margin_ratio"),
            ">",
            (adam, "max", "margin_ratio"),
        ),
        Check(
            f"{muon}: spectral margin ratio >= 0.99 (as full-batch Muon)",
            (muon, "spectral", "margin_ratio"),
            ">=",
            0.99,
        ),
    )
    return FigureSpec(
        name="mc-per-sample",
        title="Multiclass data: where per-sample Adam, Signum and Muon go",
        setting=f"{MC3.describe()}; b = 1, cyclic: Inc-Adam (0.9, 0.999), Inc-Signum (0.99), "
        f"Muon (0.95, exact polar); {_LR_SETTING.replace('exp loss', 'cross-entropy')}",
        claim=(
            "Not established: the per-sample versions of Adam, Signum and Muon on multiclass "
            "data. By analogy with the binary results, Inc-Signum with momentum near 1 "
            "should keep the max-norm bias, and Inc-Adam should leave it; the checks below "
            "state these hypotheses and the figure shows what happens."
        ),
        panels=(
            Panel("max", "margin_ratio", curves),
            Panel("fro", "margin_ratio", curves),
            Panel("spectral", "margin_ratio", curves),
            Panel("max", "cosine", curves),
            Panel("fro", "cosine", curves),
            Panel("spectral", "cosine", curves),
        ),
        epochs=10**6,  # per-sample Muon takes an SVD per sample: ~0.2 ms per epoch
        quick_epochs=10**4,
        checks=checks,
        notes=_MC_OURS.replace(" and k = 5", "") + ".",
    )


# --------------------------------------------------------------------------------------------
# Beyond the paper: steepest descent in any norm, mirror descent (SPEC 11)
# --------------------------------------------------------------------------------------------

_LP = (("l1", 1.0), ("l1.5", 1.5), ("l2", 2.0), ("l3", 3.0), ("linf", float("inf")))


def _p_text(p: float) -> str:
    return "inf" if p == float("inf") else f"{p:g}"


def _own_norm_checks(curves, names: dict) -> list:
    """Checks that each curve's own norm has a margin ratio >= 0.99, above the other norms'.

    ``names``: reference key -> name in the checks' text, in the order of the curves.
    """
    checks = []
    for (key, name), curve in zip(names.items(), curves, strict=True):
        own = (curve.label, key, "margin_ratio")
        checks.append(Check(f"{curve.label}: {name} margin ratio >= 0.99", own, ">=", 0.99))
        for other, other_name in names.items():
            if other != key:
                checks.append(
                    Check(
                        f"{curve.label}: own {name} ratio > {other_name} ratio",
                        own,
                        ">",
                        (curve.label, other, "margin_ratio"),
                    )
                )
    return checks


def _nsd_lp() -> FigureSpec:
    curves = tuple(Curve(f"NSD p={_p_text(p)}", GAUSSIAN, SteepestDescent(norm=p)) for _, p in _LP)
    names = {key: f"l_{_p_text(p)}" for key, p in _LP}
    checks = _own_norm_checks(curves, names)
    return FigureSpec(
        name="nsd-lp",
        title="Gaussian data: full-batch steepest descent goes to the max margin of its norm",
        setting=f"{GAUSSIAN.describe()}; normalized steepest descent (no momentum), full "
        f"batch, p in {{1, 1.5, 2, 3, inf}}; {_LR_SETTING}",
        claim=(
            "Full-batch normalized steepest descent in the l_p norm converges in direction "
            "to the l_p max-margin solution of its own p (Gunasekar et al. 2018)."
        ),
        panels=tuple(Panel(key, "margin_ratio", curves) for key, _ in _LP),
        epochs=10**6,
        quick_epochs=10**4,
        checks=tuple(checks),
        notes=_OURS + "; p = 2 is normalized GD and p = inf SignGD.",
    )


_NSD_MOMENTA = (0.0, 0.9, 0.99)


def _nsd_batch() -> FigureSpec:
    curves, checks, panels = [], [], []
    for key, p in (("l1.5", 1.5), ("linf", float("inf"))):
        group = []
        for mu in _NSD_MOMENTA:
            label = f"p={_p_text(p)}, b=1, momentum={mu:g}"
            group.append(
                Curve(
                    label,
                    GAUSSIAN,
                    SteepestDescent(norm=p, momentum=mu, batch_size=1),
                    legend=f"momentum={mu:g}",
                )
            )
        full = Curve(
            f"p={_p_text(p)}, full batch", GAUSSIAN, SteepestDescent(norm=p), legend="full batch"
        )
        group.append(full)
        curves += group
        panels.append(
            Panel(
                key,
                "margin_ratio",
                tuple(group),
                title=f"p = {_p_text(p)}: margin ratio, l_{_p_text(p)} max-margin",
            )
        )
        zero, *momentum = group[:3]
        checks.append(
            Check(
                f"p={_p_text(p)}, b=1 without momentum departs (ratio < 0.9)",
                (zero.label, key, "margin_ratio"),
                "<",
                0.9,
            )
        )
        for curve in momentum:
            checks.append(
                Check(
                    f"{curve.label}: l_{_p_text(p)} margin ratio >= 0.97",
                    (curve.label, key, "margin_ratio"),
                    ">=",
                    0.97,
                )
            )
        checks.append(
            Check(
                f"p={_p_text(p)}: full batch l_{_p_text(p)} ratio >= 0.99",
                (full.label, key, "margin_ratio"),
                ">=",
                0.99,
            )
        )
    return FigureSpec(
        name="nsd-batch",
        title="Gaussian data: per-sample steepest descent departs; momentum brings it back",
        setting=f"{GAUSSIAN.describe()}; normalized steepest descent, b = 1 (cyclic) with "
        f"momentum 0, 0.9, 0.99, and full batch, p in {{1.5, inf}}; {_LR_SETTING}",
        claim=(
            "At b = 1 without momentum every step is eta_t dir_p(z_i) whatever the loss, "
            "so w_T = sum_t eta_t dir_p(z_{i_t}): the run departs from the l_p max margin "
            "by construction. With momentum close to 1 the moment averages the samples "
            "and the run returns to the l_p max margin, as Signum does for p = inf "
            "(paper Theorem 5.1; Li, Tang, Zou 2026)."
        ),
        panels=tuple(panels),
        epochs=10**6,
        quick_epochs=10**4,
        checks=tuple(checks),
        notes=_OURS + "; momenta 0, 0.9, 0.99 (ours).",
    )


_MIRROR_P = (("l1.5", 1.5), ("l3", 3.0))


def _mirror() -> FigureSpec:
    curves = tuple(
        Curve(f"p-GD p={p:g}", GAUSSIAN, MirrorDescent(p=p), lr=Constant(0.1)) for _, p in _MIRROR_P
    )
    checks = []
    for (key, p), curve in zip(_MIRROR_P, curves, strict=True):
        checks.append(
            Check(
                f"{curve.label}: own l_{p:g} ratio > l_2 ratio",
                (curve.label, key, "margin_ratio"),
                ">",
                (curve.label, "l2", "margin_ratio"),
            )
        )
        checks.append(
            Check(
                f"{curve.label}: l_{p:g} margin ratio >= 0.95",
                (curve.label, key, "margin_ratio"),
                ">=",
                0.95,
            )
        )
    return FigureSpec(
        name="mirror",
        title="Gaussian data: mirror descent with the l_p potential goes (slowly) to l_p",
        setting=f"{GAUSSIAN.describe()}; p-GD (mirror descent, potential |w|_p^p / p), "
        "p in {1.5, 3}, full batch, constant rate 0.1, exp loss, w0 = 0",
        claim=(
            "p-GD converges in direction to the l_p max-margin solution (Sun et al. 2022), "
            "slowly, like GD (the margin gap shrinks like a power of 1/log t)."
        ),
        panels=(
            Panel("l1.5", "margin_ratio", curves),
            Panel("l2", "margin_ratio", curves),
            Panel("l3", "margin_ratio", curves),
        ),
        epochs=10**7,
        quick_epochs=10**4,
        checks=tuple(checks),
        notes="n = 10, d = 50, data seed 0, constant rate 0.1 (ours, as for GD).",
    )


_SCHATTEN = (("nuclear", "Schatten-1"), ("fro", "Schatten-2"), ("spectral", "Schatten-inf"))


def _schatten() -> FigureSpec:
    curves = tuple(
        Curve(f"NSD {name} ({key})", MC5, SteepestDescent(norm=key), legend=name)
        for key, name in _SCHATTEN
    )
    checks = _own_norm_checks(curves, {key: key for key, _ in _SCHATTEN})
    return FigureSpec(
        name="schatten",
        title="Multiclass data: steepest descent in a Schatten norm goes to its max margin",
        setting=f"{MC5.describe()}; normalized steepest descent in the Schatten-1 (nuclear), "
        f"-2 (Frobenius) and -inf (spectral) norms, full batch, no momentum; "
        f"{_LR_SETTING.replace('exp loss', 'cross-entropy')}",
        claim=(
            "Full-batch normalized steepest descent in a Schatten-p norm converges in "
            "direction to the max-margin matrix of that norm (Fan et al. 2025 for the "
            "spectral one; the nuclear one is its dual geometry)."
        ),
        panels=tuple(Panel(key, "margin_ratio", curves) for key, _ in _SCHATTEN),
        epochs=10**7,
        quick_epochs=10**4,
        checks=tuple(checks),
        notes=_MC_OURS + "; k = 5 (a rank of up to 4, so the three norms differ).",
    )


# --------------------------------------------------------------------------------------------
# Beyond the paper: rates of convergence (SPEC 12)
# --------------------------------------------------------------------------------------------


def _rates() -> FigureSpec:
    gd = Curve("GD (rate 0.1)", GAUSSIAN, GD(), lr=Constant(0.1))
    lngd = Curve("loss-normalized GD (0.1)", GAUSSIAN, LossNormalizedGD(), lr=Constant(0.1))
    ngd = Curve("normalized GD", GAUSSIAN, NormalizedGD())
    sign = Curve("SignGD", GAUSSIAN, SignGD())
    det = Curve("Det-Adam (full batch)", GAUSSIAN, DetAdam())
    inc = Curve("Inc-Adam b=1", GAUSSIAN, IncAdam())
    l2, linf = (gd, lngd, ngd), (sign, det)
    fits = (
        Fit(
            gd.label,
            "l2",
            "margin_gap",
            "log",
            "a = 1 (Soudry et al. 2018); 1.08-1.20 is measured over feasible horizons",
        ),
        Fit(lngd.label, "l2", "margin_gap", "power", "a = 1: O(log n / t) (Ji and Telgarsky 2021)"),
        Fit(
            ngd.label,
            "l2",
            "margin_gap",
            "power",
            "about 0.5: log t / sqrt(t) (Nacson et al. 2019)",
        ),
        Fit(sign.label, "linf", "margin_gap", "power", "none established: report"),
        Fit(det.label, "linf", "margin_gap", "log", "polynomial in 1/log t (Zhang, Zou, Cao 2024)"),
        Fit(inc.label, "fixed_point", "direction_gap", "power", "none established: report"),
    )
    checks = (
        Check(
            f"{lngd.label}: margin gap below GD's",
            (lngd.label, "l2", "margin_gap"),
            "<",
            (gd.label, "l2", "margin_gap"),
        ),
        Check(
            f"{ngd.label}: margin gap below GD's",
            (ngd.label, "l2", "margin_gap"),
            "<",
            (gd.label, "l2", "margin_gap"),
        ),
    )
    return FigureSpec(
        name="rates",
        title="Gaussian data: how fast the margin gap closes, by method",
        setting=f"{GAUSSIAN.describe()}; GD and loss-normalized GD at the constant rate 0.1, "
        f"normalized GD, SignGD, Det-Adam and Inc-Adam (b = 1) at {_LR_SETTING}",
        claim=(
            "The margin gap 1 - gamma(w_t) / gamma* closes like 1/log t for GD with a "
            "constant rate (Soudry et al. 2018) and like 1/t for loss-normalized GD (Ji and "
            "Telgarsky 2021); normalized GD with decaying rates in between (Nacson et al. "
            "2019); SignGD and Adam: fitted and reported."
        ),
        panels=(
            Panel("l2", "margin_gap", l2),
            Panel("linf", "margin_gap", linf),
            Panel("fixed_point", "direction_gap", (inc,)),
        ),
        epochs=10**7,  # Det-Adam's gap enters its tail only after 1e5 epochs
        quick_epochs=10**4,
        checks=checks,
        notes=_OURS + "; constant rate 0.1 for GD and loss-normalized GD (ours).",
        fits=fits,
    )


# --------------------------------------------------------------------------------------------
# Beyond the linear model: diagonal linear networks (SPEC 13)
# --------------------------------------------------------------------------------------------

_INIT_SCALES = (0.01, 0.1, 1.0, 10.0)
_FLOW_RATE = 0.002


def _diag_net() -> FigureSpec:
    curves = tuple(
        Curve(
            f"D=2, init {a:g}",
            GAUSSIAN,
            LossNormalizedGD(),
            lr=Constant(_FLOW_RATE),
            model=DiagonalNet(depth=2, init_scale=a),
            legend=f"init_scale={a:g}",
        )
        for a in _INIT_SCALES
    )
    deep = tuple(
        Curve(
            f"D=3, init {a:g}",
            GAUSSIAN,
            LossNormalizedGD(power=1.0 / 3.0),
            lr=Constant(_FLOW_RATE),
            model=DiagonalNet(depth=3, init_scale=a),
            legend=f"D=3, init_scale={a:g}",
        )
        for a in (0.1, 1.0)
    )
    small, *_, large = curves
    checks = (
        Check(
            f"{small.label}: cos l_1 > cos l_2 at the end",
            (small.label, "l1", "cosine"),
            ">",
            (small.label, "l2", "cosine"),
        ),
        Check(
            f"{large.label}: cos l_1 > cos l_2 at the end (the rich regime, reached late)",
            (large.label, "l1", "cosine"),
            ">",
            (large.label, "l2", "cosine"),
        ),
        *(
            Check(
                f"{curve.label}: l_1 margin ratio >= 0.95",
                (curve.label, "l1", "margin_ratio"),
                ">=",
                0.95,
            )
            for curve in curves
        ),
    )
    return FigureSpec(
        name="diag-net",
        title="Diagonal networks: from the kernel (l_2) to the rich (l_1) regime, by the loss",
        setting=f"{GAUSSIAN.describe()}; depth-2 diagonal network w = u^2 - v^2 from u = v = "
        f"init_scale in {{0.01, 0.1, 1, 10}}; loss-normalized GD at the constant rate "
        f"{_FLOW_RATE:g} (gradient flow's path), full batch, exp loss; depth 3 from 0.1 and 1 "
        "with the steps also divided by (-log L)^(1/3)",
        claim=(
            "A depth-2 diagonal network converges in direction to the l_1 max margin "
            "(Gunasekar et al. 2018; Lyu and Li 2020); from a large initialization it stays "
            "near the kernel (l_2) solution until the training loss is astronomically "
            "small, and turns to l_1 later the larger the initialization (Moroshko et al. "
            "2020): the crossover in -log L moves like init_scale^2. Depth D > 2 goes to a "
            "KKT point of the nonconvex l_{2/D} problem: its l_{2/D} margin is compared "
            "with the l_1 solution's."
        ),
        panels=(
            Panel("l1", "cosine", curves),
            Panel("l2", "cosine", curves),
            Panel("l1", "margin_ratio", curves),
            Panel("l1", "cosine", deep, title="depth 3: cosine with l_1 max-margin"),
        ),
        # -log L grows geometrically in epochs (x 1e19 per 1e4 epochs here): 1e34-1e40 at
        # 2e4 epochs, 1e130-1e145 at 7.5e4; |w|^2 stays in float64 up to ~8e4 epochs
        epochs=75_000,
        quick_epochs=20_000,
        checks=checks,
        notes=(
            "n = 10, d = 50, data seed 0, constant rate 0.002 (ours: halving it moves the "
            "direction by < 0.01 at matched -log L up to 1e12), init scales (ours)."
        ),
        x="neg_log_loss",
        records=2000,
        crossings=tuple(Crossing(c.label, ("l1", "cosine"), ("l2", "cosine")) for c in curves),
    )


#: The paper's figures, in its order.
PAPER_FIGURES = ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10")

#: The registry: experiment name -> FigureSpec (the paper's ten, then the others).
FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        _fig1(),
        _fig2(),
        _fig3(),
        _fig4(),
        _fig5(),
        _fig6(),
        _fig7(),
        _fig8(),
        _fig9(),
        _fig10(),
        _eps(),
        _adamw(),
        _mc_adam(),
        _mc_muon(),
        _mc_per_sample(),
        _nsd_lp(),
        _nsd_batch(),
        _mirror(),
        _schatten(),
        _rates(),
        _diag_net(),
    )
}


def figure_names() -> list[str]:
    """Names of the registered experiments: ``["fig1", ..., "fig10", "eps", ...]``."""
    return list(FIGURES)


def get_figure(name: str) -> FigureSpec:
    """The :class:`FigureSpec` registered as ``name``; ValueError naming the choices if absent."""
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {figure_names()} or 'all'; got {shown(name)}.")
    return FIGURES[name]
