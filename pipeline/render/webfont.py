"""The report page's embedded CJK font: the font file cut down to the characters a text uses, as
an ``@font-face`` rule (see :func:`pipeline.render.document.embedded_font_css`).

Kept apart from the figures and documents (no matplotlib, pandas or pipeline imports) so the
report stage can compute it in a worker process that starts in a fraction of a second, while
it draws the figures (:func:`pipeline.core.parallel.submit`).
"""
from __future__ import annotations

import base64
import io


def font_face_css(task: tuple[str, str, str]) -> str:
    """``task`` = (font collection file, face name, text): the ``@font-face`` rule of the face
    subset to the characters of text, as a data URL. Byte-identical on reruns (fontTools keeps
    the font's own timestamps: ``recalcTimestamp=False``). The caller checks the font file."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    path, family, text = task
    faces = [f["name"].getDebugName(1) for f in TTCollection(path).fonts]
    # lazy: tables decompiled when the subsetter needs them; no bounding boxes recomputed on
    # save (the whole face's stay: a superset; recomputing them ran every kept glyph's CFF
    # program, a third of the time): the same glyphs, 4.6 -> 2.3 s on the demo's report
    font = TTFont(path, fontNumber=faces.index(family), recalcTimestamp=False, lazy=True, recalcBBoxes=False)
    options = subset.Options()
    options.hinting = False
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return ('@font-face { font-family: "Report CJK"; font-style: normal; font-weight: 400;\n'
            f'  src: url(data:font/otf;base64,{data}) format("opentype"); }}\n')
