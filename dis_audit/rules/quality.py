"""DA6xx: picture quality (dark, overexposed, near-flat, blurry, odd shape, grey, tiny) and mask–image agreement.

Per-sample checks on the measures ``scan --deep`` takes while it decodes (``dis_audit.quality``);
thresholds come from ``QualityThresholds`` (``--quality-threshold NAME=VALUE``, or ``quality-thresholds``
in the configuration file). Severities are
warning or info: these are pictures to look at, not files a loader fails on.
"""

from __future__ import annotations

from ..findings import Emitter, Rule, Severity
from ..quality import ImageQuality, MaskFit, QualityThresholds
from .base import CheckFamily, Sample

DARK_IMAGE = Rule(
    "DA601", "dark-image", Severity.WARNING,
    "The picture is very dark: even its brightest 2 % of pixels stay at or below grey level `dark_high` (80).",
    "The object's edges are lost in sensor noise and JPEG blocks; the model learns from a picture that shows "
    "next to nothing, and the mask cannot be checked by eye.",
    "Look at it; brighten it if the source is a good exposure stored dark, or drop the pair.",
)
OVEREXPOSED_IMAGE = Rule(
    "DA602", "overexposed-image", Severity.WARNING,
    "The picture is washed out: even its darkest 2 % of pixels are at or above grey level `overexposed_low` "
    "(180). A white-background photo with a visible object is not flagged.",
    "Clipped highlights erase the object's outline; the mask then traces edges the picture no longer has.",
    "Look at it; re-export it from the source at the right exposure, or drop the pair.",
)
LOW_INFORMATION_IMAGE = Rule(
    "DA603", "low-information-image", Severity.WARNING,
    "The picture is nearly flat: its 99th and 1st grey percentiles are at most `flat_spread` (20) levels apart "
    "(a blank frame, a failed render, a lens cap).",
    "There is no object to learn from; its perceptual hash is meaningless (it is left out of near-duplicate "
    "matching).",
    "Open it; delete the pair if it is blank.",
)
BLURRY_IMAGE = Rule(
    "DA604", "blurry-image", Severity.WARNING,
    "The picture's sharpest edges are soft: second over first derivative at their 99.9th percentiles (about "
    "2 / edge width in pixels, along every 16th row and column at up to 1024 px on the long side) is below "
    "`blur_sharpness` (0.8), or a picture with contrast has no edge at all; or, for a picture over 1024 px, the "
    "same measure at its own resolution (as many lines, each as long as the picture) is below `blur_native` "
    "(0.75), or finds no edge there: a blur of a few pixels that the 1024 px picture no longer shows. Thin "
    "structures on a plain background keep both high.",
    "DIS masks are drawn to the pixel; a blurred picture teaches the model to draw sharp outlines where the "
    "picture has none.",
    "Look at it; replace it with a sharp copy or drop the pair.",
)
ODD_ASPECT_RATIO = Rule(
    "DA605", "odd-aspect-ratio", Severity.INFO,
    "The picture's long side is more than `aspect_ratio` (3.0) times its short side.",
    "Training resizes every picture to a square (1024x1024 for BiRefNet): a panorama or strip is squashed "
    "several times more in one direction, and thin structures vanish in it.",
    "Crop or pad it to a less extreme shape, or accept the distortion.",
)
GRAYSCALE_AS_RGB = Rule(
    "DA606", "grayscale-as-rgb", Severity.INFO,
    "The picture is stored as RGB but has no colour: its channels differ by at most `grey_colour` (4) levels.",
    "Usually a greyscale source converted on export; a few are harmless, many bias the model against colour "
    "cues, and a whole grey dataset may belong to another domain.",
    "Nothing to fix if intended; otherwise find the colour original.",
)
TINY_IMAGE = Rule(
    "DA607", "tiny-image", Severity.INFO,
    "The picture's long side is under `tiny_side` (256) pixels: training at 1024x1024 enlarges it more than 4 "
    "times.",
    "An upscaled thumbnail has no fine detail, so its mask's fine structure cannot be learnt from it.",
    "Find the full-size original, or drop the pair.",
)
MASK_MISREGISTERED = Rule(
    "DA608", "mask-misregistered", Severity.WARNING,
    "The mask's outline follows the picture's edges much better when shifted (by 2 % of the picture or more) "
    "or mirrored: the best other placement fits `fit_ratio` (1.25) times better than the mask's own and stands "
    "out of all placements by `fit_peak` (4) robust deviations.",
    "An export bug (offset crop, flip, resize with another origin) puts the mask beside its object: the model "
    "learns shifted outlines, and every evaluation on the pair counts correct predictions as errors.",
    "Open the HTML report's preview (outline at its place and at the best fit); re-export the mask aligned.",
)
MASK_IMAGE_MISMATCH = Rule(
    "DA609", "mask-image-mismatch", Severity.WARNING,
    "The mask's outline neither follows the picture's edges nor separates its tones: the edges along the "
    "outline and the contrast between just inside and just outside it, each in robust deviations above the same "
    "outline shifted about the picture, come to at most `swap_evidence` (2.1) together (with the edge agreement "
    "at most `swap_score`, 1.5 times chance, and the contrast alone at most `swap_contrast`, 3): the mask "
    "probably belongs to another picture (swapped pairs) or another object. Where the mask is too thin to "
    "compare tones (wires at 192 px), the edges alone must come to at most half of `swap_evidence`, or the edge "
    "agreement to at most `swap_edge_only` (1.05). Also where the two signals come to at most "
    "`swap_off_peak` (3.5; 0 turns this off), if a shift of at most 4 px at 192 px fits better than the "
    "mask's own place by both. Silent where either signal is uncertain (see docs/deep.md for the measured "
    "rates).",
    "A mask of another picture trains the model on a wrong answer with full confidence.",
    "Compare picture and mask; re-pair the files (look for a neighbour whose mask fits).",
)

#: Rules that make the mask–image agreement meaningless: without usable edges it would be noise.
_NO_FIT = ("DA601", "DA602", "DA603", "DA604", "DA607")


def judged_fit(q: ImageQuality | None, fit: MaskFit | None, t: QualityThresholds) -> MaskFit | None:
    """``fit`` where the agreement is judged, None where it is not (no picture measures, or a picture that is
    dark, overexposed, near-flat, blurry or tiny under ``t``: its edges say nothing, so neither a finding nor
    the manifest's ``mask_edge_score`` is given)."""
    if fit is None or q is None:
        return None
    # A blur seen only at the picture's own resolution leaves the 192 px working picture's edges as they are.
    if any(rule.code in _NO_FIT for rule, _ in quality_findings(q, t, native=False)):
        return None
    return fit


def _fmt(value: float) -> str:
    return f"{value:g}"


def _blurry(q: ImageQuality, t: QualityThresholds) -> str | None:
    """DA604's message where the picture (at up to 1024 px) is blurry under ``t``, else None."""
    if q.sharpness is not None and q.sharpness < t.blur_sharpness:
        return (f"blurry: sharpness {q.sharpness:.2f} (< {_fmt(t.blur_sharpness)}; edges about "
                f"{2 / max(q.sharpness, 1e-3):.1f} px wide)")
    if q.sharpness is None and q.spread >= BLUR_MIN_SPREAD:
        return f"blurry: {q.spread:.0f} grey levels of contrast but no edge steeper than 4 levels per pixel"
    return None


def _blurry_native(q: ImageQuality, t: QualityThresholds) -> str | None:
    """DA604's message where a picture over 1024 px is blurry at its own resolution under ``t``, else None."""
    native = q.sharpness_native
    if native is None or native >= t.blur_native or (native == 0 and q.spread < BLUR_MIN_SPREAD):
        return None
    reduced = f"; {q.sharpness:.2f} at 1024 px" if q.sharpness is not None else ""
    if native == 0:
        return (f"blurry at its own resolution ({q.width}x{q.height}): {q.spread:.0f} grey levels of contrast but no "
                f"edge steeper than 4 levels per pixel{reduced}")
    return (f"blurry at its own resolution: sharpness {native:.2f} (< {_fmt(t.blur_native)}; edges about "
            f"{2 / native:.1f} px wide at {q.width}x{q.height}{reduced})")


def quality_findings(q: ImageQuality, t: QualityThresholds, *, native: bool = True) -> list[tuple[Rule, str]]:
    """The picture-quality rules ``q`` breaks under ``t``, each with its message; ``native``: DA604 also from the
    sharpness at the picture's own resolution (a blur the reduced picture does not show)."""
    out: list[tuple[Rule, str]] = []
    if q.high <= t.dark_high:
        out.append((DARK_IMAGE, f"dark: the brightest 2 % of pixels reach grey {q.high:.0f} (<= {_fmt(t.dark_high)})"))
    if q.low >= t.overexposed_low:
        out.append((OVEREXPOSED_IMAGE,
                    f"overexposed: the darkest 2 % of pixels are grey {q.low:.0f} or brighter "
                    f"(>= {_fmt(t.overexposed_low)})"))
    flat = q.spread <= t.flat_spread
    if flat:
        out.append((LOW_INFORMATION_IMAGE,
                    f"nearly flat: 98 % of pixels lie within {q.spread:.0f} grey levels (<= {_fmt(t.flat_spread)})"))
    blurry = None if flat else _blurry(q, t)
    if blurry is None and not flat and native:
        blurry = _blurry_native(q, t)
    if blurry is not None:
        out.append((BLURRY_IMAGE, blurry))
    long, short = max(q.width, q.height), min(q.width, q.height)
    if short and long / short > t.aspect_ratio:
        out.append((ODD_ASPECT_RATIO, f"{q.width}x{q.height}: aspect ratio {long / short:.1f}:1 (> {_fmt(t.aspect_ratio)})"))
    if q.colour is not None and q.colour <= t.grey_colour:
        out.append((GRAYSCALE_AS_RGB,
                    f"stored as RGB, but the channels differ by at most {q.colour:.0f} levels: grey content"))
    if long < t.tiny_side:
        out.append((TINY_IMAGE, f"{q.width}x{q.height}: long side under {_fmt(t.tiny_side)} px "
                                f"(enlarged {1024 / max(long, 1):.0f}x at a 1024 training size)"))
    return out


#: DA604 with no measurable edge: the picture must still have this much contrast to be called blurry.
BLUR_MIN_SPREAD = 40.0


def fit_findings(fit: MaskFit, t: QualityThresholds) -> list[tuple[Rule, str]]:
    """The mask–image agreement rules ``fit`` breaks under ``t``, each with its message."""
    if fit.best >= t.fit_ratio * fit.score and fit.peak >= t.fit_peak:
        where = describe_placement(fit)
        return [(MASK_MISREGISTERED,
                 f"the mask fits the picture's edges {fit.best / max(fit.score, 1e-6):.1f}x better {where} "
                 f"(agreement {fit.score:.2f} at its own place, {fit.best:.2f} there)")]
    off_peak = not fit.own_peak
    # Off its peak (a slight shift fits better by the edges and by the contrast), the mask may show more
    # evidence and still be foreign: its outline crosses some of this picture's edges by chance, where
    # a mask drawn for the picture peaks at its own place by one signal or the other.
    if fit.contrast is not None and fit.score <= t.swap_score:
        evidence = fit.edge_z + fit.contrast
        weak = fit.contrast <= t.swap_contrast and evidence <= t.swap_evidence
        if weak or (off_peak and t.swap_off_peak > 0 and evidence <= t.swap_off_peak):
            why = (f"together, <= {_fmt(t.swap_evidence)}" if weak else
                   f"together, <= {_fmt(t.swap_off_peak)}, and a slight shift fits better than its own place")
            return [(MASK_IMAGE_MISMATCH,
                     f"the mask's outline follows the picture's edges and tones no better than chance (edge "
                     f"agreement {fit.score:.2f}, 1.0 is chance; edges {fit.edge_z:.1f} and inside/outside contrast "
                     f"{fit.contrast:.1f} robust deviations above shifted placements, {evidence:.1f} {why}): a mask "
                     "of another picture or object?")]
    # Without the contrast (bands too thin at 192 px) the edge signal alone must carry the evidence: half of
    # what both together may come to, or the ratio at the stricter single threshold.
    if fit.contrast is None and (
        fit.score <= t.swap_edge_only or (fit.score <= t.swap_score and fit.edge_z <= t.swap_evidence / 2)
    ):
        return [(MASK_IMAGE_MISMATCH,
                 f"the mask's outline follows no image edge (edge agreement {fit.score:.2f}, 1.0 is chance; "
                 f"{fit.edge_z:.1f} robust deviations above shifted placements; the mask is too thin here to "
                 "compare tones inside and outside): a mask of another picture or object?")]
    return []


def describe_placement(fit: MaskFit) -> str:
    """Words for the best placement: 'mirrored left-right', 'shifted 5 % right and 3 % up', ..."""
    parts = []
    if fit.flip:
        parts.append("mirrored " + ("left-right" if fit.flip == "h" else "top-bottom"))
    moves = []
    if fit.dx:
        moves.append(f"{abs(fit.dx):.0%} {'right' if fit.dx > 0 else 'left'}")
    if fit.dy:
        moves.append(f"{abs(fit.dy):.0%} {'down' if fit.dy > 0 else 'up'}")
    if moves:
        parts.append("shifted " + " and ".join(moves))
    return " and ".join(parts) or "in place"


class QualityChecks(CheckFamily):
    prefix = "DA6"
    title = "quality"
    rules = (
        DARK_IMAGE, OVEREXPOSED_IMAGE, LOW_INFORMATION_IMAGE, BLURRY_IMAGE, ODD_ASPECT_RATIO, GRAYSCALE_AS_RGB,
        TINY_IMAGE, MASK_MISREGISTERED, MASK_IMAGE_MISMATCH,
    )

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        deep = sample.deep
        if deep is None or deep.quality is None:
            return
        thresholds = sample.thresholds or QualityThresholds()
        found = quality_findings(deep.quality, thresholds)
        for rule, message in found:
            emit.emit(rule, sample.image_path, message, related=(sample.mask_path,) if sample.mask_path else ())
        fit = judged_fit(deep.quality, deep.fit, thresholds)
        if fit is None or sample.mask_path is None:
            return
        for rule, message in fit_findings(fit, thresholds):
            emit.emit(rule, sample.mask_path, message, related=(sample.image_path,))
